"""WeakCLIP losses on hand-made cases."""

import math

import numpy as np
import pytest
import torch

from clipwsss.methods.weakclip.losses import (
    LossConfig,
    aux_loss,
    boundary_loss,
    crf_images,
    crf_inputs,
    crf_targets,
    seed_loss,
    weakclip_loss,
)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _probs(rows):
    """(1, K, 1, N) probabilities from N pixel rows."""
    return torch.tensor(rows, dtype=torch.float64).T[None, :, None, :]


def test_balanced_seed_loss_by_hand():
    probs = _probs([[0.8, 0.2], [0.5, 0.5], [0.1, 0.9], [0.3, 0.7]])
    seeds = torch.tensor([[[0, 0, 1, 255]]])
    bg = -(math.log(0.8) + math.log(0.5)) / 2
    fg = -math.log(0.9) / 1
    assert seed_loss(probs, seeds).item() == pytest.approx(bg + fg, rel=1e-9)
    paper = -(math.log(0.8) + math.log(0.5) + math.log(0.9)) / 3
    assert seed_loss(probs, seeds, balanced=False).item() == pytest.approx(paper, rel=1e-9)


def test_seed_loss_batch_mean_and_empty_sets():
    probs = torch.cat([_probs([[0.5, 0.5], [0.25, 0.75]])] * 2)
    seeds = torch.tensor([[[1, 255]], [[255, 255]]])  # image 2 has no seed at all
    assert seed_loss(probs, seeds).item() == pytest.approx(-math.log(0.5) / 2, rel=1e-9)


def test_seed_loss_refuses_unknown_class_ids():
    with pytest.raises(ValueError, match="seed ids"):
        seed_loss(_probs([[0.5, 0.5]]), torch.tensor([[[7]]]))


def test_boundary_loss_is_zero_when_the_crf_agrees_and_clips_the_ratio():
    p = _probs([[0.7, 0.3], [0.2, 0.8]])
    assert boundary_loss(p, p.clone()).item() == pytest.approx(0.0, abs=1e-12)
    p = _probs([[0.01, 0.99]]).requires_grad_(True)
    q = _probs([[0.9, 0.1]])
    expected = 0.9 * math.log(20) + 0.1 * math.log(0.1 / 0.99)  # 90 clipped to 20
    loss = boundary_loss(p, q)
    assert loss.item() == pytest.approx(expected, rel=1e-9)
    loss.backward()
    assert p.grad[0, 0].item() == 0.0  # clipped entry: no gradient
    assert p.grad[0, 1].item() == pytest.approx(-0.1 / 0.99, rel=1e-9)


def test_crf_targets_follow_the_image_edge():
    image = np.zeros((1, 16, 16, 3), np.uint8)
    image[0, :, 8:] = 255  # right half white
    probs = torch.full((1, 2, 16, 16), 0.4)
    probs[0, 1, :, 6:] = 0.6  # class 1 favoured from 2 px left of the colour edge
    probs[0, 0] = 1 - probs[0, 1]
    crf = dict(LossConfig().crf)
    q = crf_targets(image, probs, crf)
    assert q.min() >= 1e-4 / (1 + 1e-4) - 1e-9  # clamped at 1e-4, then renormalised
    torch.testing.assert_close(q.sum(dim=1), torch.ones(1, 16, 16))
    label = q.argmax(dim=1)[0]
    assert (label[:, :8] == 0).all() and (label[:, 8:] == 1).all()  # snapped to the edge


def test_aux_loss_is_ce_of_the_tempered_score_map():
    scores = torch.tensor([[[[0.3]], [[0.1]]]])  # (1, 2, 1, 1)
    seeds = torch.tensor([[[1, 255], [1, 1]]])
    p1 = math.exp(0.1 / 0.07) / (math.exp(0.3 / 0.07) + math.exp(0.1 / 0.07))
    # official (mmseg 0.19): mean over all 4 pixels, the ignored one counting 0
    assert aux_loss(scores, seeds).item() == pytest.approx(-math.log(p1) * 3 / 4, rel=1e-5)
    labelled = aux_loss(scores, seeds, labelled_mean=True)  # mmseg >= 0.20 avg_non_ignore
    assert labelled.item() == pytest.approx(-math.log(p1), rel=1e-5)


def test_crf_inputs_clamp_without_renormalising():
    probs = torch.tensor([[[[0.99995]], [[0.00005]]]])
    p = crf_inputs(probs)
    assert p.dtype == np.float32 and p[0, 1, 0, 0] == np.float32(1e-4)
    assert p[0, 0, 0, 0] == np.float32(0.99995)  # not renormalised (sum > 1)
    assert crf_inputs(probs, 0.0)[0, 1, 0, 0] == np.float32(5e-5)


def test_crf_images_zoom_on_the_corner_aligned_grid():
    """scipy's zoom(order=1) samples input i * (H - 1) / (size - 1): the corners are kept and
    the result equals torch's align_corners=True resize (up to rounding), not the half-pixel
    grid; the de-normalised value is truncated to uint8, not rounded."""
    torch.manual_seed(0)
    pixels = torch.randn(1, 3, 33, 33)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    out = crf_images(pixels, 5, mean, std).astype(np.float64)
    value = pixels * 0.25 * 255 + 0.5 * 255
    corner = torch.nn.functional.interpolate(
        value, size=(5, 5), mode="bilinear", align_corners=True
    )
    expected = corner.clamp(0, 255).permute(0, 2, 3, 1).numpy()
    assert np.abs(out - np.floor(expected)).max() <= 1  # truncation (1 level: float rounding)
    assert (out == np.floor(expected)).mean() > 0.9
    assert out[0, 0, 0, 0] == np.floor(expected[0, 0, 0, 0])  # the corner pixel, exactly


def test_crf_images_undo_the_normalisation():
    rgb = torch.randint(0, 256, (1, 3, 8, 8)).float() / 255
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    out = crf_images((rgb - mean) / std, 8, CLIP_MEAN, CLIP_STD)
    expected = (rgb * 255).permute(0, 2, 3, 1).numpy()
    assert out.dtype == np.uint8 and np.abs(out - expected).max() <= 1


def test_each_loss_switches_off():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 8, 8, requires_grad=True)
    scores = torch.rand(1, 3, 4, 4) * 2 - 1
    pixels = torch.randn(1, 3, 32, 32)
    seeds = torch.randint(0, 3, (1, 32, 32))
    kw = dict(mean=CLIP_MEAN, std=CLIP_STD)
    base = dict(seed=False, boundary=False, aux=False, loss_size=8)
    none = weakclip_loss(logits, scores, pixels, seeds, LossConfig(**base), **kw)
    assert none.total.item() == 0.0
    aux = weakclip_loss(logits, scores, pixels, seeds, LossConfig(**{**base, "aux": True}), **kw)
    assert aux.total.item() == pytest.approx(0.4 * aux_loss(scores, seeds).item(), rel=1e-6)
    full = weakclip_loss(logits, scores, pixels, seeds, LossConfig(loss_size=8), **kw)
    parts = full.seed + full.boundary + 0.4 * full.aux
    assert full.seed > 0 and full.boundary > 0 and full.total.item() == pytest.approx(parts.item())
    full.total.backward()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"aux_weight": -0.4}, "--aux-weight"),
        ({"loss_size": 0}, "--loss-size"),
        ({"crf_min_prob": 1.0}, "--crf-min-prob"),
        ({"ratio_clip": (20.0, 0.05)}, "--ratio-clip"),
        ({"crf": (("n_iters", 0),)}, "n_iters"),
    ],
)
def test_loss_config_refuses_out_of_range_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LossConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"crop_size": 0}, "--crop-size"),
        ({"scale_range": (2.0, 0.5)}, "--scale-range"),
        ({"std": (0.2, 0.0, 0.2)}, "--std"),
    ],
)
def test_data_settings_refuse_out_of_range_values(kwargs, match):
    from clipwsss.train.tasks.weakclip_recipes import WeakClipData

    with pytest.raises(ValueError, match=match):
        WeakClipData(**kwargs)
