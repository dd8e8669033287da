"""Image-bootstrap intervals for the notebooks' tables and readings.

Every run is scored on the same bootstrap resamples of the images
(:func:`clipwsss.metrics.bootstrap_mious`), so the interval of a difference between two runs
is a paired one. A reading calls a difference real only when its interval excludes zero.
This is the noise of the image sample, not of training (another micro-CLIP seed is another
question: README, training-seed table).

Experiment layer: used by the notebooks; numpy and pandas only.
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

    def text(self, signed: bool = True) -> str:
        """E.g. "+1.1 (95% interval -0.8 to +3.0, within the image noise)"."""
        f = "{:+.1f}" if signed else "{:.1f}"
        return (f"{f.format(self.value)} (95% interval {f.format(self.low)} to "
                f"{f.format(self.high)}, {self.verdict()})")  # fmt: skip

    def verdict(self) -> str:
        """What a reading may call it: "real" only when the interval excludes zero."""
        return "real" if self.excludes_zero else "within the image noise"


def bootstrap_table(
    runs: Mapping[str, np.ndarray],
    differences: Sequence[tuple[str, str]] = (),
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> pd.DataFrame:
    """mIoU (%) of each run and of each difference ``a - b``, with 95% paired intervals.

    Args:
        runs: run name -> (N, n, n) per-image confusion matrices, the same images in the
            same order in every run.
        differences: (a, b) pairs of run names; each gives the row "a - b".
        n_boot: bootstrap resamples.
        seed: seed of the resampling.

    Returns:
        Rows: the runs, then the differences; columns "mIoU", "95% low", "95% high" (in %)
        and "excludes 0" (for differences; runs get NaN).

    Shapes:
        each runs value: (N, n, n).
    """
    names = list(runs)
    missing = {n for pair in differences for n in pair} - set(names)
    if missing:
        raise KeyError(f"differences name runs that were not given: {sorted(missing)}")
    boot = 100 * bootstrap_mious([runs[n] for n in names], n_boot=n_boot, seed=seed)
    rows = {}
    for i, name in enumerate(names):
        lo, hi = percentile_interval(boot[:, i], LEVEL)
        rows[name] = [100 * mean_iou(np.asarray(runs[name]).sum(0)), lo, hi, np.nan]
    for a, b in differences:
        ia, ib = names.index(a), names.index(b)
        lo, hi = percentile_interval(boot[:, ia] - boot[:, ib], LEVEL)
        value = rows[a][0] - rows[b][0]
        rows[f"{a} - {b}"] = [value, lo, hi, bool(lo > 0 or hi < 0)]
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["mIoU", "95% low", "95% high", "excludes 0"]
    )


def interval(table: pd.DataFrame, row: str) -> Interval:
    """One row of :func:`bootstrap_table` as an :class:`Interval`."""
    r = table.loc[row]
    return Interval(float(r["mIoU"]), float(r["95% low"]), float(r["95% high"]))


def with_intervals(paper: pd.DataFrame, table: pd.DataFrame,
                   ours_rows: Mapping[str, str]) -> pd.DataFrame:  # fmt: skip
    """A ``paper_table`` with the 95% interval of ours: ``{paper-table label: run name}``."""
    out = paper.copy()
    lows = {label: table.loc[run, "95% low"] for label, run in ours_rows.items()}
    highs = {label: table.loc[run, "95% high"] for label, run in ours_rows.items()}
    out["ours 95% low"] = pd.Series(lows).round(1)
    out["ours 95% high"] = pd.Series(highs).round(1)
    return out
