"""Sharpness of a prompt (CLIP-ES Eq. 5, Section 3.2.1, Fig. 3, Table S1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor


def sharpness(scores: Sequence[Tensor | np.ndarray | Sequence[float]]) -> float:
    """Eq. 5: sum_i var(s_i1..s_ik) / sum_i mean(s_i1..s_ik) over n images.

    ``s_ij`` is the softmax score of the j-th target class of image i. The variance is the
    population variance (ddof = 0): an image with one class contributes 0 to the numerator.
    The paper does not say which; a lower value means the prompt spreads the score over all
    of an image's classes instead of making one prominent.

    Args:
        scores: one (k_i,) tensor, array or list per image, k_i >= 1.

    Returns:
        The sharpness, a float >= 0.

    Shapes:
        scores: n tensors (k_i,); output: a scalar.
    """
    if len(scores) == 0:
        raise ValueError("sharpness needs at least one image")
    variances, means = sharpness_terms(scores)
    if (means.sum() <= 0).item():
        raise ValueError("the mean scores sum to zero; sharpness is undefined")
    return float(variances.sum() / means.sum())


def sharpness_terms(
    scores: Sequence[Tensor | np.ndarray | Sequence[float]],
) -> tuple[Tensor, Tensor]:
    """The per-image terms of Eq. 5: each image's population variance and mean of its scores
    (float64), so that ``sharpness = variances.sum() / means.sum()``.

    Shapes:
        scores: n tensors (k_i,), k_i >= 1; returns two (n,) tensors.
    """
    scores = [torch.as_tensor(s, dtype=torch.float64).detach().reshape(-1) for s in scores]
    if any(s.numel() == 0 for s in scores):
        raise ValueError("every image needs at least one target-class score")
    if not scores:
        return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    return (
        torch.stack([s.var(unbiased=False) for s in scores]),
        torch.stack([s.mean() for s in scores]),
    )
