"""The toy world: synthetic scenes with exact masks and captions, written in VOC 2012 layout.

Real CLIP weights and PASCAL VOC are not reachable offline, so the project trains a small
CLIP on captions of these scenes and runs CLIP-ES on them. The world is built so that each
CLIP-ES component has something to fix:

- **Object-background co-occurrence** (CLIP-ES Sec. 3.1, Table 6, boat/water, train/railway):
  aeroplane/sky, boat/water, train/railway, car/road, ... at 80-90 % (``TOY_PREFERRED_RATE``),
  and captions name the background only ~15 % of the time when it is the usual one, so a
  contrastive model mixes "boat" and water. The background word set ``TOY_BACKGROUNDS`` is
  what CLIP-ES's class-related background suppression needs.
- **Object-object co-occurrence** (softmax over non-target classes, Eq. 3-4): a horse comes
  with a person (often riding it), cow with sheep, bus with car.
- **Synonyms and an ambiguous class name** (Sec. 3.2.2, Table 8): captions name classes by
  several words (``TOY_SYNONYMS``). The class name "crane" (a bird) is also what captions
  call the *tower crane*, an unlabelled machine drawn as background clutter, so the name
  alone is ambiguous while "crane, bird, wading bird" is not. "person" has a constant face
  and varying clothes that captions describe ("a man in a red shirt").
- **Discriminative parts** (CAA, Sec. 3.3): the crane's red crown, the person's face and the
  cow's horns/udder are small constant cues on bodies whose colour varies.

Ground truth is exact: the label map holds the rendered class of every pixel (later objects
occlude earlier ones); an object is kept only while at least half of it stays visible, so
image-level labels equal the classes present in the mask.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from clipwsss.data.images import voc_palette
from clipwsss.data.voc import write_split, write_voc_sample
from clipwsss.toy.shapes import VARIANTS, Sprite, draw_sprite
from clipwsss.toy.textures import TEXTURES, noise_patch, railway, railway_tracks

TOY_CLASSES: list[str] = [
    "aeroplane",
    "boat",
    "bus",
    "car",
    "cow",
    "crane",
    "horse",
    "person",
    "sheep",
    "train",
]
"""Object classes in label order: class ``i`` (0-based) has value ``i + 1`` in the masks."""

TOY_SYNONYMS: dict[str, list[str]] = {
    "aeroplane": ["aeroplane", "airplane", "plane", "jet"],
    "boat": ["boat", "ship", "vessel"],
    "bus": ["bus", "coach"],
    "car": ["car", "automobile"],
    "cow": ["cow", "calf"],
    "crane": ["crane", "bird", "wading bird"],  # "crane" alone is also the tower crane
    "horse": ["horse", "pony"],
    "person": ["person", "people", "human", "man", "woman"],
    "sheep": ["sheep", "lamb"],
    "train": ["train", "locomotive"],
}
"""Every word captions use for a class (singular; plurals in ``TOY_PLURALS``), class name first."""

TOY_PLURALS: dict[str, str] = {
    "aeroplane": "aeroplanes",
    "airplane": "airplanes",
    "plane": "planes",
    "jet": "jets",
    "boat": "boats",
    "ship": "ships",
    "vessel": "vessels",
    "bus": "buses",
    "coach": "coaches",
    "car": "cars",
    "automobile": "automobiles",
    "cow": "cows",
    "calf": "calves",
    "crane": "cranes",
    "bird": "birds",
    "wading bird": "wading birds",
    "horse": "horses",
    "pony": "ponies",
    "person": "people",
    "human": "humans",
    "man": "men",
    "woman": "women",
    "sheep": "sheep",
    "lamb": "lambs",
    "train": "trains",
    "locomotive": "locomotives",
}

TOY_STUFF: list[str] = ["grass", "sky", "water", "road", "railway", "sand", "snow", "wall"]
"""The procedural background textures ("stuff"); label 0 in the masks."""

TOY_BACKGROUND_SYNONYMS: dict[str, list[str]] = {
    "grass": ["grass", "field"],
    "sky": ["sky", "clouds"],
    "water": ["water", "sea", "lake", "river"],
    "road": ["road", "street"],
    "railway": ["railway", "railroad", "tracks"],
    "sand": ["sand", "beach"],
    "snow": ["snow"],
    "wall": ["wall", "brick"],
}
"""Words captions use for each stuff texture."""

TOY_BACKGROUNDS: list[str] = [w for ws in TOY_BACKGROUND_SYNONYMS.values() for w in ws] + ["tree"]
"""The background word set for CLIP-ES class-related background suppression (Sec. 3.1)."""

TOY_DISTRACTORS: dict[str, list[str]] = {
    "tree": ["tree"],
    "tower crane": ["crane", "tower crane", "construction crane"],
}
"""Unlabelled clutter (mask value 0) and the words captions use for it."""

TOY_PREFERRED_BACKGROUND: dict[str, str] = {
    "aeroplane": "sky",
    "boat": "water",
    "bus": "road",
    "car": "road",
    "cow": "grass",
    "crane": "water",
    "horse": "grass",
    "sheep": "grass",
    "train": "railway",
}
"""Usual background of a class; "person" has none."""

TOY_PREFERRED_RATE: dict[str, float] = {
    "aeroplane": 0.9,
    "boat": 0.85,
    "bus": 0.75,
    "car": 0.8,
    "cow": 0.75,
    "crane": 0.6,
    "horse": 0.7,
    "sheep": 0.8,
    "train": 0.9,
}
"""Probability that a scene led by the class shows its usual background."""

TOY_COOCCURRENCE: dict[str, tuple[str, float]] = {
    "horse": ("person", 0.6),
    "person": ("horse", 0.25),
    "cow": ("sheep", 0.4),
    "sheep": ("cow", 0.35),
    "bus": ("car", 0.5),
    "car": ("bus", 0.2),
}
"""Partner class added to a scene led by the class, with its probability."""

MENTION_BACKGROUND_USUAL = 0.15  # caption names the background when it is the usual one
MENTION_BACKGROUND_OTHER = 0.5  # ... and when some object is off its usual background

_SIZE = {  # longest side as a fraction of the image side (trains are long and often cut)
    "aeroplane": (0.5, 0.9),
    "boat": (0.45, 0.8),
    "bus": (0.55, 0.95),
    "car": (0.45, 0.8),
    "cow": (0.45, 0.8),
    "crane": (0.45, 0.75),
    "horse": (0.45, 0.8),
    "person": (0.45, 0.8),
    "sheep": (0.4, 0.65),
    "train": (0.7, 1.2),
}
_NOUN_WEIGHTS = {"crane": [0.45, 0.35, 0.2], "person": [0.4, 0.0, 0.2, 0.2, 0.2]}
_PREFIXES = ["", "a photo of", "a picture of", "an image of", "a rendering of", "a drawing of"]
_NUMBERS = {2: "two", 3: "three"}
_CLOTHES = ["in a {} shirt", "in {} clothes", "wearing a {} shirt"]
_BG_PHRASES = {
    "grass": ["on the grass", "in a field"],
    "sky": ["in the sky", "among the clouds"],
    "water": ["on the water", "on the sea", "on a lake", "on a river"],
    "road": ["on the road", "on the street"],
    "railway": ["on the railway", "on the railroad", "on the tracks"],
    "sand": ["on the sand", "on the beach"],
    "snow": ["in the snow"],
    "wall": ["in front of a wall", "in front of a brick wall"],
}
_BG_NOUNS = {
    "grass": ["grass", "a field"],
    "sky": ["the sky", "clouds"],
    "water": ["water", "the sea", "a lake", "a river"],
    "road": ["a road", "a street"],
    "railway": ["a railway", "a railroad", "railroad tracks"],
    "sand": ["sand", "a beach"],
    "snow": ["snow"],
    "wall": ["a wall", "a brick wall"],
}
_DISTRACTOR_PHRASES = ["and a {}", "near a {}", "with a {} behind"]
_GLUE = ["a", "an", "and", "riding"]  # words the caption code adds itself
_DISTRACTOR_P = {"tree": 0.25, "tower crane": 0.25}  # chance to appear where it fits
_MENTION_DISTRACTOR = {"tree": 0.3, "tower crane": 0.6}


@dataclass(frozen=True)
class ToyObject:
    """One visible object instance."""

    class_id: int  # 0-based index into TOY_CLASSES
    box: tuple[int, int, int, int]  # x_min, y_min, x_max, y_max of visible pixels, inclusive
    area: int  # visible pixels
    truncated: bool  # cut by the image border


@dataclass(frozen=True)
class Scene:
    """A sampled scene.

    Shapes:
        image: (H, W, 3) uint8 RGB. label: (H, W) uint8, 0 background, ``c + 1`` for class c,
        no ignore band. instances: (H, W) uint8, 0 background, ``k + 1`` for objects[k].
    """

    image: np.ndarray
    label: np.ndarray
    instances: np.ndarray
    labels: tuple[int, ...]  # sorted 0-based class ids present
    caption: str
    background: str  # main stuff: the ground, or "sky" for an all-sky scene
    backgrounds: tuple[str, ...]  # all stuff present, e.g. ("sky", "water")
    objects: tuple[ToyObject, ...]
    distractors: tuple[str, ...]  # unlabelled clutter drawn, e.g. ("tower crane",)


def check_image_size(image_size: int) -> None:
    """Raise ValueError unless ``image_size`` is a multiple of 16 and at least 96.

    96 = 12 x 8 keeps at least a 12 x 12 token grid for a patch-8 ViT (patch 16 needs 192).
    """
    if image_size % 16 or image_size < 96:
        raise ValueError(f"image_size must be a multiple of 16 and >= 96, got {image_size}")


def _choice(rng: np.random.Generator, items: list, p: list[float] | None = None):
    """One item, uniformly or with weights ``p`` (5x cheaper than ``rng.choice(p=...)``)."""
    if p is None:
        return items[int(rng.integers(len(items)))]
    k = int(np.searchsorted(np.cumsum(p), rng.random() * sum(p), side="right"))
    return items[min(k, len(items) - 1)]


def _sample_layout(rng: np.random.Generator, primary: str | None, size: int) -> tuple[str, int]:
    """``(ground, horizon)`` for a scene led by ``primary``: rows above the horizon are sky.

    The usual background of the primary class with probability ``TOY_PREFERRED_RATE``; ground
    "sky" (horizon = size) is an all-sky scene, for aeroplanes only.
    """
    grounds = [s for s in TOY_STUFF if s != "sky"]
    if primary is None:  # an empty scene: any stuff, with a sky half the time
        ground = _choice(rng, TOY_STUFF)
        split = ground != "sky" and rng.random() < 0.5
        return ground, int(size * rng.uniform(0.25, 0.5)) if split else 0
    pref = TOY_PREFERRED_BACKGROUND.get(primary)
    usual = pref is not None and rng.random() < TOY_PREFERRED_RATE[primary]
    if usual and pref == "sky":
        if rng.random() < 0.4:
            return "sky", size
        return _choice(rng, grounds), int(size * rng.uniform(0.45, 0.65))
    ground = pref if usual else _choice(rng, [g for g in grounds if g != pref])
    split = rng.random() < 0.55 and ground != "wall"
    return ground, int(size * rng.uniform(0.25, 0.5)) if split else 0


def _sample_classes(rng, primary: str, n: int, backgrounds: tuple[str, ...]) -> list[str]:
    """The primary class, maybe its co-occurrence partner, then herd members (30 %), classes
    whose usual background is in the scene (55 %), or any class (15 %)."""
    classes = [primary]
    if backgrounds == ("sky",):  # all sky: only aeroplanes fly
        return classes * n
    partner = TOY_COOCCURRENCE.get(primary)
    if partner and rng.random() < partner[1]:
        classes.append(partner[0])
        n = max(n, 2)
    fits = [c for c in TOY_CLASSES if TOY_PREFERRED_BACKGROUND.get(c) in backgrounds]
    fits = fits or ["person"]  # sand, snow, wall: nobody's usual background, people go anywhere
    while len(classes) < n:
        r = rng.random()
        pool = [primary] if r < 0.3 else fits if r < 0.85 else TOY_CLASSES
        classes.append(_choice(rng, pool))
    return classes


def _stuff_names(ground: str, horizon: int) -> tuple[str, ...]:
    """All stuff in a layout, ground last: ("sky",), ("sky", "water") or ("road",)."""
    return ("sky",) if ground == "sky" else (("sky", ground) if horizon > 0 else (ground,))


def _render_stuff(rng, ground: str, horizon: int, size: int) -> tuple[np.ndarray, list]:
    """Background image ((3, S, S) float32, planar) and railway tracks (empty unless railway)."""
    if ground == "sky":
        return TEXTURES["sky"](rng, size, size, 0), []
    tracks = railway_tracks(rng, size, horizon) if ground == "railway" else []
    if ground == "railway":
        img = railway(rng, size, size, horizon, tracks)
    else:
        img = TEXTURES[ground](rng, size, size, horizon)
    if horizon > 0:
        img[:, :horizon] = TEXTURES["sky"](rng, horizon, size, 0)
    return img, tracks


def _place(rng, sprite: Sprite, cls: str, layout: tuple, depth: float) -> tuple[int, int]:
    """Top-left corner of a sprite: flying in the sky, on a rail, or standing on the ground.

    A standing object's base line follows its ``depth`` in [0, 1] (1 = nearest, drawn last),
    so that objects in front also stand lower in the image.
    """
    ground, horizon, size, tracks = layout
    h, w = sprite.roles.shape
    x = int(rng.uniform(-0.15 * w, size - 0.85 * w))
    if cls == "aeroplane" and horizon > 0:
        top = horizon if ground == "sky" else max(horizon, int(0.3 * h))
        return x, int(rng.uniform(-0.15 * h, top - 0.5 * h + 1))
    if cls == "train" and tracks:
        return x, _choice(rng, tracks)[1] + 1 - h
    lo = min(max(horizon + 0.25 * (size - horizon), 0.6 * h), size)
    hi = size + 0.1 * h
    t = min(max(depth + rng.normal(0.0, 0.15), 0.0), 1.0)
    return x, int(lo + t * (hi - lo)) - h


def _clip(x: int, y: int, h: int, w: int, size: int):
    """Image slice and sprite slice of a sprite placed at (x, y), or None if fully outside."""
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, size), min(y + h, size)
    if x0 >= x1 or y0 >= y1:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def _commit(rng, sprite, cls, layout, inst, visible, depth, rider_of=None) -> tuple | None:
    """Find a position where the sprite is >= 60 % inside and leaves every earlier object >= 50 %
    visible (and >= 1.2 % of the image); write it into ``inst``. Returns (x, y) or None.

    Twelve tries, then the object is dropped, unless it is the first (a VOC image needs one).
    """
    size = layout[2]
    h, w = sprite.roles.shape
    full = int((sprite.roles > 0).sum())
    min_area = 0.012 * size * size
    for attempt in range(13):
        if attempt == 12:  # the first object always gets a place: centred, standing on the bottom
            if visible:
                return None
            x, y = (size - w) // 2, max(0, size - h)
        elif rider_of is not None:  # sit on the horse's back
            hx, hy, hh, hw = rider_of
            x = hx + int(hw * rng.uniform(0.35, 0.55)) - w // 2
            y = hy + int(0.32 * hh) - int(0.56 * h)  # hips (v = 0.56) on the back (v = 0.32)
        else:
            x, y = _place(rng, sprite, cls, layout, depth)
        sl = _clip(x, y, h, w, size)
        if sl is None:
            continue
        mask = sprite.roles[sl[1]] > 0
        area = int(mask.sum())
        if (area < 0.6 * full or area < min_area) and attempt < 12:
            continue
        hidden = np.bincount(inst[sl[0]][mask], minlength=len(visible) + 1)[1:]
        if all(
            v - c >= max(0.5 * v0, min_area) for (v, v0), c in zip(visible, hidden, strict=True)
        ):
            inst[sl[0]][mask] = len(visible) + 1
            for k, c in enumerate(hidden):
                visible[k] = (visible[k][0] - int(c), visible[k][1])
            visible.append((area, area))
            return x, y
    return None  # pragma: no cover - the last attempt always returns


def _paint(img: np.ndarray, sprite: Sprite, slices: tuple, mask: np.ndarray) -> None:
    """Copy a sprite's colours into the planar image where ``mask`` (sprite-window) is set."""
    (iy, ix), (sy, sx) = slices
    np.copyto(img[:, iy, ix], sprite.rgb[:, sy, sx], where=mask)


def _draw_distractors(rng, img, classes, ground, horizon, size) -> list[str]:
    """Unlabelled clutter behind the objects: trees on grass/snow, tower cranes on sites."""
    drawn = []
    fits = {
        "tree": ground in ("grass", "snow"),
        "tower crane": horizon > 0 and "crane" not in classes,
    }
    fits["tower crane"] &= ground in ("road", "sand", "grass", "wall")
    for name in ("tree", "tower crane"):
        if not fits[name] or rng.random() >= _DISTRACTOR_P[name]:
            continue
        frac = (0.3, 0.5) if name == "tree" else (0.6, 0.95)
        sprite = draw_sprite(rng, name, size * rng.uniform(*frac))
        h, w = sprite.roles.shape
        x = int(rng.uniform(-0.3 * w, size - 0.7 * w))
        y = int(rng.uniform(horizon, max(horizon + 1, 0.5 * (horizon + size)))) + int(0.1 * h) - h
        sl = _clip(x, y, h, w, size)
        if sl is not None:
            mask = sprite.roles[sl[1]] > 0
            _paint(img, sprite, sl, mask)
            drawn.append(name)
    return drawn


def _place_objects(rng, classes, sprites, layout, rider: bool) -> tuple[np.ndarray, list, bool]:
    """Place sprites back to front.

    Depth order: flying aeroplanes first, then a random depth (nearer objects stand lower and
    are drawn later); with ``rider`` the first person comes right after the first horse and
    sits on its back.

    Returns:
        The instance map ((S, S) uint8), ``(index, x, y)`` per kept object, and whether a
        person was placed riding a horse.
    """
    horizon = layout[1]
    depth = [(-1.0 if c == "aeroplane" and horizon > 0 else rng.random()) for c in classes]
    order = sorted(range(len(classes)), key=lambda i: depth[i])
    i_horse = classes.index("horse") if rider else -1
    i_rider = classes.index("person") if rider else -1
    if rider:
        order.remove(i_rider)
        order.insert(order.index(i_horse) + 1, i_rider)
    inst = np.zeros((layout[2], layout[2]), np.uint8)
    visible, kept, riding = [], [], False
    for i in order:
        horse = [(x, y) for j, x, y in kept if j == i_horse] if i == i_rider else []
        rider_of = (*horse[0], *sprites[i_horse].roles.shape) if horse else None
        xy = _commit(rng, sprites[i], classes[i], layout, inst, visible, depth[i], rider_of)
        if xy is not None:
            kept.append((i, *xy))
            riding = riding or rider_of is not None
    return inst, kept, riding


def _draw_sprites(rng, classes: list[str], size: float, rider: bool) -> list[Sprite]:
    """Sprites sized as fractions of ``size`` px; a rider is about as tall as its horse."""
    shrink = 1.0 - 0.08 * max(len(classes) - 1, 0)  # room for 2-3 objects
    sprites = {}
    i_rider = classes.index("person") if rider else -1
    for i, c in enumerate(classes):
        if i != i_rider:
            sprites[i] = draw_sprite(rng, c, size * shrink * rng.uniform(*_SIZE[c]))
    if rider:
        horse_h = sprites[classes.index("horse")].roles.shape[0]
        sprites[i_rider] = draw_sprite(rng, "person", horse_h * rng.uniform(0.85, 1.0))
    return [sprites[i] for i in range(len(classes))]


def _describe(inst: np.ndarray, k: int, class_id: int, window: tuple[slice, slice]) -> ToyObject:
    """Visible box and area of instance ``k``, searched inside its sprite's image ``window``."""
    m = inst[window] == k
    ys, xs = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    y0, x0 = window[0].start, window[1].start
    box = (x0 + int(xs[0]), y0 + int(ys[0]), x0 + int(xs[-1]), y0 + int(ys[-1]))
    size = inst.shape[0]
    truncated = box[0] == 0 or box[1] == 0 or box[2] == size - 1 or box[3] == size - 1
    return ToyObject(class_id, box, int(m.sum()), bool(truncated))


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Global photometric jitter (brightness, contrast, colour cast) and sensor noise.

    ``(img - mean) * contrast * gain + mean * gain + noise`` in one affine pass.

    Shapes:
        img: (3, S, S) float32, planar. returns (S, S, 3) uint8.
    """
    gain = rng.uniform(0.85, 1.15) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    contrast = np.float32(rng.uniform(0.85, 1.15))
    offset = np.float32(img.mean()) * (1 - contrast) * gain
    noise = noise_patch(rng, *img.shape[1:])[None] * np.float32(2.5)
    out = img * (contrast * gain)[:, None, None] + (offset[:, None, None] + noise)
    planes = np.clip(out, 0, 255).astype(np.uint8)
    return cv2.merge([planes[0], planes[1], planes[2]])


def sample_scene(
    rng: np.random.Generator,
    *,
    image_size: int = 128,
    p_empty: float = 0.0,
    object_scale: float = 1.0,
) -> Scene:
    """Sample one scene: stuff background, 1-3 objects, unlabelled clutter and a caption.

    Args:
        rng: the only source of randomness; the same generator state gives the same scene.
        image_size: side in pixels; a multiple of 16, >= 96. All sizes scale with it.
        p_empty: probability of a scene with no object (captioned by its background only),
            for a CLIP training stream; the VOC writer uses 0.
        object_scale: multiplies every object size (at 1.0 objects cover ~18 % of the pixels,
            one object 4-17 % of the image; the prototype's CAMs were better with larger ones).

    Shapes:
        Scene.image (S, S, 3) uint8, Scene.label (S, S) uint8 in {0..C}.
    """
    check_image_size(image_size)
    size = image_size
    n = 0 if rng.random() < p_empty else _choice(rng, [1, 2, 3], [0.45, 0.35, 0.2])
    primary = _choice(rng, TOY_CLASSES) if n else None
    ground, horizon = _sample_layout(rng, primary, size)
    backgrounds = _stuff_names(ground, horizon)
    classes = _sample_classes(rng, primary, n, backgrounds) if n else []
    img, tracks = _render_stuff(rng, ground, horizon, size)
    distractors = _draw_distractors(rng, img, classes, ground, horizon, size)
    rider = "horse" in classes and "person" in classes and rng.random() < 0.6
    sprites = _draw_sprites(rng, classes, size * object_scale, rider)
    layout = (ground, horizon, size, tracks)
    inst, kept, riding = _place_objects(rng, classes, sprites, layout, rider)
    ids = [TOY_CLASSES.index(classes[i]) for i, _, _ in kept]
    objects = []
    for k, (i, x, y) in enumerate(kept):  # paint; inst already resolves occlusion
        slices = _clip(x, y, *sprites[i].roles.shape, size)
        _paint(img, sprites[i], slices, inst[slices[0]] == k + 1)
        objects.append(_describe(inst, k + 1, ids[k], slices[0]))
    label = np.array([0] + [c + 1 for c in ids], np.uint8)[inst]
    mentions = [(classes[i], sprites[i].colour) for i, _, _ in kept]
    caption = make_caption(rng, mentions, backgrounds, distractors, riding)
    return Scene(
        image=_finish(rng, img),
        label=label,
        instances=inst,
        labels=tuple(sorted(set(ids))),
        caption=caption,
        background=ground,
        backgrounds=backgrounds,
        objects=tuple(objects),
        distractors=tuple(distractors),
    )


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _noun(rng: np.random.Generator, cls: str, count: int) -> str:
    """A synonym of ``cls`` (singular, or plural with a number word)."""
    words = TOY_SYNONYMS[cls]
    weights = _NOUN_WEIGHTS.get(cls, [0.6] + [0.4 / (len(words) - 1)] * (len(words) - 1))
    word = _choice(rng, words, weights)
    return f"{_NUMBERS[count]} {TOY_PLURALS[word]}" if count > 1 else word


def _object_phrase(rng: np.random.Generator, cls: str, colour: str | None, count: int) -> str:
    """Phrase for one class: "a red car", "two sheep", "a man in a blue shirt", "a plane"."""
    noun = _noun(rng, cls, count)
    if count > 1:
        return noun
    if colour and cls == "person" and rng.random() < 0.3:  # CLIP-ES's "person with clothes"
        return _article(noun) + " " + _choice(rng, _CLOTHES).format(colour)
    if colour and cls != "person" and rng.random() < 0.25:
        return _article(f"{colour} {noun}")
    return _article(noun)


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def make_caption(
    rng: np.random.Generator,
    objects: list[tuple[str, str]],
    backgrounds: tuple[str, ...],
    distractors: list[str],
    riding: bool = False,
) -> str:
    """Caption naming every object class present (by some synonym) and no absent class.

    The background is named with probability ``MENTION_BACKGROUND_USUAL`` when every object
    with a usual background is on it, else ``MENTION_BACKGROUND_OTHER`` (Sec. 3.1's
    object-background confusion needs captions that rarely separate the two).

    Args:
        objects: ``(class name, colour word)`` per visible object.
        backgrounds: stuff present, ground last.
        distractors: unlabelled clutter drawn; named sometimes (the tower crane as "crane").
        riding: a person rides a horse ("a man riding a pony").
    """
    prefix = _choice(rng, _PREFIXES)
    counts: dict[str, int] = {}
    colours: dict[str, str | None] = {}
    for cls, colour in objects:
        counts[cls] = counts.get(cls, 0) + 1
        colours[cls] = colour if cls not in colours else None  # no colour word if ambiguous
    phrases = []
    if riding:
        counts["person"] -= 1
        counts["horse"] -= 1
        person = _object_phrase(rng, "person", colours["person"], 1)
        phrases.append(f"{person} riding {_article(_noun(rng, 'horse', 1))}")
    order = [c for c in counts if counts[c] > 0]
    rng.shuffle(order)
    phrases += [_object_phrase(rng, c, colours[c], counts[c]) for c in order]
    if phrases:
        prefs = [TOY_PREFERRED_BACKGROUND[c] for c in colours if c in TOY_PREFERRED_BACKGROUND]
        usual = bool(prefs) and all(b in backgrounds for b in prefs)
        text = _join(phrases)
        if rng.random() < (MENTION_BACKGROUND_USUAL if usual else MENTION_BACKGROUND_OTHER):
            stuff = backgrounds[-1]
            if "sky" in backgrounds and "aeroplane" in colours:
                stuff = "sky" if set(colours) == {"aeroplane"} or rng.random() < 0.5 else stuff
            text += " " + _choice(rng, _BG_PHRASES[stuff])
    else:
        text = " and ".join(_choice(rng, _BG_NOUNS[b]) for b in backgrounds[::-1])
    for name in distractors:
        if rng.random() < _MENTION_DISTRACTOR[name]:
            word = _choice(rng, TOY_DISTRACTORS[name], [0.5, 0.3, 0.2] if name != "tree" else None)
            text += " " + _choice(rng, _DISTRACTOR_PHRASES).format(word)
    return (prefix + " " + text if prefix else text) + "."


def caption_vocabulary() -> list[str]:
    """Every word a caption can contain (lower case, no punctuation), sorted.

    For a word-level text tokenizer. Prompt words of CLIP-ES ("clean", "origami") are not in it.
    """
    texts = [*_PREFIXES, *_NUMBERS.values(), *_CLOTHES, *_DISTRACTOR_PHRASES, *_GLUE]
    for table in (TOY_SYNONYMS, _BG_PHRASES, _BG_NOUNS, TOY_DISTRACTORS):
        texts += [w for ws in table.values() for w in ws]
    texts += list(TOY_PLURALS.values()) + [v.name for vs in VARIANTS.values() for v in vs]
    return sorted({w for t in texts for w in t.replace("{}", " ").split()})


def world_description() -> dict:
    """The world as plain data (what ``classes.yaml`` holds)."""
    return {
        "classes": list(TOY_CLASSES),
        "synonyms": {c: list(ws) for c, ws in TOY_SYNONYMS.items()},
        "plurals": dict(TOY_PLURALS),
        "stuff": list(TOY_STUFF),
        "background_synonyms": {b: list(ws) for b, ws in TOY_BACKGROUND_SYNONYMS.items()},
        "backgrounds": list(TOY_BACKGROUNDS),
        "background": list(TOY_BACKGROUNDS),  # the vocabulary's words (load_vocabulary)
        "distractors": {d: list(ws) for d, ws in TOY_DISTRACTORS.items()},
        "preferred_background": dict(TOY_PREFERRED_BACKGROUND),
        "preferred_rate": dict(TOY_PREFERRED_RATE),
        "cooccurrence": {c: {"partner": p, "rate": r} for c, (p, r) in TOY_COOCCURRENCE.items()},
        "mention_background": {
            "usual": MENTION_BACKGROUND_USUAL,
            "other": MENTION_BACKGROUND_OTHER,
        },
        "ambiguous": {
            "crane": "class crane is a bird; captions also call the unlabelled tower crane 'crane'"
        },
        "vocabulary": caption_vocabulary(),
    }


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC palette: (n, 3) uint8; 0 black, 1 (128, 0, 0), ..., 255 (224, 224, 192).

    :func:`clipwsss.data.images.voc_palette` as an array.
    """
    return np.asarray(voc_palette(n), np.uint8).reshape(n, 3)


def add_ignore_band(label: np.ndarray, width: int = 2, ignore_index: int = 255) -> np.ndarray:
    """Mark pixels near a boundary between different values as ``ignore_index``, as VOC does.

    A pixel is marked when its ``(width + 1) x (width + 1)`` neighbourhood holds two different
    values, which gives a band ``width`` px thick across every class boundary (VOC draws ~5 px
    at ~500 px). Image borders are not boundaries.

    Shapes:
        label: (H, W) uint8 without ignore values. returns (H, W) uint8.
    """
    kernel = np.ones((width + 1, width + 1), np.uint8)
    band = cv2.dilate(label, kernel) != cv2.erode(label, kernel)
    out = label.copy()
    out[band] = ignore_index
    return out


def _write_sample(root: Path, image_id: str, scene: Scene) -> dict:
    """Write the JPEG, the palette PNG (with its ignore band) and the XML of one scene.

    Returns:
        The scene's ``captions.jsonl`` fields: caption, class names, main background.
    """
    size = scene.label.shape[0]
    objects = [  # one per visible instance; VOC boxes are 1-based, inclusive
        (TOY_CLASSES[o.class_id], tuple(v + 1 for v in o.box), False, o.truncated)
        for o in scene.objects
    ]
    write_voc_sample(
        root,
        image_id,
        scene.image,
        add_ignore_band(scene.label, max(2, size // 64)),
        TOY_CLASSES,
        objects,
        jpeg_subsampling=0,
        database="clipwsss toy world",
    )
    names = [TOY_CLASSES[c] for c in scene.labels]
    return {"caption": scene.caption, "labels": names, "background": scene.background}


def generate_toy_voc(
    root: str | Path,
    *,
    n_train: int,
    n_val: int,
    seed: int = 0,
    image_size: int = 128,
    progress: bool = False,
) -> dict:
    """Write a toy data set in the PASCAL VOC 2012 layout; same arguments give the same bytes.

    Writes ``JPEGImages/<id>.jpg`` (quality 95, 4:4:4), ``SegmentationClass/<id>.png`` (VOC
    palette, 255 = a boundary band ``max(2, S // 64)`` px wide), ``Annotations/<id>.xml``,
    ``ImageSets/Segmentation/{train,val,trainval}.txt``, ``captions.jsonl`` (both splits) and
    ``classes.yaml`` (:func:`world_description`). Ids are ``toy_train_000001``, ``toy_val_...``.
    Image ``i`` of a split is drawn from ``default_rng([seed, split, i])``, so splits of
    different lengths share their first images.

    Returns:
        A summary: paths, counts, class frequencies per split and the wall time in seconds.
    """
    check_image_size(image_size)
    root = Path(root)
    for sub in ("JPEGImages", "Annotations", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ids: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    with open(root / "captions.jsonl", "w", encoding="utf-8") as captions:
        for split_code, (split, n) in enumerate((("train", n_train), ("val", n_val))):
            ids[split], counts[split] = [], dict.fromkeys(TOY_CLASSES, 0)
            for i in range(1, n + 1):
                image_id = f"toy_{split}_{i:06d}"
                rng = np.random.default_rng([seed, split_code, i])
                scene = sample_scene(rng, image_size=image_size)
                record = _write_sample(root, image_id, scene)
                captions.write(json.dumps({"id": image_id, "split": split, **record}) + "\n")
                ids[split].append(image_id)
                for name in record["labels"]:
                    counts[split][name] += 1
                if progress and i % 500 == 0:
                    print(f"toy {split}: {i}/{n}", file=sys.stderr)
    for split in ("train", "val"):
        write_split(root, split, ids[split])
    write_split(root, "trainval", ids["train"] + ids["val"])
    (root / "classes.yaml").write_text(yaml.safe_dump(world_description(), sort_keys=False))
    return {
        "root": str(root),
        "n_train": n_train,
        "n_val": n_val,
        "seed": seed,
        "image_size": image_size,
        "num_classes": len(TOY_CLASSES),
        "class_counts": counts,
        "seconds": time.perf_counter() - start,
    }
