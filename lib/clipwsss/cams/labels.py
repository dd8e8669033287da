"""From CAMs to labels: the one min-max, upsampling, background score, CAM -> label map,
posterior -> label map, confidence -> 255, and scoring over background powers.

Every pipeline step that turns CAMs into a label map (the runner, the sweeps, the efficiency
timings, the notebooks) calls these functions.

Our commentary, from the official code (``eval_cam.py``, ``eval_cam_with_crf.py``):

* The background channel is ``(1 - max_c cam)^k``: k = 1 before the CRF, and k in {1, 2}
  chosen on ground truth when scoring refined CAMs (:func:`background_exponent_confusions`).
* Ties go to the lower channel (background first), as ``np.argmax``.

Paper: CLIP-ES Sections 3.3-3.4, Eq. 9; supplementary D.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.metrics import confusion_matrix


def min_max_normalize(cams: Tensor, *, eps: float = 1e-7) -> Tensor:
    """Per-class ``(x - min) / (max - min + eps)``, as ``pytorch_grad_cam.scale_cam_image``.

    The official helper subtracts the minimum first and then divides by ``eps`` plus the
    maximum *of the shifted map*, i.e. by ``max - min + eps``. For a range of about 1 or
    less the maximum maps to just below 1 in float32 (and quantises to 254, not 255, in
    :func:`cam_boxes`); for larger ranges eps vanishes in float32. A constant map gives 0.

    Args:
        cams: Maps to normalise, each over its own spatial extent.
        eps: Added to the range. # pytorch_grad_cam/utils/image.py: 1e-7

    Returns:
        Maps in [0, 1), same dtype.

    Shapes:
        cams: (K, h, w); output: (K, h, w).

    Reference: CLIP-ES ``generate_cams_voc12.py`` (``scale_cam_image`` on the refined CAM).
    """
    if cams.numel() == 0:
        return cams
    flat = cams.flatten(1)
    shifted = flat - flat.amin(dim=1, keepdim=True)  # img = img - np.min(img)
    return (shifted / (shifted.amax(dim=1, keepdim=True) + eps)).view_as(cams)


def upsample_cams(cams: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of CAMs to the original image size (H, W), as cv2.resize does.

    Shapes:
        cams: (K, h, w) -> (K, H, W).
    """
    if cams.shape[0] == 0:
        return cams.new_zeros(0, *size)
    return F.interpolate(cams[None], size=size, mode="bilinear", align_corners=False)[0]


def background_score(
    cams: Tensor,
    *,
    exponent: float = 1.0,  # CLIP-ES eval_cam_with_crf.py: k = 1; eval_cam.py tries {1, 2}
    constant: float | None = None,
) -> Tensor:
    """Background score ``(1 - max_c cam)^k``, or a constant.

    Args:
        cams: Class CAMs in [0, 1] of the classes present in the image.
        exponent: The power k.
        constant: If given, a constant background score instead (``eval_cam.py`` with
            ``--cam_eval_thres < 1``).

    Returns:
        The background score; all ones when K = 0 (a constant if ``constant`` is given).

    Shapes:
        cams: (K, H, W); output: (H, W).

    Reference: CLIP-ES Section 3.4 (background of the pseudo masks); official eval scripts.
    """
    if cams.ndim != 3:
        raise ValueError(f"cams must be (K, H, W), got {tuple(cams.shape)}")
    if constant is not None:
        return torch.full(cams.shape[1:], constant, dtype=cams.dtype, device=cams.device)
    if cams.shape[0] == 0:
        return torch.ones(cams.shape[1:], dtype=cams.dtype, device=cams.device)
    return (1 - cams.amax(dim=0)) ** exponent


def cams_to_label(
    cams: Tensor,
    keys: Sequence[int] | Tensor,
    *,
    exponent: float = 1.0,  # CLIP-ES: k = 1 (CRF script); {1, 2} tried in eval_cam.py
    constant: float | None = None,
) -> Tensor:
    """Label map: argmax over [background, cams], mapped to dataset ids (0 = background).

    Ties go to the lower channel (background first), as ``np.argmax`` in the official code.

    Args:
        cams: Class CAMs in [0, 1], one per class present.
        keys: 0-based class ids of the K CAMs; label ``keys[i] + 1`` is written for CAM i.
        exponent: Background power k (:func:`background_score`).
        constant: Constant background score instead of ``(1 - max)^k``.

    Returns:
        int64 label map with values in {0} ∪ {keys + 1}.

    Shapes:
        cams: (K, H, W); keys: (K,); output: (H, W).

    Reference: CLIP-ES ``eval_cam.py`` / ``eval_cam_with_crf.py`` label mapping.
    """
    keys_t = torch.as_tensor(keys, dtype=torch.long, device=cams.device).reshape(-1)
    if keys_t.numel() != cams.shape[0]:
        raise ValueError(f"{keys_t.numel()} keys for {cams.shape[0]} CAMs")
    bg = background_score(cams, exponent=exponent, constant=constant)
    scores = torch.cat([bg[None], cams], dim=0)
    lut = torch.cat([keys_t.new_zeros(1), keys_t + 1])
    return lut[scores.argmax(dim=0)]


def posterior_to_label(posterior: Tensor, keys: Sequence[int] | Tensor) -> Tensor:
    """Label map from a (1 + K)-channel posterior (channel 0 = background), e.g. the CRF's.

    Args:
        posterior: Background then class scores.
        keys: 0-based class ids of channels 1..K.

    Returns:
        int64 label map, 0 = background.

    Shapes:
        posterior: (1 + K, H, W); output: (H, W).

    Reference: CLIP-ES ``eval_cam_with_crf.py`` (``keys[argmax Q]``).
    """
    keys_t = torch.as_tensor(keys, dtype=torch.long, device=posterior.device).reshape(-1)
    if keys_t.numel() + 1 != posterior.shape[0]:
        raise ValueError(f"{keys_t.numel()} keys for {posterior.shape[0]} channels")
    lut = torch.cat([keys_t.new_zeros(1), keys_t + 1])
    return lut[posterior.argmax(dim=0)]


def apply_confidence(
    label: Tensor,
    conf: Tensor,
    *,
    threshold: float = 0.95,  # CLIP-ES supp. D: mu = 0.95 (eval_cam_with_crf.py)
    ignore_index: int = 255,
) -> Tensor:
    """Set unconfident pixels to ``ignore_index`` (the official way of applying Eq. 9).

    Args:
        label: Label map.
        conf: Confidence map; pixels with ``conf < threshold`` become ignore.
        threshold: mu.
        ignore_index: The ignore value written.

    Returns:
        A new label map.

    Shapes:
        label: (H, W); conf: (H, W); output: (H, W).

    Reference: CLIP-ES Eq. 9; supplementary D.
    """
    if label.shape != conf.shape:
        raise ValueError(f"label {tuple(label.shape)} and conf {tuple(conf.shape)} differ")
    return label.masked_fill(conf < threshold, ignore_index)


def background_exponent_confusions(
    samples: Iterable[tuple[Tensor, Sequence[int] | Tensor, np.ndarray | Tensor]],
    n_classes: int,
    *,
    exponents: Sequence[float] = (1, 2),  # eval_cam.py: attn_* CAMs; 1..10 for the others
) -> dict[float, np.ndarray]:
    """Split-level confusion matrices of the CAM labels for each background power k.

    Each image's label is :func:`clipwsss.cams.labels.cams_to_label` with ``(1 - max cam)^k``.
    One pass over ``samples`` serves every k.

    Args:
        samples: ``(cams, keys, gt)`` per image: CAMs in [0, 1] at GT resolution, their
            0-based class ids, and the GT label map (255 = ignore).
        n_classes: Number of classes incl. background.
        exponents: Candidate powers k.

    Returns:
        ``{k: confusion matrix}``.

    Shapes:
        cams: (K, H, W); keys: (K,); gt: (H, W); each matrix: (n_classes, n_classes).

    Reference: official ``eval_cam.py`` (``cam_eval_thres`` search).
    """
    hists = {k: np.zeros((n_classes, n_classes), dtype=np.int64) for k in exponents}
    for cams, keys, gt in samples:
        add_exponent_confusions(hists, torch.as_tensor(cams), keys, gt)
    return hists


def exponent_labels(
    cams: Tensor, keys: Sequence[int] | Tensor, exponents: Sequence[float]
) -> dict[float, Tensor]:
    """:func:`cams_to_label` for several background powers k from one arg-max over the classes.

    Equal to ``cams_to_label(cams, keys, exponent=k)`` for each k (background wins ties,
    then the lower class channel), computed in ``cams``' dtype (float16 for CAM files, as
    the official script).

    Shapes:
        cams: (K, H, W); keys: (K,); each label: (H, W) int64.

    Reference: official ``eval_cam.py`` (``cam_eval_thres`` search).
    """
    keys_t = torch.as_tensor(keys, dtype=torch.long).reshape(-1)
    if keys_t.numel() != cams.shape[0]:
        raise ValueError(f"{keys_t.numel()} keys for {cams.shape[0]} CAMs")
    if cams.shape[0] == 0:
        return {k: torch.zeros(cams.shape[1:], dtype=torch.long) for k in exponents}
    top, idx = cams.max(dim=0)
    fg = keys_t.to(idx.device)[idx] + 1
    return {k: torch.where(background_score(cams, exponent=k) >= top, 0, fg) for k in exponents}


def add_exponent_confusions(
    hists: dict[float, np.ndarray],
    cams: Tensor,
    keys: Sequence[int] | Tensor,
    gt: np.ndarray | Tensor,
) -> None:
    """Add one image's CAM labels to the confusion matrix of each background power k.

    The one scoring step of CAMs over background powers: the evaluation pipeline, the
    sweeps and :func:`background_exponent_confusions` call it.

    Args:
        hists: ``{k: (n, n) int64 matrix}``, updated in place.
        cams: CAMs in [0, 1] at GT resolution.
        keys: Their 0-based class ids.
        gt: Ground-truth label map, 255 = ignore.

    Shapes:
        cams: (K, H, W); keys: (K,); gt: (H, W).

    Reference: official ``eval_cam.py``.
    """
    for k, label in exponent_labels(cams, keys, tuple(hists)).items():
        hists[k] += confusion_matrix(label, gt, len(hists[k]))
