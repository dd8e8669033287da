"""Toy DeepLab trained longer: learning curves, and CE vs CGL at a longer schedule.

    OMP_NUM_THREADS=2 python scripts/toy_deeplab_longer.py train \
        --lr 0.001 --iterations 1500 --eval-every 250 --seeds 0 --losses ce cgl
    python scripts/toy_deeplab_longer.py report [--seeds 0]

The toy recipe (ResNet-18 DeepLabV2 from random weights, AdamW, batch 10, crop 64, 300
iterations at lr 1e-3) reaches about 26 val mIoU from pseudo-masks of about 51 (train) /
53 (val): CE vs CGL compares two undertrained networks. Same data as
``scripts/toy_deeplab.py`` (``data/toy_deeplab``: 300 train, 100 val; its CAMs, masks and
confidence maps, made here when missing).

``train``: for each lr, seed and loss (CE: the mu = 0 labels, no pixel ignored; CGL: mu =
0.95), one run of the toy recipe with ``--iterations`` steps (poly schedule over the whole
run) and that lr, scored on val every ``--eval-every`` steps (single scale, no flip: the
engine's quick evaluation; a point of the curve is a network part way through the longer
schedule, not a run of that length), then on val with the recipe's inference (single scale
+ flip), per-image confusions kept in the run folder. The evaluations do not change the
training (eval mode, no gradient, no random draw). ``report``: the curves into
``--out/12_deeplab_curve.csv`` and seed means with paired image-bootstrap intervals
(``clipwsss.experiments.seed_intervals``) into ``--out/12_deeplab_ce_cgl_long.csv`` / ``.md``.
Finished runs are reused.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def make_masks(data: Path, n_train: int, n_val: int) -> dict[str, Path]:
    """Toy data (seed 0) and its CLIP-ES folders, as scripts/toy_deeplab.py makes them."""
    from toy_deeplab import make_masks as toy_masks  # scripts/ is on the path of a script

    return toy_masks(data, n_train, n_val, seed=0)


def train_run(args, dirs, loss: str, seed: int, lr: float, iterations: int, *, eval_every: int = 0):
    """One toy-recipe run with lr and iterations changed; returns (TrainResult, recipe)."""
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.train import train
    from clipwsss.train.tasks.deeplab import DeepLabTask, get_recipe

    names = get_profile("toy").class_names()
    recipe = get_recipe("toy")
    name = f"{loss}_lr{lr:g}_it{iterations}_seed{seed}"
    recipe = dataclasses.replace(
        recipe,
        loss=dataclasses.replace(recipe.loss, kind=loss),
        train=dataclasses.replace(
            recipe.train,
            seed=seed,
            iterations=iterations,
            lr=lr,
            progress=False,
            eval_interval=eval_every,
            checkpoint_interval=max(100, eval_every),
            run_dir=str(args.data / "runs" / "deeplab_longer" / name),
        ),
    )
    val = VOCDataset(args.data, "val", class_names=names) if eval_every else None
    task = DeepLabTask(
        recipe,
        VOCDataset(args.data, "train", class_names=names),
        masks_dir=dirs["crf"],
        conf_dir=dirs["conf"] if loss == "cgl" else None,
        val_dataset=val,
        allow_random=True,
    )
    return train(task, recipe.train), recipe


def cmd_train(args, dirs) -> None:
    """Every (lr, seed, loss): train with the quick val curve, then score val fully."""
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.pipelines.predict import image_confusions
    from clipwsss.pipelines.tta import deeplab_tta

    names = get_profile("toy").class_names()
    val = VOCDataset(args.data, "val", class_names=names)
    for lr in args.lr:
        for seed in args.seeds or [0]:
            for loss in args.losses:
                t0 = time.time()
                result, recipe = train_run(
                    args, dirs, loss, seed, lr, args.iterations, eval_every=args.eval_every
                )
                run = Path(recipe.train.run_dir)
                if (run / "val_hists.npy").is_file():
                    continue
                h = image_confusions(result.model, val, len(names) + 1, deeplab_tta(recipe.tta))
                np.save(run / "val_hists.npy", h.astype(np.int32))
                curve = {
                    r["step"]: round(100 * r["miou"], 2)
                    for r in result.history
                    if r["kind"] == "eval"
                }
                info = {
                    "loss": loss,
                    "seed": seed,
                    "lr": lr,
                    "iterations": args.iterations,
                    "seconds": round(time.time() - t0, 1),
                    "curve": curve,
                    "platform": platform.machine(),
                    "torch": torch.__version__,
                }
                (run / "info.json").write_text(json.dumps(info) + "\n")
                print(json.dumps(info), flush=True)


def run_curve(run: Path) -> list[dict]:
    """The quick val evaluations a run logged so far (a run still training has fewer)."""
    log, config = run / "log.jsonl", run / "config.json"
    if not log.is_file() or not config.is_file():
        return []
    train = json.loads(config.read_text())["train"]
    loss = json.loads(config.read_text())["task"]["recipe"]["loss"]["kind"]  # the Recipe's loss
    finished = (run / "val_hists.npy").is_file()
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [
        {
            "loss": loss,
            "seed": train["seed"],
            "lr": train["lr"],
            "run iterations": train["iterations"],
            "step": r["step"],
            "val mIoU (1 scale, no flip)": round(100 * r["miou"], 1),
            "finished": finished,
        }
        for r in rows
        if r.get("kind") == "eval"
    ]


def cmd_report(args) -> None:
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.experiments.seed_intervals import seed_mean_table
    from clipwsss.pipelines.evaluate import evaluate

    runs, infos, curves = {}, [], []
    for run in sorted((args.data / "runs" / "deeplab_longer").glob("*_seed*")):
        if args.seeds and int(run.name.rsplit("_seed", 1)[1]) not in args.seeds:
            continue  # report --seeds 0: only those seeds' runs (another may still be training)
        curves += run_curve(run)
        if not (run / "val_hists.npy").is_file():
            continue
        info = json.loads((run / "info.json").read_text())
        infos.append(info)
        key = f"{info['loss'].upper()} (lr {info['lr']:g}, {info['iterations']} it)"
        runs.setdefault(key, {})[info["seed"]] = np.load(run / "val_hists.npy")
    if not curves:
        raise SystemExit("no run: run the train command first")
    names = get_profile("toy").class_names()
    val = VOCDataset(args.data, "val", class_names=names)
    masks = evaluate(
        VOCDataset(args.data, "train", class_names=names),
        args.data / "runs" / "masks",
        progress=False,
    ).scores.miou
    pairs = [
        (k, k.replace("CGL", "CE"))
        for k in runs
        if k.startswith("CGL") and k.replace("CGL", "CE") in runs
    ]
    curve = pd.DataFrame(curves).sort_values(["lr", "run iterations", "loss", "seed", "step"])
    args.out.mkdir(parents=True, exist_ok=True)
    curve.to_csv(args.out / "12_deeplab_curve.csv", index=False)
    table = (
        seed_mean_table(runs, pairs, n_boot=args.n_boot).round(1)
        if runs
        else pd.DataFrame(columns=["mIoU"])
    )
    table.index.name = "run or difference"
    args.out.mkdir(parents=True, exist_ok=True)
    table.reset_index().to_csv(args.out / "12_deeplab_ce_cgl_long.csv", index=False)
    md = [
        "# Toy DeepLab trained longer: CE vs CGL",
        "",
        "Produced by `python scripts/toy_deeplab_longer.py train ...` (runs below) and "
        f"`python scripts/toy_deeplab_longer.py report` ({platform.machine()}, torch "
        f"{torch.__version__}). {len(val)} toy val images, single scale + flip, no CRF; "
        f"mIoU in %, mean over training seeds, 95% interval from {args.n_boot} paired image "
        "resamples of that mean; seed range = max - min over seeds (not in the interval). "
        f"The official pseudo-masks the networks learn from score {100 * masks:.1f} on "
        "the train split.",
        "",
        table.reset_index().to_markdown(index=False),
        "",
        "## Runs",
        "",
        (
            pd.DataFrame(infos).drop(columns="curve").to_markdown(index=False)
            if infos
            else "(no finished run)"
        ),
        "",
        "## Learning curves (quick val: single scale, no flip)",
        "",
        "A run that had not finished when the report was written shows the evaluations "
        "it had logged (column finished = False in 12_deeplab_curve.csv).",
        "",
        curve.pivot_table(
            index="step",
            columns=["loss", "seed", "lr", "run iterations"],
            values="val mIoU (1 scale, no flip)",
        )
        .round(1)
        .to_markdown(),
        "",
    ]
    (args.out / "12_deeplab_ce_cgl_long.md").write_text("\n".join(md))
    print("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=("train", "report"))
    p.add_argument("--data", type=Path, default=Path("data/toy_deeplab"))
    p.add_argument("--out", type=Path, default=Path("results/toy"))
    p.add_argument("--n-train", type=int, default=300)
    p.add_argument("--n-val", type=int, default=100)
    p.add_argument("--lr", type=float, nargs="+", default=[1e-3])
    p.add_argument("--iterations", type=int, default=1200)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument(
        "--seeds", type=int, nargs="+", help="train: these seeds (default 0); report: only these"
    )
    p.add_argument("--losses", nargs="+", choices=("ce", "cgl"), default=["ce", "cgl"])
    p.add_argument("--n-boot", type=int, default=1000)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "report":
        cmd_report(args)
        return 0
    cmd_train(args, make_masks(args.data, args.n_train, args.n_val))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
