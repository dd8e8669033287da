"""Refinement module (RFM): CLIP-ES's CAA with attention filtered and weighted by A_f.

Paper: WeCLIP Section 3.3 (RFM, Eq. for the layer filter G^l and the refining map R).
Official code: ``clip/clip_tool.py:perform_single_voc_cam`` L152-176.

Our commentary (specs/methods.md section 2, corrections from running the official model):

* The official score is d_l = sum_ij (A_f - W_l)_ij = sum A_f - sum W_l, so A_f does not
  change which maps are kept: a map is kept when its patch-to-patch total sum W_l is at
  least the mean over the candidate maps, i.e. the maps that put the least attention on the
  cls token. ``selection="official"`` reproduces that; ``selection="abs"`` scores
  d_l = sum |A_f - W_l| (what the paper's "distance" suggests), keeping d_l <= mean.
* The kept maps are averaged with +1e-5 in the denominator, multiplied elementwise by the
  detached A_f, then Sinkhorn, symmetrisation and the square as in CAA (``caa``).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from clipwsss.cams.caa import symmetric_affinity

Selection = Literal["official", "abs"]


def layer_scores(attn: Tensor, affinity: Tensor, *, selection: Selection = "official") -> Tensor:
    """Distance of each attention map to A_f (the RFM's layer filter score).

    Args:
        attn: patch-to-patch attention maps (class token dropped).
        affinity: A_f of the same image.
        selection: "official" d_l = sum(A_f - W_l); "abs" d_l = sum |A_f - W_l|.

    Shapes:
        attn: (L, N, N); affinity: (N, N); returns (L,).

    Reference: WeCLIP Section 3.3 (G^l).
    """
    diff = affinity[None].float() - attn.float()
    if selection == "abs":
        diff = diff.abs()
    elif selection != "official":
        raise ValueError(f"selection must be 'official' or 'abs', got {selection!r}")
    return diff.flatten(1).sum(dim=1)


def select_attention(
    attn: Tensor, affinity: Tensor, *, selection: Selection = "official"
) -> tuple[Tensor, Tensor]:
    """Keep the maps with d_l <= mean(d) and average them (+1e-5 in the denominator).

    Shapes:
        attn: (L, N, N); affinity: (N, N); returns the (L,) bool keep mask and the (N, N)
        average of the kept maps.

    Reference: WeCLIP Section 3.3; clip_tool.py L160-169.
    """
    scores = layer_scores(attn, affinity, selection=selection)
    keep = scores <= scores.mean()
    weights = keep.to(attn.dtype)[:, None, None]
    return keep, (weights * attn).sum(dim=0) / (weights.sum(dim=0) + 1e-5)


def rfm_affinity(
    attn_maps: Tensor,
    affinity: Tensor,
    *,
    n_layers: int = 6,  # clip_tool.py: [-6:] on VOC, [-10:] on COCO
    n_iters: int = 3,  # compute_trans_mat: 3 Sinkhorn rounds
    power: int = 2,  # compute_trans_mat: one T @ T
    selection: Selection = "official",
) -> Tensor:
    """The RFM's propagation matrix from CLIP attention and the decoder's A_f.

    Steps: last ``n_layers`` maps without the cls token, layer filter, average, times
    A_f (detached: no gradient reaches the decoder through the pseudo labels), Sinkhorn,
    symmetrise, power.

    Shapes:
        attn_maps: (L, 1 + N, 1 + N) every block's head-averaged attention; affinity:
        (N, N) A_f; returns (N, N) float32.

    Reference: WeCLIP Section 3.3 (refining map R); clip_tool.py L152-176.
    """
    if not 1 <= n_layers <= attn_maps.shape[0]:
        raise ValueError(f"n_layers={n_layers} not in [1, L={attn_maps.shape[0]}]")
    n = attn_maps.shape[-1] - 1
    if affinity.shape != (n, n):
        raise ValueError(f"affinity must be ({n}, {n}), got {tuple(affinity.shape)}")
    attn = attn_maps[-n_layers:, 1:, 1:].float()
    _, mean_attn = select_attention(attn, affinity, selection=selection)
    return symmetric_affinity(mean_attn * affinity.detach().float(), n_iters=n_iters, power=power)
