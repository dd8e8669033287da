"""mIoU of CAM files or pseudo masks over a split, with the official evaluation semantics.

Paper: CLIP-ES Tables 1-2 (``eval_cam.py``: background power k chosen on the GT).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clipwsss.cams.labels import add_exponent_confusions
from clipwsss.data import SegmentationDataset, finished_files, load_label_png
from clipwsss.io.camfiles import load_cams, read_run_record
from clipwsss.metrics import SegScores, best_background_exponent, mask_confusion, seg_scores
from clipwsss.pipelines.common import check_class_list, progress_bar, select_ids
from clipwsss.validate import check_bg_exponent


@dataclass(frozen=True)
class ExponentChoice:
    """The background power k picked **on the ground truth** (leaks labels).

    Attributes:
        exponents: the candidates tried, in order.
        best: the k with the highest mIoU (ties: the earlier k).
        scores: the scores at that k.
    """

    exponents: tuple[float, ...]
    best: float
    scores: SegScores


@dataclass(frozen=True)
class EvalResult:
    """Split-level scores of a folder of CAM files or pseudo masks.

    Attributes:
        kind: "cams" (``<id>.npy``) or "masks" (``<id>.png``).
        class_names: "background" then the dataset's classes.
        n_images: images scored.
        n_missing: ids without a prediction file that were left out (``only_existing``).
        scores: scores with the fixed background power (cams) or of the masks.
        cam_key: which CAMs were scored (cams only).
        bg_exponent: the fixed background power k (cams only).
        ignored_fraction: masks only: share of GT-labelled pixels predicted 255 (ignored).
        chosen_on_gt: the best k over the candidates, chosen on GT (cams, if asked).
        image_hists: with ``per_image``: (N, n, n) int64, the confusion matrix of each
            scored image (fixed k for cams), in scoring order; they sum to ``scores``' matrix.
            For :func:`clipwsss.metrics.bootstrap_mious`.
    """

    kind: str
    class_names: tuple[str, ...]
    n_images: int
    n_missing: int
    scores: SegScores
    cam_key: str | None = None
    bg_exponent: float | None = None
    ignored_fraction: float | None = None
    chosen_on_gt: ExponentChoice | None = None
    image_hists: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; scores are fractions in [0, 1] (not percent)."""

        def block(s: SegScores) -> dict[str, Any]:
            rows = zip(self.class_names, s.iou, s.valid, strict=True)
            per_class = {name: _num(v) for name, v, ok in rows if ok}
            return {
                "miou": _num(s.miou),
                "pixel_acc": _num(s.pixel_acc),
                "mean_acc": _num(s.mean_acc),
                "iou": per_class,
            }

        out: dict[str, Any] = {
            "kind": self.kind,
            "n_images": self.n_images,
            "n_missing": self.n_missing,
            "cam_key": self.cam_key,
            "bg_exponent": self.bg_exponent,
            "ignored_fraction": self.ignored_fraction,
            **block(self.scores),
        }
        if self.chosen_on_gt is not None:
            out["chosen_on_gt"] = {
                "note": "background power chosen on ground truth: leaks labels "
                "(as the official eval_cam.py)",
                "exponents": list(self.chosen_on_gt.exponents),
                "best": self.chosen_on_gt.best,
                **block(self.chosen_on_gt.scores),
            }
        return out


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def detect_kind(pred_dir: Path) -> str:
    """The kind of predictions in a folder: "cams" (``*.npy``) or "masks" (``*.png``).

    Raises:
        ValueError: The folder holds both kinds, or neither.
    """
    has_npy = bool(finished_files(pred_dir, ".npy"))
    has_png = bool(finished_files(pred_dir, ".png"))
    if has_npy == has_png:
        what = "both .npy and .png files" if has_npy else "no .npy or .png file"
        raise ValueError(f"{pred_dir} holds {what}; say which with kind='cams' or 'masks'")
    return "cams" if has_npy else "masks"


def default_exponents(cam_key: str) -> tuple[float, ...]:
    """The official search range: {1, 2} for ``attn_*`` CAMs, 1..10 for the others."""
    return (1, 2) if cam_key.startswith("attn") else tuple(range(1, 11))


def evaluate(
    dataset: SegmentationDataset,
    pred_dir: str | Path,
    *,
    kind: str = "auto",
    cam_key: str = "attn_highres",
    bg_exponent: float = 1.0,
    choose_exponent_on_gt: bool = False,
    exponents: Sequence[float] | None = None,
    only_existing: bool = False,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    per_image: bool = False,
    progress: bool = True,
) -> EvalResult:
    """mIoU of CAM files or pseudo masks against the GT, with the official semantics.

    One confusion matrix is summed over the split; the mean runs over classes with GT
    pixels (``metrics.py``). CAM files: label = argmax over ``[(1 - max cam)^k, cams]``
    mapped through ``keys + 1`` (``eval_cam.py``), k = ``bg_exponent``; with
    ``choose_exponent_on_gt`` also the best k over ``exponents`` (default: {1, 2} for
    ``attn_highres``, 1..10 for ``highres``, as the official search), which is chosen on
    the ground truth and so is an oracle number. Masks: PNG values are labels; pixels
    predicted 255 (below the confidence threshold) are left out of the confusion matrix
    and their share is reported as ``ignored_fraction``. To score the CRF labels without
    the 255s (the official ``eval_cam_with_crf.py --eval_only``, Table 2's 75.0), make the
    masks with ``threshold=0``.

    An image with no image-level label and no prediction file is scored as all background
    (what a CAM method predicts without a class); any other missing prediction raises,
    unless ``only_existing`` (then it is left out and counted in ``n_missing``).

    Args:
        dataset: Images with GT label PNGs.
        pred_dir: Folder of ``<id>.npy`` CAM files or ``<id>.png`` masks.
        kind: "cams", "masks" or "auto" (by the files present).
        cam_key: "attn_highres" (refined) or "highres" (initial CAMs).
        bg_exponent: The fixed background power k, set by the user.
        choose_exponent_on_gt: Also report the best k chosen on the GT.
        exponents: Candidates for that choice.
        only_existing: Score only ids with a prediction file.
        limit, shard: Score a subset (see :func:`select_ids`).
        per_image: Also keep each image's confusion matrix (``EvalResult.image_hists``),
            e.g. for bootstrap intervals.
        progress: Show a progress bar (only on a terminal).

    Returns:
        The scores.

    Reference: CLIP-ES Tables 1-2; official ``eval_cam.py`` and ``eval_cam_with_crf.py``.
    """
    check_bg_exponent(bg_exponent)  # refuse a k that would score silently wrong labels
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {pred_dir}")
    # another class list or order: the folder's class ids would mean other classes
    check_class_list(read_run_record(pred_dir), dataset, pred_dir)
    kind = detect_kind(pred_dir) if kind == "auto" else kind
    if kind not in ("cams", "masks"):
        raise ValueError(f"kind must be 'cams', 'masks' or 'auto', got {kind!r}")
    if kind == "masks" and choose_exponent_on_gt:
        warnings.warn(
            "masks have no background power to choose; ignoring choose_exponent_on_gt",
            RuntimeWarning,
            stacklevel=2,
        )
        choose_exponent_on_gt = False
    n = dataset.n_classes
    ids = select_ids(dataset.ids, shard=shard, limit=limit)
    candidates = tuple(exponents or default_exponents(cam_key)) if choose_exponent_on_gt else ()
    powers = tuple(dict.fromkeys((bg_exponent, *candidates)))
    hists = {k: np.zeros((n, n), dtype=np.int64) for k in powers}
    n_images, missing, ignored, counted = 0, [], 0, 0
    image_hists: list[np.ndarray] = []
    for image_id in progress_bar(ids, total=len(ids), desc="eval", enabled=progress):
        sample = dataset.sample(image_id)
        if sample.gt_path is None:
            raise FileNotFoundError(f"no ground-truth PNG for image {image_id}")
        gt = load_label_png(sample.gt_path)
        path = pred_dir / f"{image_id}.{'npy' if kind == 'cams' else 'png'}"
        if not path.is_file() and (sample.labels or only_existing):
            if not only_existing:
                raise FileNotFoundError(
                    f"no prediction for image {image_id}: {path} (pass only_existing / "
                    "--only-existing to score the images that have one)"
                )
            missing.append(image_id)
            continue
        before = hists[bg_exponent].copy() if per_image else None
        try:
            if kind == "masks":
                n_ignored, n_counted = _add_mask(hists[bg_exponent], path, gt)
                ignored, counted = ignored + n_ignored, counted + n_counted
            else:
                _add_cams(hists, path, gt, cam_key)
        except ValueError as err:
            raise ValueError(f"image {image_id}: {err}") from err
        if before is not None:
            image_hists.append(hists[bg_exponent] - before)
        n_images += 1
    if n_images == 0 and ids:  # e.g. --only-existing on an empty folder: no mIoU nan
        raise FileNotFoundError(
            f"no prediction in {pred_dir} for any of the {len(ids)} image(s) to score"
        )
    stacked = None
    if per_image:
        stacked = np.stack(image_hists) if image_hists else np.zeros((0, n, n), dtype=np.int64)
    names = ("background", *dataset.class_names)
    if kind == "masks":
        frac = ignored / counted if counted else float("nan")
        return EvalResult(
            "masks",
            names,
            n_images,
            len(missing),
            seg_scores(hists[bg_exponent]),
            ignored_fraction=frac,
            image_hists=stacked,
        )
    choice = None
    if candidates:
        best, _ = best_background_exponent({k: hists[k] for k in candidates})
        choice = ExponentChoice(candidates, best, seg_scores(hists[best]))
    return EvalResult(
        "cams",
        names,
        n_images,
        len(missing),
        seg_scores(hists[bg_exponent]),
        cam_key=cam_key,
        bg_exponent=bg_exponent,
        chosen_on_gt=choice,
        image_hists=stacked,
    )


def _add_mask(hist: np.ndarray, path: Path, gt: np.ndarray) -> tuple[int, int]:
    """Add one mask to ``hist``; pixels predicted 255 are not scored.

    Returns:
        (GT-labelled pixels predicted 255, GT-labelled pixels). A missing file (an
        unlabelled image) is all background.
    """
    pred = load_label_png(path) if path.is_file() else np.zeros_like(gt)
    _check_size(pred.shape, gt.shape, path)
    image_hist, ignored, counted = mask_confusion(pred, gt, hist.shape[0])
    hist += image_hist
    return ignored, counted


def _add_cams(hists: dict[float, np.ndarray], path: Path, gt: np.ndarray, cam_key: str) -> None:
    """Add one CAM file's labels to the matrix of each background power k (``eval_cam.py``).

    A missing file (an unlabelled image) has K = 0 CAMs: all background.
    """
    if path.is_file():
        record = load_cams(path)
        keys, cams = record.keys, record.get(cam_key, path)
    else:
        keys, cams = np.zeros(0, dtype=np.int64), np.zeros((0, *gt.shape), dtype=np.float16)
    _check_size(cams.shape[1:], gt.shape, path)
    # float16 as stored, as the official script computes
    add_exponent_confusions(hists, torch.from_numpy(cams), keys, gt)


def _check_size(pred: tuple[int, ...], gt: tuple[int, ...], path: Path) -> None:
    if tuple(pred) != tuple(gt):
        raise ValueError(f"prediction {path} is {tuple(pred)} but its GT is {tuple(gt)}")
