"""Tests of the toy world (clipwsss.toy): scenes, captions, designed rates, VOC files, speed."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from clipwsss.toy import (
    TOY_BACKGROUND_SYNONYMS,
    TOY_BACKGROUNDS,
    TOY_CLASSES,
    TOY_DISTRACTORS,
    TOY_PLURALS,
    TOY_PREFERRED_BACKGROUND,
    TOY_STUFF,
    TOY_SYNONYMS,
    add_ignore_band,
    caption_vocabulary,
    generate_toy_voc,
    sample_scene,
    voc_colormap,
    world_description,
)

C = len(TOY_CLASSES)
N_SCENES = 1000


@pytest.fixture(scope="module")
def sampled() -> tuple[list, float]:
    """1,000 scenes at the default size, and the CPU seconds it took to sample them.

    CPU time, not wall time: other jobs share this machine's two cores.
    """
    rng = np.random.default_rng(2024)
    start = time.process_time()
    scenes = [sample_scene(rng) for _ in range(N_SCENES)]
    return scenes, time.process_time() - start


def _forms(cls: str) -> set[str]:
    return set(TOY_SYNONYMS[cls]) | {TOY_PLURALS.get(w, w) for w in TOY_SYNONYMS[cls]}


def _mentions(caption: str, words: set[str]) -> bool:
    return any(re.search(rf"\b{re.escape(w)}\b", caption) for w in words)


def test_sampling_speed(sampled):
    # Target ~2 ms per 128 px scene; the bound leaves room for a shared 2-core CPU.
    assert sampled[1] < 10.0


@pytest.mark.parametrize("size", [96, 128, 192])
def test_scene_shapes_and_ranges(size):
    rng = np.random.default_rng(size)
    for _ in range(5):
        s = sample_scene(rng, image_size=size)
        assert s.image.shape == (size, size, 3) and s.image.dtype == np.uint8
        assert s.label.shape == (size, size) and s.label.dtype == np.uint8
        assert s.label.max() <= C
        assert s.labels == tuple(sorted(int(v) - 1 for v in np.unique(s.label) if v > 0))
        assert 1 <= len(s.objects) <= 3
    assert size // 8 >= 12  # a patch-8 ViT sees at least a 12 x 12 grid


@pytest.mark.parametrize("size", [64, 80, 100, 120])
def test_bad_image_size(size):
    with pytest.raises(ValueError):
        sample_scene(np.random.default_rng(0), image_size=size)


def test_same_rng_state_same_scene():
    a = sample_scene(np.random.default_rng([7, 1]))
    b = sample_scene(np.random.default_rng([7, 1]))
    c = sample_scene(np.random.default_rng([7, 2]))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.label, b.label)
    assert a.caption == b.caption
    assert not np.array_equal(a.image, c.image)


def test_labels_are_the_visible_classes(sampled):
    for s in sampled[0][:300]:
        size = s.label.shape[0]
        assert s.labels == tuple(sorted(int(v) - 1 for v in np.unique(s.label) if v > 0))
        for k, obj in enumerate(s.objects):
            m = s.instances == k + 1
            assert obj.area == m.sum() >= 0.012 * size * size
            assert np.all(s.label[m] == obj.class_id + 1)
            ys, xs = np.nonzero(m)
            assert obj.box == (xs.min(), ys.min(), xs.max(), ys.max())
        # The ignore band never erases a class.
        banded = add_ignore_band(s.label, 2)
        assert set(np.unique(banded)) - {255} == set(np.unique(s.label))


def test_ignore_band_width():
    label = np.zeros((32, 32), np.uint8)
    label[:, 16:] = 4
    for width in (1, 2, 3, 4):
        out = add_ignore_band(label, width)
        assert np.all((out == 255).sum(1) == width)
        assert set(np.unique(out)) == {0, 4, 255}
    square = np.zeros((32, 32), np.uint8)
    square[10:20, 10:20] = 3
    out = add_ignore_band(square, 2)
    assert (out == 255).sum() == 12 * 12 - 8 * 8  # one px each side of the outline
    assert np.all(out[11:19, 11:19] == 3) and out[0, 0] == 0


def test_caption_names_exactly_the_present_classes(sampled):
    machine_crane = 0
    for s in sampled[0][:400]:
        for c, cls in enumerate(TOY_CLASSES):
            forms = _forms(cls)
            if cls == "crane" and "tower crane" in s.distractors:
                forms -= {"crane", "cranes"}  # the ambiguous word may name the machine
                machine_crane += _mentions(s.caption, {"crane"})
            assert _mentions(s.caption, forms) == (c in s.labels), (s.caption, s.labels)
    assert machine_crane > 5  # "crane" really is ambiguous in the captions


def test_caption_words_are_in_the_vocabulary(sampled):
    vocab = set(caption_vocabulary())
    words = {w for s in sampled[0] for w in re.findall(r"[a-z]+", s.caption)}
    assert words <= vocab
    assert set(TOY_BACKGROUNDS) <= vocab


def test_designed_rates(sampled):
    scenes = sampled[0]
    present = np.array([[c in s.labels for c in range(C)] for s in scenes])
    freq = present.mean(0)
    assert np.all(freq > 0.06), dict(zip(TOY_CLASSES, freq, strict=True))

    def on_usual(cls):
        hits = [TOY_PREFERRED_BACKGROUND[cls] in s.backgrounds for s in scenes if cls_in(s, cls)]
        return np.mean(hits)

    def cls_in(s, cls):
        return TOY_CLASSES.index(cls) in s.labels

    assert on_usual("boat") > 0.7 and on_usual("train") > 0.7
    assert on_usual("aeroplane") > 0.8 and on_usual("car") > 0.65

    def given(a, b):  # P(b present | a present)
        i, j = TOY_CLASSES.index(a), TOY_CLASSES.index(b)
        return present[present[:, i], j].mean()

    assert given("horse", "person") > 0.4 and given("cow", "sheep") > 0.35
    assert given("bus", "car") > 0.4
    # Boats on water: the caption rarely names the water.
    boat_on_water = [s for s in scenes if cls_in(s, "boat") and "water" in s.backgrounds]
    named = np.mean(
        [_mentions(s.caption, set(TOY_BACKGROUND_SYNONYMS["water"])) for s in boat_on_water]
    )
    assert named < 0.3
    n_objects = np.mean([len(s.objects) for s in scenes])
    assert 1.5 < n_objects < 2.3
    assert 0.1 < np.mean([(s.label > 0).mean() for s in scenes[:300]]) < 0.35


def test_empty_scenes():
    rng = np.random.default_rng(3)
    for _ in range(10):
        s = sample_scene(rng, p_empty=1.0)
        assert s.labels == () and not s.label.any() and not s.objects
        assert _mentions(s.caption, set(TOY_BACKGROUNDS))
        assert not any(_mentions(s.caption, _forms(c)) for c in TOY_CLASSES if c != "crane")


def test_world_description_is_consistent():
    desc = world_description()
    assert desc["classes"] == TOY_CLASSES and yaml.safe_load(yaml.safe_dump(desc)) == desc
    assert all(TOY_SYNONYMS[c][0] == c for c in TOY_CLASSES)
    assert set(TOY_PREFERRED_BACKGROUND.values()) <= set(TOY_STUFF)
    class_words = {w for c in TOY_CLASSES for w in _forms(c)}
    assert not class_words & set(TOY_BACKGROUNDS)
    assert "crane" in TOY_DISTRACTORS["tower crane"]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generate_is_deterministic(tmp_path):
    kw = {"n_train": 3, "n_val": 2, "image_size": 96}
    generate_toy_voc(tmp_path / "a", seed=5, **kw)
    generate_toy_voc(tmp_path / "b", seed=5, **kw)
    generate_toy_voc(tmp_path / "c", seed=6, **kw)
    a, b, c = (_files(tmp_path / d) for d in "abc")
    assert a == b
    assert a.keys() == c.keys()
    jpgs = [k for k in a if k.endswith(".jpg")]
    assert len(jpgs) == 5 and all(a[k] != c[k] for k in jpgs)


def test_generate_voc_layout(tmp_path):
    summary = generate_toy_voc(tmp_path, n_train=6, n_val=4, seed=1, image_size=128)
    sets = tmp_path / "ImageSets" / "Segmentation"
    train = sets.joinpath("train.txt").read_text().split()
    val = sets.joinpath("val.txt").read_text().split()
    assert len(train) == 6 and len(val) == 4 and not set(train) & set(val)
    assert train[0] == "toy_train_000001" and val[0] == "toy_val_000001"
    assert sets.joinpath("trainval.txt").read_text().split() == train + val
    captions = {}
    for line in (tmp_path / "captions.jsonl").read_text().splitlines():
        record = json.loads(line)
        captions[record["id"]] = record
    palette = voc_colormap().flatten().tolist()
    for image_id in train + val:
        with Image.open(tmp_path / "JPEGImages" / f"{image_id}.jpg") as im:
            assert im.format == "JPEG" and im.size == (128, 128) and im.mode == "RGB"
        with Image.open(tmp_path / "SegmentationClass" / f"{image_id}.png") as im:
            assert im.mode == "P" and im.getpalette()[: 3 * 256] == palette
            label = np.array(im)
        values = set(np.unique(label).tolist())
        assert values <= set(range(C + 1)) | {255} and 255 in values
        classes = {TOY_CLASSES[v - 1] for v in values - {0, 255}}
        xml = ET.parse(tmp_path / "Annotations" / f"{image_id}.xml").getroot()
        names = [o.findtext("name") for o in xml.iter("object")]
        assert set(names) == classes == set(captions[image_id]["labels"])
        assert xml.findtext("size/width") == "128" and xml.findtext("filename") == f"{image_id}.jpg"
        for o in xml.iter("object"):
            assert o.findtext("difficult") == "0"
            box = [int(o.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]
            assert 1 <= box[0] <= box[2] <= 128 and 1 <= box[1] <= box[3] <= 128
    desc = yaml.safe_load((tmp_path / "classes.yaml").read_text())
    assert desc["classes"] == TOY_CLASSES and desc["synonyms"] == TOY_SYNONYMS
    assert desc["backgrounds"] == TOY_BACKGROUNDS
    assert sum(summary["class_counts"]["train"].values()) >= 6


def test_toy_split_reads_through_the_voc_loader(tmp_path):
    """The toy world goes through exactly the loader real VOC uses (XML and PNG labels agree)."""
    from clipwsss.data import VOCDataset, load_image, load_label_png
    from clipwsss.toy import TOY_CLASSES, generate_toy_voc

    generate_toy_voc(tmp_path, n_train=3, n_val=4, seed=1, image_size=96)
    xml = VOCDataset(tmp_path, "val", class_names=TOY_CLASSES, label_source="xml")
    png = VOCDataset(tmp_path, "val", class_names=TOY_CLASSES, label_source="png")
    assert len(xml) == 4 and len(VOCDataset(tmp_path, "train", class_names=TOY_CLASSES)) == 3
    for image_id in xml.ids:
        a, b = xml.sample(image_id), png.sample(image_id)
        assert sorted(a.labels) == sorted(b.labels) and a.labels
        assert load_image(a.image_path).shape == (96, 96, 3)
        assert load_label_png(a.gt_path).shape == (96, 96)
