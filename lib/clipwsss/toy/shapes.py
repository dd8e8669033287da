"""Object silhouettes of the toy world, drawn as coloured sprites.

Each class is a small function that returns its aspect ratio (width / height) and a list of
primitives in unit box coordinates ``(u, v)`` in [0, 1]^2 (u right, v down), with a little
random jitter of the geometry (leg angles, sail size, neck pose, ...). :func:`draw_sprite`
scales them to pixels, paints the parts by *role* (body, secondary colour, dark, glass, ...)
and flips at random. A sprite is placed later by the scene sampler, so drawing and placing
are separate and an occlusion check can move a sprite without drawing it again.

Designed difficulties (see ``world.py`` for the whole list):

- crane: the body colour varies while the small red crown and black tail do not, so the
  most reliable cue is a small part (CAMs tend to stop there).
- person: the shirt and trousers vary and the face (skin, hair) does not: the "person vs
  person with clothes" effect of CLIP-ES Sec. 3.2.2.
- cow vs horse: similar quadruped bodies (a plain brown cow exists); the head, horns and
  udder, or the patched coat, tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from clipwsss.toy.textures import lowfreq_noise

# Roles: how a part is coloured. BODY is textured with the colour variant's pattern.
BODY, SECOND, DARK, GLASS, LIGHT, ACCENT, ACCENT2 = 1, 2, 3, 4, 5, 6, 7

Primitive = tuple
ShapeFn = Callable[[np.random.Generator], tuple[float, list[Primitive]]]


@dataclass(frozen=True)
class Variant:
    """A colour variant of a class: the caption adjective, two colours and a body pattern."""

    name: str  # colour word captions may use ("red", "spotted", ...)
    body: tuple[int, int, int]
    second: tuple[int, int, int]
    pattern: str = "plain"  # plain | stripes | blotches | spots | wool | noise


@dataclass(frozen=True)
class Sprite:
    """A drawn object, not yet placed.

    Shapes:
        roles: (h, w) uint8, 0 outside the object, else the role of the part (BODY, ...).
        rgb: (3, h, w) float32 in [0, 255], channel-planar; meaningful where ``roles > 0``.
    """

    roles: np.ndarray
    rgb: np.ndarray
    colour: str  # the variant's colour word, for captions


def _rng_u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _aeroplane(rng):
    wing = _rng_u(rng, -0.04, 0.04)
    parts = [
        ("poly", SECOND, [(0.02, 0.58), (0.16, 0.58), (0.10, 0.12), (0.02, 0.10)]),
        ("ellipse", BODY, (0.5, 0.6), (0.49, 0.12), 0),
        ("ellipse", SECOND, (0.09, 0.6), (0.09, 0.035), 0),
        ("poly", SECOND, [(0.40 + wing, 0.64), (0.60 + wing, 0.64), (0.42, 0.96), (0.30, 0.96)]),
        ("ellipse", DARK, (0.50, 0.78), (0.06, 0.05), 0),
        ("poly", GLASS, [(0.90, 0.53), (0.955, 0.55), (0.93, 0.57), (0.89, 0.57)]),
    ]
    for i in range(7):
        u = 0.3 + 0.075 * i
        parts.append(("line", GLASS, [(u, 0.55), (u + 0.03, 0.55)], 0.05))
    return 1.7, parts


def _boat(rng):
    if rng.random() < 0.5:  # sailboat
        top = _rng_u(rng, 0.0, 0.12)
        return 1.0, [
            ("line", DARK, [(0.5, top), (0.5, 0.72)], 0.03),
            ("poly", LIGHT, [(0.53, top + 0.02), (0.53, 0.68), (_rng_u(rng, 0.82, 0.95), 0.68)]),
            ("poly", SECOND, [(0.47, top + 0.1), (0.47, 0.68), (0.12, 0.68)]),
            ("poly", BODY, [(0.0, 0.70), (1.0, 0.70), (0.84, 0.97), (0.14, 0.97)]),
        ]
    parts = [  # motor boat / small ship
        ("rect", SECOND, (0.55, 0.08), (0.65, 0.32)),
        ("rect", LIGHT, (0.28, 0.3), (0.78, 0.57)),
        ("poly", BODY, [(0.0, 0.55), (1.0, 0.55), (0.88, 0.96), (0.1, 0.96)]),
        ("rect", SECOND, (0.06, 0.63), (0.95, 0.69)),
    ]
    parts += [("rect", GLASS, (0.32 + 0.11 * i, 0.37), (0.39 + 0.11 * i, 0.47)) for i in range(4)]
    return 1.6, parts


def _bus(rng):
    parts = [
        ("poly", BODY, [(0.0, 0.06), (0.97, 0.06), (1.0, 0.12), (1.0, 0.86), (0.0, 0.86)]),
        ("rect", SECOND, (0.0, 0.56), (1.0, 0.63)),
        ("rect", GLASS, (0.92, 0.13), (0.99, 0.5)),
        ("rect", GLASS, (0.8, 0.14), (0.88, 0.8)),
    ]
    parts += [
        ("rect", GLASS, (0.03 + 0.125 * i, 0.15), (0.135 + 0.125 * i, 0.46)) for i in range(6)
    ]
    for u in (0.18, 0.72):
        parts += [("circle", DARK, (u, 0.86), 0.14), ("circle", LIGHT, (u, 0.86), 0.055)]
    return 2.1, parts


def _car(rng):
    roof = _rng_u(rng, 0.08, 0.16)
    parts = [
        ("poly", BODY, [(0.2, 0.5), (0.32, roof), (0.66, roof), (0.8, 0.5)]),
        ("poly", GLASS, [(0.26, 0.47), (0.35, roof + 0.07), (0.48, roof + 0.07), (0.48, 0.47)]),
        ("poly", GLASS, [(0.52, 0.47), (0.52, roof + 0.07), (0.64, roof + 0.07), (0.74, 0.47)]),
        (
            "poly",
            BODY,
            [(0.02, 0.46), (0.94, 0.47), (1.0, 0.6), (1.0, 0.8), (0.0, 0.8), (0.0, 0.5)],
        ),
        ("ellipse", LIGHT, (0.97, 0.57), (0.025, 0.04), 0),
        ("ellipse", ACCENT, (0.015, 0.56), (0.015, 0.04), 0),
    ]
    for u in (0.21, 0.79):
        parts += [("circle", DARK, (u, 0.8), 0.2), ("circle", LIGHT, (u, 0.8), 0.08)]
    return 2.2, parts


def _train(rng):
    n_cars = 1 + int(rng.random() < 0.4)
    aspect = 3.0 if n_cars == 1 else 4.2
    k = 3.0 / aspect  # unit-u of one carriage-length in this aspect
    nose = 1.0 - 0.12 * k
    parts = [
        ("rect", BODY, (0.0, 0.12), (1.0 - 0.5 * k, 0.86)),
        (
            "poly",
            BODY,
            [(1.0 - 0.5 * k, 0.12), (nose, 0.12), (1.0, 0.45), (1.0, 0.86), (1.0 - 0.5 * k, 0.86)],
        ),
        ("rect", SECOND, (0.0, 0.62), (1.0, 0.7)),
        ("rect", SECOND, (0.0, 0.08), (nose, 0.13)),
        ("poly", GLASS, [(nose, 0.18), (1.0 - 0.01 * k, 0.45), (nose - 0.02 * k, 0.45)]),
        ("ellipse", LIGHT, (1.0 - 0.02 * k, 0.75), (0.015 * k, 0.05), 0),
    ]
    starts = [i * 0.5 * k for i in range(n_cars)] + [1.0 - 0.5 * k]
    for s in starts:
        w = 0.5 * k
        parts += [
            ("rect", GLASS, (s + w * (0.1 + 0.22 * j), 0.24), (s + w * (0.26 + 0.22 * j), 0.48))
            for j in range(3 if s < starts[-1] else 2)
        ]
        parts += [("circle", DARK, (s + w * f, 0.9), 0.09) for f in (0.15, 0.35, 0.65, 0.85)]
        if s > 0:  # carriages touch: a dark joint instead of a gap keeps the mask solid
            parts.append(("line", DARK, [(s, 0.14), (s, 0.84)], 0.04))
    return aspect, parts


def _quadruped_legs(rng, xs, top, thick, role):
    swing = _rng_u(rng, -0.06, 0.06)
    legs = []
    for i, x in enumerate(xs):
        dx = swing if i % 2 == 0 else -swing
        legs.append(("line", role, [(x, top), (x + dx, 0.95)], thick))
        legs.append(("line", DARK, [(x + dx, 0.94), (x + dx, 0.99)], thick))
    return legs


def _cow(rng):
    head_dy = _rng_u(rng, -0.05, 0.15)  # grazing cows lower their heads
    parts = [
        ("line", BODY, [(0.12, 0.32), (0.07, 0.72)], 0.035),
        ("ellipse", DARK, (0.07, 0.74), (0.02, 0.04), 0),
    ]
    parts += _quadruped_legs(rng, (0.2, 0.3, 0.58, 0.68), 0.5, 0.09, BODY)
    parts += [
        ("ellipse", BODY, (0.44, 0.42), (0.34, 0.21), 0),
        ("ellipse", ACCENT, (0.34, 0.62), (0.06, 0.05), 0),
        ("poly", BODY, [(0.66, 0.28), (0.8, 0.2 + head_dy), (0.87, 0.36 + head_dy), (0.72, 0.52)]),
        ("line", ACCENT2, [(0.84, 0.23 + head_dy), (0.8, 0.1 + head_dy)], 0.045),
        ("line", ACCENT2, [(0.9, 0.23 + head_dy), (0.95, 0.1 + head_dy)], 0.045),
        (
            "poly",
            BODY,
            [
                (0.8, 0.2 + head_dy),
                (0.94, 0.2 + head_dy),
                (0.99, 0.48 + head_dy),
                (0.87, 0.52 + head_dy),
                (0.8, 0.38 + head_dy),
            ],
        ),
        ("ellipse", BODY, (0.78, 0.25 + head_dy), (0.05, 0.03), 0),
        ("ellipse", ACCENT, (0.94, 0.47 + head_dy), (0.05, 0.06), 0),
    ]
    return 1.45, parts


def _horse(rng):
    parts = [("line", SECOND, [(0.14, 0.38), (0.07, 0.5), (0.08, 0.76)], 0.07)]
    parts += _quadruped_legs(rng, (0.2, 0.28, 0.56, 0.64), 0.5, 0.065, BODY)
    parts += [
        ("ellipse", BODY, (0.42, 0.45), (0.3, 0.17), 0),
        (
            "poly",
            BODY,
            [(0.6, 0.4), (0.67, 0.24), (0.77, 0.07), (0.86, 0.12), (0.78, 0.36), (0.72, 0.52)],
        ),
        ("ellipse", BODY, (0.87, 0.18), (0.11, 0.065), 35),
        ("line", SECOND, [(0.64, 0.32), (0.72, 0.15), (0.78, 0.06)], 0.05),
        ("ellipse", DARK, (0.84, 0.14), (0.012, 0.015), 0),
    ]
    return 1.3, parts


def _sheep(rng):
    parts = _quadruped_legs(rng, (0.25, 0.34, 0.58, 0.67), 0.6, 0.06, SECOND)
    parts.append(("ellipse", BODY, (0.45, 0.45), (0.36, 0.25), 0))
    for a in np.linspace(0, 2 * np.pi, 11, endpoint=False):
        parts.append(("circle", BODY, (0.45 + 0.33 * np.cos(a), 0.45 + 0.22 * np.sin(a)), 0.12))
    head_dy = _rng_u(rng, -0.05, 0.12)
    parts += [
        ("ellipse", SECOND, (0.86, 0.38 + head_dy), (0.09, 0.14), -20),
        ("ellipse", SECOND, (0.8, 0.3 + head_dy), (0.06, 0.03), 20),
        ("ellipse", LIGHT, (0.88, 0.33 + head_dy), (0.012, 0.015), 0),
    ]
    return 1.35, parts


def _crane(rng):
    feeding = rng.random() < 0.3
    neck = (
        [(0.62, 0.5), (0.72, 0.55), (0.8, 0.8)]
        if feeding
        else [(0.62, 0.48), (0.7, 0.3), (0.72, 0.15)]
    )
    hx, hy = (0.82, 0.83) if feeding else (0.74, 0.12)
    parts = [
        ("line", ACCENT2, [(0.42, 0.58), (0.44, 1.0)], 0.03),
        ("line", ACCENT2, [(0.5, 0.58), (0.53 + _rng_u(rng, -0.04, 0.06), 1.0)], 0.03),
        ("ellipse", BODY, (0.42, 0.5), (0.3, 0.13), -12),
        ("poly", SECOND, [(0.08, 0.45), (0.2, 0.48), (0.24, 0.62), (0.04, 0.64)]),
        ("line", SECOND, neck, 0.06),
        ("ellipse", BODY, (hx, hy), (0.08, 0.05), 0),
        ("ellipse", ACCENT, (hx - 0.01, hy - 0.03), (0.05, 0.03), 0),
        ("poly", DARK, [(hx + 0.05, hy - 0.01), (hx + 0.24, hy + 0.03), (hx + 0.05, hy + 0.03)]),
    ]
    return 0.85, parts


def _person(rng):
    arm_l, arm_r = _rng_u(rng, 0.0, 0.14), _rng_u(rng, 0.0, 0.14)
    stride = _rng_u(rng, 0.0, 0.1)
    return 0.42, [
        ("line", SECOND, [(0.42, 0.56), (0.4 - stride, 0.95)], 0.075),
        ("line", SECOND, [(0.58, 0.56), (0.6 + stride, 0.95)], 0.075),
        ("ellipse", DARK, (0.38 - stride, 0.96), (0.09, 0.025), 0),
        ("ellipse", DARK, (0.62 + stride, 0.96), (0.09, 0.025), 0),
        ("line", BODY, [(0.3, 0.24), (0.14 - arm_l, 0.48)], 0.06),
        ("line", BODY, [(0.7, 0.24), (0.86 + arm_r, 0.48)], 0.06),
        ("circle", ACCENT, (0.14 - arm_l, 0.5), 0.03),
        ("circle", ACCENT, (0.86 + arm_r, 0.5), 0.03),
        ("rect", ACCENT, (0.43, 0.15), (0.57, 0.22)),
        ("poly", BODY, [(0.24, 0.2), (0.76, 0.2), (0.72, 0.6), (0.28, 0.6)]),
        ("ellipse", ACCENT, (0.5, 0.1), (0.19, 0.085), 0),
        ("ellipse", ACCENT2, (0.5, 0.055), (0.2, 0.045), 0),
        ("ellipse", DARK, (0.58, 0.1), (0.025, 0.01), 0),
    ]


def _tree(rng):
    parts = [("rect", SECOND, (0.44, 0.45), (0.56, 1.0))]
    for _ in range(6):
        parts.append(("circle", BODY, (_rng_u(rng, 0.25, 0.75), _rng_u(rng, 0.2, 0.45)), 0.18))
    return 0.7, parts


def _tower_crane(rng):
    mast0, mast1, jib = 0.3, 0.36, 0.14
    parts = [
        ("line", BODY, [(mast0, jib), (mast0, 1.0)], 0.008),
        ("line", BODY, [(mast1, jib), (mast1, 1.0)], 0.008),
        ("line", BODY, [(0.0, 0.1), (1.0, 0.1)], 0.008),
        ("line", BODY, [(0.0, jib), (1.0, jib)], 0.008),
        ("rect", SECOND, (0.02, 0.08), (0.12, 0.2)),
        ("rect", BODY, (0.28, 0.14), (0.38, 0.2)),
        ("line", DARK, [(0.8, jib), (0.8, _rng_u(rng, 0.35, 0.7))], 0.004),
    ]
    zig = [(mast0 if i % 2 == 0 else mast1, jib + i * 0.05) for i in range(18)]
    parts.append(("line", BODY, zig, 0.006))
    zig = [(i * 0.04, 0.1 if i % 2 == 0 else jib) for i in range(26)]
    parts.append(("line", BODY, zig, 0.006))
    parts.append(("line", DARK, [(0.33, 0.0), (0.05, 0.1)], 0.004))
    parts.append(("line", DARK, [(0.33, 0.0), (0.95, 0.1)], 0.004))
    return 1.0, parts


SHAPES: dict[str, ShapeFn] = {
    "aeroplane": _aeroplane,
    "boat": _boat,
    "bus": _bus,
    "car": _car,
    "cow": _cow,
    "crane": _crane,
    "horse": _horse,
    "person": _person,
    "sheep": _sheep,
    "train": _train,
    "tree": _tree,  # distractor: unlabelled, drawn as background clutter
    "tower crane": _tower_crane,  # distractor: the other meaning of "crane"
}

_W, _K, _G, _Y = (235, 235, 232), (38, 38, 42), (150, 150, 155), (225, 185, 40)
_RED, _BLUE, _GREEN, _ORANGE = (200, 40, 35), (45, 80, 170), (45, 125, 65), (230, 120, 30)
_V = Variant  # short alias for the table
VARIANTS: dict[str, list[Variant]] = {
    "aeroplane": [
        _V("white", _W, _RED),
        _V("white", _W, _BLUE),
        _V("grey", (175, 180, 185), _G),
        _V("blue", _BLUE, _W),
        _V("red", _RED, _W),
        _V("yellow", _Y, _BLUE),
    ],
    "boat": [
        _V("red", _RED, _W),
        _V("blue", _BLUE, _RED),
        _V("white", _W, _BLUE),
        _V("brown", (130, 85, 50), (200, 180, 140)),
        _V("green", _GREEN, _W),
        _V("black", _K, _RED),
    ],
    "bus": [
        _V("yellow", _Y, _K),
        _V("red", _RED, _W),
        _V("blue", _BLUE, _W),
        _V("green", _GREEN, _W),
        _V("white", _W, _RED),
        _V("orange", _ORANGE, _W),
    ],
    "car": [
        _V("red", _RED, _K),
        _V("blue", _BLUE, _K),
        _V("black", _K, _K),
        _V("white", _W, _K),
        _V("grey", _G, _K),
        _V("green", _GREEN, _K),
        _V("yellow", _Y, _K),
        _V("orange", _ORANGE, _K),
    ],
    "cow": [
        _V("spotted", _W, _K, "blotches"),
        _V("spotted", _W, _K, "blotches"),
        _V("brown", (140, 85, 45), _W, "blotches"),
        _V("brown", (140, 85, 45), _W),
        _V("black", (45, 40, 40), _W, "blotches"),
    ],
    "crane": [
        _V("white", (240, 240, 238), _K),
        _V("grey", (160, 165, 175), _K),
        _V("grey", (120, 140, 170), (60, 60, 70)),
        _V("brown", (150, 135, 115), _K),
    ],
    "horse": [
        _V("brown", (120, 70, 35), (45, 30, 25)),
        _V("brown", (160, 85, 40), (60, 40, 30)),
        _V("black", (40, 35, 35), (20, 20, 20)),
        _V("white", (228, 228, 222), (170, 165, 160)),
        _V("grey", (150, 150, 150), (60, 60, 60), "spots"),
    ],
    # person: the shirt; trousers, skin and hair come from _palette
    "person": [
        _V("red", _RED, _K),
        _V("blue", _BLUE, _K),
        _V("green", _GREEN, _K),
        _V("yellow", _Y, _K),
        _V("white", _W, _K),
        _V("black", _K, _K),
        _V("orange", _ORANGE, _K),
        _V("purple", (120, 60, 150), _K),
        _V("striped", _RED, _W, "stripes"),
        _V("striped", _BLUE, _W, "stripes"),
    ],
    "sheep": [
        _V("white", (235, 235, 225), _K, "wool"),
        _V("white", (230, 228, 215), _W, "wool"),
        _V("white", (225, 215, 185), (80, 60, 45), "wool"),
        _V("grey", (170, 170, 165), _K, "wool"),
        _V("black", (55, 50, 50), (30, 30, 30), "wool"),
    ],
    "train": [
        _V("red", (180, 35, 35), _W),
        _V("blue", (40, 80, 160), _Y),
        _V("green", (40, 110, 60), _Y),
        _V("yellow", _Y, _K),
        _V("white", (220, 225, 230), _RED),
        _V("grey", (130, 135, 140), _RED),
    ],
    "tree": [
        _V("green", (50, 120, 45), (100, 70, 40), "noise"),
        _V("green", (80, 140, 50), (90, 60, 35), "noise"),
    ],
    "tower crane": [
        _V("yellow", (235, 190, 30), (90, 90, 95)),
        _V("orange", (235, 130, 30), (90, 90, 95)),
    ],
}
"""Colour variants per class. The caption adjective is ``Variant.name``."""

_SKIN = [(240, 200, 170), (225, 175, 140), (190, 135, 95), (140, 95, 65)]
_HAIR = [(30, 25, 20), (90, 60, 35), (200, 170, 100), (120, 120, 120)]
_TROUSERS = [(40, 60, 110), (35, 35, 40), (110, 110, 115), (120, 90, 60)]


def _palette(rng: np.random.Generator, cls: str, variant: Variant) -> np.ndarray:
    """Colours by role, (8, 3) float32; class-specific accents (crown, skin, udder, horns)."""
    pal = np.zeros((8, 3), np.float32)
    pal[BODY], pal[SECOND] = variant.body, variant.second
    pal[DARK], pal[GLASS], pal[LIGHT] = (35, 35, 38), (150, 190, 215), (225, 225, 220)
    pal[ACCENT], pal[ACCENT2] = (200, 50, 40), (80, 80, 80)
    if cls == "crane":
        pal[ACCENT], pal[ACCENT2] = (215, 30, 35), (70, 70, 75)  # red crown, grey legs
    elif cls == "person":
        pal[ACCENT] = _SKIN[rng.integers(len(_SKIN))]
        pal[ACCENT2] = _HAIR[rng.integers(len(_HAIR))]
        pal[SECOND] = _TROUSERS[rng.integers(len(_TROUSERS))]
    elif cls == "cow":
        pal[ACCENT], pal[ACCENT2] = (230, 150, 150), (235, 225, 190)  # pink udder/muzzle, horns
    elif cls == "sheep":
        pal[LIGHT] = (20, 20, 20)  # eye
    jitter = rng.uniform(0.9, 1.1, (8, 1)).astype(np.float32)
    return np.clip(pal * jitter, 0, 255)


def _body_texture(rng, variant: Variant, h: int, w: int, palette: np.ndarray) -> np.ndarray:
    """The BODY colour field, (3, h, w) float32, with the variant's pattern and shading."""
    body, second = palette[BODY][:, None, None], palette[SECOND][:, None, None]
    if variant.pattern == "blotches":  # cow patches: thresholded smooth noise
        patch = lowfreq_noise(rng, h, w, int(rng.integers(4, 7))) > rng.uniform(0.55, 0.65)
        tex = np.where(patch[None], second, body)
    elif variant.pattern == "stripes":
        period = max(3.0, rng.uniform(0.08, 0.14) * h)
        y = np.arange(h, dtype=np.float32)[:, None] + rng.uniform(-0.3, 0.3) * np.arange(w)
        tex = np.where((np.sin(2 * np.pi * y / period) > 0)[None], second, body)
    elif variant.pattern == "spots":
        spots = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(6, 14))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(spots, c, max(1, int(rng.uniform(0.03, 0.07) * h)), 1, -1)
        tex = np.where(spots[None] > 0, second, body)
    elif variant.pattern == "wool":
        curls = cv2.resize(rng.random((max(2, h // 3), max(2, w // 3)), dtype=np.float32), (w, h))
        tex = body * (0.8 + 0.35 * curls)[None]
    else:
        tex = body * (0.92 + 0.16 * lowfreq_noise(rng, h, w, 3))[None]
        if variant.pattern == "noise":
            tex = tex * (0.75 + 0.5 * rng.random((1, h, w), dtype=np.float32))
    shade = np.linspace(1.08, 0.86, h, dtype=np.float32)[None, :, None]
    return tex * shade


def _rasterise(parts: list[Primitive], w_px: float, h_px: float, canvas: np.ndarray) -> None:
    """Draw the primitives' roles into ``canvas`` ((h, w) uint8) in order, 1/8 px precise."""
    sx, sy = w_px * 8.0, h_px * 8.0  # cv2 fixed point with shift = 3 bits

    def pt(u: float, v: float) -> tuple[int, int]:
        return int(u * sx + 0.5), int(v * sy + 0.5)

    def poly(uvs) -> list[np.ndarray]:
        return [np.array([pt(u, v) for u, v in uvs], np.int32)]

    for kind, role, *args in parts:
        if kind == "poly":
            cv2.fillPoly(canvas, poly(args[0]), role, cv2.LINE_8, 3)
        elif kind == "rect":
            (u0, v0), (u1, v1) = args
            cv2.fillPoly(
                canvas, poly([(u0, v0), (u1, v0), (u1, v1), (u0, v1)]), role, cv2.LINE_8, 3
            )
        elif kind == "ellipse":
            (cu, cv_), (ru, rv), angle = args
            cv2.ellipse(canvas, pt(cu, cv_), pt(ru, rv), angle, 0, 360, role, -1, cv2.LINE_8, 3)
        elif kind == "circle":  # radius in units of the height, so it stays round
            (cu, cv_), r = args
            cv2.circle(canvas, pt(cu, cv_), int(r * sy + 0.5), role, -1, cv2.LINE_8, 3)
        elif kind == "line":  # thickness in units of the height
            thick = max(1, int(round(args[1] * h_px)))
            cv2.polylines(canvas, poly(args[0]), False, role, thick, cv2.LINE_8, 3)
        else:
            raise ValueError(f"unknown primitive {kind!r}")


def draw_sprite(rng: np.random.Generator, name: str, size: float) -> Sprite:
    """Draw one object of class (or distractor) ``name`` whose longest side is ``size`` px.

    Geometry jitter, colour variant, pattern and a horizontal flip are drawn from ``rng``.

    Shapes:
        returns a Sprite with roles (h, w) and rgb (3, h, w); max(h, w) ~ size + 1.
    """
    aspect, parts = SHAPES[name](rng)
    h_px = float(size) / max(aspect, 1.0)
    w_px = h_px * aspect
    h, w = int(np.ceil(h_px)) + 1, int(np.ceil(w_px)) + 1
    roles = np.zeros((h, w), np.uint8)
    _rasterise(parts, w_px, h_px, roles)
    variants = VARIANTS[name]
    variant = variants[rng.integers(len(variants))]
    palette = _palette(rng, name, variant)
    flat = palette.T[:, roles]  # (3, h, w) colour by role
    rgb = np.where(roles[None] == BODY, _body_texture(rng, variant, h, w, palette), flat)
    if rng.random() < 0.5:
        roles, rgb = roles[:, ::-1], rgb[:, :, ::-1]
    return Sprite(np.ascontiguousarray(roles), np.ascontiguousarray(rgb), variant.name)
