"""WeCLIP inference: multi-scale + flip logits, optional dense CRF, label map.

Official code: ``test_msc_flip_voc.py``: the long side resized to 512 (sides truncated), scale
0.75 made from that image, each scale's [image, horizontal flip] batch flip-averaged on the
scale-1 logit grid, the scales averaged there and upsampled once, argmax; optional CRF (10
iterations, Gaussian sxy 3 / w 3, bilateral sxy 64 / srgb 5 / w 4) on softmax of the averaged
logits.
Supplementary Table 5 compares the scale sets {1}, {0.5, 1}, {0.75, 1} (default),
{0.5, 0.75, 1}, {0.75, 1, 1.25}, {0.75, 1, 1.5}.
"""

from __future__ import annotations

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


def _flip_mean(logits: Tensor, flip: bool) -> Tensor:
    """(V, C, h, w) logits of [x, flip(x)] (or [x]) -> (C, h, w) their mean, flip undone."""
    return (logits[0] + logits[1].flip(-1)) / 2 if flip else logits[0]


def scale_inputs(pixels: Tensor, config: InferenceConfig) -> list[Tensor]:
    """The network input of every scale, as the official test script makes them.

    The long side goes to ``long_side`` with truncated sides (``int(h * r)``, no rounding to
    the patch size: the patch convolution drops the remainder); every other scale s is that
    image resized by ``scale_factor=s`` (bilinear), not the original.

    Shapes:
        pixels: (1, 3, H, W); returns one (1, 3, h_s, w_s) tensor per scale.
    """
    h, w = pixels.shape[-2:]
    x1 = pixels
    if config.long_side is not None:
        ratio = config.long_side / max(h, w)
        x1 = F.interpolate(pixels, size=(int(h * ratio), int(w * ratio)), mode="bilinear",
                           align_corners=False)  # fmt: skip
    return [x1 if s == 1.0 else F.interpolate(x1, scale_factor=s, mode="bilinear",
                                              align_corners=False)
            for s in config.scales]  # fmt: skip


@torch.no_grad()
def multiscale_logits(model: nn.Module, pixels: Tensor, config: InferenceConfig) -> Tensor:
    """Logits averaged over scales (and flips), at the input size (official test script).

    Each scale runs [x, flip(x)] as one batch; its logits are resized to the logit grid of
    the scale-1 input (bilinear, skipped for scale 1), flip-averaged, averaged over the
    scales on that grid and upsampled once to the input size.

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
    if 1.0 not in config.scales:
        raise ValueError(f"the scales must include 1.0 (its logit grid is where they are "
                         f"averaged), got {config.scales}")  # fmt: skip
    inputs = scale_inputs(pixels, config)
    order = sorted(range(len(inputs)), key=lambda i: config.scales[i] != 1.0)  # scale 1 first
    grid = None
    per_scale = []
    for x in (inputs[i] for i in order):
        logits = model(torch.cat([x, x.flip(-1)]) if config.flip else x).decoder.logits
        if grid is None:
            grid = tuple(logits.shape[-2:])  # scale 1 comes first
        elif tuple(logits.shape[-2:]) != grid:
            logits = F.interpolate(logits, size=grid, mode="bilinear", align_corners=False)
        per_scale.append(_flip_mean(logits, config.flip))
    mean = torch.stack(per_scale).mean(dim=0)[None]
    return F.interpolate(mean, size=tuple(pixels.shape[-2:]), mode="bilinear",
                         align_corners=False)[0]  # fmt: skip


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
