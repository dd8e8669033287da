"""WeakCLIP inference: multi-scale + flip softmax averaging, sliding windows, CRF labels.

Official code: mmseg ``--aug-test`` with ``test_cfg=dict(mode='slide', crop_size=(512, 512),
stride=(341, 341))``, image ratios [0.5, 0.75, 1.0, 1.25, 1.5, 1.75] of a 512 short side, and
horizontal flip; softmax probabilities averaged at the image's resolution. Pseudo masks are
then post-processed with a dense CRF (``tools/make_crf.py``, 10 iterations) over the classes
present in the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.cams.crf import dense_crf

from .model import WeakCLIP


@dataclass(frozen=True)
class InferenceConfig:
    """Test-time settings (official VOC values).

    Attributes:
        short_side: the image's short side is resized to this before the scales (512).
        scales: image ratios of the multi-scale test.
        flip: also average the horizontally flipped image.
        crop: sliding-window size (images up to this size run whole).
        stride: sliding-window stride.
        crf: post-process with the dense CRF.
        crf_params: :func:`clipwsss.cams.crf.dense_crf` settings (VOC: Gaussian sxy 3 / compat 3,
            bilateral sxy 83 / srgb 5 / compat 3; COCO: 1 / 3, 67 / 3 / 4).
    """

    short_side: int = 512
    scales: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
    flip: bool = True
    crop: int = 512
    stride: int = 341
    crf: bool = True
    crf_params: tuple[tuple[str, float], ...] = (
        ("n_iters", 10), ("gaussian_sxy", 3), ("gaussian_compat", 3),
        ("bilateral_sxy", 83), ("bilateral_srgb", 5), ("bilateral_compat", 3),
    )  # fmt: skip


COCO_CRF = (
    ("n_iters", 10), ("gaussian_sxy", 1), ("gaussian_compat", 3),
    ("bilateral_sxy", 67), ("bilateral_srgb", 3), ("bilateral_compat", 4),
)  # fmt: skip


def window_logits(model: WeakCLIP, x: Tensor) -> Tensor:
    """Logits of one window at the window's size, the window run as it is (mmseg
    ``encode_decode``).

    A side that is not a multiple of the patch is not padded: the patch convolution floors
    the token grid (341 px -> 21 tokens at patch 16; the last 5 px reach no token), and the
    logits are resized to the window bilinearly (``align_corners=False``).

    Shapes:
        x: (B, 3, H, W), H and W at least one patch; returns (B, K, H, W).
    """
    p = model.visual.patch_size
    h, w = x.shape[-2:]
    if h < p or w < p:
        raise ValueError(f"window {h}x{w} is smaller than one {p}x{p} patch")
    logits = model(x).logits
    return F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)


def slide_logits(model: WeakCLIP, x: Tensor, *, crop: int, stride: int) -> Tensor:
    """mmseg sliding-window inference: overlapping windows, logits averaged where they meet.

    Shapes:
        x: (1, 3, H, W); returns (1, K, H, W).
    """
    h, w = x.shape[-2:]
    if h <= crop and w <= crop:
        return window_logits(model, x)
    out = x.new_zeros(1, model.n_classes, h, w)
    count = x.new_zeros(1, 1, h, w)
    for top in range(0, max(h - crop, 0) + stride, stride):
        for left in range(0, max(w - crop, 0) + stride, stride):
            y0, x0 = max(min(top, h - crop), 0), max(min(left, w - crop), 0)
            y1, x1 = min(y0 + crop, h), min(x0 + crop, w)
            out[..., y0:y1, x0:x1] += window_logits(model, x[..., y0:y1, x0:x1])
            count[..., y0:y1, x0:x1] += 1
    return out / count


@torch.no_grad()
def predict_probs(model: WeakCLIP, pixels: Tensor, config: InferenceConfig) -> Tensor:
    """Class probabilities averaged over scales and flips, at the image's resolution.

    Args:
        model: the trained network (put in eval mode here).
        pixels: one normalised image.
        config: scales, flip and windows.

    Shapes:
        pixels: (3, H, W); returns (K, H, W), sums to 1 over K.

    Reference: WeakCLIP Section 4.1 (multi-scale inference); mmseg ``aug_test``.
    """
    model.eval()
    h, w = pixels.shape[-2:]
    total = pixels.new_zeros(model.n_classes, h, w)
    n = 0
    for scale in config.scales:
        ratio = config.short_side * scale / min(h, w)
        size = (max(1, round(h * ratio)), max(1, round(w * ratio)))
        x = F.interpolate(pixels[None], size=size, mode="bilinear", align_corners=False)
        for flipped in (False, True) if config.flip else (False,):
            xi = x.flip(-1) if flipped else x
            logits = slide_logits(model, xi, crop=config.crop, stride=config.stride)
            logits = logits.flip(-1) if flipped else logits
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            total += logits[0].softmax(dim=0)
            n += 1
    return total / n


def crf_labels(image: np.ndarray, probs: Tensor, crf_params: dict) -> np.ndarray:
    """Dense-CRF labels over the classes present in the argmax (``tools/make_crf.py``).

    Shapes:
        image: (H, W, 3) uint8 RGB; probs: (K, H, W); returns (H, W) uint8 class ids.
    """
    keep = probs.argmax(dim=0).unique()
    q = dense_crf(np.ascontiguousarray(image), probs[keep].float().cpu().numpy(), **crf_params)
    return keep.cpu().numpy().astype(np.uint8)[q.argmax(axis=0)]


def predict_label(
    model: WeakCLIP, image: np.ndarray, pixels: Tensor, config: InferenceConfig
) -> np.ndarray:
    """The pseudo mask of one image: argmax of :func:`predict_probs`, CRF-refined if asked.

    Shapes:
        image: (H, W, 3) uint8; pixels: (3, H, W) normalised; returns (H, W) uint8.
    """
    probs = predict_probs(model, pixels, config)
    if config.crf:
        return crf_labels(image, probs, dict(config.crf_params))
    return probs.argmax(dim=0).cpu().numpy().astype(np.uint8)
