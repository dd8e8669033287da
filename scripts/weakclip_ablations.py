"""WeakCLIP ablations on the toy world: N learnable prompts, gamma/beta init, faithful vs
corrected, the adapter, the co-attention and the boundary loss off; each variant trained once
and scored on the same train images.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/weakclip_ablations.py
    python scripts/weakclip_ablations.py --variants "no adapter" "no co-attention"

``--variants`` trains only the named variants and the default (their paired reference) and
puts their rows into the existing table, keeping the other rows; ablations.json then lists
that run under "added" beside the first run's command and time.

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


def merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``new`` put into ``old`` (by run name); variants in :data:`VARIANTS`
    order, then the rest (the CLIP-ES labels).

    Raises:
        ValueError: a row both tables have (the default, the labels) differs: the rerun did
            not reproduce it, so the kept rows would not be paired with the new ones.
    """
    from clipwsss.experiments.weakclip import VARIANTS

    both = old.set_index("run").index.intersection(new.set_index("run").index)
    a, b = old.set_index("run").loc[both], new.set_index("run").loc[both]
    if not a.equals(b):
        raise ValueError(f"the rerun changed rows of the kept table:\n{a}\n{b}")
    rows = {**{r.run: r for r in old.itertuples(index=False)}}
    rows.update({r.run: r for r in new.itertuples(index=False)})
    order = [n for n in VARIANTS if n in rows] + [n for n in rows if n not in VARIANTS]
    return pd.DataFrame([rows[n] for n in order], columns=old.columns)


def write_summary(
    args, out: pd.DataFrame, seconds: float, argv: list[str] | None, added: bool = False
) -> None:
    """--out/ablations.json (command, settings, run time) and --out/summary.md (the table)."""
    from clipwsss.train.tasks.weakclip_recipes import get_recipe

    command = ["python", "scripts/weakclip_ablations.py", *(argv or sys.argv[1:])]
    path = args.out / "ablations.json"
    if added:  # keep the first run's record; this run is listed under "added"
        info = json.loads(path.read_text())
        runs = [r for r in info.get("added", []) if r["command"] != command]
        info["added"] = [*runs, {"command": command, "seconds": round(seconds)}]
        path.write_text(json.dumps(info, indent=2) + "\n")
        _summary_md(args, out)
        return
    info = {
        "command": command,
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
    path.write_text(json.dumps(info, indent=2) + "\n")
    _summary_md(args, out)


def _summary_md(args, out: pd.DataFrame) -> None:
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
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), help="only these (and the default)"
    )
    args = parser.parse_args(argv)
    base = next(iter(VARIANTS))
    chosen = {n: f for n, f in VARIANTS.items() if not args.variants or n in {base, *args.variants}}
    old = pd.read_csv(args.out / "ablations.csv") if args.variants else None
    torch.set_num_threads(1)
    started = time.time()
    data = VOCDataset(args.data, "train", class_names=get_profile("toy").class_names())
    data = copy.copy(data)
    data.ids = data.ids[: args.limit]
    runs: dict[str, Path] = {}
    for name, flags in chosen.items():
        runs[name] = run_variant(name, flags, args)
        out = table(data, {**runs, "CLIP-ES dCRF (the seeds' labels)": args.crf}, args.n_boot)
        if old is not None:
            out = merge(old, out)
        args.out.mkdir(parents=True, exist_ok=True)
        out.to_csv(args.out / "ablations.csv", index=False)
        write_summary(args, out, time.time() - started, argv, added=old is not None)
        print(out.to_string(index=False), f"\n{time.time() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
