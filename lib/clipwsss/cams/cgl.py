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

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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


def confidence(
    posterior: Tensor,
    cams: Tensor,
    *,
    kind: str = "official",  # eval_cam_with_crf.py: max CRF posterior; "paper": Eq. 8
) -> Tensor:
    """The confidence map of a pseudo mask: the official one or the paper's Eq. 8.

    Args:
        posterior: CRF posterior over [background, classes] (for ``kind="official"``).
        cams: The CAMs that went into the CRF, in [0, 1] (for ``kind="paper"``).
        kind: "official" (:func:`confidence_official`) or "paper" (:func:`confidence_paper`).

    Returns:
        Confidence in [0, 1].

    Shapes:
        posterior: (1 + K, H, W); cams: (K, H, W); output: (H, W).

    Reference: CLIP-ES Eq. 8; supplementary D. [paper≠code] see the module docstring.
    """
    if kind == "official":
        return confidence_official(posterior)
    if kind == "paper":
        return confidence_paper(cams.float())
    raise ValueError(f"confidence must be 'official' or 'paper', got {kind!r}")


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
