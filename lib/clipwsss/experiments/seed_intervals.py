"""Training-seed means with paired image-bootstrap intervals, for ablations run over seeds.

An ablation trained with several seeds per variant has two kinds of noise: which images it
is scored on and which seed trained it. :func:`seed_mean_table` reports, per variant, the
mean over its seeds of the mIoU, and per pair of variants the mean over the shared seeds of
the paired difference, each with a 95% interval from resampling the images (the same
resample for every run, as :func:`clipwsss.experiments.intervals.bootstrap_table`). The
seed spread is a separate column ("seed range"): the interval does not include it.

Experiment layer: numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from clipwsss.metrics import bootstrap_mious, mean_iou, percentile_interval

COLUMNS = ["mIoU", "95% low", "95% high", "excludes 0", "seeds", "seed range"]


def seed_mean_table(
    runs: Mapping[str, Mapping[int, np.ndarray]],
    differences: Sequence[tuple[str, str]] = (),
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Seed-mean mIoU (%) of each variant and of each paired difference ``a - b``.

    Args:
        runs: variant -> {training seed: (N, n, n) per-image confusion matrices}; the same
            N images in the same order in every run.
        differences: (a, b) pairs of variants; each gives the row "a - b", averaged over the
            seeds both variants ran (a seed of ``a`` is paired with the same seed of ``b``).
        n_boot: bootstrap resamples of the images.
        seed: seed of the resampling.
        level: interval coverage.

    Returns:
        Rows: the variants, then the differences. Columns: "mIoU" (seed mean on all images),
        "95% low" / "95% high" (percentile interval of the seed mean over image resamples),
        "excludes 0" (differences; NaN for variants), "seeds" (how many), "seed range" (max -
        min over seeds of the mIoU or of the difference).

    Shapes:
        each runs[v][s]: (N, n, n).
    """
    keys = [(v, s) for v, by_seed in runs.items() for s in by_seed]
    if not keys:
        raise ValueError("no runs given")
    missing = {v for pair in differences for v in pair} - set(runs)
    if missing:
        raise KeyError(f"differences name variants that were not given: {sorted(missing)}")
    hists = [np.asarray(runs[v][s]) for v, s in keys]
    if len({h.shape for h in hists}) != 1:
        raise ValueError(f"runs differ in images or classes: {sorted({h.shape for h in hists})}")
    boot = 100 * bootstrap_mious(hists, n_boot=n_boot, seed=seed)  # (B, R)
    point = np.array([100 * mean_iou(h.sum(0)) for h in hists])
    col = {k: i for i, k in enumerate(keys)}
    rows = {}

    def row(cols_a: list[int], cols_b: list[int] | None, is_diff: bool) -> list:
        b_pt = point[cols_b] if cols_b else 0.0
        b_bt = boot[:, cols_b] if cols_b else 0.0
        values = point[cols_a] - b_pt
        lo, hi = percentile_interval((boot[:, cols_a] - b_bt).mean(1), level)
        verdict = bool(lo > 0 or hi < 0) if is_diff else np.nan
        return [
            float(values.mean()),
            lo,
            hi,
            verdict,
            len(cols_a),
            float(values.max() - values.min()),
        ]

    for v, by_seed in runs.items():
        rows[v] = row([col[v, s] for s in by_seed], None, False)
    for a, b in differences:
        shared = [s for s in runs[a] if s in runs[b]]
        if not shared:
            raise ValueError(f"{a!r} and {b!r} share no training seed")
        rows[f"{a} - {b}"] = row([col[a, s] for s in shared], [col[b, s] for s in shared], True)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    out["excludes 0"] = pd.Series({k: v[3] for k, v in rows.items()}, dtype=object)
    return out
