"""WeCLIP's test-time settings, as a run records them (the loop: ``pipelines/tta.py``).

Official code: ``test_msc_flip_voc.py``: the long side resized to 512 (sides truncated), scale
0.75 made from that image, each scale's [image, horizontal flip] batch flip-averaged on the
scale-1 logit grid, the scales averaged there and upsampled once, argmax; optional CRF (10
iterations, Gaussian sxy 3 / w 3, bilateral sxy 64 / srgb 5 / w 4) on softmax of the averaged
logits. ``clipwsss.pipelines.tta.weclip_tta`` turns an ``InferenceConfig`` into that test.
Supplementary Table 5 compares the scale sets {1}, {0.5, 1}, {0.75, 1} (default),
{0.5, 0.75, 1}, {0.75, 1, 1.25}, {0.75, 1, 1.5}.
"""

from __future__ import annotations

from dataclasses import dataclass


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
