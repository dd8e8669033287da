"""WeCLIP on toy: RFM on/off and decoder size, over training seeds, with paired intervals.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/weclip_rfm_ablation.py train \
        --decoder small --rfm on --seeds 0 1 2
    OMP_NUM_THREADS=1 nice -n 10 python scripts/weclip_rfm_ablation.py train \
        --decoder small --rfm off --seeds 0 1 2
    python scripts/weclip_rfm_ablation.py report

``train`` trains the toy recipe (300 iterations, batch 4, crop 96; data of
``scripts/weclip_toy.py``: 400 generated train images, toy val 200) with

* ``--decoder toy``: the toy recipe's decoder (width 256, 2,865,419 parameters, larger than
  the frozen micro-CLIP's 2,046,721), or ``small``: ``toy_small_config`` (width 64,
  200,267 parameters);
* ``--rfm on``: the recipe (CAA until iteration 91, the RFM from 92 on, the official VOC
  fraction 9145 / 30000), or ``off``: ``rfm_start_fraction=1.0``, plain CAA labels for the
  whole run.

Each run writes, under ``--work/<decoder>_rfm<on|off>_seed<N>/``: its toy-val predictions
(scales {1.0, 0.75} + flip, no CRF) and ``hists.npz`` with per-image confusion matrices of
the val predictions and of the model's own CAA and RFM pseudo labels on the first
``--n-train-eval`` train images (whole images; ``clipwsss.experiments.weclip_rfm``).
``report`` collects every finished run into ``--out/14_rfm_ablation_hists.npz`` and writes
``--out/14_rfm_ablation.csv`` / ``.md`` (seed means with paired image-bootstrap intervals,
``clipwsss.experiments.seed_intervals``). Finished runs are reused.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

DECODERS = ("toy", "small")


def run_name(decoder: str, rfm: str, seed: int) -> str:
    return f"{decoder}_rfm{rfm}_seed{seed}"


def _names() -> tuple[str, ...]:
    from clipwsss.experiments.profiles import get_profile

    return tuple(get_profile("toy").class_names())


def _dataset(data: Path, split: str, limit: int | None = None):
    from clipwsss.data import VOCDataset

    ds = VOCDataset(data, split, class_names=list(_names()))
    ds.ids = ds.ids[:limit] if limit else ds.ids
    return ds


def train_one(args, decoder: str, rfm: str, seed: int) -> Path:
    """Train, predict toy val, score val and the CAA / RFM pseudo labels; returns the run."""
    from clipwsss.methods.weclip.train import toy_config, toy_small_config
    from clipwsss.train import train
    from clipwsss.train.tasks.weclip import RECIPES, WeClipTask

    run = args.work / run_name(decoder, rfm, seed)
    if (run / "hists.npz").is_file():
        return run
    over = {} if rfm == "on" else {"rfm_start_fraction": 1.0}
    cfg = (toy_config if decoder == "toy" else toy_small_config)(**over)
    over = {} if args.iterations is None else {"iterations": args.iterations, "warmup_iters": 0}
    recipe = RECIPES["toy"]
    recipe = replace(
        recipe,
        model=cfg,
        train=replace(recipe.train, seed=seed, progress=False, run_dir=str(run / "run"), **over),
    )
    task = WeClipTask(recipe, _dataset(args.data, "train", 0))
    t0 = time.time()
    result = train(task, recipe.train)
    train_s = time.time() - t0
    info = {
        "decoder": decoder,
        "rfm": rfm,
        "seed": seed,
        "train_seconds": round(train_s, 1),
        "rfm_switch_iteration": cfg.rfm_switch_iteration(result.step),
        "iterations": result.step,
    }
    score_model(args, result.model, run, "", info)
    return run


def score_model(args, model, run: Path, suffix: str, info: dict) -> None:
    """Val predictions and the CAA / RFM train labels of one model -> hists<suffix>.npz."""
    from clipwsss.data import load_image, load_label_png
    from clipwsss.experiments.weclip_rfm import caa_rfm_labels
    from clipwsss.methods.weclip.infer import InferenceConfig
    from clipwsss.metrics import confusion_matrix
    from clipwsss.pipelines.evaluate import evaluate
    from clipwsss.pipelines.predict import predict_dataset
    from clipwsss.pipelines.tta import weclip_tta

    model = model.eval()
    val = _dataset(args.data, "val", args.n_val)
    pred = run / f"pred_val{suffix}"
    predict_dataset(
        model,
        val,
        pred,
        weclip_tta(InferenceConfig(long_side=None)),
        method="weclip",
        trained={"run": str(run), "suffix": suffix},
        progress=False,
    )
    hists = {"val": evaluate(val, pred, per_image=True, progress=False).image_hists}
    train_ds = _dataset(args.data, "train", args.n_train_eval)
    n = len(_names()) + 1
    pseudo = {"caa": [], "rfm": []}
    for image_id in train_ds.ids:
        sample = train_ds.sample(image_id)
        gt = load_label_png(sample.gt_path)
        labels = caa_rfm_labels(model, load_image(sample.image_path), sample.labels)
        for key, label in zip(("caa", "rfm"), labels, strict=True):
            pseudo[key].append(confusion_matrix(label, gt, n))
    hists.update({f"train_{k}": np.stack(v) for k, v in pseudo.items()})
    info = {
        **info,
        "decoder_parameters": model.trainable_parameters(),
        "platform": platform.machine(),
        "torch": torch.__version__,
    }
    (run / f"info{suffix}.json").write_text(json.dumps(info, indent=2) + "\n")
    np.savez_compressed(
        run / f"hists{suffix}.npz", **{k: v.astype(np.int32) for k, v in hists.items()}
    )
    print(json.dumps(info), flush=True)


def score_step(args, decoder: str, rfm: str, seed: int, step: int) -> None:
    """Score the run's checkpoint of ``step`` (a run part way through its schedule)."""
    from safetensors.torch import load_file

    from clipwsss.methods.weclip.train import toy_config, toy_small_config
    from clipwsss.train.checkpoints import checkpoint_dir
    from clipwsss.train.tasks.weclip import RECIPES, build_model

    run = args.work / run_name(decoder, rfm, seed)
    if (run / f"hists_step{step}.npz").is_file():
        return
    over = {} if rfm == "on" else {"rfm_start_fraction": 1.0}
    cfg = (toy_config if decoder == "toy" else toy_small_config)(**over)
    model = build_model(replace(RECIPES["toy"], model=cfg))
    folder = checkpoint_dir(run / "run", step)
    model.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False)
    info = {
        "decoder": decoder,
        "rfm": rfm,
        "seed": seed,
        "train_seconds": None,
        "rfm_switch_iteration": cfg.rfm_switch_iteration(300),
        "iterations": step,
    }
    score_model(args, model, run, f"_step{step}", info)


def collect(work: Path, suffix: str = "") -> tuple[dict, list[dict]]:
    """Every scored run: {"<split key>/<decoder> RFM <on|off>/<seed>": hists}, infos."""
    arrays, infos = {}, []
    for run in sorted(work.glob("*_rfm*_seed*")):
        if not (run / f"hists{suffix}.npz").is_file():
            print(f"skipping {run.name} (no hists{suffix}.npz)", file=sys.stderr)
            continue
        info = json.loads((run / f"info{suffix}.json").read_text())
        infos.append(info)
        with np.load(run / f"hists{suffix}.npz") as z:
            for key in z.files:
                arrays[f"{key}/{variant(info['decoder'], info['rfm'])}/{info['seed']}"] = z[key]
    return arrays, infos


def variant(decoder: str, rfm: str) -> str:
    return f"{decoder} decoder, RFM {rfm}"


def runs_of(arrays, key: str) -> dict[str, dict[int, np.ndarray]]:
    """{variant: {seed: hists}} of one split key ("val", "train_caa", "train_rfm")."""
    out: dict[str, dict[int, np.ndarray]] = {}
    for name, h in arrays.items():
        k, v, s = name.split("/")
        if k == key:
            out.setdefault(v, {})[int(s)] = h
    return out


def tables(arrays, n_boot: int) -> pd.DataFrame:
    """The report's rows: val predictions, and the pseudo labels (CAA vs RFM) on train."""
    from clipwsss.experiments.seed_intervals import seed_mean_table

    val = runs_of(arrays, "val")
    pairs = [(variant(d, "on"), variant(d, "off")) for d in DECODERS]
    pairs += [(variant("small", r), variant("toy", r)) for r in ("on", "off")]
    pairs = [(a, b) for a, b in pairs if a in val and b in val]
    parts = {"toy val predictions": seed_mean_table(val, pairs, n_boot=n_boot)}
    labels = {}
    for key, name in (("train_caa", "CAA"), ("train_rfm", "RFM")):
        for v, by_seed in runs_of(arrays, key).items():
            if v.endswith("RFM on"):  # the labels of the models trained as the recipe
                labels[f"{name} labels ({v.split(',')[0]})"] = by_seed
    lpairs = [(f"RFM labels ({d} decoder)", f"CAA labels ({d} decoder)") for d in DECODERS]
    lpairs = [(a, b) for a, b in lpairs if a in labels and b in labels]
    if labels:
        parts["train pseudo labels"] = seed_mean_table(labels, lpairs, n_boot=n_boot)
    out = pd.concat(parts, names=["table", "row"]).reset_index()
    return out.round({"mIoU": 1, "95% low": 1, "95% high": 1, "seed range": 1})


def cmd_report(args) -> None:
    suffix = f"_step{args.step}" if args.step else ""
    arrays, infos = collect(args.work, suffix)
    if not arrays:
        raise SystemExit(f"no scored run under {args.work}: run the train command first")
    table = tables(arrays, args.n_boot)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"14_rfm_ablation{suffix}"
    np.savez_compressed(args.out / f"{stem}_hists.npz", **arrays)
    table.to_csv(args.out / f"{stem}.csv", index=False)
    runs = pd.DataFrame(infos)[
        [
            "decoder",
            "rfm",
            "seed",
            "decoder_parameters",
            "rfm_switch_iteration",
            "iterations",
            "train_seconds",
        ]
    ]
    (args.out / f"{stem}_runs.csv").write_text(runs.to_csv(index=False))
    md = [
        "# WeCLIP on toy: RFM on/off and decoder size, over training seeds",
        "",
        "Produced by `python scripts/weclip_rfm_ablation.py train --decoder D --rfm R "
        "--seeds S` for each run below, then `python scripts/weclip_rfm_ablation.py report` "
        f"({platform.machine()}, torch {torch.__version__}). Toy recipe (300 iterations, "
        "batch 4, crop 96, 400 generated train images). Val: 200 toy val images, scales "
        "{1.0, 0.75} + flip, no CRF. Train pseudo labels: each RFM-on model's own online "
        "labels (CAA, and RFM with its A_f) on whole train images. mIoU in %, mean over "
        f"training seeds; 95% interval from {args.n_boot} paired image resamples of that "
        "mean; seed range = max - min over seeds (not in the interval)."
        + (
            f" Every model here is the checkpoint of step {args.step} of its 300-step run "
            f"(`python scripts/weclip_rfm_ablation.py score-step --step {args.step} ...`, "
            f"`report --step {args.step}`): the RFM-on runs used RFM labels from step 92 "
            "on; runs part way through the schedule, not runs of that length."
            if args.step
            else ""
        ),
        "",
        table.to_markdown(index=False),
        "",
        "## Runs",
        "",
        runs.to_markdown(index=False),
        "",
    ]
    (args.out / f"{stem}.md").write_text("\n".join(md))
    print("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.profiles import TOY_IMAGE_SIZE
    from clipwsss.toy import generate_toy_voc

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=("train", "score-step", "report"))
    p.add_argument("--data", type=Path, default=Path("data/toy_weclip"))
    p.add_argument("--work", type=Path, default=Path("outputs/weclip_rfm"))
    p.add_argument("--out", type=Path, default=Path("results/toy"))
    p.add_argument("--decoder", choices=DECODERS, default="small")
    p.add_argument("--rfm", choices=("on", "off"), default="on")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-train-eval", type=int, default=100, help="train images of the labels")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument(
        "--step",
        type=int,
        default=0,
        help="score-step / report: a checkpoint step of the runs (0: finished runs)",
    )
    p.add_argument("--iterations", type=int, default=None, help="override (smoke runs only)")
    p.add_argument("--n-val", type=int, default=None, help="first val images (smoke runs only)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "report":
        cmd_report(args)
        return 0
    if not (args.data / "ImageSets" / "Segmentation" / "val.txt").is_file():
        generate_toy_voc(args.data, n_train=400, n_val=200, seed=0, image_size=TOY_IMAGE_SIZE)
    for seed in args.seeds:
        if args.command == "score-step":
            score_step(args, args.decoder, args.rfm, seed, args.step)
        else:
            train_one(args, args.decoder, args.rfm, seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
