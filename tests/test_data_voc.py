"""Tests for clipwsss.data.voc and the shipped VOC split lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clipwsss.data import (
    VOC_CLASSES,
    DatasetLayoutError,
    Sample,
    UnknownClassError,
    VOCDataset,
    load_image,
    load_label_png,
    read_id_list,
    read_voc_object_names,
    save_label_png,
    shipped_split_file,
    write_split,
    write_voc_sample,
)

CAT, DOG, PERSON = VOC_CLASSES.index("cat"), VOC_CLASSES.index("dog"), VOC_CLASSES.index("person")


def _image(h: int = 12, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _label(h: int = 12, w: int = 16) -> np.ndarray:
    label = np.zeros((h, w), dtype=np.uint8)
    label[1:5, 2:6] = DOG + 1
    label[6:10, 8:14] = CAT + 1
    label[0, :] = 255
    return label


@pytest.fixture()
def voc_root(tmp_path: Path) -> Path:
    """A 3-image VOC2012 folder: derived objects, explicit objects, and no objects."""
    root = tmp_path / "VOC2012"
    write_voc_sample(root, "img_a", _image(seed=1), _label())
    objects = [
        ("dog", (3, 2, 6, 5)),
        ("person", (1, 1, 4, 4), True),  # difficult: still a label (official code)
        ("cat", (9, 7, 14, 10)),
        ("dog", (10, 2, 12, 4)),  # duplicate: dropped
    ]
    write_voc_sample(root, "img_b", _image(seed=2), _label(), objects=objects)
    write_voc_sample(root, "img_c", _image(seed=3), np.zeros((12, 16), np.uint8), objects=[])
    write_split(root, "mini", ["img_a", "img_b", "img_c"])
    return root


def test_shipped_split_line_counts():
    counts = {
        s: len(read_id_list(shipped_split_file("voc12", s)))
        for s in ("train", "train_aug", "val", "trainval")
    }
    assert counts == {"train": 1464, "train_aug": 10582, "val": 1449, "trainval": 2913}
    train = read_id_list(shipped_split_file("voc12", "train"))
    val = read_id_list(shipped_split_file("voc12", "val"))
    assert train[0] == "2007_000032" and not set(train) & set(val)


def test_read_id_list_accepts_common_formats(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(
        "2007_000032\n\n# comment\n"
        "/JPEGImages/2007_000039.jpg /SegmentationClassAug/2007_000039.png\n"
        "COCO_train2014_000000000009 45 49 50\n"
    )
    assert read_id_list(path) == ["2007_000032", "2007_000039", "COCO_train2014_000000000009"]


def test_write_voc_sample_files(voc_root):
    yy, xx = np.mgrid[0:12, 0:16]
    smooth = np.stack([xx * 10, yy * 10, xx + yy + 50], axis=2).astype(np.uint8)
    sample = write_voc_sample(voc_root, "img_d", smooth, _label())
    assert isinstance(sample, Sample) and sample.labels == (CAT, DOG)
    assert (voc_root / "JPEGImages" / "img_d.jpg").is_file()
    np.testing.assert_array_equal(load_label_png(sample.gt_path), _label())
    assert np.abs(load_image(sample.image_path).astype(int) - smooth).mean() < 3  # JPEG q95
    xml = (voc_root / "Annotations" / "img_d.xml").read_text()
    for tag in (
        "<object>",
        "<name>dog</name>",
        "<difficult>0</difficult>",
        "<bndbox>",
        "<xmin>3</xmin>",
        "<width>16</width>",
    ):
        assert tag in xml
    assert not list(voc_root.rglob("*.tmp*"))


def test_voc_dataset_roundtrip(voc_root):
    ds = VOCDataset(voc_root, "mini")
    assert ds.ids == ["img_a", "img_b", "img_c"] and len(ds) == 3
    assert ds.n_classes == 21 and ds.label_source == "xml"
    a = ds[0]
    assert a.image_id == "img_a" and a.image_path == voc_root / "JPEGImages" / "img_a.jpg"
    assert a.gt_path == voc_root / "SegmentationClass" / "img_a.png"
    assert a.labels == (CAT, DOG)  # objects derived from the label map: ascending class id
    assert ds["img_a"] == a and ds.label_names(a) == ["cat", "dog"]
    assert [s.image_id for s in ds] == ds.ids


def test_voc_xml_order_difficult_and_duplicates(voc_root):
    assert read_voc_object_names(voc_root / "Annotations" / "img_b.xml") == [
        "dog",
        "person",
        "cat",
        "dog",
    ]
    b = VOCDataset(voc_root, "mini")["img_b"]
    assert b.labels == (DOG, PERSON, CAT)  # XML order, difficult kept, duplicate dropped


def test_voc_labels_xml_and_png_agree(voc_root):
    xml_ds = VOCDataset(voc_root, "mini", label_source="xml")
    png_ds = VOCDataset(voc_root, "mini", label_source="png")
    assert png_ds["img_a"].labels == xml_ds["img_a"].labels == (CAT, DOG)
    assert png_ds["img_c"].labels == xml_ds["img_c"].labels == ()
    assert xml_ds.unlabelled_ids() == ["img_c"]


def test_voc_gt_auto_prefers_aug(voc_root):
    aug = save_label_png(voc_root / "SegmentationClassAug" / "img_b.png", _label())
    ds = VOCDataset(voc_root, "mini")
    assert ds["img_b"].gt_path == aug
    assert ds["img_a"].gt_path == voc_root / "SegmentationClass" / "img_a.png"
    only = VOCDataset(voc_root, "mini", gt_dir="SegmentationClassAug")
    assert only["img_a"].gt_path is None and only["img_b"].gt_path == aug


def test_voc_unknown_class_names_file_and_name(voc_root):
    write_voc_sample(voc_root, "img_x", _image(), None, objects=[("dog", (1, 1, 2, 2))])
    xml = voc_root / "Annotations" / "img_x.xml"
    xml.write_text(xml.read_text().replace("<name>dog</name>", "<name>unicorn</name>"))
    write_split(voc_root, "bad", ["img_x"])
    ds = VOCDataset(voc_root, "bad")
    with pytest.raises(UnknownClassError, match=r"img_x\.xml.*'unicorn'"):
        ds[0]


def test_voc_missing_split_and_root(voc_root, tmp_path):
    with pytest.raises(DatasetLayoutError, match="no split list for split 'nosuch'"):
        VOCDataset(voc_root, "nosuch")
    with pytest.raises(DatasetLayoutError, match="JPEGImages"):
        VOCDataset(tmp_path / "missing", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):  # DatasetLayoutError is a FileNotFoundError
        VOCDataset(tmp_path / "empty", "train")
    with pytest.raises(ValueError, match="label_source"):
        VOCDataset(voc_root, "mini", label_source="json")


def test_voc_falls_back_to_shipped_split_and_devkit(voc_root):
    ds = VOCDataset(voc_root.parent, "train")  # the VOCdevkit-style parent folder
    assert ds.root == voc_root and len(ds) == 1464 and ds.ids[0] == "2007_000032"
    assert ds.gt_path("2007_000032") is None
    with pytest.raises(FileNotFoundError, match=r"Annotations/2007_000032\.xml"):
        ds[0]  # labels are read lazily, per sample
    with pytest.raises(FileNotFoundError, match="2007_000032.png"):
        VOCDataset(voc_root, "train", label_source="png")[0]


def test_write_voc_sample_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_voc_sample(tmp_path, "x", np.zeros((4, 4, 3), np.float32), None)
    with pytest.raises(UnknownClassError, match="unicorn"):
        write_voc_sample(tmp_path, "x", _image(), None, objects=[("unicorn", (1, 1, 2, 2))])


def test_voc_custom_class_names(tmp_path):
    names = ["circle", "square"]
    label = np.zeros((8, 8), np.uint8)
    label[2:4, 2:4] = 2
    write_voc_sample(tmp_path, "t0", _image(8, 8), label, class_names=names)
    write_split(tmp_path, "train", ["t0"])
    ds = VOCDataset(tmp_path, "train", class_names=names)
    assert ds.n_classes == 3 and ds[0].labels == (1,)
