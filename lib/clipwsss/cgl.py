"""Background score, pseudo masks and the confidence-guided loss (CGL): CLIP-ES Section 3.4.

Paper, Eq. 8:  Conf(i, j) = max(1 - max_c X(i, j, c), max_c X(i, j, c))
Paper, Eq. 9:  L^(i, j) = L(i, j) if Conf(i, j) >= mu, else 0

Our commentary, from the official code (``eval_cam.py``, ``eval_cam_with_crf.py``):

* The background channel is ``(1 - max_c cam)^k``: k = 1 before the CRF, and k in {1, 2}
  chosen on ground truth when scoring refined CAMs (see ``metrics.py``).
* [paper≠code] CGL is not a loss in the official repository. The confidence is the maximum
  dense-CRF posterior, not Eq. 8 on the CAMs, and pixels with ``conf < 0.95`` are written as
  255 (ignore) into the pseudo-mask PNGs; the segmentation network then trains with a plain
  cross-entropy that ignores 255. :func:`confidence_guided_loss` with ``conf=None`` is that.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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


def confidence_official(posterior: Tensor) -> Tensor:
    """Confidence as in the official code: the maximum dense-CRF posterior per pixel.

    [paper≠code] Eq. 8 defines the confidence on the CAMs (:func:`confidence_paper`); the
    official ``eval_cam_with_crf.py`` uses ``max_c Q`` of the CRF posterior over
    [background, classes].

    Args:
        posterior: CRF posterior Q, background channel first.

    Returns:
        Confidence in [0, 1].

    Shapes:
        posterior: (1 + K, H, W); output: (H, W).

    Reference: CLIP-ES Section 3.4; supplementary D.
    """
    return posterior.amax(dim=0)


def confidence_paper(cams: Tensor) -> Tensor:
    """Confidence of Eq. 8 on the CAMs: ``max(1 - max_c X, max_c X)``.

    [paper≠code] Not what the official code uses (:func:`confidence_official`).

    Args:
        cams: Class CAMs X in [0, 1].

    Returns:
        Confidence in [0.5, 1]; all ones when K = 0.

    Shapes:
        cams: (K, H, W); output: (H, W).

    Reference: CLIP-ES Eq. 8.
    """
    if cams.shape[0] == 0:
        return torch.ones(cams.shape[1:], dtype=cams.dtype, device=cams.device)
    x = cams.amax(dim=0)
    return torch.maximum(1 - x, x)  # Eq. 8


def pseudo_mask(
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


def confidence_guided_loss(
    logits: Tensor,
    target: Tensor,
    conf: Tensor | None = None,
    *,
    threshold: float = 0.95,  # CLIP-ES supp. D: mu = 0.95
    ignore_index: int = 255,
) -> Tensor:
    """Cross-entropy that ignores pixels with ``conf < threshold`` (Eq. 9).

    Normalisation: the loss is the *mean over the pixels that are kept* (confident and not
    ``ignore_index``), the same as training on the 255-masked pseudo masks; Eq. 9 leaves
    the normalisation open. So with ``threshold = 0`` (or ``conf=None`` on an unmasked
    target) this equals ``F.cross_entropy(logits, target, ignore_index=ignore_index)``. When
    no pixel is kept it returns 0 (plain cross-entropy returns nan). ``conf=None`` means
    the target already carries the mask (official: the PNGs hold the 255s).

    Args:
        logits: Segmentation logits, already at the target's resolution.
        target: Pseudo labels with ``ignore_index`` for ignored pixels.
        conf: Confidence per pixel (:func:`confidence_official` or
            :func:`confidence_paper`), or None.
        threshold: mu.
        ignore_index: Label value that never contributes.

    Returns:
        Scalar loss.

    Shapes:
        logits: (B, C, H, W); target: (B, H, W) int64; conf: (B, H, W); output: ().

    Reference: CLIP-ES Section 3.4, Eq. 9; supplementary D.
    """
    if conf is not None:
        if conf.shape != target.shape:
            raise ValueError(f"conf {tuple(conf.shape)} != target {tuple(target.shape)}")
        target = target.masked_fill(conf < threshold, ignore_index)  # Eq. 9: L^ = 0
    loss_sum = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="sum")
    n_kept = (target != ignore_index).sum()
    return loss_sum / n_kept.clamp_min(1)


class ConfidenceGuidedLoss(nn.Module):
    """``nn.Module`` wrapper of :func:`confidence_guided_loss` (CLIP-ES Eq. 9).

    Args:
        threshold: mu. # CLIP-ES supp. D: 0.95
        ignore_index: Label value that never contributes.
    """

    def __init__(self, *, threshold: float = 0.95, ignore_index: int = 255) -> None:
        super().__init__()
        self.threshold = threshold
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Tensor, conf: Tensor | None = None) -> Tensor:
        """See :func:`confidence_guided_loss`.

        Shapes:
            logits: (B, C, H, W); target: (B, H, W); conf: (B, H, W); output: ().
        """
        return confidence_guided_loss(
            logits, target, conf, threshold=self.threshold, ignore_index=self.ignore_index
        )

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, ignore_index={self.ignore_index}"
