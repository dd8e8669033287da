"""Reference predictions that frame the CLIP-ES stages: trivial baselines and the ceiling
that a patch grid allows. All take the ground truth (they are yardsticks, not methods).
"""

from __future__ import annotations

import math

import numpy as np

from clipwsss.data.pixels import IGNORE


def all_background(gt: np.ndarray) -> np.ndarray:
    """Every pixel background. Shapes: gt (H, W) -> (H, W) uint8 zeros."""
    return np.zeros_like(gt, dtype=np.uint8)


def largest_class(gt: np.ndarray) -> np.ndarray:
    """Every pixel labelled with the image's largest foreground class (by GT area).

    Shapes:
        gt: (H, W) uint8, 0 background, 255 ignore -> (H, W) uint8.
    """
    values, counts = np.unique(gt[(gt != 0) & (gt != IGNORE)], return_counts=True)
    fill = int(values[np.argmax(counts)]) if len(values) else 0
    return np.full_like(gt, fill, dtype=np.uint8)


def patch_grid_ceiling(gt: np.ndarray, patch_size: int) -> np.ndarray:
    """Label each model patch with its majority GT class and upsample (nearest).

    The best any per-patch prediction can score: CLIP-ES CAMs live on this grid before
    upsampling. Patches follow the model's resize (each side rounded up to a multiple of
    ``patch_size``), mapped back to the original pixels; ignore pixels do not vote.

    Shapes:
        gt: (H, W) uint8 -> (H, W) uint8.
    """
    h, w = gt.shape
    gh, gw = math.ceil(h / patch_size), math.ceil(w / patch_size)
    rows = np.minimum((np.arange(h) * gh) // h, gh - 1)
    cols = np.minimum((np.arange(w) * gw) // w, gw - 1)
    cell = rows[:, None] * gw + cols[None, :]  # (H, W) patch index of each pixel
    valid = gt != IGNORE
    votes = np.zeros((gh * gw, 256), dtype=np.int64)
    np.add.at(votes, (cell[valid], gt[valid]), 1)
    majority = votes.argmax(axis=1).astype(np.uint8)  # all-ignore patch -> background
    return majority[cell]
