"""Tests for clipwsss.metrics (official CLIP-ES mIoU semantics)."""

import math

import numpy as np
import pytest
import torch

from clipwsss.metrics import (
    ConfusionMatrix,
    background_exponent_confusions,
    best_background_exponent,
    confusion_matrix,
    iou_from_confusion,
    mean_iou,
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
