"""Pixel-adaptive refinement (PAR) of the label scores, from AFA (Ru et al., CVPR 2022).

WeCLIP refines its online pseudo-label scores with PAR before the argmax
(``WeCLIP_model/PAR.py``: 20 iterations, dilations 1, 2, 4, 8, 12, 24, w1 0.3, w2 0.01).

Each pixel looks at its 8 neighbours at every dilation d (replicate padding). The kernel is
a softmax over those neighbours of the colour similarity plus w2 times a softmax of the
spatial distance:

    k_ij = softmax_j(-(|I_i - I_j| / (w1 sigma_i))^2 mean over channels)
           + w2 softmax_j(-(|p_i - p_j| / (w1 sigma_p))^2)

with sigma_i the (unbiased) std of the neighbours' intensities per channel and sigma_p the
std of the neighbour distances (d, or d sqrt 2 on diagonals). The scores are then replaced
``n_iters`` times by the k-weighted sum of their neighbours. Official detail: PAR runs on
the ImageNet-normalised image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# The 8 neighbour offsets (dy, dx), row by row, the order of AFA's 3x3 kernels.
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def dilated_neighbours(x: Tensor, dilations: Sequence[int]) -> Tensor:
    """Values of the 8 neighbours at each dilation, with replicate padding.

    Shapes:
        x: (B, C, H, W); returns (B, C, 8 * len(dilations), H, W).
    """
    h, w = x.shape[-2:]
    out = []
    for d in dilations:
        padded = F.pad(x, [d] * 4, mode="replicate")
        for dy, dx in _OFFSETS:
            out.append(padded[..., d + dy * d : d + dy * d + h, d + dx * d : d + dx * d + w])
    return torch.stack(out, dim=2)


def neighbour_distances(dilations: Sequence[int]) -> Tensor:
    """Distance of each neighbour: d, or d * sqrt(2) on the diagonals. Shapes: (8 * D,)."""
    unit = [math.sqrt(2) if dy and dx else 1.0 for dy, dx in _OFFSETS]
    return torch.tensor([u * d for d in dilations for u in unit])


def par_kernel(
    image: Tensor, dilations: Sequence[int], *, w1: float = 0.3, w2: float = 0.01
) -> Tensor:
    """The PAR affinity of every pixel to its dilated neighbours.

    Shapes:
        image: (B, 3, H, W); returns (B, 1, 8 * len(dilations), H, W); each pixel's weights
        sum to 1 + w2.

    Reference: AFA Section 3.3 (PAR); WeCLIP Section 3.3.
    """
    nb = dilated_neighbours(image, dilations)  # (B, 3, K, H, W)
    diff = (nb - image[:, :, None]).abs()
    sigma = nb.std(dim=2, keepdim=True)  # unbiased, as torch.std in AFA
    colour = (-((diff / (sigma + 1e-8) / w1) ** 2)).mean(dim=1, keepdim=True)
    pos = neighbour_distances(dilations).to(image)
    pos_logit = -((pos / (pos.std() + 1e-8) / w1) ** 2)  # the same for every pixel
    return colour.softmax(dim=2) + w2 * pos_logit.softmax(dim=0)[None, None, :, None, None]


def par_refine(
    image: Tensor,
    scores: Tensor,
    *,
    n_iters: int = 20,  # WeCLIP PAR(num_iter=20)
    dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),  # WeCLIP PAR(dilations=...)
    w1: float = 0.3,  # PAR.w1
    w2: float = 0.01,  # PAR.w2
) -> Tensor:
    """Propagate per-class scores with the PAR kernel of the image.

    Args:
        image: the (normalised) image the kernel is computed on.
        scores: per-class scores (background first in WeCLIP); resized bilinearly
            (align_corners=True, as AFA) when their size differs from the image's.

    Shapes:
        image: (B, 3, H, W); scores: (B, K, h, w); returns (B, K, H, W).

    Reference: AFA Section 3.3; WeCLIP Section 3.3 (pseudo labels).
    """
    if image.ndim != 4 or scores.ndim != 4 or image.shape[0] != scores.shape[0]:
        raise ValueError(
            f"image (B,3,H,W) and scores (B,K,h,w) expected, got "
            f"{tuple(image.shape)} and {tuple(scores.shape)}"
        )
    if scores.shape[-2:] != image.shape[-2:]:
        scores = F.interpolate(scores, size=image.shape[-2:], mode="bilinear", align_corners=True)
    kernel = par_kernel(image.float(), dilations, w1=w1, w2=w2)
    scores = scores.float()
    for _ in range(n_iters):
        scores = (dilated_neighbours(scores, dilations) * kernel).sum(dim=2)
    return scores
