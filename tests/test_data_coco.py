"""Tests for clipwsss.data.coco, the COCO class list and the JSON -> PNG converter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clipwsss.data import (
    COCO_CATEGORY_ID_TO_INDEX,
    COCO_CATEGORY_IDS,
    COCO_CLASSES,
    VOC_CLASSES,
    AnnotationError,
    COCODataset,
    DatasetLayoutError,
    coco_json_to_pngs,
    load_label_png,
    read_label_list,
    shipped_split_file,
)

PERSON, DOG = COCO_CLASSES.index("person"), COCO_CLASSES.index("dog")


def test_class_lists():
    assert len(VOC_CLASSES) == 20 and VOC_CLASSES[0] == "aeroplane"
    assert VOC_CLASSES[-1] == "tvmonitor" and VOC_CLASSES[14] == "person"
    assert len(COCO_CLASSES) == len(set(COCO_CLASSES)) == 80
    assert COCO_CLASSES[0] == "person" and COCO_CLASSES[79] == "toothbrush"
    # VOC-style names as in the official CLIP-ES code
    for name in ("motorbike", "aeroplane", "sofa", "pottedplant", "diningtable", "tvmonitor"):
        assert name in COCO_CLASSES
    assert set(VOC_CLASSES) <= set(COCO_CLASSES)


def test_coco_category_ids():
    assert len(COCO_CATEGORY_IDS) == 80 and COCO_CATEGORY_IDS == tuple(sorted(COCO_CATEGORY_IDS))
    assert COCO_CATEGORY_IDS[0] == 1 and COCO_CATEGORY_IDS[-1] == 90
    gaps = sorted(set(range(1, 91)) - set(COCO_CATEGORY_IDS))
    assert gaps == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    assert COCO_CATEGORY_ID_TO_INDEX[18] == DOG and COCO_CATEGORY_ID_TO_INDEX[90] == 79


def test_shipped_coco_lists():
    train = read_label_list(shipped_split_file("coco14", "train"))
    assert len(train) == 82081
    # image 9: bowls of oranges and broccoli
    names = [COCO_CLASSES[k] for k in train["COCO_train2014_000000000009"]]
    assert names == ["bowl", "orange", "broccoli"]
    assert len(read_label_list(shipped_split_file("coco14", "val"))) == 40137


def test_read_label_list_errors(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("a 1 2 1\nb\n")
    assert read_label_list(path) == {"a": (1, 2), "b": ()}
    path.write_text("a 1\nb 80\n")
    with pytest.raises(AnnotationError, match=r"l\.txt:2.*\[80\]"):
        read_label_list(path)
    path.write_text("a dog\n")
    with pytest.raises(AnnotationError, match=r"l\.txt:1: non-integer"):
        read_label_list(path)


def test_coco_dataset(tmp_path):
    root = tmp_path / "coco2014"
    (root / "train2014").mkdir(parents=True)
    gt = root / "SegmentationClass" / "train2014"
    gt.mkdir(parents=True)
    (gt / "COCO_train2014_000000000001.png").write_bytes(b"")
    split = tmp_path / "sub.txt"
    split.write_text("COCO_train2014_000000000001 0 17\nCOCO_train2014_000000000002 3\n")
    ds = COCODataset(root, "train2014", split_file=split)
    assert ds.ids == ["COCO_train2014_000000000001", "COCO_train2014_000000000002"]
    assert ds.n_classes == 81 and ds.label_source == "list"
    s = ds[0]
    assert s.labels == (0, 17) and ds.label_names(s) == ["person", "horse"]
    assert s.image_path == root / "train2014" / "COCO_train2014_000000000001.jpg"
    assert s.gt_path == gt / "COCO_train2014_000000000001.png" and ds[1].gt_path is None
    assert len(COCODataset(root, "train")) == 82081  # the shipped list by default


def test_coco_dataset_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="COCO root not found"):
        COCODataset(tmp_path / "none")
    with pytest.raises(DatasetLayoutError, match="val2014"):
        COCODataset(tmp_path, "val")
    with pytest.raises(ValueError, match="'train' or 'val'"):
        COCODataset(tmp_path, "test")


def _tiny_instances(path: Path) -> Path:
    """2 images (12x10 and 4x3), 3 annotations on the first: a big person, a small dog on
    top of it (listed first, so "JSON order" would put the person on top), a crowd column."""
    square = lambda x0, y0, x1, y1: [[x0, y0, x1, y0, x1, y1, x0, y1]]  # noqa: E731
    data = {
        "images": [
            {"id": 7, "file_name": "COCO_val2014_000000000007.jpg", "height": 10, "width": 12},
            {"id": 9, "file_name": "COCO_val2014_000000000009.jpg", "height": 3, "width": 4},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 18,
                "iscrowd": 0,
                "area": 16.0,
                "bbox": [2, 2, 4, 4],
                "segmentation": square(2, 2, 6, 6),
            },
            {
                "id": 2,
                "image_id": 7,
                "category_id": 1,
                "iscrowd": 0,
                "area": 64.0,
                "bbox": [0, 0, 8, 8],
                "segmentation": square(0, 0, 8, 8),
            },
            # uncompressed RLE, column-major: 10 empty columns of 10 rows, then 2 full ones
            {
                "id": 3,
                "image_id": 7,
                "category_id": 1,
                "iscrowd": 1,
                "area": 20.0,
                "bbox": [10, 0, 2, 10],
                "segmentation": {"counts": [100, 20], "size": [10, 12]},
            },
        ],
    }
    path.write_text(json.dumps(data))
    return path


def test_coco_json_to_pngs(tmp_path):
    instances = _tiny_instances(tmp_path / "instances_val2014.json")
    out = tmp_path / "SegmentationClass" / "val2014"
    written = coco_json_to_pngs(instances, out, progress=False)
    assert [p.name for p in written] == [
        "COCO_val2014_000000000007.png",
        "COCO_val2014_000000000009.png",
    ]
    label = load_label_png(written[0])
    assert label.shape == (10, 12)
    assert label[4, 4] == DOG + 1  # the smaller instance wins the overlap
    assert label[1, 1] == PERSON + 1
    assert (label[:, 10:] == 255).all()  # crowd -> ignore
    assert label[9, 9] == 0
    assert set(np.unique(label).tolist()) == {0, PERSON + 1, DOG + 1, 255}
    np.testing.assert_array_equal(load_label_png(written[1]), np.zeros((3, 4)))


def test_coco_json_to_pngs_subset_and_errors(tmp_path):
    instances = _tiny_instances(tmp_path / "instances.json")
    written = coco_json_to_pngs(
        instances, tmp_path / "out", image_ids=["COCO_val2014_000000000009"], progress=False
    )
    assert [p.name for p in written] == ["COCO_val2014_000000000009.png"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["COCO_val2014_000000000009.png"]
    with pytest.raises(KeyError, match="12345"):
        coco_json_to_pngs(instances, tmp_path / "out", image_ids=[12345], progress=False)


def test_coco_json_to_pngs_rejects_foreign_categories(tmp_path):
    path = _tiny_instances(tmp_path / "instances.json")
    data = json.loads(path.read_text())
    data["categories"][1]["name"] = "cat"  # id 18 is "dog" in COCO 2014
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError, match=r"category id 18 \('cat'\)"):
        coco_json_to_pngs(path, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
