"""Image + pseudo-mask samples: paired augmentation and every bad input."""

import shutil

import numpy as np
import pytest
import torch

from clipwsss.data import VOCDataset, load_label_png, save_label_png, write_split
from clipwsss.seg import AugmentConfig, MaskDataError, PseudoMaskDataset, check_pseudo_masks
from clipwsss.train import SeededDataset


@pytest.fixture
def voc(tmp_path, make_rect_voc):
    """4 rectangle images (64 x 80) and their GT copied as pseudo-masks."""
    ds = make_rect_voc(tmp_path / "voc", n=4)
    masks = tmp_path / "masks"
    masks.mkdir()
    for s in ds:
        shutil.copy(s.gt_path, masks / f"{s.image_id}.png")
    return ds, masks


def test_paired_crop_keeps_image_and_mask_aligned(voc):
    ds, masks = voc
    data = PseudoMaskDataset(
        ds, masks, n_classes=21, augment=AugmentConfig(crop=48, scales=(0.75, 1.0, 1.5))
    )
    seeded = SeededDataset(data)
    checked = 0
    for seed in range(12):
        s = seeded[(1, seed)]
        assert s["image"].shape == (3, 48, 48) and s["label"].shape == (48, 48)
        red = s["image"][2] > 0.0  # BGR minus the Caffe mean: the cat is (200, 60, 60) RGB
        cat = s["label"] == 8
        agree = (red == cat).float().mean()
        shifted = (red == cat.roll(2, dims=1)).float().mean()  # a 2 px misalignment
        if cat.sum() > 100:  # the crop holds enough of the cat to tell
            assert agree > 0.97 and agree > shifted + 0.01, (seed, agree, shifted)
            checked += 1
    assert checked >= 4
    torch.testing.assert_close(seeded[(1, 5)]["image"], seeded[(1, 5)]["image"])
    assert not torch.equal(seeded[(1, 5)]["label"], seeded[(1, 6)]["label"])


def test_padding_is_ignore_and_no_augment_returns_full_image(voc):
    ds, masks = voc
    small = PseudoMaskDataset(
        ds, masks, n_classes=21, augment=AugmentConfig(crop=96, scales=(0.5,), flip=False)
    )
    s = SeededDataset(small)[(0, 0)]
    assert (s["label"] == 255).float().mean() > 0.5  # 32 x 40 image in a 96 crop
    full = PseudoMaskDataset(ds, masks, n_classes=21, augment=None)[0]
    assert full["image"].shape == (3, 64, 80)
    np.testing.assert_array_equal(full["label"].numpy(), load_label_png(ds[0].gt_path))


def test_confidence_maps_are_cropped_with_the_mask(voc, tmp_path):
    ds, masks = voc
    conf = tmp_path / "conf"
    conf.mkdir()
    for s in ds:
        label = load_label_png(s.gt_path)
        np.save(conf / f"{s.image_id}.npy", (label == 8).astype(np.float16))  # 1 on the cat
    data = PseudoMaskDataset(ds, masks, n_classes=21, conf_dir=conf, augment=AugmentConfig(crop=48))
    s = SeededDataset(data)[(2, 3)]
    keep = s["label"] != 255
    torch.testing.assert_close((s["conf"] == 1)[keep], (s["label"] == 8)[keep])


def test_bad_inputs_are_refused(voc, tmp_path):
    ds, masks = voc
    bad = tmp_path / "bad"
    shutil.copytree(masks, bad)
    (bad / "img_3.png").unlink()
    with pytest.raises(MaskDataError, match="1 of 4 .*img_3.png"):
        PseudoMaskDataset(ds, bad, n_classes=21)
    with pytest.raises(MaskDataError, match="does not exist"):
        PseudoMaskDataset(ds, tmp_path / "nowhere", n_classes=21)
    save_label_png(bad / "img_3.png", np.zeros((10, 10), np.uint8))
    data = PseudoMaskDataset(ds, bad, n_classes=21)
    with pytest.raises(MaskDataError, match="img_3.png is 10x10"):
        check_pseudo_masks(data)
    save_label_png(bad / "img_3.png", np.full((64, 80), 30, np.uint8))
    with pytest.raises(MaskDataError, match=r"class ids \[30\]"):
        data[3]
    with pytest.raises(MaskDataError, match="confidence map"):
        PseudoMaskDataset(ds, masks, n_classes=21, conf_dir=masks)
    write_split(tmp_path / "voc", "nothing", [])
    with pytest.raises(MaskDataError, match="empty"):
        PseudoMaskDataset(VOCDataset(tmp_path / "voc", "nothing"), masks, n_classes=21)
