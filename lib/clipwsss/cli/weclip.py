"""``clipwsss train weclip`` and ``clipwsss predict`` of a WeCLIP run: WeCLIP's handlers.

    clipwsss train weclip --recipe voc12 --dataset voc12 --root data/VOCdevkit/VOC2012 \\
        --split train_aug --run-dir runs/weclip_voc
    clipwsss predict --run-dir runs/weclip_voc --dataset voc12 --root data/VOCdevkit/VOC2012 \\
        --split train --out outputs/weclip_voc/masks [--crf]

Every field of ``TrainConfig`` (engine) and ``WeClipConfig`` (model) has a flag
(``--iterations``, ``--aff-weight``, ``--first-block`` ...); unset flags keep the recipe's value.
Rerunning ``train`` with the same ``--run-dir`` resumes from the newest checkpoint; rerunning
``predict`` skips the PNGs already written. ``cli/methods.py`` registers both commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from clipwsss.cli.config_flags import add_config_arguments, config_from_args, non_negative_int
from clipwsss.methods.weclip.config import WeClipConfig
from clipwsss.train import TrainConfig


def _data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", required=True, choices=("voc12", "coco14"), help="data set kind")
    g.add_argument("--root", required=True, type=Path, help="VOC2012 or COCO 2014 folder")
    g.add_argument("--split", default=None,
                   help="split list (train: train_aug, toy: train; predict: train)")  # fmt: skip
    g.add_argument("--device", default=None, help="auto (cuda if present), cpu or cuda")


def add_train_parser(methods) -> None:
    """Register ``weclip`` on the ``train`` parser's method subparsers (``cli/methods.py``)."""
    p = methods.add_parser("weclip", help="WeCLIP: frozen CLIP + decoder, single stage")
    _data_args(p)
    p.add_argument("--recipe", choices=("voc12", "coco14", "toy"), default="voc12")
    p.add_argument("--model", default=None, help="open_clip name or local-dir: (recipe's)")
    p.add_argument("--pretrained", default=None, help="weights tag or file (recipe's)")
    p.add_argument("--labels-from-gt", action="store_true",
                   help="image labels from the GT PNGs (official code) instead of the XML")
    p.add_argument("--eval-split", default=None, help="validate on this split (official: train)")
    add_config_arguments(p, TrainConfig, skip=("device",), recipe=True)
    add_config_arguments(p, WeClipConfig, recipe=True)
    p.set_defaults(handler=cmd_train)


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``clipwsss predict`` for a ``train weclip`` run (besides ``--run-dir``)."""
    _data_args(p)
    p.add_argument("--out", required=True, type=Path, help="output folder of <id>.png")
    p.add_argument("--scales", default="1.0,0.75", help="comma-separated (supp. Table 5)")
    p.add_argument("--no-flip", action="store_true", help="no horizontal-flip averaging")
    p.add_argument("--long-side", type=non_negative_int, default=None,
                   help="resize long side; 0 = keep (default 512; toy runs: 0)")  # fmt: skip
    p.add_argument("--crf", action="store_true", help="dense CRF on the softmax")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from clipwsss.train import train
    from clipwsss.train.tasks.weclip import WeClipData, recipe_task, recipe_train_config

    # The toy world has no train_aug list (VOC's shipped one would be read): its split is train.
    split = args.split or ("train" if args.recipe == "toy" else "train_aug")
    data = WeClipData(args.dataset, str(args.root), split,
                      labels_from_gt=args.labels_from_gt, eval_split=args.eval_split)  # fmt: skip
    task = recipe_task(args.recipe, data)
    model_config = config_from_args(WeClipConfig, args, task.model_config)
    task = dataclasses.replace(task, model_config=model_config,
                               clip_name=args.model or task.clip_name,
                               pretrained=task.pretrained if args.pretrained is None else (
                                   None if args.pretrained.lower() == "none" else args.pretrained))
    _check_attention_layers(task, args)
    config = config_from_args(TrainConfig, args, recipe_train_config(args.recipe))
    config = dataclasses.replace(config, device="auto" if args.device is None else args.device)
    result = train(task, config)
    print(json.dumps({"run_dir": str(result.run_dir), "step": result.step,
                      "resumed_from": result.resumed_from, "final_eval": result.final_eval}))
    return 0


def _long_side(args: argparse.Namespace, record: dict) -> int | None:
    """--long-side, else 512 (official) or, for a toy run, the images' own size."""
    if args.long_side is None:
        return None if record["recipe"] == "toy" else 512
    return args.long_side or None


def _check_attention_layers(task, args: argparse.Namespace) -> None:
    """--caa-layers / --rfm-layers given: at most the CLIP model's blocks (as `cams` refuses).

    The model itself uses the last min(N, available) maps, which the recipes rely on.
    """
    given = [n for n in ("caa_layers", "rfm_layers") if getattr(args, n, None) is not None]
    if not given:
        return
    from clipwsss.clip.loading import load_clip

    clip = load_clip(task.clip_name, task.pretrained)
    n_blocks = len(clip.model.visual.transformer.resblocks)
    for name in given:
        if getattr(args, name) > n_blocks:
            raise ValueError(f"{name}={getattr(args, name)} (--{name.replace('_', '-')}): the "
                             f"CLIP model {task.clip_name} has {n_blocks} blocks")  # fmt: skip


def cmd_predict(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from clipwsss.clip.loading import resolve_device
    from clipwsss.data import build_dataset
    from clipwsss.methods.weclip.infer import InferenceConfig, parse_scales
    from clipwsss.methods.weclip.pipeline import predict_dataset
    from clipwsss.train import load_trained
    from clipwsss.train.tasks.weclip import WeClipData, recipe_task

    full = json.loads((args.run_dir / "config.json").read_text())
    record = full["task"]
    record["data"].setdefault("root", full.get("paths", {}).get("root"))  # older: in "data"
    fields = {f.name for f in dataclasses.fields(WeClipConfig)}
    saved = {k: (tuple(v) if isinstance(v, list) else v) for k, v in record["model"].items()
             if k in fields}  # fmt: skip
    data = WeClipData(**{**record["data"], "class_names": record["data"]["class_names"]})
    task = recipe_task(record["recipe"], data, model_config=WeClipConfig(**saved),
                       clip_name=record["clip"], pretrained=record["pretrained"])  # fmt: skip
    model = load_trained(args.run_dir, task.build_model()).to(resolve_device(args.device or "auto"))
    kwargs = {} if data.class_names is None else {"class_names": list(data.class_names)}
    dataset = build_dataset(args.dataset, args.root, args.split or "train", **kwargs)
    config = InferenceConfig(scales=parse_scales(args.scales), flip=not args.no_flip,
                             long_side=_long_side(args, record), crf=args.crf)  # fmt: skip
    bar = not args.quiet and sys.stderr.isatty()  # no bar in a redirected log
    n = predict_dataset(model, dataset, args.out, config, progress=bar,
                        record={"run_dir": str(args.run_dir)})  # fmt: skip
    print(f"wrote {n} PNGs to {args.out}")
    return 0
