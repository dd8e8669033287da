"""Tests for clipwsss.cams.cgl (background score, pseudo masks, confidence-guided loss)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from clipwsss.cams.cgl import (
    ConfidenceGuidedLoss,
    confidence_guided_loss,
    confidence_official,
    confidence_paper,
)
from clipwsss.cams.labels import (
    apply_confidence,
    background_score,
    cams_to_label,
    posterior_to_label,
)


def _cams() -> torch.Tensor:
    return torch.tensor(
        [
            [[0.9, 0.2], [0.5, 0.0]],
            [[0.1, 0.6], [0.5, 0.3]],
        ]
    )


def test_background_score_values():
    cams = _cams()
    assert_close(background_score(cams), torch.tensor([[0.1, 0.4], [0.5, 0.7]]))
    assert_close(background_score(cams, exponent=2), torch.tensor([[0.01, 0.16], [0.25, 0.49]]))
    assert_close(background_score(cams, constant=0.3), torch.full((2, 2), 0.3))
    assert_close(background_score(torch.zeros(0, 3, 4)), torch.ones(3, 4))


def test_cams_to_label_maps_keys_and_ties_go_to_background():
    label = cams_to_label(_cams(), [4, 14])
    # pixel (1, 0): bg 0.5 ties with both classes -> background (first channel)
    expected = torch.tensor([[5, 15], [0, 0]])
    assert label.dtype == torch.long
    assert label.equal(expected)
    # k = 2: bg (1, 0) is 0.25 < 0.5 (class tie -> first class); bg (1, 1) is 0.49 > 0.3
    assert cams_to_label(_cams(), [4, 14], exponent=2).equal(torch.tensor([[5, 15], [5, 0]]))
    assert cams_to_label(torch.zeros(0, 2, 3), []).equal(torch.zeros(2, 3, dtype=torch.long))


def test_posterior_to_label():
    q = torch.tensor([[[0.6, 0.1]], [[0.3, 0.2]], [[0.1, 0.7]]])
    assert posterior_to_label(q, [0, 7]).equal(torch.tensor([[0, 8]]))
    with pytest.raises(ValueError):
        posterior_to_label(q, [0])


def test_confidences():
    cams = _cams()
    assert_close(confidence_paper(cams), torch.tensor([[0.9, 0.6], [0.5, 0.7]]))
    q = torch.softmax(torch.randn(3, 4, 5), dim=0)
    assert_close(confidence_official(q), q.max(dim=0).values)


def test_pseudo_mask_ignores_below_threshold_only():
    label = torch.tensor([[1, 2, 3]])
    conf = torch.tensor([[0.9499, 0.95, 1.0]])
    assert apply_confidence(label, conf).equal(torch.tensor([[255, 2, 3]]))


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 4, 5, 6, generator=g, requires_grad=True)
    target = torch.randint(0, 4, (2, 5, 6), generator=g)
    target[0, 0, :3] = 255
    conf = torch.rand(2, 5, 6, generator=g)
    return logits, target, conf


def test_cgl_threshold_zero_equals_cross_entropy():
    logits, target, conf = _batch()
    expected = F.cross_entropy(logits, target, ignore_index=255)
    assert_close(confidence_guided_loss(logits, target, conf, threshold=0.0), expected)
    assert_close(confidence_guided_loss(logits, target), expected)


def test_cgl_low_confidence_pixels_contribute_nothing():
    logits, target, conf = _batch()
    low = conf < 0.5
    loss = confidence_guided_loss(logits, target, conf, threshold=0.5)
    masked = target.masked_fill(low, 255)
    assert_close(loss, F.cross_entropy(logits, masked, ignore_index=255))
    loss.backward()
    assert (logits.grad.permute(0, 2, 3, 1)[low] == 0).all()
    assert (logits.grad.permute(0, 2, 3, 1)[~low & (target != 255)] != 0).any()
    changed = logits.detach().clone()
    changed.permute(0, 2, 3, 1)[low] = 100.0
    assert_close(confidence_guided_loss(changed, target, conf, threshold=0.5), loss.detach())


def test_cgl_all_ignored_is_zero_with_gradient():
    logits, target, conf = _batch()
    loss = confidence_guided_loss(logits, target, conf, threshold=2.0)
    assert loss.item() == 0.0
    loss.backward()
    assert (logits.grad == 0).all()


def test_cgl_module_matches_function():
    logits, target, conf = _batch(1)
    module = ConfidenceGuidedLoss(threshold=0.3)
    expected = confidence_guided_loss(logits, target, conf, threshold=0.3)
    assert_close(module(logits, target, conf), expected)
    assert "threshold=0.3" in repr(module)


def test_exponent_labels_equal_cams_to_label_for_every_k_with_ties_and_no_cams():
    from clipwsss.cams.labels import add_exponent_confusions, exponent_labels

    gen = torch.Generator().manual_seed(0)
    cams = torch.rand(3, 9, 11, generator=gen)
    cams[:, 0, 0] = 0.5  # a three-way tie with the background at k = 1
    cams[1, 1, 1] = cams[2, 1, 1] = 0.9  # a tie between classes: the lower channel wins
    keys = torch.tensor([4, 0, 11])
    for dtype in (torch.float32, torch.float16):
        labels = exponent_labels(cams.to(dtype), keys, (1, 2, 3.5))
        for k, label in labels.items():
            assert label.equal(cams_to_label(cams.to(dtype), keys, exponent=k)), (dtype, k)
    empty = exponent_labels(torch.zeros(0, 4, 5), torch.zeros(0, dtype=torch.long), (1,))
    assert empty[1].equal(torch.zeros(4, 5, dtype=torch.long))
    gt = np.full((9, 11), 255)
    gt[:3] = 5
    hists = {1: np.zeros((21, 21), np.int64), 2: np.zeros((21, 21), np.int64)}
    add_exponent_confusions(hists, cams, keys, gt)
    assert hists[1].sum() == 3 * 11 and hists[2].sum() == 3 * 11
    with pytest.raises(ValueError):
        exponent_labels(cams, keys[:2], (1,))


def test_confidence_kinds():
    from clipwsss.cams.cgl import confidence

    q = torch.softmax(torch.randn(3, 4, 5), dim=0)
    cams = torch.rand(2, 4, 5)
    assert_close(confidence(q, cams), confidence_official(q))
    assert_close(confidence(q, cams, kind="paper"), confidence_paper(cams))
    with pytest.raises(ValueError, match="official"):
        confidence(q, cams, kind="eq8")
