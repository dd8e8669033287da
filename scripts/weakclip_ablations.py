"""WeakCLIP ablations on the toy world: N learnable prompts, gamma/beta init, faithful vs
corrected; each variant trained once and scored on the same train images.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/weakclip_ablations.py

Needs the data and CLIP-ES masks of scripts/weakclip_toy.py (run it first). Every variant goes
through `clipwsss train weakclip --recipe toy` with one flag changed, on the first --limit
train images for --iters steps, then `clipwsss predict` on the same images; mIoU with 95%
paired image-bootstrap intervals, each variant minus the default. The table is rewritten after
every variant (--out/ablations.csv, with --out/summary.md and the settings and run time in
--out/ablations.json, which notebook 16 reads), and finished runs are reused.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch


def run_variant(name: str, flags: list[str], args) -> Path:
    from clipwsss.cli.main import main as cli

    slug = name.split(" (")[0].replace(" ", "_")
    run = args.out / slug
    common = ["--root", str(args.data), "--limit", str(args.limit)]
    argv = [
        "train",
        "weakclip",
        "--recipe",
        "toy",
        *common,
        "--seeds",
        str(args.seeds),
        "--run-dir",
        str(run / "run"),
        "--iterations",
        str(args.iters),
        "--progress",
        "false",
        *flags,
    ]
    if cli(argv) != 0:
        raise RuntimeError(f"clipwsss {' '.join(argv)} failed")
    argv = ["predict", "--run-dir", str(run / "run"), *common, "--out", str(run / "train")]
    if cli(argv) != 0:
        raise RuntimeError(f"clipwsss {' '.join(argv)} failed")
    return run / "train"


def table(data, runs: dict[str, Path], n_boot: int) -> pd.DataFrame:
    from clipwsss.experiments.weakclip import VARIANTS, ablation_table, score_masks

    return ablation_table(score_masks(data, runs), base=next(iter(VARIANTS)), n_boot=n_boot)


def write_summary(args, out: pd.DataFrame, seconds: float, argv: list[str] | None) -> None:
    """--out/ablations.json (command, settings, run time) and --out/summary.md (the table)."""
    from clipwsss.train.tasks.weakclip_recipes import get_recipe

    info = {
        "command": ["python", "scripts/weakclip_ablations.py", *(argv or sys.argv[1:])],
        "iterations": args.iters,
        "images": args.limit,
        "split": "train",
        "train seed": get_recipe("toy").train.seed,
        "n_boot": args.n_boot,
        "seconds": round(seconds),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }
    (args.out / "ablations.json").write_text(json.dumps(info, indent=2) + "\n")
    (args.out / "summary.md").write_text(
        f"WeakCLIP ablations on the toy world (profile toy; {args.iters} steps on the first "
        f"{args.limit} train images, one training seed per variant, scored on the same images; "
        "mIoU %, 95% paired image bootstrap, each variant minus the default)\n\n"
        + out.to_markdown(index=False)
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.experiments.weakclip import VARIANTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/toy_weakclip"))
    parser.add_argument(
        "--seeds", type=Path, default=Path("results/toy/weakclip/clip_es/train/masks")
    )
    parser.add_argument("--crf", type=Path, default=Path("results/toy/weakclip/clip_es/train/crf"))
    parser.add_argument("--out", type=Path, default=Path("results/toy/weakclip/ablations"))
    parser.add_argument("--limit", type=int, default=100, help="first train images")
    parser.add_argument("--iters", type=int, default=150, help="training steps per variant")
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    data = VOCDataset(args.data, "train", class_names=get_profile("toy").class_names())
    data = copy.copy(data)
    data.ids = data.ids[: args.limit]
    runs: dict[str, Path] = {}
    for name, flags in VARIANTS.items():
        runs[name] = run_variant(name, flags, args)
        out = table(data, {**runs, "CLIP-ES dCRF (the seeds' labels)": args.crf}, args.n_boot)
        args.out.mkdir(parents=True, exist_ok=True)
        out.to_csv(args.out / "ablations.csv", index=False)
        write_summary(args, out, time.time() - started, argv)
        print(out.to_string(index=False), f"\n{time.time() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
