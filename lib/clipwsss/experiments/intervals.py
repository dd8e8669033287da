"""Image-bootstrap intervals for the notebooks' tables and readings.

Every run is scored on the same bootstrap resamples of the images
(:func:`clipwsss.metrics.bootstrap_mious`), so the interval of a difference between two runs
is a paired one. A reading calls a difference real only when its interval excludes zero.
This is the noise of the image sample, not of training (another micro-CLIP seed is another
question: README, training-seed table).

Experiment layer: used by the notebooks and by every results table of the scripts (one paired
bootstrap: :func:`bootstrap_table`); numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clipwsss.metrics import bootstrap_mious, mean_iou, percentile_interval

N_BOOT = 1000  # resamples; the interval ends move by about 0.1 point between seeds
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point value (mIoU %, or a difference of two) and its bootstrap interval."""

    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero (a real difference)."""
        return self.low > 0 or self.high < 0

    def text(self, signed: bool = True, digits: int = 1) -> str:
        """E.g. "+1.1 (95% interval -0.8 to +3.0, within the image noise)"."""
        f = f"{{:{'+' if signed else ''}.{digits}f}}"
        return (
            f"{f.format(self.value)} (95% interval {f.format(self.low)} to "
            f"{f.format(self.high)}, {self.verdict()})"
        )

    def verdict(self) -> str:
        """What a reading may call it: "real" only when the interval excludes zero."""
        return "real" if self.excludes_zero else "within the image noise"


def bootstrap_table(
    runs: Mapping[str, np.ndarray],
    differences: Sequence[tuple[str, str]] = (),
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    boot_mean: bool = False,
) -> pd.DataFrame:
    """mIoU (%) of each run and of each difference ``a - b``, with 95% paired intervals.

    Args:
        runs: run name -> (N, n, n) per-image confusion matrices, the same images in the
            same order in every run.
        differences: (a, b) pairs of run names; each gives the row "a - b" (``a == b`` gives
            a zero row, for tables that list the reference beside its variants).
        n_boot: bootstrap resamples.
        seed: seed of the resampling.
        boot_mean: add the column "boot mean", the mean over the resamples (of the mIoU, or
            of the difference), beside the value on all images.

    Returns:
        Rows: the runs, then the differences; columns "mIoU", "95% low", "95% high" (in %)
        and "excludes 0" (for differences; runs get NaN), then "boot mean" if asked.

    Shapes:
        each runs value: (N, n, n).
    """
    names = list(runs)
    missing = {n for pair in differences for n in pair} - set(names)
    if missing:
        raise KeyError(f"differences name runs that were not given: {sorted(missing)}")
    boot = 100 * bootstrap_mious([runs[n] for n in names], n_boot=n_boot, seed=seed)
    rows, means = {}, {}
    for i, name in enumerate(names):
        lo, hi = percentile_interval(boot[:, i], LEVEL)
        rows[name] = [100 * mean_iou(np.asarray(runs[name]).sum(0)), lo, hi, np.nan]
        means[name] = float(boot[:, i].mean())
    for a, b in differences:
        ia, ib = names.index(a), names.index(b)
        lo, hi = percentile_interval(boot[:, ia] - boot[:, ib], LEVEL)
        value = rows[a][0] - rows[b][0]
        rows[f"{a} - {b}"] = [value, lo, hi, bool(lo > 0 or hi < 0)]
        means[f"{a} - {b}"] = float((boot[:, ia] - boot[:, ib]).mean())
    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=["mIoU", "95% low", "95% high", "excludes 0"]
    )
    if boot_mean:
        table["boot mean"] = pd.Series(means)
    return table


def interval(table: pd.DataFrame, row: str) -> Interval:
    """One row of :func:`bootstrap_table` as an :class:`Interval`."""
    r = table.loc[row]
    value = r["mIoU"] if "mIoU" in r.index else r["value"]  # correlation_table: "value"
    return Interval(float(value), float(r["95% low"]), float(r["95% high"]))


def with_intervals(
    paper: pd.DataFrame, table: pd.DataFrame, ours_rows: Mapping[str, str]
) -> pd.DataFrame:
    """A ``paper_table`` with the 95% interval of ours: ``{paper-table label: run name}``."""
    out = paper.copy()
    lows = {label: table.loc[run, "95% low"] for label, run in ours_rows.items()}
    highs = {label: table.loc[run, "95% high"] for label, run in ours_rows.items()}
    out["ours 95% low"] = pd.Series(lows).round(1)
    out["ours 95% high"] = pd.Series(highs).round(1)
    return out


def ratio_counts(
    runs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    differences: Sequence[tuple[str, str]] = (),
) -> dict[str, dict]:
    """What :func:`ratio_table`'s shares are taken over, for a tolerance check.

    Returns ``{"counts": {run: sum of its denominators}, "derived": {"a - b": (a, b)}}``, the
    keyword arguments of :func:`clipwsss.experiments.checks.check` that make a share over a
    few pixels get the tolerance its count allows.

    Shapes:
        num, den: (N,) each.
    """
    counts = {name: float(np.asarray(den, np.float64).sum()) for name, (_, den) in runs.items()}
    return {"counts": counts, "derived": {f"{a} - {b}": (a, b) for a, b in differences}}


def ratio_table(
    runs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    differences: Sequence[tuple[str, str]] = (),
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> pd.DataFrame:
    """A pooled ratio (in %) of per-image counts, and paired differences, with intervals.

    For a share such as "CAM mass on the other object's ground truth / all CAM mass": each
    run gives per-image numerators and denominators; the statistic is
    ``100 * sum(num) / sum(den)`` over the images, resampled with the same images in every
    run (a paired image bootstrap, as :func:`bootstrap_table`).

    Args:
        runs: run name -> (num, den), two (N,) arrays over the same images in the same order.
        differences: (a, b) pairs of run names; each gives the row "a - b" (points).
        n_boot: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        The same columns as :func:`bootstrap_table` ("mIoU" holds the share, in %), so
        :func:`interval` reads its rows.

    Shapes:
        num, den: (N,) each, non-negative.
    """
    names = list(runs)
    missing = {n for pair in differences for n in pair} - set(names)
    if missing:
        raise KeyError(f"differences name runs that were not given: {sorted(missing)}")
    nums = np.stack([np.asarray(runs[n][0], np.float64) for n in names])  # (R, N)
    dens = np.stack([np.asarray(runs[n][1], np.float64) for n in names])
    if nums.shape != dens.shape or nums.shape[1] == 0:
        raise ValueError(f"numerators {nums.shape} and denominators {dens.shape} must match")
    rng = np.random.default_rng(seed)
    n_images = nums.shape[1]
    counts = np.stack(
        [
            np.bincount(rng.integers(0, n_images, n_images), minlength=n_images)
            for _ in range(n_boot)
        ]
    )  # (B, N)
    boot = 100 * (counts @ nums.T) / np.maximum(counts @ dens.T, 1e-12)  # (B, R)
    point = 100 * nums.sum(1) / np.maximum(dens.sum(1), 1e-12)
    rows = {}
    for i, name in enumerate(names):
        lo, hi = percentile_interval(boot[:, i], LEVEL)
        rows[name] = [float(point[i]), lo, hi, np.nan]
    for a, b in differences:
        ia, ib = names.index(a), names.index(b)
        lo, hi = percentile_interval(boot[:, ia] - boot[:, ib], LEVEL)
        rows[f"{a} - {b}"] = [float(point[ia] - point[ib]), lo, hi, bool(lo > 0 or hi < 0)]
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["mIoU", "95% low", "95% high", "excludes 0"]
    )


def correlation_table(
    x: Mapping[str, tuple[np.ndarray, np.ndarray]],
    y: Mapping[str, np.ndarray],
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> pd.DataFrame:
    """Correlation over runs of a pooled ratio ``x`` and the mIoU ``y``, with image intervals.

    For Fig. 3's question (does a prompt's sharpness predict its CAM mIoU?): each run (a
    prompt) has per-image numerators and denominators of ``x`` (Eq. 5: each image's score
    variance and mean, ``x = sum(num) / sum(den)``) and per-image confusion matrices of ``y``.
    Every resample draws the images with replacement once, recomputes ``x`` and the split mIoU
    of every run on those images, and then the Pearson and Spearman correlation over the runs;
    the interval is the percentile interval of those correlations. It is the noise of the
    image sample (which images the prompts were scored on), not of the choice of prompts.

    Args:
        x: run name -> (num, den), two (N,) arrays over the same images in the same order.
        y: run name -> (N, n, n) per-image confusion matrices, the same runs and images.
        n_boot: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        Rows "pearson r" and "spearman rho"; columns "value" (on all images), "95% low",
        "95% high" and "excludes 0" (:func:`interval` reads the rows). Resamples on which a
        correlation is undefined (a constant series) are left out of the interval.

    Shapes:
        num, den: (N,) each; y values: (N, n, n).
    """
    names = list(x)
    if set(names) != set(y) or len(names) < 3:
        raise ValueError(
            f"x and y must name the same runs, at least three: {sorted(x)}, {sorted(y)}"
        )
    nums = np.stack([np.asarray(x[n][0], np.float64) for n in names])  # (R, N)
    dens = np.stack([np.asarray(x[n][1], np.float64) for n in names])
    hists = np.stack([np.asarray(y[n], np.int64) for n in names])  # (R, N, c, c)
    n_images = nums.shape[1]
    if dens.shape != nums.shape or hists.shape[1] != n_images or n_images == 0:
        raise ValueError(f"runs differ in images: x {nums.shape}/{dens.shape}, y {hists.shape}")
    rng = np.random.default_rng(seed)
    counts = np.stack(
        [
            np.bincount(rng.integers(0, n_images, n_images), minlength=n_images)
            for _ in range(n_boot)
        ]
    )  # (B, N)
    bx = (counts @ nums.T) / np.maximum(counts @ dens.T, 1e-12)  # (B, R)
    by = np.array(
        [[mean_iou(h) for h in np.tensordot(c, hists, axes=([0], [1]))] for c in counts]
    )  # (B, R)
    px = nums.sum(1) / np.maximum(dens.sum(1), 1e-12)
    py = np.array([mean_iou(h) for h in hists.sum(1)])
    rows = {}
    for name, ranks in (("pearson r", False), ("spearman rho", True)):
        value = float(_row_correlations(px[None], py[None], ranks)[0])
        boot = _row_correlations(bx, by, ranks)
        lo, hi = percentile_interval(boot[np.isfinite(boot)], LEVEL)
        rows[name] = [value, lo, hi, bool(lo > 0 or hi < 0)]
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["value", "95% low", "95% high", "excludes 0"]
    )


def _row_correlations(a: np.ndarray, b: np.ndarray, ranks: bool) -> np.ndarray:
    """Pearson (or, on average ranks, Spearman) correlation of each row pair. (B, R) -> (B,)."""
    if ranks:
        a = pd.DataFrame(a).rank(axis=1).to_numpy()
        b = pd.DataFrame(b).rank(axis=1).to_numpy()
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1), np.nan)
