"""Per-image diagnostics behind the method notebooks' figures, counted so that each can carry
an image-bootstrap interval (:func:`clipwsss.experiments.intervals.ratio_table`).

* :func:`leak_counts` / :func:`leak_records`: how much of a class CAM lies on the ground
  truth of the image's *other* classes (notebook 06: vanilla MHSA vs CAA, Fig. 5's point).
* :func:`confidence_calibration`: how well the CRF confidence of the pseudo masks predicts a
  correct label, against the toy world's exact ground truth (notebook 08, Eq. 9).
* :func:`crf_changes`: which seed labels the dense CRF changes, and whether each change
  fixes or breaks the pixel (notebook 08, Table 1's dCRF step).

Experiment layer: loops over a data set, tensors in, counts and tables out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from clipwsss.cams.caa import refine_with_affinity
from clipwsss.cams.labels import cams_to_label
from clipwsss.data import SegmentationDataset
from clipwsss.experiments.sweeps import iter_records, refined_cams
from clipwsss.methods.clip_es import ClipES
from clipwsss.metrics import confusion_matrix
from clipwsss.pipelines.masks import MaskOptions, crf_pseudo_mask

CALIBRATION_BINS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)  # the last bin is closed


def leak_counts(cams: Tensor, keys: Tensor, gt: np.ndarray) -> tuple[float, float]:
    """CAM mass on the other classes' ground truth, and CAM mass on all labelled pixels.

    For each class ``k`` of the image, its CAM summed over the pixels whose ground truth is
    another class of the same image (the "second object"), and over every pixel with a
    label (``gt != 255``); both summed over the classes. Their ratio is the share of CAM
    mass that leaked onto another object.

    Args:
        cams: CAMs at the ground-truth size, values in [0, 1].
        keys: 0-based class ids of the CAMs (ground-truth value ``k + 1``).
        gt: label map, 0 = background, 255 = ignore.

    Returns:
        (mass on the other classes' pixels, mass on all labelled pixels).

    Shapes:
        cams: (K, H, W); keys: (K,); gt: (H, W).
    """
    if cams.shape[1:] != gt.shape:
        raise ValueError(f"cams {tuple(cams.shape)} and gt {gt.shape} differ in size")
    g = torch.as_tensor(np.asarray(gt, np.int64))
    labelled = g != 255
    classes = [int(k) + 1 for k in keys]
    on_other, total = 0.0, 0.0
    for i, cam in enumerate(cams.float()):
        others = torch.zeros_like(labelled)
        for j, c in enumerate(classes):
            if j != i:
                others |= g == c
        on_other += float(cam[others].sum())
        total += float(cam[labelled].sum())
    return on_other, total


def label_leak_counts(label: Tensor, keys: Tensor, gt: np.ndarray) -> tuple[int, int]:
    """Object pixels labelled as *another* class of the same image, and all object pixels.

    The label-level leak that mIoU sees: over the image's classes ``j``, the pixels whose
    ground truth is ``j`` and whose predicted label is another image class ``i != j``.

    Shapes:
        label: (H, W) int, 0 = background, ``k + 1`` = class k; keys: (K,); gt: (H, W).
    """
    if tuple(label.shape) != gt.shape:
        raise ValueError(f"label {tuple(label.shape)} and gt {gt.shape} differ in size")
    g = torch.as_tensor(np.asarray(gt, np.int64))
    classes = [int(k) + 1 for k in keys]
    taken, total = 0, 0
    for c in classes:
        obj = g == c
        other = torch.zeros_like(obj)
        for d in classes:
            if d != c:
                other |= label == d
        taken += int((obj & other).sum())
        total += int(obj.sum())
    return taken, total


@dataclass(frozen=True)
class LeakRecords:
    """Per-image leak counts of several refinements over the multi-class images.

    Attributes:
        image_ids: the images with two or more classes, in order.
        labels: refinement name -> :func:`label_leak_counts` per image, (taken (N,),
            object pixels (N,)); labels from ``(1 - max)^1`` as the scoring.
        mass: refinement name -> :func:`leak_counts` per image, (CAM mass on the other
            objects (N,), CAM mass on labelled pixels (N,)).
    """

    image_ids: tuple[str, ...]
    labels: dict[str, tuple[np.ndarray, np.ndarray]]
    mass: dict[str, tuple[np.ndarray, np.ndarray]]

    def shares(self, name: str) -> np.ndarray:
        """Per-image label-level leak share (%) of one refinement. Shapes: (N,)."""
        num, den = self.labels[name]
        return 100 * num / np.maximum(den, 1e-12)


def leak_records(es: ClipES, dataset: SegmentationDataset, ids: Sequence[str]) -> LeakRecords:
    """Leak counts of the initial, + MHSA and + CAA CAMs on every image with >= 2 classes.

    MHSA and CAA use the same affinity ``A^t`` (``es.config``) of the same forward; CAA
    uses the config's box threshold and box style (Eq. 7, Table 2).
    """
    cfg = es.config
    multi = [i for i in ids if len(dataset.sample(i).labels) >= 2]
    names = ("initial", "+ MHSA", "+ CAA")
    labels: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    mass: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for rec in iter_records(es, dataset, multi):
        maps = {
            "initial": rec.cams,
            "+ MHSA": refine_with_affinity(rec.cams, rec.affinity, mode="mhsa"),
            "+ CAA": refine_with_affinity(
                rec.cams, rec.affinity, threshold=cfg.box_threshold, official=cfg.official_boxes
            ),
        }
        for name, cams in maps.items():
            hr = es.upsample(cams, rec.gt.shape)
            labels[name].append(label_leak_counts(cams_to_label(hr, rec.keys), rec.keys, rec.gt))
            mass[name].append(leak_counts(hr, rec.keys, rec.gt))

    def arrays(d):
        return {n: tuple(np.asarray(v, np.float64).reshape(-1, 2).T) for n, v in d.items()}

    return LeakRecords(tuple(multi), arrays(labels), arrays(mass))


@dataclass(frozen=True)
class Calibration:
    """How the official CRF confidence of the pseudo masks relates to correctness.

    Attributes:
        by_bin: per confidence bin: labelled pixels, their share (%), and the accuracy (%)
            of the CRF label against the ground truth.
        wrong_kept: per image, (wrong pixels with conf >= mu (N,), wrong pixels (N,)).
        ignored_correct: per image, (ignored pixels whose CRF label was right (N,),
            ignored pixels (N,)); labelled pixels only.
        per_class: per ground-truth class: labelled pixels and % of them ignored.
        threshold: mu.
    """

    by_bin: pd.DataFrame
    wrong_kept: tuple[np.ndarray, np.ndarray]
    ignored_correct: tuple[np.ndarray, np.ndarray]
    per_class: pd.DataFrame
    threshold: float


def confidence_calibration(
    es: ClipES,
    dataset: SegmentationDataset,
    ids: Sequence[str],
    *,
    threshold: float = 0.95,  # mu, CLIP-ES supp. D
    bins: Sequence[float] = CALIBRATION_BINS,
) -> Calibration:
    """Refined CAMs -> dCRF -> official confidence, scored pixel by pixel against the GT.

    Runs :func:`~clipwsss.pipelines.masks.crf_pseudo_mask` (the pipeline's function, CAMs in
    float16 as the files store them) on every labelled image. Only pixels with a ground
    truth label (``gt != 255``) are counted. Confidences below ``bins[0]`` fall in the first
    bin (a (1 + K)-way posterior is at least 1 / (1 + K)).
    """
    edges = np.asarray(bins, np.float64)
    n_bins = len(edges) - 1
    pix, ok = np.zeros(n_bins, np.int64), np.zeros(n_bins, np.int64)
    wrong_kept, ign_ok = [], []
    n = dataset.n_classes
    cls_pix, cls_ign = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for rec in iter_records(es, dataset, ids):
        hr = es.upsample(refined_cams(es, rec), rec.gt.shape).half()
        pm = crf_pseudo_mask(rec.image, rec.keys, hr, MaskOptions(threshold=threshold))
        gt = rec.gt.astype(np.int64)
        lab = gt != 255
        conf, label = pm.conf.numpy()[lab], pm.label.numpy()[lab]
        g = gt[lab]
        correct = label == g
        kept = conf >= threshold
        b = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
        pix += np.bincount(b, minlength=n_bins)
        ok += np.bincount(b, weights=correct, minlength=n_bins).astype(np.int64)
        wrong_kept.append(((~correct & kept).sum(), (~correct).sum()))
        ign_ok.append(((correct & ~kept).sum(), (~kept).sum()))
        cls_pix += np.bincount(g, minlength=n)
        cls_ign += np.bincount(g[~kept], minlength=n)
    names = [
        f"[{a:g}, {c:g}{']' if i == n_bins - 1 else ')'}"
        for i, (a, c) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    by_bin = pd.DataFrame(
        {
            "pixels": pix,
            "share %": 100 * pix / max(pix.sum(), 1),
            "accuracy %": np.where(pix > 0, 100 * ok / np.maximum(pix, 1), np.nan),
        },
        index=pd.Index(names, name="confidence bin"),
    )
    per_class = pd.DataFrame(
        {
            "pixels": cls_pix,
            "ignored %": 100 * cls_ign / np.maximum(cls_pix, 1),
        },
        index=pd.Index(["background", *dataset.class_names], name="class"),
    )
    wk = np.asarray(wrong_kept, np.float64).reshape(-1, 2).T
    io = np.asarray(ign_ok, np.float64).reshape(-1, 2).T
    return Calibration(by_bin, (wk[0], wk[1]), (io[0], io[1]), per_class, threshold)


@dataclass(frozen=True)
class CrfChanges:
    """What the dense CRF does to the seed labels, pixel by pixel, against the ground truth.

    The seed label is the refined CAMs' label with background ``(1 - max)^1`` (what the CAM
    files score at k = 1); the CRF label is :func:`~clipwsss.pipelines.masks.crf_pseudo_mask`'s
    (nothing ignored). Only labelled pixels (``gt != 255``) are counted.

    Attributes:
        image_ids: the labelled images, in order.
        image_hists: ``"seed"`` and ``"seed + dCRF"`` -> (N, n, n) per-image confusion
            matrices, for :func:`clipwsss.experiments.intervals.bootstrap_table`.
        changed: per image, (pixels whose label the CRF changes (N,), labelled pixels (N,)).
        fixed: per image, (changed pixels that go from wrong to right (N,), changed (N,)).
        broken: per image, (changed pixels that go from right to wrong (N,), changed (N,)).
        to_background: per image, (changed pixels whose CRF label is background (N,),
            changed (N,)).
    """

    image_ids: tuple[str, ...]
    image_hists: dict[str, np.ndarray]
    changed: tuple[np.ndarray, np.ndarray]
    fixed: tuple[np.ndarray, np.ndarray]
    broken: tuple[np.ndarray, np.ndarray]
    to_background: tuple[np.ndarray, np.ndarray]


def crf_changes(es: ClipES, dataset: SegmentationDataset, ids: Sequence[str]) -> CrfChanges:
    """Seed labels vs dense-CRF labels on every labelled image of ``ids`` (Table 1's step).

    CAMs refined as ``es.config`` says, upsampled to the ground truth and stored in float16
    as the CAM files; the CRF is the official one (:mod:`clipwsss.cams.crf`).
    """
    n = dataset.n_classes
    done, seed_h, crf_h, counts = [], [], [], []
    for rec in iter_records(es, dataset, ids):
        hr = es.upsample(refined_cams(es, rec), rec.gt.shape).half()
        seed_label = cams_to_label(hr.float(), rec.keys).numpy()
        crf_label = crf_pseudo_mask(rec.image, rec.keys, hr).label.numpy()
        seed_h.append(confusion_matrix(seed_label, rec.gt, n))
        crf_h.append(confusion_matrix(crf_label, rec.gt, n))
        lab = rec.gt != 255
        g, s, c = rec.gt[lab].astype(np.int64), seed_label[lab], crf_label[lab]
        ch = s != c
        counts.append(
            (
                ch.sum(),
                lab.sum(),
                (ch & (c == g)).sum(),
                (ch & (s == g)).sum(),
                (ch & (c == 0)).sum(),
            )
        )
        done.append(rec.image_id)
    a = np.asarray(counts, np.float64).reshape(-1, 5).T
    empty = np.zeros((0, n, n), np.int64)
    hists = {
        "seed": np.stack(seed_h) if seed_h else empty,
        "seed + dCRF": np.stack(crf_h) if crf_h else empty,
    }
    return CrfChanges(tuple(done), hists, (a[0], a[1]), (a[2], a[0]), (a[3], a[0]), (a[4], a[0]))
