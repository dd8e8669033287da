"""Dense CRF post-processing of CLIP-ES CAMs (Table 2 "+dCRF"; supplementary D).

Fully connected CRF of Krähenbühl and Koltun (2011) through ``pydensecrf2``, with the
official ``eval_cam_with_crf.py`` settings: 10 mean-field iterations, a Gaussian kernel
(sxy 1, compat 3) and a bilateral kernel (sxy 67, srgb 3, compat 4).

Our commentary on the official code:

* The probabilities passed are ``[(1 - max_c cam)^k, cam_1, ..., cam_K]`` with k = 1 and
  no renormalisation; the unary is ``-log(clip(p, 1e-5, 1))`` (``unary_from_softmax``).
* The image the bilateral kernel sees is *not* the photo: it is read as BGR, the Caffe mean
  (104.008, 116.669, 122.675) is subtracted and the result cast to uint8, so negative values
  wrap around (-10.3 -> 246). :func:`crf_image` reproduces that by default.
* The official script reads the image with ``cv2.imread``; a different JPEG decoder (PIL)
  can differ by a grey level here and there. That is the caller's business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import ModuleType

import numpy as np
import torch
from torch import Tensor

from clipwsss.cams.labels import background_score
from clipwsss.perturb import perturb


def _import_pydensecrf() -> tuple[ModuleType, ModuleType]:
    try:
        import pydensecrf.densecrf as dcrf
        import pydensecrf.utils as crf_utils
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Dense CRF needs pydensecrf; install it with `pip install pydensecrf2`."
        ) from err
    return dcrf, crf_utils


def crf_image(
    image: np.ndarray,
    *,
    official: bool = True,
    mean_bgr: tuple[float, float, float] = (104.008, 116.669, 122.675),  # eval_cam_with_crf
) -> np.ndarray:
    """The colour image the bilateral kernel compares.

    ``official=True`` reproduces ``eval_cam_with_crf.py``: RGB -> BGR, float32, subtract
    ``mean_bgr``, cast to uint8. A float -> uint8 cast of a negative value is undefined in C;
    on x86-64 numpy truncates towards zero and keeps the low byte (-10.3 -> -10 -> 246).
    We do that explicitly (``astype(int64) % 256``) so the result is the same on every
    platform. [paper≠code] ``official=False`` returns the plain RGB image (the usual dense
    CRF input; the bilateral kernel is symmetric in the channels, so RGB vs BGR order alone
    would not matter, only the mean subtraction and wrap do).

    Args:
        image: The photo, RGB, values in [0, 255].
        official: Reproduce the mean-subtracted, wrapped BGR image.
        mean_bgr: Per-channel mean subtracted in BGR order.

    Returns:
        C-contiguous uint8 image.

    Shapes:
        image: (H, W, 3) uint8; output: (H, W, 3) uint8.

    Reference: CLIP-ES Table 2 (+dCRF); official ``eval_cam_with_crf.py``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if not official:
        return np.ascontiguousarray(image)
    bgr = image[..., ::-1].astype(np.float32)
    bgr -= np.asarray(mean_bgr)  # float64 mean, result stored as float32, as the official
    wrapped = bgr.astype(np.int64) % 256  # truncate towards zero, keep the low byte
    return np.ascontiguousarray(wrapped.astype(np.uint8))


@dataclass(frozen=True)
class CrfParams:
    """The settings of :func:`dense_crf`; defaults = CLIP-ES ``eval_cam_with_crf.py`` and
    deeplab-pytorch's configs (WeCLIP test: sxy 3 / 3, 64 / 5 / 4; WeakCLIP VOC 3 / 3,
    83 / 5 / 3)."""

    n_iters: int = 10  # mean-field iterations (iter_max)
    gaussian_sxy: float = 1  # spatial std of the smoothness kernel (pos_xy_std)
    gaussian_compat: float = 3  # weight of the smoothness kernel (pos_w)
    bilateral_sxy: float = 67  # spatial std of the appearance kernel (bi_xy_std)
    bilateral_srgb: float = 3  # colour std of the appearance kernel (bi_rgb_std)
    bilateral_compat: float = 4  # weight of the appearance kernel (bi_w)

    def kwargs(self) -> dict[str, float]:
        """The keyword arguments of :func:`dense_crf`."""
        return asdict(self)


def dense_crf(
    image: np.ndarray,
    probs: np.ndarray,
    *,
    n_iters: int = 10,  # eval_cam_with_crf.py: iter_max=10
    gaussian_sxy: float = 1,  # pos_xy_std=1
    gaussian_compat: float = 3,  # pos_w=3
    bilateral_sxy: float = 67,  # bi_xy_std=67
    bilateral_srgb: float = 3,  # bi_rgb_std=3
    bilateral_compat: float = 4,  # bi_w=4
) -> np.ndarray:
    """Mean-field inference of a fully connected CRF; returns the posterior Q.

    The unary is ``-log(clip(p, 1e-5, 1))`` of ``probs`` as given, without renormalising
    (``pydensecrf.utils.unary_from_softmax``, no ``scale``). It is computed in the dtype of
    ``probs``: the official CAMs are stored as float16, so pass float16 to match bit for
    bit. Q itself sums to 1 over channels.

    Args:
        image: Colour image for the bilateral kernel, usually :func:`crf_image`.
        probs: Per-class scores in [0, 1]; the official input is background first.
        n_iters: Mean-field iterations.
        gaussian_sxy: Spatial std of the smoothness kernel.
        gaussian_compat: Weight of the smoothness kernel (Potts).
        bilateral_sxy: Spatial std of the appearance kernel.
        bilateral_srgb: Colour std of the appearance kernel.
        bilateral_compat: Weight of the appearance kernel (Potts).

    Returns:
        Posterior Q, float32.

    Shapes:
        image: (H, W, 3) uint8; probs: (C, H, W); output: (C, H, W).

    Reference: CLIP-ES Table 2 (+dCRF); Krähenbühl and Koltun, NeurIPS 2011.
    """
    dcrf, crf_utils = _import_pydensecrf()
    if probs.ndim != 3:
        raise ValueError(f"probs must be (C, H, W), got {probs.shape}")
    c, h, w = probs.shape
    if image.shape != (h, w, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be ({h}, {w}, 3) uint8, got {image.shape} {image.dtype}")
    unary = crf_utils.unary_from_softmax(probs)  # -log(clip(p, 1e-5, 1))
    unary = np.ascontiguousarray(perturb(unary, "crf unary"))  # identity unless CLIPWSSS_PERTURB
    crf = dcrf.DenseCRF2D(w, h, c)
    crf.setUnaryEnergy(unary)
    crf.addPairwiseGaussian(sxy=gaussian_sxy, compat=gaussian_compat)
    crf.addPairwiseBilateral(
        sxy=bilateral_sxy,
        srgb=bilateral_srgb,
        rgbim=np.ascontiguousarray(image),
        compat=bilateral_compat,
    )
    q = crf.inference(n_iters)
    return np.asarray(q, dtype=np.float32).reshape(c, h, w)


def crf_posterior(
    image: np.ndarray,
    cams: Tensor,
    *,
    exponent: float = 1.0,  # eval_cam_with_crf.py: np.power(1 - max, 1)
    official: bool = True,
    n_iters: int = 10,  # eval_cam_with_crf.py: iter_max=10
) -> Tensor:
    """CRF posterior over [background, classes] for one image's CAMs (official recipe).

    Builds ``[(1 - max_c cam)^k, cams]`` (k = 1 in the official CRF script), the
    :func:`crf_image` (``official`` selects the wrapped BGR image) and runs
    :func:`dense_crf` with the official kernel settings.

    Args:
        image: The photo, RGB uint8, at the CAMs' resolution.
        cams: Refined CAMs in [0, 1] at image resolution (keeps its dtype, e.g. float16).
        exponent: Background power k.
        official: Use the mean-subtracted, wrapped BGR image for the bilateral kernel.
        n_iters: Mean-field iterations.

    Returns:
        float32 CPU posterior Q, background channel first.

    Shapes:
        image: (H, W, 3) uint8; cams: (K, H, W); output: (1 + K, H, W).

    Reference: CLIP-ES Table 2 (+dCRF); supplementary D.
    """
    bg = background_score(cams, exponent=exponent)
    probs = torch.cat([bg[None], cams], dim=0).detach().cpu().numpy()
    q = dense_crf(crf_image(image, official=official), probs, n_iters=n_iters)
    return torch.from_numpy(q)
