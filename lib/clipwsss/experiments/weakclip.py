"""WeakCLIP on the toy world: the tables of ``results/toy/weakclip`` (notebooks 15-17).

``scripts/weakclip_toy.py`` (WeakCLIP beside CLIP-ES) and ``scripts/weakclip_ablations.py``
(prompts, residual init, faithful vs corrected, adapter, co-attention, boundary loss off) train and
predict through the CLI; the tables are made here from the prediction folders, with the
paired image bootstrap of :func:`clipwsss.experiments.intervals.bootstrap_table`.

Experiment layer: pandas over :func:`clipwsss.pipelines.evaluate.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from clipwsss.data import SegmentationDataset
from clipwsss.experiments.intervals import bootstrap_table
from clipwsss.pipelines.evaluate import EvalResult, evaluate

VARIANTS = {  # name -> extra CLI flags (the default is the toy recipe: N = 8, init 0.1, faithful)
    "default (N 8, init 0.1, faithful)": [],
    "N 2": ["--n-prompts", "2"],
    "N 4": ["--n-prompts", "4"],
    "N 16": ["--n-prompts", "16"],
    "init 1": ["--residual-init", "1"],
    "init 0.01": ["--residual-init", "0.01"],
    "init 0.001": ["--residual-init", "0.001"],
    "corrected": ["--corrected"],
    "no adapter": ["--no-adapter"],  # the frozen block maps only resized (WeakClipConfig)
    "no co-attention": ["--no-coattention"],  # lambda' = cos(f_p, t_p), no Eq. 3 update
    "no boundary loss": ["--no-boundary-loss"],  # the seed and auxiliary losses only
}


def score_masks(dataset: SegmentationDataset, runs: Mapping[str, Path]) -> dict[str, EvalResult]:
    """Each run's mask folder scored on ``dataset`` (255 = not scored), with per-image
    confusion matrices for the bootstrap."""
    return {
        n: evaluate(dataset, p, kind="masks", per_image=True, progress=False)
        for n, p in runs.items()
    }


def comparison_table(
    results: Mapping[str, EvalResult], split: str, *, n_boot: int = 1000
) -> pd.DataFrame:
    """Rows of ``weakclip_toy.csv`` for one split: each run, then each run minus the first.

    Args:
        results: run name -> its :func:`score_masks` result, the same images in every run.
        split: the split name written in the "split" column.
        n_boot: bootstrap resamples (seed 0).

    Returns:
        Columns split, run or difference, mIoU, 95% low, 95% high, ignored % (in %; NaN for
        differences); not rounded.
    """
    names = list(results)
    hists = {n: results[n].image_hists for n in names}
    table = bootstrap_table(hists, [(n, names[0]) for n in names[1:]], n_boot=n_boot)
    ignored = {n: 100 * (results[n].ignored_fraction or 0) for n in names}
    return pd.DataFrame(
        [
            {
                "split": split,
                "run or difference": name,
                "mIoU": r["mIoU"],
                "95% low": r["95% low"],
                "95% high": r["95% high"],
                "ignored %": ignored.get(name, np.nan),
            }
            for name, r in table.iterrows()
        ]
    )


def ablation_table(
    results: Mapping[str, EvalResult], *, base: str, n_boot: int = 1000
) -> pd.DataFrame:
    """Rows of ``ablations.csv``: each run, its interval, and its paired difference to
    ``base`` with that difference's interval; rounded to 0.1 point.

    Args:
        results: run name -> its :func:`score_masks` result, the same images in every run.
        base: the run every row is compared with (its own row reads 0).
        n_boot: bootstrap resamples (seed 0).
    """
    hists = {n: r.image_hists for n, r in results.items()}
    table = bootstrap_table(hists, [(n, base) for n in hists], n_boot=n_boot)
    rows = []
    for n in hists:
        run, diff = table.loc[n], table.loc[f"{n} - {base}"]
        rows.append(
            {
                "run": n,
                "mIoU": run["mIoU"],
                "95% low": run["95% low"],
                "95% high": run["95% high"],
                "minus default": diff["mIoU"],
                "diff 95% low": diff["95% low"],
                "diff 95% high": diff["95% high"],
            }
        )
    return pd.DataFrame(rows).round(1)
