"""Segmentation losses for DeepLab on pseudo-masks: CGL (CLIP-ES Eq. 9), plain CE (Table 7's
baseline) and the background/foreground-balanced CE used for COCO (supplementary E).

CGL itself lives in ``clipwsss.cams.cgl`` (:func:`confidence_guided_loss`); this module only
brings logits and labels to one resolution and picks the loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.cams.cgl import confidence_guided_loss

LOSSES = ("cgl", "ce", "balanced_ce")


def balanced_cross_entropy(logits: Tensor, target: Tensor, *, ignore_index: int = 255) -> Tensor:
    """Mean of the background CE and the foreground CE, each averaged over its own pixels.

    On COCO the background dominates the pixels of most images; averaging the two halves
    separately keeps the many small foreground classes from being swamped. A half with no
    pixel in the batch is left out (plain CE over the other half; 0 if both are empty), so
    the loss never becomes 0/0 = NaN.

    Our reading of "balanced cross-entropy ... as in [6, 7]" (CLIP-ES supplementary E; the
    AdvCAM / AMN segmentation code): not checked against that code here.

    Shapes:
        logits: (B, C, H, W); target: (B, H, W) int64, 0 = background; output: ().

    Reference: CLIP-ES supplementary E (COCO DeepLab recipe).
    """
    pixel = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    valid = target != ignore_index
    halves = [valid & (target == 0), valid & (target != 0)]
    means = [pixel[m].sum() / m.sum() for m in halves if m.any()]
    if not means:
        return logits.sum() * 0.0
    return torch.stack(means).mean()


def resize_target(target: Tensor, size: tuple[int, int], conf: Tensor | None = None):
    """Nearest-neighbour resize of labels (and confidence) to the logits' size.

    deeplab-pytorch (the code CLIP-ES points to) shrinks the labels to the 1/8 logits this
    way instead of upsampling the logits, with PIL's NEAREST, which samples pixel centres:
    torch ``nearest-exact`` (``nearest`` takes the top-left pixel, 91-92 % agreement).

    Shapes:
        target: (B, H, W); conf: (B, H, W); size: (h, w); outputs: (B, h, w).
    """
    if tuple(target.shape[-2:]) == tuple(size):
        return target, conf
    mode = "nearest-exact"
    small = F.interpolate(target[:, None].float(), size=size, mode=mode)[:, 0].long()
    if conf is not None:
        conf = F.interpolate(conf[:, None].float(), size=size, mode=mode)[:, 0]
    return small, conf


def segmentation_loss(
    logits: Tensor,
    target: Tensor,
    conf: Tensor | None = None,
    *,
    kind: str = "cgl",
    mu: float = 0.95,  # CLIP-ES supplementary D / E: mu = 0.95
    resize: str = "labels",  # labels: shrink labels to the logits (deeplab-pytorch); logits
    ignore_index: int = 255,
) -> Tensor:
    """The DeepLab training loss on pseudo-masks.

    ``kind="cgl"``: Eq. 9, pixels with ``conf < mu`` ignored (with ``conf=None`` the masks'
    255s are the ignored pixels: the official way, mu applied when the PNGs were written);
    ``"ce"``: CE on every labelled pixel (``conf`` ignored: Table 7's baseline);
    ``"balanced_ce"``: :func:`balanced_cross_entropy` after the CGL mask (COCO).

    Shapes:
        logits: (B, C, h, w); target: (B, H, W) int64; conf: (B, H, W) or None; output: ().

    Reference: CLIP-ES Sec. 3.4, Eq. 9, Table 7; supplementary D, E.
    """
    if kind not in LOSSES:
        raise ValueError(f"loss kind {kind!r}; choose one of {LOSSES}")
    if resize == "labels":
        target, conf = resize_target(target, tuple(logits.shape[-2:]), conf)
    elif resize == "logits":
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    else:
        raise ValueError(f"resize must be 'labels' or 'logits', got {resize!r}")
    if kind == "ce":
        return confidence_guided_loss(logits, target, None, ignore_index=ignore_index)
    if kind == "cgl":
        return confidence_guided_loss(logits, target, conf, threshold=mu, ignore_index=ignore_index)
    if conf is not None:
        target = target.masked_fill(conf < mu, ignore_index)  # Eq. 9 mask, then balance
    return balanced_cross_entropy(logits, target, ignore_index=ignore_index)


def msc_loss(
    outputs: Tensor | list[Tensor], target: Tensor, conf: Tensor | None = None, **kwargs
) -> Tensor:
    """:func:`segmentation_loss` summed over the MSC outputs (deeplab-pytorch: the loss of the
    scale-1, 0.5, 0.75 and max-fused logits, each against the labels shrunk to its size); a
    single tensor is one output.

    Shapes:
        outputs: (B, C, h_i, w_i) each; target, conf: (B, H, W); output: ().
    """
    if isinstance(outputs, Tensor):
        return segmentation_loss(outputs, target, conf, **kwargs)
    return sum(segmentation_loss(o, target, conf, **kwargs) for o in outputs)
