"""Segmentation scores with the official CLIP-ES evaluation semantics (Tables 1-2).

Our commentary on ``eval_cam.py`` / ``eval_cam_with_crf.py``:

* One confusion matrix is summed over the whole split (not a mean of per-image scores).
  Rows are ground truth, columns predictions; GT >= n_classes (255) is ignored.
* IoU_c = TP / (TP + FP + FN); the mean runs only over classes with GT pixels
  (``hist.sum(1) > 0``), so a class that is only predicted does not lower the mean.
* For refined CAMs the background power k of ``(1 - max cam)^k`` is chosen *on the
  ground truth* among {1, 2} (``attn_*`` CAMs; 1..10 for the others):
  :func:`best_background_exponent`. Such a number is an oracle, not a held-out score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor


def _to_numpy(x: np.ndarray | Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def confusion_matrix(
    pred: np.ndarray | Tensor, gt: np.ndarray | Tensor, n_classes: int
) -> np.ndarray:
    """Confusion matrix of one label map; rows are GT classes, columns predictions.

    GT pixels outside ``[0, n_classes)`` (255 = ignore) are skipped, as in the official
    ``_fast_hist``. A prediction outside that range on a counted pixel raises (the official
    code would silently corrupt the histogram or fail to reshape it).

    Args:
        pred: Predicted label map.
        gt: Ground-truth label map, 255 = ignore.
        n_classes: Number of classes incl. background (21 VOC, 81 COCO).

    Returns:
        int64 confusion matrix.

    Shapes:
        pred: (H, W); gt: (H, W); output: (n_classes, n_classes).

    Reference: CLIP-ES Section 4.1 (mIoU); official ``eval_cam.py``.
    """
    p = _to_numpy(pred).astype(np.int64).ravel()
    g = _to_numpy(gt).astype(np.int64).ravel()
    if p.shape != g.shape:
        raise ValueError(f"pred and gt sizes differ: {p.size} vs {g.size}")
    keep = (g >= 0) & (g < n_classes)
    p, g = p[keep], g[keep]
    if p.size and (p.min() < 0 or p.max() >= n_classes):
        raise ValueError(f"prediction values must be in [0, {n_classes}) where GT is valid")
    hist = np.bincount(n_classes * g + p, minlength=n_classes**2)
    return hist.reshape(n_classes, n_classes).astype(np.int64)


def mask_confusion(
    mask: np.ndarray | Tensor, gt: np.ndarray | Tensor, n_classes: int
) -> tuple[np.ndarray, int, int]:
    """Confusion matrix of one pseudo mask whose 255 pixels are not scored.

    Args:
        mask: Class ids, 255 = unconfident (left out of the matrix).
        gt: Ground truth, 255 = ignore.
        n_classes: Number of classes incl. background.

    Returns:
        (int64 confusion matrix, GT-labelled pixels the mask sets to 255, GT-labelled pixels).

    Shapes:
        mask: (H, W); gt: (H, W); matrix: (n_classes, n_classes).

    Reference: CLIP-ES Eq. 9 (the ignored pixels), official ``eval_cam_with_crf.py``.
    """
    mask, gt = _to_numpy(mask), _to_numpy(gt)
    off = mask == 255
    valid = (gt >= 0) & (gt < n_classes)
    hist = confusion_matrix(np.where(off, 0, mask), np.where(off, 255, gt), n_classes)
    return hist, int((valid & off).sum()), int(valid.sum())


def iou_from_confusion(hist: np.ndarray) -> np.ndarray:
    """Per-class IoU = TP / (TP + FP + FN).

    Args:
        hist: Confusion matrix (rows GT, columns prediction).

    Returns:
        float64 IoU per class; nan for a class with neither GT pixels nor predictions,
        0 for a class that is predicted but absent from the GT.

    Shapes:
        hist: (n, n); output: (n,).

    Reference: official ``eval_cam.py:scores``.
    """
    tp = np.diag(hist).astype(np.float64)
    denom = hist.sum(axis=1) + hist.sum(axis=0) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return tp / denom


def mean_iou(hist: np.ndarray) -> float:
    """Mean IoU over the classes that have GT pixels (``hist.sum(1) > 0``).

    Args:
        hist: Confusion matrix (rows GT, columns prediction).

    Returns:
        mIoU in [0, 1]; nan if no class has GT pixels.

    Shapes:
        hist: (n, n).

    Reference: official ``eval_cam.py:scores`` (``valid = hist.sum(axis=1) > 0``).
    """
    valid = hist.sum(axis=1) > 0
    if not valid.any():
        return float("nan")
    return float(np.nanmean(iou_from_confusion(hist)[valid]))


@dataclass(frozen=True)
class SegScores:
    """Scores of a confusion matrix (all fractions in [0, 1], not percent)."""

    miou: float  # mean IoU over the valid classes
    iou: np.ndarray  # (n,) per-class IoU, nan where undefined
    pixel_acc: float  # correctly labelled / counted pixels
    mean_acc: float  # mean over valid classes of TP / GT pixels
    valid: np.ndarray  # (n,) bool, class has GT pixels


def seg_scores(hist: np.ndarray) -> SegScores:
    """mIoU, per-class IoU and accuracies of a confusion matrix.

    Args:
        hist: Confusion matrix (rows GT, columns prediction).

    Returns:
        A :class:`SegScores`.

    Shapes:
        hist: (n, n).

    Reference: official ``eval_cam.py:scores``.
    """
    valid = hist.sum(axis=1) > 0
    total = hist.sum()
    tp = np.diag(hist).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / hist.sum(axis=1)
    return SegScores(
        miou=mean_iou(hist),
        iou=iou_from_confusion(hist),
        pixel_acc=float(tp.sum() / total) if total else float("nan"),
        mean_acc=float(np.mean(recall[valid])) if valid.any() else float("nan"),
        valid=valid,
    )


@dataclass
class ConfusionMatrix:
    """Accumulates the confusion matrix of a split, one image at a time.

    Example:
        >>> cm = ConfusionMatrix(21)
        >>> for pred, gt in pairs:  # doctest: +SKIP
        ...     cm.update(pred, gt)
        >>> cm.scores().miou  # doctest: +SKIP
    """

    n_classes: int  # 21 for VOC, 81 for COCO (background included)
    hist: np.ndarray = field(init=False)  # (n, n) int64 running sum

    def __post_init__(self) -> None:
        self.hist = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)

    def update(self, pred: np.ndarray | Tensor, gt: np.ndarray | Tensor) -> None:
        """Add one image (see :func:`confusion_matrix`). Shapes: pred, gt: (H, W)."""
        self.hist += confusion_matrix(pred, gt, self.n_classes)

    def scores(self) -> SegScores:
        """Scores of everything added so far (:func:`seg_scores`)."""
        return seg_scores(self.hist)


def best_background_exponent(hists: Mapping[float, np.ndarray]) -> tuple[float, float]:
    """The background power k with the highest mIoU: **chosen on the ground truth**.

    Reproduces the official search: candidates in the given order, a later k wins only if
    strictly better (ties go to the earlier, i.e. smaller, k). The resulting mIoU is an
    oracle number, as in the paper's Tables 1-2; report it as such.

    Args:
        hists: ``{k: split confusion matrix}``, e.g. from
            :func:`background_exponent_confusions`.

    Returns:
        ``(best k, its mIoU)``.

    Shapes:
        each matrix: (n, n).

    Reference: official ``eval_cam.py`` (``thres_list = [1, 2]`` for ``attn_*`` CAMs).
    """
    if not hists:
        raise ValueError("no candidate exponents")
    best_k, best_miou = None, -np.inf
    for k, hist in hists.items():
        miou = mean_iou(hist)
        if miou > best_miou:  # nan never wins
            best_k, best_miou = k, miou
    if best_k is None:  # every candidate scored nan
        best_k = next(iter(hists))
        best_miou = float("nan")
    return best_k, float(best_miou)


def bootstrap_mious(
    image_hists: Sequence[np.ndarray], *, n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """Split mIoU of several runs on bootstrap resamples of the same images.

    Each resample draws N images with replacement and sums their confusion matrices, as
    the split-level mIoU does (:func:`mean_iou`). Every run is scored on the *same*
    resamples, so a difference of two columns is a paired bootstrap of the difference.
    This measures the noise of the image sample, not of training (another seed of the
    model is another question).

    Args:
        image_hists: One (N, n, n) array per run: the confusion matrix of each image, the
            images in the same order in every run (``evaluate(per_image=True)``).
        n_boot: Number of resamples.
        seed: Seed of the resampling.

    Returns:
        (n_boot, n_runs) mIoU in [0, 1].

    Example:
        >>> m = bootstrap_mious([a.image_hists, b.image_hists])  # doctest: +SKIP
        >>> np.percentile(m[:, 1] - m[:, 0], [2.5, 97.5])  # doctest: +SKIP
    """
    if not image_hists:
        raise ValueError("no runs to resample")
    shapes = {np.shape(h) for h in image_hists}
    if len(shapes) != 1:
        raise ValueError(f"runs differ in images or classes: shapes {sorted(shapes)}")
    stacked = np.stack([np.asarray(h, dtype=np.int64) for h in image_hists])  # (R, N, n, n)
    n_images = stacked.shape[1]
    if n_images == 0:
        raise ValueError("no images to resample")
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(image_hists)))
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n_images, n_images), minlength=n_images)
        split = np.tensordot(counts, stacked, axes=([0], [1]))  # (R, n, n)
        out[b] = [mean_iou(h) for h in split]
    return out


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Central ``level`` interval of bootstrap values (percentile method). Shapes: (B,)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
