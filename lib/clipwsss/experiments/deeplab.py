"""DeepLab on toy pseudo-masks: the tables of ``results/toy/deeplab`` (notebook 12).

``scripts/toy_deeplab.py`` trains CE and CGL runs (and the mu sweep of CLIP-ES supplementary
Table S3); the tables are made here from per-image val confusion matrices, with the paired
image bootstrap of :func:`clipwsss.experiments.intervals.bootstrap_table`.

Experiment layer: numpy and pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clipwsss.data import finished_files
from clipwsss.experiments.intervals import bootstrap_table

PAPER_MU = 0.95  # CLIP-ES supplementary D / E: the mu the paper uses (the CGL run)


def train_seconds(rows: list[dict], batch_size: int) -> float:
    """Seconds of the training steps, from the run's log (a resumed or finished run too).

    Each train row holds the throughput since the previous row, so the steps between two
    rows took (step - previous step) * batch size / samples_per_s.
    """
    done, total = 0, 0.0
    for row in sorted((r for r in rows if r["kind"] == "train"), key=lambda r: r["step"]):
        total += (row["step"] - done) * batch_size / row["samples_per_s"]
        done = row["step"]
    return total


def run_name(loss: str, seed: int, mu: float | None) -> str:
    """Run folder: ``ce_seed0``, ``cgl_seed0`` (the recipe's mu), ``cgl_mu0.8_seed0``."""
    return f"{loss}_seed{seed}" if mu is None else f"{loss}_mu{mu:g}_seed{seed}"


def confidence_table(conf_dir: Path, mus: Sequence[float]) -> pd.DataFrame:
    """Share of the training pixels per confidence bin (Table S3's bins) and below each mu."""
    conf = np.concatenate([np.load(f).ravel() for f in finished_files(conf_dir, ".npy")])
    bins = {
        "[0, 0.5)": (0.0, 0.5),
        "[0.5, 0.8)": (0.5, 0.8),
        "[0.8, 0.95)": (0.8, 0.95),
        "[0.95, 1]": (0.95, 1.01),
    }
    rows = [
        {"pixels": k, "% of train pixels": 100 * ((conf >= a) & (conf < b)).mean()}
        for k, (a, b) in bins.items()
    ]
    rows += [
        {
            "pixels": f"confidence < {mu:g} (ignored at mu = {mu:g})",
            "% of train pixels": 100 * (conf < mu).mean(),
        }
        for mu in mus
    ]
    return pd.DataFrame(rows)


def noise_table(
    hists: dict[str, np.ndarray], seeds: Sequence[int], *, n_boot: int = 1000
) -> pd.DataFrame:
    """``noise.csv``: each run ("ce seed S", "cgl seed S") and "cgl - ce, seed S", with 95%
    paired intervals, rounded to 0.1 point.

    Shapes:
        each hists value: (N, n, n) per-image val confusion matrices, the same images.
    """
    pairs = [(f"cgl seed {s}", f"ce seed {s}") for s in seeds]
    table = bootstrap_table(hists, pairs, n_boot=n_boot)
    names = {
        **{k: k for k in hists},
        **{f"{a} - {b}": f"cgl - ce, seed {s}" for (a, b), s in zip(pairs, seeds, strict=True)},
    }
    table = table.drop(columns="excludes 0").rename(index=names)
    return table.rename_axis("run or difference").reset_index().round(1)


def mu_sweep_table(
    keys: Sequence[tuple[float, int]],
    hists: Sequence[np.ndarray],
    seconds: Sequence[float],
    ignored: dict[float, float],
    *,
    iterations: int,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """``mu_sweep.csv`` (Table S3 on toy): each (mu, seed) run's val mIoU and its paired
    difference to mu = 0.95 of the same seed, sorted by mu and seed, rounded to 0.01.

    Args:
        keys: (mu, seed) of each run; (0.95, seed) must be there for every seed.
        hists: each run's (N, n, n) per-image val confusion matrices, the same images.
        seconds: each run's training seconds.
        ignored: mu -> % of the training pixels below it (:func:`confidence_table`).
        iterations: training steps of every run (a column).
        n_boot: bootstrap resamples (seed 0).
    """
    names = [f"mu {mu:g} seed {seed}" for mu, seed in keys]
    ref = {n: f"mu {PAPER_MU:g} seed {seed}" for n, (_, seed) in zip(names, keys, strict=True)}
    table = bootstrap_table(
        dict(zip(names, hists, strict=True)), [(n, ref[n]) for n in names], n_boot=n_boot
    )
    rows = []
    for name, (mu, seed), wall in zip(names, keys, seconds, strict=True):
        run, diff = table.loc[name], table.loc[f"{name} - {ref[name]}"]
        source = {0: "the CE run"}.get(mu, "the CGL run" if mu == PAPER_MU else "sweep run")
        rows.append(
            {
                "mu": mu,
                "seed": seed,
                "run": source,
                "% train pixels ignored": ignored[mu],
                "val mIoU": run["mIoU"],
                "95% low": run["95% low"],
                "95% high": run["95% high"],
                "minus mu 0.95": diff["mIoU"],
                "diff 95% low": diff["95% low"],
                "diff 95% high": diff["95% high"],
                "excludes 0": bool(diff["excludes 0"]) if name != ref[name] else False,
                "train s": round(wall),
                "iterations": iterations,
            }
        )
    return pd.DataFrame(rows).sort_values(["mu", "seed"]).round(2)
