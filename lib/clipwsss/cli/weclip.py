"""``clipwsss train weclip`` and ``clipwsss predict`` of a WeCLIP run: WeCLIP's handlers.

    clipwsss train weclip --recipe voc12 --dataset voc12 --root data/VOCdevkit/VOC2012 \\
        --split train_aug --run-dir runs/weclip_voc
    clipwsss predict --run-dir runs/weclip_voc --root data/VOCdevkit/VOC2012 \\
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
from collections.abc import Sequence
from pathlib import Path

from clipwsss.cli.config_flags import add_config_arguments, config_from_args
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


def load_predictor(run_dir: Path, device: str = "auto"):
    """The trained WeCLIP of a finished ``train weclip`` run, ready for ``clipwsss predict``.

    Returns:
        A :class:`~clipwsss.pipelines.predict.Predictor`; its test is the official one
        (``test_msc_flip_voc.py``), a toy run's at the images' own size (no long-side resize).
    """
    from clipwsss.clip.loading import resolve_device
    from clipwsss.methods.weclip.infer import InferenceConfig
    from clipwsss.pipelines.predict import Predictor, trained_identity
    from clipwsss.pipelines.tta import weclip_tta
    from clipwsss.train import load_trained
    from clipwsss.train.tasks.weclip import WeClipData, recipe_task

    full = json.loads((Path(run_dir) / "config.json").read_text())
    record = full["task"]
    record["data"].setdefault("root", full.get("paths", {}).get("root"))  # older: in "data"
    fields = {f.name for f in dataclasses.fields(WeClipConfig)}
    saved = {k: (tuple(v) if isinstance(v, list) else v) for k, v in record["model"].items()
             if k in fields}  # fmt: skip
    data = WeClipData(**{**record["data"], "class_names": record["data"]["class_names"]})
    task = recipe_task(record["recipe"], data, model_config=WeClipConfig(**saved),
                       clip_name=record["clip"], pretrained=record["pretrained"])  # fmt: skip
    trained = trained_identity(run_dir)
    model = load_trained(run_dir, task.build_model()).to(resolve_device(device)).eval()
    toy = record["recipe"] == "toy"
    names = data.class_names
    tta = weclip_tta(InferenceConfig(long_side=None if toy else 512))
    return Predictor(
        method="weclip", model=model, tta=tta,
        profile="toy" if toy else data.dataset, root=data.root,
        class_names=None if names is None else tuple(names), trained=trained,
    )  # fmt: skip
