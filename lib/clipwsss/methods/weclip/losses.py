"""WeCLIP losses: segmentation CE on the pseudo labels plus lambda times the affinity loss.

Paper: WeCLIP Section 3.4, L = L_seg + lambda L_aff (lambda = 0.1, supplementary Table 4).
Official code: ``scripts/dist_clip_voc.py`` L105-113, L255-260, ``utils/losses.py``,
``utils/camutils.py`` (``cams_to_affinity_label``, ``get_mask_by_radius``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.data.pixels import IGNORE


def bg_fg_segmentation_loss(logits: Tensor, label: Tensor, *, ignore_index: int = IGNORE) -> Tensor:
    """0.5 (CE over pseudo-background pixels + CE over pseudo-foreground pixels).

    Not DeepLab's CE/CGL loss (:func:`clipwsss.seg.losses.segmentation_loss`): the two halves
    are averaged separately, as WeCLIP's official ``get_seg_loss``.

    The 1/16 logits are upsampled bilinearly (align_corners=False) to the label size.
    Official detail: an empty half gives NaN there (cross-entropy of no pixel); here an
    empty half contributes 0.

    Shapes:
        logits: (B, C, h, w); label: (B, H, W) int, 0 = bg, 255 = ignore; returns ().

    Reference: WeCLIP Section 3.4 (L_seg); utils/losses.py:get_seg_loss (from AFA).
    """
    logits = F.interpolate(logits, size=label.shape[-2:], mode="bilinear", align_corners=False)
    label = label.long()
    bg = torch.where(label == 0, label, torch.full_like(label, ignore_index))
    fg = torch.where(
        (label != 0) & (label != ignore_index), label, torch.full_like(label, ignore_index)
    )
    halves = []
    for target in (bg, fg):
        if (target != ignore_index).any():
            halves.append(F.cross_entropy(logits, target, ignore_index=ignore_index))
        else:
            halves.append(logits.sum() * 0.0)
    return 0.5 * (halves[0] + halves[1])


def radius_mask(h: int, w: int, radius: int = 8, *, device=None) -> Tensor:
    """Pairs of patches within Chebyshev distance ``radius`` (get_mask_by_radius).

    Shapes:
        returns (h*w, h*w) bool, symmetric, True on the diagonal.
    """
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij"
    )
    ys, xs = ys.flatten(), xs.flatten()
    dy = (ys[:, None] - ys[None]).abs()
    dx = (xs[:, None] - xs[None]).abs()
    return (dy <= radius) & (dx <= radius)


def affinity_targets(
    label: Tensor, grid: tuple[int, int], *, radius: int = 8, ignore_index: int = IGNORE
) -> Tensor:
    """Affinity targets from a pseudo label (cams_to_affinity_label).

    The label is nearest-downsampled to the patch grid; a pair is 1 when both patches carry
    the same label, 0 otherwise, and ``ignore_index`` when they are further apart than
    ``radius`` or either is ignored.

    Shapes:
        label: (B, H, W) int; returns (B, h*w, h*w) long in {0, 1, ignore_index}.

    Reference: WeCLIP Section 3.4 (L_aff, target from M_p, supp. Table 3).
    """
    small = F.interpolate(label[:, None].float(), size=grid, mode="nearest")[:, 0].long()
    flat = small.flatten(1)  # (B, N)
    target = (flat[:, :, None] == flat[:, None, :]).long()
    far = ~radius_mask(*grid, radius, device=label.device)
    target = target.masked_fill(far[None], ignore_index)
    bad = flat == ignore_index
    target = target.masked_fill(bad[:, :, None] | bad[:, None, :], ignore_index)
    return target


def affinity_loss(affinity: Tensor, target: Tensor) -> Tensor:
    """0.5 mean over positive pairs of (1 - A_f) + 0.5 mean over negative pairs of A_f.

    Official detail: each mean divides by (count + 1).

    Shapes:
        affinity: (B, N, N) in (0, 1); target: (B, N, N) in {0, 1, ignore}; returns ().

    Reference: WeCLIP Section 3.4 (L_aff); utils/losses.py:get_aff_loss (from AFA).
    """
    pos = (target == 1).to(affinity.dtype)
    neg = (target == 0).to(affinity.dtype)
    pos_loss = (pos * (1 - affinity)).sum() / (pos.sum() + 1)
    neg_loss = (neg * affinity).sum() / (neg.sum() + 1)
    return 0.5 * pos_loss + 0.5 * neg_loss


def affinity_label(
    pseudo: Tensor, logits: Tensor, target: str = "pseudo", *, ignore_index: int = IGNORE
) -> Tensor:
    """The label map the affinity targets come from (supplementary Table 3).

    "pseudo": the online pseudo label M_p (official); "prediction": argmax of the decoder's
    logits (detached, nearest-upsampled to the label size); "both": M_p where it agrees with
    the prediction, ``ignore_index`` elsewhere.

    Shapes:
        pseudo: (B, H, W); logits: (B, C, h, w); returns (B, H, W) long.
    """
    if target == "pseudo":
        return pseudo
    pred = logits.detach().argmax(dim=1, keepdim=True).float()
    pred = F.interpolate(pred, size=pseudo.shape[-2:], mode="nearest")[:, 0].long()
    if target == "prediction":
        return pred
    if target == "both":
        return torch.where(pred == pseudo, pseudo, torch.full_like(pseudo, ignore_index))
    raise ValueError(f"aff_target must be 'pseudo', 'prediction' or 'both', got {target!r}")


@dataclass(frozen=True)
class WeClipLoss:
    """The terms of one training step. Attributes: total, seg and aff, each ()."""

    total: Tensor
    seg: Tensor
    aff: Tensor


def weclip_loss(
    logits: Tensor,
    affinity: Tensor,
    label: Tensor,
    *,
    aff_weight: float = 0.1,  # lambda, supp. Table 4
    radius: int = 8,  # get_mask_by_radius(radius=8)
    aff_target: str = "pseudo",  # supp. Table 3: M_p (official)
) -> WeClipLoss:
    """L = L_seg + lambda L_aff on one batch.

    Shapes:
        logits: (B, C, h, w); affinity: (B, h*w, h*w); label: (B, H, W).

    Reference: WeCLIP Section 3.4.
    """
    seg = bg_fg_segmentation_loss(logits, label)
    aff_label = affinity_label(label, logits, aff_target)
    aff = affinity_loss(affinity, affinity_targets(aff_label, logits.shape[-2:], radius=radius))
    return WeClipLoss(total=seg + aff_weight * aff, seg=seg, aff=aff)
