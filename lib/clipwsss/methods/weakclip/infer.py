"""WeakCLIP's test-time settings, as a recipe records them (the loop: ``pipelines/tta.py``).

Official code: mmseg ``--aug-test`` with ``test_cfg=dict(mode='slide', crop_size=(512, 512),
stride=(341, 341))``, image ratios [0.5, 0.75, 1.0, 1.25, 1.5, 1.75] of a 512 short side, and
horizontal flip; softmax probabilities averaged at the image's resolution. Pseudo masks are
then post-processed with a dense CRF (``tools/make_crf.py``, 10 iterations) over the classes
present in the prediction. ``clipwsss.pipelines.tta.weakclip_tta`` turns an
``InferenceConfig`` into that test.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        crf_params: :func:`clipwsss.cams.crf.dense_crf` settings (VOC: Gaussian sxy 3 /
            compat 3, bilateral sxy 83 / srgb 5 / compat 3; COCO: 1 / 3, 67 / 3 / 4).
    """

    short_side: int = 512
    scales: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
    flip: bool = True
    crop: int = 512
    stride: int = 341
    crf: bool = True
    crf_params: tuple[tuple[str, float], ...] = (
        ("n_iters", 10),
        ("gaussian_sxy", 3),
        ("gaussian_compat", 3),
        ("bilateral_sxy", 83),
        ("bilateral_srgb", 5),
        ("bilateral_compat", 3),
    )


COCO_CRF = (
    ("n_iters", 10),
    ("gaussian_sxy", 1),
    ("gaussian_compat", 3),
    ("bilateral_sxy", 67),
    ("bilateral_srgb", 3),
    ("bilateral_compat", 4),
)
