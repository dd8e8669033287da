"""DeepLab's test-time settings, as a recipe records them (the loop: ``pipelines/tta.py``).

CLIP-ES supplementary E: "For testing, we adopt a multi-scale strategy and dense CRF to
post-process with default hyper-parameters in [3]" ([3] = DeepLab; the values in
``CRF_DEFAULTS``). The test scale set is not given. deeplab-pytorch's ``main.py test`` (the
VOC/COCO recipes' ``InferConfig``) runs the MSC network once at the original size (its max
over scales 1, 0.5 and 0.75 is inside the model), upsamples, softmax, argmax; ``main.py crf``
gives the CRF the mean-subtracted BGR image cast to uint8 (wrapped), like CLIP-ES's CRF.
``clipwsss.pipelines.tta.deeplab_tta`` turns an ``InferConfig`` into the shared test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD
from clipwsss.validate import check_choice

from .data import CAFFE_MEAN_BGR, NORMALIZATIONS, check_positive_tuple

CRF_IMAGES = ("wrapped", "bgr", "rgb")  # InferConfig.crf_image

# deeplab-pytorch configs/*.yaml CRF block (DeepLab's defaults): ITER_MAX 10, POS_W 3,
# POS_XY_STD 1, BI_W 4, BI_XY_STD 67, BI_RGB_STD 3 (the same values CLIP-ES's CRF uses).
CRF_DEFAULTS = {
    "n_iters": 10,
    "gaussian_sxy": 1,
    "gaussian_compat": 3,
    "bilateral_sxy": 67,
    "bilateral_srgb": 3,
    "bilateral_compat": 4,
}


@dataclass(frozen=True)
class InferConfig:
    """Test-time switches."""

    scales: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5)  # ours: the training scales
    flip: bool = True  # average with the horizontally flipped image
    crf: bool = False  # dense CRF on the averaged probabilities (CLIP-ES supp. E: on)
    crf_params: dict = field(default_factory=lambda: dict(CRF_DEFAULTS))
    crf_image: str = "wrapped"  # main.py crf: BGR - mean cast to uint8 | bgr (demo.py) | rgb
    normalization: str = "caffe"  # caffe (deeplab-pytorch) | torchvision (mean, std below)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        check_positive_tuple("scales", self.scales)
        check_positive_tuple("std", self.std)
        check_choice("normalization", self.normalization, NORMALIZATIONS)
        check_choice("crf_image", self.crf_image, CRF_IMAGES)


def set_normalization(
    model: nn.Module, normalization: str, mean=IMAGENET_MEAN, std=IMAGENET_STD
) -> nn.Module:
    """Give a DeepLab network the input statistics of a recipe (``model.preprocess``).

    ``caffe``: BGR on 0-255 minus ``CAFFE_MEAN_BGR`` (deeplab-pytorch); ``torchvision``:
    RGB / 255 with ``mean`` and ``std``. Returns the model.
    """
    check_choice("normalization", normalization, NORMALIZATIONS)
    if normalization == "caffe":
        model.set_pixel_stats(CAFFE_MEAN_BGR, (1.0, 1.0, 1.0), order="bgr")
    else:
        model.set_pixel_stats(tuple(mean), tuple(std))
    return model


__all__ = ["CRF_DEFAULTS", "CRF_IMAGES", "InferConfig", "set_normalization"]
