"""Tests for clipwsss.metrics (official CLIP-ES mIoU semantics)."""

import math

import numpy as np
import pytest
import torch

from clipwsss.cams.labels import background_exponent_confusions
from clipwsss.metrics import (
    ConfusionMatrix,
    best_background_exponent,
    bootstrap_mious,
    confusion_matrix,
    iou_from_confusion,
    mask_confusion,
    mean_iou,
    percentile_interval,
    seg_scores,
)

# Hand-made example, 5 classes: class 3 is only predicted, class 4 never appears.
GT = np.array([[0, 0, 1], [1, 2, 255]])
PRED = np.array([[0, 1, 1], [1, 3, 2]])
HIST = np.array(
    [
        [1, 1, 0, 0, 0],
        [0, 2, 0, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
)


def test_confusion_matrix_by_hand_and_255_ignored():
    hist = confusion_matrix(PRED, GT, 5)
    assert hist.dtype == np.int64
    np.testing.assert_array_equal(hist, HIST)  # the (255 -> 2) pixel is not counted
    np.testing.assert_array_equal(confusion_matrix(torch.tensor(PRED), torch.tensor(GT), 5), HIST)


def test_confusion_matrix_rejects_out_of_range_prediction():
    with pytest.raises(ValueError):
        confusion_matrix(np.array([[5]]), np.array([[0]]), 5)
    # ... but not where the GT is ignored
    assert confusion_matrix(np.array([[255]]), np.array([[255]]), 5).sum() == 0


def test_mask_confusion_leaves_out_the_unconfident_pixels():
    mask = PRED.copy()
    mask[0, 1] = 255  # a GT-labelled pixel (GT 0) set to 255: not scored, counted as ignored
    mask[1, 2] = 255  # 255 on a GT-ignored pixel: neither
    hist, ignored, counted = mask_confusion(mask, GT, 5)
    expected = HIST.copy()
    expected[0, 1] -= 1
    np.testing.assert_array_equal(hist, expected)
    assert (ignored, counted) == (1, 5)
    hist_t, *_ = mask_confusion(torch.tensor(mask), torch.tensor(GT), 5)
    np.testing.assert_array_equal(hist_t, expected)


def test_iou_and_mean_iou_by_hand():
    iou = iou_from_confusion(HIST)
    np.testing.assert_allclose(iou[:4], [1 / 2, 2 / 3, 0.0, 0.0])
    assert math.isnan(iou[4])  # neither GT nor prediction
    # class 3 (predicted only, IoU 0) and class 4 are excluded from the mean
    assert mean_iou(HIST) == pytest.approx((1 / 2 + 2 / 3 + 0.0) / 3)


def test_seg_scores():
    s = seg_scores(HIST)
    assert s.miou == pytest.approx(7 / 18)
    assert s.pixel_acc == pytest.approx(3 / 5)
    assert s.mean_acc == pytest.approx((1 / 2 + 1 + 0) / 3)
    np.testing.assert_array_equal(s.valid, [True, True, True, False, False])
    with pytest.raises(AttributeError):
        s.miou = 1.0  # frozen


def test_mean_iou_empty_is_nan():
    assert math.isnan(mean_iou(np.zeros((3, 3), dtype=np.int64)))


def test_confusion_accumulates_over_split():
    cm = ConfusionMatrix(5)
    cm.update(PRED, GT)
    cm.update(torch.tensor([[4]]), torch.tensor([[4]]))
    expected = HIST.copy()
    expected[4, 4] = 1
    np.testing.assert_array_equal(cm.hist, expected)
    assert cm.scores().miou == pytest.approx((1 / 2 + 2 / 3 + 0.0 + 1.0) / 4)


def _samples():
    # One image, one fg class (key 0 -> label 1). GT: left column bg, right column fg.
    cams = torch.tensor([[[0.3, 0.8], [0.3, 0.8]]])
    gt = np.array([[0, 1], [0, 1]])
    return [(cams, [0], gt)]


def test_best_background_exponent_chosen_on_gt():
    hists = background_exponent_confusions(_samples(), 2, exponents=(1, 2))
    # k=1: bg 0.7 > 0.3 on the left -> perfect; k=2: bg 0.49 > 0.3 -> also perfect
    assert set(hists) == {1, 2}
    assert best_background_exponent(hists) == (1, 1.0)  # tie goes to the first k
    hists = background_exponent_confusions(_samples(), 2, exponents=(4, 1))
    # k=4: bg 0.24 < 0.3 on the left -> all fg (mIoU 0.25); k=1 wins
    assert best_background_exponent(hists) == (1, 1.0)
    assert mean_iou(hists[4]) == pytest.approx(0.25)


def _image_hists(n_images: int, seed: int, *, accuracy: float) -> np.ndarray:
    """(N, 3, 3) per-image confusion matrices of random 8x8 label maps."""
    rng = np.random.default_rng(seed)
    hists = []
    for _ in range(n_images):
        gt = rng.integers(0, 3, (8, 8))
        pred = np.where(rng.random((8, 8)) < accuracy, gt, rng.integers(0, 3, (8, 8)))
        hists.append(confusion_matrix(pred, gt, 3))
    return np.stack(hists)


def test_bootstrap_of_identical_images_has_no_spread():
    one = confusion_matrix(PRED, GT, 5)
    m = bootstrap_mious([np.stack([one] * 6)], n_boot=50)
    assert m.shape == (50, 1)
    assert np.allclose(m, mean_iou(one))


def test_bootstrap_is_paired_and_seeded():
    a, b = _image_hists(40, 0, accuracy=0.6), _image_hists(40, 1, accuracy=0.9)
    m = bootstrap_mious([a, a, b], n_boot=200, seed=3)
    assert np.array_equal(m[:, 0], m[:, 1])  # same resamples for every run
    assert np.array_equal(m, bootstrap_mious([a, a, b], n_boot=200, seed=3))
    lo, hi = percentile_interval(m[:, 2] - m[:, 0])
    assert 0 < lo < hi  # the better run wins on every plausible resample
    full = mean_iou(a.sum(0))
    lo_a, hi_a = percentile_interval(m[:, 0])
    assert lo_a < full < hi_a and hi_a - lo_a > 0.01


def test_bootstrap_interval_shrinks_with_more_images():
    small = bootstrap_mious([_image_hists(10, 0, accuracy=0.7)], n_boot=300)[:, 0]
    large = bootstrap_mious([_image_hists(160, 0, accuracy=0.7)], n_boot=300)[:, 0]
    assert np.ptp(percentile_interval(large)) < 0.5 * np.ptp(percentile_interval(small))


def test_bootstrap_rejects_mismatched_runs():
    with pytest.raises(ValueError, match="differ"):
        bootstrap_mious([_image_hists(4, 0, accuracy=0.5), _image_hists(5, 0, accuracy=0.5)])
    with pytest.raises(ValueError, match="no runs"):
        bootstrap_mious([])
    with pytest.raises(ValueError, match="level"):
        percentile_interval(np.zeros(3), level=1.5)
