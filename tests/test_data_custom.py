"""Tests for clipwsss.data.custom and the build_dataset factory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipwsss.data import (
    COCODataset,
    CustomDataset,
    DatasetLayoutError,
    UnknownClassError,
    VOCDataset,
    build_dataset,
    write_split,
    write_voc_sample,
)

NAMES = ["cat", "dog", "traffic light"]


@pytest.fixture()
def image_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    for name in ("a.jpg", "b.png", "c.JPEG", "d.jpg"):
        Image.fromarray(pixels).save(
            folder / name, format="PNG" if name.endswith("png") else "JPEG"
        )
    return folder


def test_custom_text_labels(image_dir, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("# id then names\na cat dog cat\nb\ttraffic light, cat\n\nc.JPEG dog\nd\n")
    ds = CustomDataset(image_dir, labels, NAMES)
    assert ds.ids == ["a", "b", "c", "d"] and ds.n_classes == 4 and ds.label_source == "file"
    assert ds["a"].labels == (0, 1)  # file order, duplicate dropped
    assert ds["b"].labels == (2, 0) and ds.label_names(ds["b"]) == ["traffic light", "cat"]
    assert ds["c"].image_path == image_dir / "c.JPEG"
    assert ds["b"].image_path == image_dir / "b.png" and ds["b"].gt_path is None
    assert ds["d"].labels == () and ds.unlabelled_ids() == ["d"]  # kept, flagged


def test_custom_json_yaml_and_class_file(image_dir, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("cat\ndog\n\ntraffic light\n")
    as_json = tmp_path / "labels.json"
    as_json.write_text(json.dumps({"a": ["dog"], "b": "traffic light, dog", "d": []}))
    as_yaml = tmp_path / "labels.yaml"
    as_yaml.write_text("a: [dog]\nb: traffic light, dog\nd:\n")
    gt = tmp_path / "masks"
    gt.mkdir()
    (gt / "a.png").write_bytes(b"")
    for path in (as_json, as_yaml):
        ds = CustomDataset(image_dir, path, classes, gt_dir=gt)
        assert ds.class_names == NAMES
        assert [s.labels for s in ds] == [(1,), (2, 1), ()]
        assert ds["a"].gt_path == gt / "a.png" and ds["b"].gt_path is None


def test_custom_unknown_class_names_line_and_known(image_dir, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a cat\nb zebra\n")
    with pytest.raises(UnknownClassError, match=r"labels\.txt:2: unknown class name 'zebra'") as e:
        CustomDataset(image_dir, labels, NAMES)
    assert "traffic light" in str(e.value)  # the known names are listed
    as_json = tmp_path / "labels.json"
    as_json.write_text(json.dumps({"a": ["Cat"]}))
    with pytest.raises(UnknownClassError, match=r"image 'a'.*'Cat'"):
        CustomDataset(image_dir, as_json, NAMES)


def test_custom_layout_errors(image_dir, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a cat\nzz dog\n")
    with pytest.raises(DatasetLayoutError, match=r"1 image.*\['zz'\]"):
        CustomDataset(image_dir, labels, NAMES)
    with pytest.raises(DatasetLayoutError, match="labels file not found"):
        CustomDataset(image_dir, tmp_path / "none.txt", NAMES)
    with pytest.raises(DatasetLayoutError, match="image folder"):
        CustomDataset(tmp_path / "none", labels, NAMES)
    labels.write_text("a cat\na dog\n")
    with pytest.raises(ValueError, match="listed twice"):
        CustomDataset(image_dir, labels, NAMES)
    with pytest.raises(ValueError, match="more than once"):
        CustomDataset(image_dir, labels, ["cat", "cat"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a": [1, 2]}))
    with pytest.raises(ValueError, match="list of class names"):
        CustomDataset(image_dir, bad, NAMES)


def test_build_dataset(image_dir, tmp_path):
    voc = tmp_path / "VOC2012"
    write_voc_sample(voc, "v0", np.zeros((4, 4, 3), np.uint8), None, objects=[])
    write_split(voc, "train", ["v0"])
    assert isinstance(build_dataset("voc12", voc, "train"), VOCDataset)
    (tmp_path / "coco" / "val2014").mkdir(parents=True)
    assert isinstance(build_dataset("coco14", tmp_path / "coco", "val"), COCODataset)
    labels = tmp_path / "labels.txt"
    labels.write_text("a cat\n")
    custom = build_dataset("custom", image_dir, labels, class_list=NAMES)
    assert isinstance(custom, CustomDataset) and len(custom) == 1
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        build_dataset("imagenet", tmp_path, "train")
    with pytest.raises(ValueError, match="labels file"):
        build_dataset("custom", image_dir, class_list=NAMES)
