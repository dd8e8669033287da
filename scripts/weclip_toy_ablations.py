"""WeCLIP supplementary ablations on the toy world (Tables 2-5), seed 0 of the toy recipe.

    python scripts/weclip_toy_ablations.py train --tag aff0 --set aff_weight=0
    python scripts/weclip_toy_ablations.py train --tag n0_3 --set first_block=3
    python scripts/weclip_toy_ablations.py train --tag aff1 --set aff_weight=1.0
    python scripts/weclip_toy_ablations.py train --tag afftarget_pred \
        --set 'aff_target="prediction"'
    python scripts/weclip_toy_ablations.py report

``train`` trains one variant of the toy recipe (a ``WeClipConfig`` field changed) and writes its
toy-val predictions; ``report`` scores every variant and the default run of
``scripts/weclip_toy.py`` (same seed, same images), adds the inference scale sets of
supplementary Table 5 on the default seed-0 and seed-1 checkpoints, and writes
``results/toy/weclip/ablations.json`` / ``.md`` with paired 95% image-bootstrap intervals of
each difference to the default (tables by ``clipwsss.experiments.weclip``). Run
``scripts/weclip_toy.py`` first (same ``--data``/``--work``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def _names() -> tuple[str, ...]:
    from clipwsss.experiments.profiles import get_profile

    return tuple(get_profile("toy").class_names())


def _val(data: Path):
    from clipwsss.data import VOCDataset

    return VOCDataset(data, "val", class_names=list(_names()))


def _parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, value = item.split("=", 1)
        out[key] = json.loads(value)
    return out


def cmd_train(args) -> None:
    from dataclasses import replace

    from clipwsss.data import VOCDataset
    from clipwsss.methods.weclip.infer import InferenceConfig
    from clipwsss.methods.weclip.train import toy_config
    from clipwsss.pipelines.predict import predict_dataset, trained_identity
    from clipwsss.pipelines.tta import weclip_tta
    from clipwsss.train import train
    from clipwsss.train.tasks.weclip import RECIPES, WeClipTask

    changes = _parse_sets(args.set)
    run = args.work / f"ablation_{args.tag}"
    recipe = RECIPES["toy"]
    recipe = replace(
        recipe,
        model=toy_config(**changes),
        train=replace(recipe.train, seed=0, run_dir=str(run), progress=False),
    )
    task = WeClipTask(recipe, VOCDataset(args.data, "train", class_names=list(_names())))
    result = train(task, recipe.train)
    predict_dataset(
        result.model,
        _val(args.data),
        run / "pred_val",
        weclip_tta(InferenceConfig(long_side=None)),
        method="weclip",
        trained=trained_identity(run),
        progress=False,
    )
    (run / "changes.json").write_text(json.dumps(changes) + "\n")


def _scale_runs(args, runs: dict) -> None:
    from clipwsss.experiments.weclip import SCALE_SETS
    from clipwsss.methods.weclip.infer import InferenceConfig
    from clipwsss.pipelines.evaluate import evaluate
    from clipwsss.pipelines.predict import predict_dataset, trained_identity
    from clipwsss.pipelines.tta import weclip_tta
    from clipwsss.train import load_trained
    from clipwsss.train.tasks.weclip import RECIPES, build_model

    val = _val(args.data)
    for seed in (0, 1):
        run = args.work / f"weclip_seed{seed}"
        model = load_trained(run, build_model(RECIPES["toy"])).eval()
        for scales in SCALE_SETS:
            out = run / f"pred_val_scales_{'_'.join(map(str, scales))}"
            tta = weclip_tta(InferenceConfig(scales=scales, long_side=None))
            predict_dataset(
                model, val, out, tta, method="weclip", trained=trained_identity(run), progress=False
            )
            runs[f"seed {seed}: scales {scales}"] = evaluate(
                val, out, per_image=True, progress=False
            ).image_hists


def cmd_report(args) -> None:
    from clipwsss.experiments.weclip import DEFAULT_RUN, ablation_rows, ablations_markdown
    from clipwsss.pipelines.evaluate import evaluate

    val = _val(args.data)
    runs = {
        DEFAULT_RUN: evaluate(
            val, args.work / "weclip_seed0" / "pred_val", per_image=True, progress=False
        ).image_hists
    }
    for run in sorted(args.work.glob("ablation_*")):
        if not (run / "changes.json").is_file():  # still training: left out, and said so
            print(f"skipping unfinished {run.name}", file=sys.stderr)
            continue
        changes = json.loads((run / "changes.json").read_text())
        tag = ", ".join(f"{k}={v}" for k, v in changes.items())
        runs[f"seed 0: {tag}"] = evaluate(
            val, run / "pred_val", per_image=True, progress=False
        ).image_hists
    _scale_runs(args, runs)
    summary = {
        "command": "python scripts/weclip_toy_ablations.py " + " ".join(sys.argv[1:]),
        "n_images": len(val),
        "rows": ablation_rows(runs, n_boot=args.n_boot),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablations.json").write_text(json.dumps(summary, indent=2) + "\n")
    markdown = ablations_markdown(summary)
    (args.out / "ablations.md").write_text(markdown)
    print(markdown.rstrip("\n"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=("train", "report"))
    p.add_argument("--data", type=Path, default=Path("data/toy_weclip"))
    p.add_argument("--work", type=Path, default=Path("outputs/weclip_toy"))
    p.add_argument("--out", type=Path, default=Path("results/toy/weclip"))
    p.add_argument("--tag", default="", help="train: name of the variant")
    p.add_argument("--set", nargs="*", default=[], help="train: WeClipConfig field=JSON value")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument(
        "--markdown-only",
        action="store_true",
        help="report: rewrite ablations.md from ablations.json",
    )
    args = p.parse_args(argv)
    if args.markdown_only:
        from clipwsss.experiments.weclip import ablations_markdown

        summary = json.loads((args.out / "ablations.json").read_text())
        (args.out / "ablations.md").write_text(ablations_markdown(summary))
        return 0
    torch.set_num_threads(1)
    if args.command == "train":
        if not args.tag or not args.set:
            p.error("train needs --tag and --set")
        cmd_train(args)
    else:
        cmd_report(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
