"""WeCLIP on the toy world: train the toy recipe, predict, score beside CLIP-ES.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/weclip_toy.py --seeds 0 1

Trains WeCLIP (toy recipe: the shipped micro-CLIP, 4 blocks, 96 px crops) on generated toy
train images through the shared engine (one run folder per seed, resumable), writes its
predictions (scales {1.0, 0.75} + flip, no CRF, native 96 px: no long-side resize) for toy
val and for the training images (pseudo labels, WeCLIP supp. Table 1), runs CLIP-ES (CAA +
dCRF, nothing ignored) on the same images, and writes ``summary.json`` / ``summary.md`` with
95% image-bootstrap intervals (paired resamples). The tables and ``summary.md`` are made by
``clipwsss.experiments.weclip``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch


def _clip_es_runs(data: Path, work: Path, split: str, limit: int | None) -> dict:
    from clipwsss.experiments.stages import clip_es_folders, toy_clip_es
    from clipwsss.pipelines.evaluate import evaluate

    es, dataset = toy_clip_es(data, split)
    out = clip_es_folders(es, dataset, work / f"clip_es_{split}", threshold=None, limit=limit)
    return {
        "CLIP-ES + CAA": evaluate(
            dataset, out["cams"], per_image=True, limit=limit, progress=False
        ).image_hists,
        "CLIP-ES + CAA + dCRF": evaluate(
            dataset, out["crf"], per_image=True, limit=limit, progress=False
        ).image_hists,
    }


def _weclip_run(
    data: Path, work: Path, seed: int, iterations: int | None, limits: dict[str, int | None]
) -> tuple[dict, float]:
    from dataclasses import replace

    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.methods.weclip.infer import InferenceConfig
    from clipwsss.pipelines.evaluate import evaluate
    from clipwsss.pipelines.predict import predict_dataset, trained_identity
    from clipwsss.pipelines.tta import weclip_tta
    from clipwsss.train import train
    from clipwsss.train.tasks.weclip import RECIPES, WeClipTask

    names = tuple(get_profile("toy").class_names())
    over = {} if iterations is None else {"iterations": iterations}
    t0 = time.time()
    run_dir = str(work / f"weclip_seed{seed}")
    recipe = RECIPES["toy"]
    recipe = replace(
        recipe, train=replace(recipe.train, seed=seed, run_dir=run_dir, progress=False, **over)
    )
    task = WeClipTask(recipe, VOCDataset(data, "train", class_names=list(names)))
    result = train(task, recipe.train)
    train_s = time.time() - t0
    # A finished run is resumed, not retrained: keep the time of the call that trained it.
    record = Path(run_dir) / "train_seconds.json"
    if result.resumed_from < result.step or not record.is_file():
        record.write_text(json.dumps({"seconds": round(train_s, 1)}) + "\n")
    train_s = json.loads(record.read_text())["seconds"]
    resumed = result.resumed_from == result.step  # trained by an earlier call
    hists = {}
    for split, limit in limits.items():
        ds = VOCDataset(data, split, class_names=list(names))
        ds.ids = ds.ids[:limit] if limit else ds.ids  # the images CLIP-ES is scored on
        pred = work / f"weclip_seed{seed}" / f"pred_{split}"
        predict_dataset(
            result.model,
            ds,
            pred,
            weclip_tta(InferenceConfig(long_side=None)),
            method="weclip",
            trained=trained_identity(run_dir),
            progress=False,
        )
        hists[split] = evaluate(ds, pred, per_image=True, progress=False).image_hists
    return hists, train_s, resumed


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.profiles import TOY_IMAGE_SIZE
    from clipwsss.experiments.weclip import comparison_rows, write_markdown
    from clipwsss.toy import generate_toy_voc

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/toy_weclip"))
    p.add_argument("--work", type=Path, default=Path("outputs/weclip_toy"))
    p.add_argument("--out", type=Path, default=Path("results/toy/weclip"))
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--n-val", type=int, default=200)
    p.add_argument("--n-train-eval", type=int, default=200, help="train images scored")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--iterations", type=int, default=None, help="override the toy recipe")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--markdown-only", action="store_true", help="rewrite summary.md from json")
    args = p.parse_args(argv)
    if args.markdown_only:
        write_markdown(json.loads((args.out / "summary.json").read_text()), args.out / "summary.md")
        return 0
    torch.set_num_threads(1)
    t0 = time.time()
    if not (args.data / "ImageSets" / "Segmentation" / "val.txt").is_file():
        generate_toy_voc(
            args.data, n_train=args.n_train, n_val=args.n_val, seed=0, image_size=TOY_IMAGE_SIZE
        )
    limits = {"val": None, "train": args.n_train_eval}
    words = sys.argv[1:] if argv is None else argv
    summary = {
        "command": "python scripts/weclip_toy.py " + " ".join(words),
        "tables": {},
        "train_seconds": {},
        "platform": platform.machine(),
        "torch": torch.__version__,
    }
    per_split = {s: _clip_es_runs(args.data, args.work, s, limits[s]) for s in ("val", "train")}
    for seed in args.seeds:
        hists, secs, resumed = _weclip_run(args.data, args.work, seed, args.iterations, limits)
        summary["train_seconds"][f"seed{seed}"] = round(secs, 1)
        if resumed:
            summary.setdefault("trained_earlier", []).append(f"seed{seed}")
        for s in ("val", "train"):
            per_split[s][f"WeCLIP seed {seed}"] = hists[s]
    for s, runs in per_split.items():
        n = len(next(iter(runs.values())))
        assert all(len(h) == n for h in runs.values()), "runs scored on different images"
        summary["tables"][s] = {"n_images": n, "rows": comparison_rows(runs, n_boot=args.n_boot)}
    summary["wall_seconds"] = round(time.time() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_markdown(summary, args.out / "summary.md")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
