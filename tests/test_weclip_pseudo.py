"""WeCLIP pseudo-label pieces: RFM layer selection, PAR, affinity targets, losses."""

import math

import pytest
import torch

from clipwsss.cams.caa import attention_affinity
from clipwsss.methods.weclip.losses import (
    affinity_label,
    affinity_loss,
    affinity_targets,
    bg_fg_segmentation_loss,
    radius_mask,
    weclip_loss,
)
from clipwsss.methods.weclip.par import dilated_neighbours, par_kernel, par_refine
from clipwsss.methods.weclip.rfm import layer_scores, rfm_affinity, select_attention


def _maps(totals, n=4):
    """(L, N, N) maps whose entries are constant, with the given per-map totals."""
    return torch.stack([torch.full((n, n), t / (n * n)) for t in totals])


def test_rfm_keeps_maps_with_large_patch_totals():
    # Official d_l = sum(A_f - W_l): kept when sum W_l >= mean, whatever A_f is.
    attn = _maps([1.0, 4.0, 2.0, 5.0])  # mean total 3 -> keep maps 1 and 3
    for affinity in (torch.zeros(4, 4), torch.rand(4, 4)):
        keep, mean = select_attention(attn, affinity)
        assert keep.tolist() == [False, True, False, True]
        torch.testing.assert_close(mean, (attn[1] + attn[3]) / (2 + 1e-5))


def test_rfm_abs_selection_measures_distance():
    affinity = torch.full((4, 4), 0.25)  # total 4
    attn = _maps([4.0, 0.0, 3.0, 8.0])  # |distance| totals 0, 4, 1, 4 -> mean 2.25
    assert layer_scores(attn, affinity, selection="abs").tolist() == pytest.approx([0, 4, 1, 4])
    keep, _ = select_attention(attn, affinity, selection="abs")
    assert keep.tolist() == [True, False, True, False]


def test_rfm_affinity_uses_last_maps_and_af():
    torch.manual_seed(0)
    n = 9
    attn = torch.rand(12, 1 + n, 1 + n).softmax(-1)
    ones = torch.ones(n, n)
    out = rfm_affinity(attn, ones, n_layers=6)
    torch.testing.assert_close(out, out.T)
    # A_f of ones and every kept map: the last 6 maps' mean gives the same matrix as CAA.
    attn_same = attn.clone()
    attn_same[-6:] = attn[-1]
    torch.testing.assert_close(
        rfm_affinity(attn_same, ones, n_layers=6),
        attention_affinity(attn_same, n_layers=6),
        atol=1e-5,
        rtol=1e-4,
    )
    # A_f enters multiplicatively: a different A_f changes the result.
    assert not torch.allclose(rfm_affinity(attn, torch.rand(n, n), n_layers=6), out)


def test_radius_mask_is_chebyshev():
    m = radius_mask(5, 5, radius=1)
    centre = 2 * 5 + 2
    assert m[centre].view(5, 5)[1:4, 1:4].all() and m[centre].sum() == 9
    assert m[0].sum() == 4  # corner: itself, right, below, diagonal
    assert torch.equal(m, m.T)


def test_affinity_targets_on_hand_made_label():
    label = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 255, 255]])
    label = label.repeat_interleave(2, 0).repeat_interleave(2, 1)[None]  # (1, 8, 8)
    t = affinity_targets(label, (4, 4), radius=1)[0]
    idx = lambda y, x: 4 * y + x  # noqa: E731
    assert t[idx(0, 0), idx(0, 1)] == 1  # both bg
    assert t[idx(0, 1), idx(0, 2)] == 0  # bg vs class 1
    assert t[idx(0, 0), idx(0, 3)] == 255  # 3 apart > radius 1
    assert t[idx(1, 1), idx(2, 2)] == 255  # ignored patch
    assert t[idx(2, 0), idx(2, 1)] == 1
    assert torch.equal(t, t.T)


def test_affinity_loss_divides_by_count_plus_one():
    target = torch.tensor([[[1, 0], [0, 255]]])
    aff = torch.tensor([[[0.8, 0.3], [0.1, 0.9]]])
    expected = 0.5 * (1 - 0.8) / 2 + 0.5 * (0.3 + 0.1) / 3
    assert affinity_loss(aff, target).item() == pytest.approx(expected)


def test_segmentation_loss_averages_bg_and_fg_halves():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 2, 2)
    label = torch.tensor([[[0, 0], [2, 255]]])
    ce = torch.nn.functional.cross_entropy(
        logits, label.long(), reduction="none", ignore_index=255
    )[0]
    expected = 0.5 * (ce[0].mean() + ce[1, 0])  # bg pixels, then the one fg pixel
    loss = bg_fg_segmentation_loss(logits, label)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    empty_fg = bg_fg_segmentation_loss(logits, torch.zeros(1, 2, 2, dtype=torch.long))
    assert math.isfinite(empty_fg.item())


def test_total_loss_weights_affinity():
    torch.manual_seed(0)
    logits, aff = torch.randn(1, 3, 4, 4), torch.rand(1, 16, 16)
    label = torch.randint(0, 3, (1, 8, 8))
    loss = weclip_loss(logits, aff, label, aff_weight=0.1)
    assert loss.total.item() == pytest.approx(loss.seg.item() + 0.1 * loss.aff.item())


def test_par_kernel_sums_and_neighbour_order():
    x = torch.arange(25.0).view(1, 1, 5, 5)
    nb = dilated_neighbours(x, [1])
    assert nb[0, 0, :, 2, 2].tolist() == [6, 7, 8, 11, 13, 16, 17, 18]
    assert nb[0, 0, 0, 0, 0] == 0  # replicate padding at the corner
    torch.manual_seed(0)
    k = par_kernel(torch.randn(1, 3, 6, 6), [1, 2])
    torch.testing.assert_close(k.sum(dim=2), torch.full((1, 1, 6, 6), 1.01))


def test_par_follows_image_edges():
    """Noisy scores on a two-region toy image: PAR snaps them to the colour edge."""
    torch.manual_seed(0)
    image = torch.zeros(1, 3, 32, 32)
    image[..., 16:] = 3.0  # right half is another colour
    truth = torch.zeros(32, 32, dtype=torch.long)
    truth[:, 16:] = 1
    scores = torch.stack([1 - truth.float(), truth.float()])[None]
    scores[..., :, 12:16] = torch.tensor([0.3, 0.7])[:, None, None]  # wrong band left of edge
    scores = scores + 0.2 * torch.rand_like(scores)
    before = (scores[0].argmax(0) == truth).float().mean()
    after = (par_refine(image, scores)[0].argmax(0) == truth).float().mean()
    assert before < 0.9 and after > 0.99


def test_affinity_label_choices():
    pseudo = torch.tensor([[[0, 1], [2, 2]]])
    logits = torch.zeros(1, 3, 1, 2)
    logits[0, 2, 0, 0] = logits[0, 1, 0, 1] = 1.0  # prediction: left column 2, right 1
    assert affinity_label(pseudo, logits, "pseudo") is pseudo
    assert affinity_label(pseudo, logits, "prediction").tolist() == [[[2, 1], [2, 1]]]
    assert affinity_label(pseudo, logits, "both").tolist() == [[[255, 1], [2, 255]]]
    with pytest.raises(ValueError, match="aff_target"):
        affinity_label(pseudo, logits, "oracle")
