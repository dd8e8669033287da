"""WeCLIP on the toy world: the tables of ``results/toy/weclip`` (notebooks 13 and 14).

``scripts/weclip_toy.py`` (training and predictions beside CLIP-ES) and
``scripts/weclip_toy_ablations.py`` (supplementary Tables 2-5) train and predict; the tables
and their markdown are made here from per-image confusion matrices, with the paired image
bootstrap of :func:`clipwsss.experiments.intervals.bootstrap_table`.

Experiment layer: numpy and pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from clipwsss.experiments.intervals import bootstrap_table

REFERENCE = "CLIP-ES + CAA + dCRF"  # every WeCLIP run of the comparison is paired with it
SCALE_SETS = [
    (1.0,),
    (0.5, 1.0),
    (0.75, 1.0),
    (0.5, 0.75, 1.0),
    (0.75, 1.0, 1.25),
    (0.75, 1.0, 1.5),
]  # supplementary Table 5
PAPER = {
    "aff_weight=0": 73.3,
    "aff_weight=0.1": 74.9,
    "aff_weight=0.5": 73.6,
    "aff_weight=1.0": 72.9,
    "aff_target=prediction": 74.6,
    "scales (1.0,)": 74.0,
    "scales (0.5, 1.0)": 74.2,
    "scales (0.75, 1.0)": 74.9,
    "scales (0.5, 0.75, 1.0)": 74.4,
    "scales (0.75, 1.0, 1.25)": 74.8,
    "scales (0.75, 1.0, 1.5)": 74.5,
}  # VOC val
DEFAULT_RUN = "seed 0: default (aff_weight=0.1, blocks 1-3)"
SEED1_REFERENCE = "seed 1: scales (0.75, 1.0)"  # the seed-1 rows are paired with it


def comparison_rows(runs: Mapping[str, np.ndarray], *, n_boot: int = 1000) -> list[dict]:
    """Rows of ``summary.json``: each run's mIoU (%), then each WeCLIP run minus CLIP-ES.

    Args:
        runs: run name -> (N, n, n) per-image confusion matrices on the same images; one run
            is :data:`REFERENCE`, the WeCLIP runs' names start with "WeCLIP".
        n_boot: bootstrap resamples (seed 0).

    Returns:
        ``{"run", "mIoU", "low", "high"}`` rows, values rounded to 0.1 point.

    Shapes:
        each runs value: (N, n, n).
    """
    differences = [(n, REFERENCE) for n in runs if n.startswith("WeCLIP")]
    table = bootstrap_table(runs, differences, n_boot=n_boot)
    rows = [
        {
            "run": name,
            "mIoU": float(r["mIoU"]),
            "low": float(r["95% low"]),
            "high": float(r["95% high"]),
        }
        for name, r in table.iterrows()
    ]
    return [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def write_markdown(summary: dict, path: Path) -> None:
    """``summary.md``: one table per split, the command and the environment."""
    lines = [
        "# WeCLIP on the toy world",
        "",
        f"Produced by `{summary['command'].strip()}` ({summary['platform']}, torch "
        f"{summary['torch']}, wall time {summary['wall_seconds']} s; training "
        + ", ".join(f"{k} {v} s" for k, v in summary["train_seconds"].items())
        + ")."
        + (
            f" {', '.join(summary['trained_earlier'])} were trained by earlier calls of this "
            "script (one seed per process) and resumed here: the wall time is this call's, "
            "the training times are those calls'."
            if summary.get("trained_earlier")
            else ""
        ),
        "WeCLIP: toy recipe (micro-CLIP, 300 iterations, batch 4, crop 96), predictions at "
        "scales {1.0, 0.75} + flip, no CRF. CLIP-ES: the toy profile, CAA, then dCRF with "
        "nothing ignored. mIoU in %, 95% image-bootstrap intervals (paired resamples).",
        "",
    ]
    titles = {"val": "toy val (predictions)", "train": "toy train (pseudo labels)"}
    for split, table in summary["tables"].items():
        lines += [
            f"## {titles.get(split, split)}, {table['n_images']} images",
            "",
            "| run | mIoU | 95% low | 95% high |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [f"| {r['run']} | {r['mIoU']} | {r['low']} | {r['high']} |" for r in table["rows"]]
        lines.append("")
    path.write_text("\n".join(lines))


def ablation_rows(runs: Mapping[str, np.ndarray], *, n_boot: int = 1000) -> list[dict]:
    """Rows of ``ablations.json``: each variant's mIoU and its paired difference to the
    default of the same seed (the bootstrap mean of the difference, with its interval).

    Args:
        runs: ``"seed S: what"`` -> (N, n, n) per-image confusion matrices on the same images;
            :data:`DEFAULT_RUN` first, and :data:`SEED1_REFERENCE` where a seed-1 run is.
        n_boot: bootstrap resamples (seed 0).

    Returns:
        ``{"run", "mIoU", "diff", "diff low", "diff high", "paper (VOC val)"}`` rows, rounded
        to 0.1 point; the paper value is None where the paper has no such row.

    Shapes:
        each runs value: (N, n, n).
    """
    names = list(runs)
    base = {n: names[0] if not n.startswith("seed 1") else SEED1_REFERENCE for n in names}
    table = bootstrap_table(runs, [(n, base[n]) for n in names], n_boot=n_boot, boot_mean=True)
    rows = []
    for name in names:
        diff = table.loc[f"{name} - {base[name]}"]
        key = name.split(": ", 1)[1]
        rows.append(
            {
                "run": name,
                "mIoU": round(float(table.loc[name, "mIoU"]), 1),
                "diff": round(float(diff["boot mean"]), 1),
                "diff low": round(float(diff["95% low"]), 1),
                "diff high": round(float(diff["95% high"]), 1),
                "paper (VOC val)": PAPER.get(
                    key.replace("default (aff_weight=0.1, blocks 1-3)", "aff_weight=0.1")
                ),
            }
        )
    return rows


def ablations_markdown(summary: dict) -> str:
    """``ablations.md`` from ``ablations.json`` (command, n_images, rows)."""
    rows = summary["rows"]
    miou = {r["run"]: r["mIoU"] for r in rows}
    seed_gap = abs(miou["seed 0: scales (0.75, 1.0)"] - miou[SEED1_REFERENCE])
    lines = [
        "# WeCLIP ablations on the toy world",
        "",
        f"`{summary['command']}`; toy val, {summary['n_images']} images; mIoU in %; diff = "
        "paired bootstrap mean of the difference to the default of the same seed (seed 0 "
        "default run; seed 1: its scales {0.75, 1.0}), with its 95% interval. One training "
        f"seed per variant: the two default seeds differ by {seed_gap:.1f} points on these "
        "images. Paper: VOC "
        "val, supplementary Tables 3, 4 and 5 (Table 2's N0 counts ViT-B/16's 12 blocks, "
        "so first_block=3 of the micro-CLIP's 4 has no paper row). Variants trained with "
        "`python scripts/weclip_toy_ablations.py train --tag TAG --set FIELD=VALUE` "
        "(the docstring lists them).",
        "",
        "| run | mIoU | diff | 95% low | 95% high | paper (VOC val) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        paper = "" if r["paper (VOC val)"] is None else r["paper (VOC val)"]
        lines.append(
            f"| {r['run']} | {r['mIoU']} | {r['diff']} | {r['diff low']} | "
            f"{r['diff high']} | {paper} |"
        )
    return "\n".join(lines) + "\n"
