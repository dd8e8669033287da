"""WeCLIP inference: multi-scale + flip logits, optional dense CRF, label map.

Official code: ``test_msc_flip_voc.py``: the long side resized to 512, scales {1.0, 0.75}
x {image, horizontal flip}, logits upsampled and averaged, argmax; optional CRF (10 iterations,
Gaussian sxy 3 / w 3, bilateral sxy 64 / srgb 5 / w 4) on softmax of the averaged logits.
Supplementary Table 5 compares the scale sets {1}, {0.5, 1}, {0.75, 1} (default),
{0.5, 0.75, 1}, {0.75, 1, 1.25}, {0.75, 1, 1.5}.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from clipwsss.cams.crf import dense_crf


@dataclass(frozen=True)
class InferenceConfig:
    """Test-time switches; defaults = test_msc_flip_voc.py."""

    scales: tuple[float, ...] = (1.0, 0.75)  # supp. Table 5: {0.75, 1} is the best (74.9)
    flip: bool = True  # average with the horizontally flipped image
    long_side: int | None = 512  # resize the long side first; None keeps the input size
    crf: bool = False  # dense CRF on softmax(logits)
    crf_iters: int = 10
    crf_gaussian_sxy: float = 3
    crf_gaussian_compat: float = 3
    crf_bilateral_sxy: float = 64
    crf_bilateral_srgb: float = 5
    crf_bilateral_compat: float = 4


def _resize(pixels: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(pixels.shape[-2:]) == size:
        return pixels
    return F.interpolate(pixels, size=size, mode="bilinear", align_corners=False)


def _on_grid(h: int, w: int, scale: float, patch: int) -> tuple[int, int]:
    """(h, w) times ``scale``, rounded up to multiples of the patch size."""
    return (max(patch, math.ceil(h * scale / patch) * patch),
            max(patch, math.ceil(w * scale / patch) * patch))  # fmt: skip


@torch.no_grad()
def multiscale_logits(model: nn.Module, pixels: Tensor, config: InferenceConfig) -> Tensor:
    """Logits averaged over scales (and flips), at the input size.

    Args:
        model: a ``WeClip`` (only its decoder output is used: no pseudo labels).
        pixels: one normalised image.

    Shapes:
        pixels: (1, 3, H, W); returns (C, H, W).

    Reference: WeCLIP supp. Table 5; test_msc_flip_voc.py.
    """
    if pixels.ndim != 4 or pixels.shape[0] != 1:
        raise ValueError(f"pixels must be (1, 3, H, W), got {tuple(pixels.shape)}")
    if not config.scales:
        raise ValueError("at least one inference scale is needed")
    h, w = pixels.shape[-2:]
    base = 1.0 if config.long_side is None else config.long_side / max(h, w)
    patch = model.clip.patch_size
    total = None
    for s in config.scales:
        x = _resize(pixels, _on_grid(h, w, base * s, patch))
        views = [x, x.flip(-1)] if config.flip else [x]
        for i, v in enumerate(views):
            logits = model(v).decoder.logits
            logits = logits.flip(-1) if i == 1 else logits
            up = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[0]
            total = up if total is None else total + up
    return total / (len(config.scales) * (2 if config.flip else 1))


def predict_label(model: nn.Module, pixels: Tensor, image: np.ndarray | None,
                  config: InferenceConfig) -> np.ndarray:  # fmt: skip
    """The predicted label map of one image (0 = background, k + 1 = class k).

    Args:
        pixels: the normalised image (1, 3, H, W).
        image: the (H, W, 3) uint8 photo, needed only with ``config.crf``.

    Returns:
        (H, W) uint8.

    Reference: WeCLIP Section 4.1 (inference), supp. Table 1 (predictions as pseudo labels).
    """
    logits = multiscale_logits(model, pixels, config)
    if not config.crf:
        return logits.argmax(dim=0).byte().cpu().numpy()
    if image is None or image.shape[:2] != tuple(logits.shape[-2:]):
        raise ValueError("CRF needs the uint8 photo at the logits' size")
    probs = logits.softmax(dim=0).float().cpu().numpy()
    q = dense_crf(np.ascontiguousarray(image), probs, n_iters=config.crf_iters,
                  gaussian_sxy=config.crf_gaussian_sxy, gaussian_compat=config.crf_gaussian_compat,
                  bilateral_sxy=config.crf_bilateral_sxy, bilateral_srgb=config.crf_bilateral_srgb,
                  bilateral_compat=config.crf_bilateral_compat)  # fmt: skip
    return q.argmax(axis=0).astype(np.uint8)


def parse_scales(text: str | Sequence[float]) -> tuple[float, ...]:
    """"1.0,0.75" -> (1.0, 0.75); every scale must be > 0."""
    values = tuple(float(v) for v in (text.split(",") if isinstance(text, str) else text))
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"scales must be positive numbers, got {text!r}")
    return values
