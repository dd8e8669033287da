"""Tests for clipwsss.cams.caa (CLIP-ES Eq. 6-7: Sinkhorn affinity, box masks, refinement)."""

import pytest
import torch
from torch.testing import assert_close

from clipwsss.cams.caa import (
    attention_affinity,
    box_mask,
    box_masks,
    caa_refine,
    cam_boxes,
    refine_cams,
    sinkhorn,
)
from clipwsss.cams.labels import min_max_normalize


def _attn_maps(n_layers: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n_layers, 1 + n, 1 + n, generator=g) * 2, dim=-1)


def test_sinkhorn_three_rounds_rows_exact_columns_close():
    a = torch.rand(64, 64, generator=torch.Generator().manual_seed(0)) + 0.01
    d = sinkhorn(a)
    assert_close(d.sum(dim=1), torch.ones(64), atol=1e-6, rtol=0)  # last step is rows
    assert_close(d.sum(dim=0), torch.ones(64), atol=1e-3, rtol=0)  # 3 rounds: near
    assert (d > 0).all()


def test_sinkhorn_converges_to_doubly_stochastic():
    a = _attn_maps(1, 48)[0, 1:, 1:]  # peaked attention: 3 rounds are not enough
    d = sinkhorn(a.double(), n_iters=200)
    assert_close(d.sum(dim=0), torch.ones(48, dtype=torch.float64), atol=1e-6, rtol=0)
    assert_close(d.sum(dim=1), torch.ones(48, dtype=torch.float64), atol=1e-9, rtol=0)


def test_sinkhorn_normalises_columns_first():
    d = sinkhorn(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), n_iters=1)
    # columns: [[1/4, 1/3], [3/4, 2/3]]; then rows
    expected = torch.tensor([[3 / 7, 4 / 7], [9 / 17, 8 / 17]])
    assert_close(d, expected)


def test_attention_affinity_matches_steps_and_is_symmetric():
    maps = _attn_maps(12, 30)
    a = attention_affinity(maps)
    attn = maps[-8:, 1:, 1:].mean(0)
    d = sinkhorn(attn)
    sym = (d + d.T) / 2
    assert_close(a, sym @ sym)
    assert_close(a, a.T)
    assert a.dtype == torch.float32 and a.shape == (30, 30)


def test_attention_affinity_ignores_cls_token_and_early_layers():
    maps = _attn_maps(12, 20)
    changed = maps.clone()
    changed[:4] = torch.rand_like(changed[:4])  # blocks 1-4 are not among the last 8
    changed[:, 0, :] = 7.0
    changed[:, :, 0] = 7.0
    assert_close(attention_affinity(changed), attention_affinity(maps))


def test_attention_affinity_power_one_is_nearly_doubly_stochastic():
    a = attention_affinity(_attn_maps(12, 25), power=1, n_iters=100)
    assert_close(a.sum(0), torch.ones(25), atol=1e-4, rtol=0)
    assert_close(a.sum(1), torch.ones(25), atol=1e-4, rtol=0)


def test_attention_affinity_rejects_too_few_layers():
    with pytest.raises(ValueError):
        attention_affinity(_attn_maps(4, 9))


def test_interior_box_same_in_both_modes():
    cam = torch.zeros(6, 8)
    cam[1:3, 1:4] = 0.9
    for official in (True, False):
        assert cam_boxes(cam, official=official) == [(1, 1, 4, 3)]
        assert box_mask(cam, official=official).equal(cam > 0)


def test_border_box_loses_last_row_and_column_only_in_official():
    cam = torch.zeros(6, 8)
    cam[3:6, 5:8] = 1.0  # touches the bottom and right borders
    assert cam_boxes(cam, official=True) == [(5, 3, 7, 5)]
    official = box_mask(cam, official=True)
    assert official.sum() == 4 and official[3:5, 5:7].all()
    assert not official[5].any() and not official[:, 7].any()
    assert cam_boxes(cam, official=False) == [(5, 3, 8, 6)]
    assert box_mask(cam, official=False).equal(cam > 0)


def test_all_contours_kept_and_union_filled():
    cam = torch.zeros(10, 10)
    cam[1:3, 1:3] = 1.0
    cam[6:9, 5:7] = 0.8
    for official in (True, False):
        assert sorted(cam_boxes(cam, official=official)) == [(1, 1, 3, 3), (5, 6, 7, 9)]
        assert box_mask(cam, official=official).sum() == 4 + 6


def test_bounding_box_covers_non_convex_region():
    cam = torch.zeros(8, 8)
    cam[1, 1:6] = 1.0
    cam[1:6, 1] = 1.0  # an L shape: the box also covers the empty corner
    assert box_mask(cam, official=True)[1:6, 1:6].all()
    assert box_mask(cam, official=True).sum() == 25


@pytest.mark.parametrize("official", [True, False])
def test_empty_cam_gives_empty_mask(official):
    cam = torch.zeros(5, 7)
    assert cam_boxes(cam, official=official) == []
    assert not box_mask(cam, official=official).any()


def test_uint8_quantisation_drops_a_pixel_just_above_threshold():
    cam = torch.zeros(5, 9)
    cam[2, 2] = 1.0
    cam[2, 6] = 0.401  # 0.401 * 255 = 102.3 -> 102, not > int(0.4 * 255) = 102
    assert box_mask(cam, official=True).sum() == 1
    assert box_mask(cam, official=False).sum() == 2  # float: 0.401 > 0.4


def test_box_masks_stacks_classes():
    cams = torch.zeros(3, 6, 6)
    cams[0, 1:3, 1:3] = 1.0
    cams[2, 3:5, 2:5] = 0.5
    masks = box_masks(cams)
    assert masks.shape == (3, 6, 6) and masks.dtype == torch.bool
    assert masks[0].sum() == 4 and not masks[1].any() and masks[2].sum() == 6
    assert box_masks(torch.zeros(0, 6, 6)).shape == (0, 6, 6)


def test_min_max_normalize_official_formula():
    x = torch.tensor([[[2.0, 4.0], [6.0, 3.0]], [[0.2, 0.4], [0.6, 0.3]]])
    out = min_max_normalize(x)
    assert_close(out[0], (x[0] - 2) / (4 + 1e-7))
    assert_close(out[1], (x[1] - 0.2) / (0.4 + 1e-7))
    assert out[1].max() < 1  # range < 1: eps is visible in float32 ...
    assert int(out[1].max() * 255) == 254  # ... so the official uint8 maximum is 254
    assert (min_max_normalize(torch.zeros(1, 2, 2)) == 0).all()


def _cams_and_affinity(k: int = 3, h: int = 5, w: int = 6):
    g = torch.Generator().manual_seed(1)
    cams = min_max_normalize(torch.rand(k, h, w, generator=g))
    affinity = attention_affinity(_attn_maps(12, h * w, seed=2))
    return cams, affinity


def test_refine_matches_official_per_class_formula():
    cams, affinity = _cams_and_affinity()
    cams[1, :, :3] = 0.0  # give class 1 a box that does not cover the image
    masks = box_masks(cams)
    out = refine_cams(cams, affinity, masks)
    for c in range(cams.shape[0]):
        b = masks[c].reshape(1, -1).float()  # (1, N): multiplies the columns of A
        ref = (affinity * b) @ cams[c].reshape(-1, 1)
        ref = ref.reshape(cams.shape[1:])
        ref = (ref - ref.min()) / (ref.max() - ref.min() + 1e-7)
        assert_close(out[c], ref)


def test_refine_official_gives_mass_outside_boxes():
    cams, affinity = _cams_and_affinity()
    cams[0] = 0.0
    cams[0, 1:3, 1:3] = 1.0
    masks = box_masks(cams)
    out = refine_cams(cams, affinity, masks)
    assert (out[0][~masks[0]] > 0).any()


def test_refine_corrected_is_exactly_zero_outside_boxes():
    cams, affinity = _cams_and_affinity()
    cams[0] = 0.0
    cams[0, 1:3, 1:3] = 1.0
    cams[2] = 0.0  # no box at all
    masks = box_masks(cams)
    out = refine_cams(cams, affinity, masks, mask_targets=True)
    assert (out[~masks] == 0).all()
    assert (out[masks] > 0).any()
    assert (out[2] == 0).all()


@pytest.mark.parametrize("mask_targets", [False, True])
def test_all_ones_box_mask_equals_plain_mhsa(mask_targets):
    cams, affinity = _cams_and_affinity()
    ones = torch.ones(cams.shape, dtype=torch.bool)
    out = refine_cams(cams, affinity, ones, mask_targets=mask_targets)
    assert_close(out, refine_cams(cams, affinity, None))


def test_refine_shape_checks():
    cams, affinity = _cams_and_affinity()
    with pytest.raises(ValueError):
        refine_cams(cams, affinity[:-1, :-1], None)
    with pytest.raises(ValueError):
        refine_cams(cams, affinity, torch.ones(2, 5, 6, dtype=torch.bool))


def test_caa_refine_end_to_end():
    cams, _ = _cams_and_affinity(k=2, h=4, w=5)
    maps = _attn_maps(12, 20, seed=3)
    out = caa_refine(cams, maps)
    assert out.shape == (2, 4, 5) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() < 1
    corrected = caa_refine(cams, maps, official=False)
    assert (corrected[~box_masks(cams, official=False)] == 0).all()
