"""``clipwsss train weclip`` and ``clipwsss predict`` of a WeCLIP run: WeCLIP's handlers.

    clipwsss train weclip --recipe voc12 --root data/VOCdevkit/VOC2012 \\
        --split train_aug --run-dir runs/weclip_voc
    clipwsss predict --run-dir runs/weclip_voc --dataset voc12 --root data/VOCdevkit/VOC2012 \\
        --split train --out outputs/weclip_voc/masks [--crf]

``train weclip`` is the shared ``cli/train.py`` command: every field of the recipe
(``ClipSpec``, ``WeClipConfig``, ``TrainConfig``, ``WeClipData``, ``InferenceConfig`` as
``tta``) has a flag (``--iterations``, ``--aff-weight``, ``--first-block``, ``--model``,
``--eval-split`` ...); unset flags keep the recipe's value. Rerunning ``train`` with the same
``--run-dir`` resumes from the newest checkpoint; rerunning ``predict`` skips the PNGs already
written. ``cli/methods.py`` registers both commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from clipwsss.cli.config_flags import non_negative_int


def check_recipe(recipe, args: argparse.Namespace):
    """``--pretrained none``: random CLIP weights (recorded as None); ``--caa-layers`` /
    ``--rfm-layers`` at most the CLIP model's blocks (as ``cams`` refuses)."""
    if recipe.clip.pretrained is not None and recipe.clip.pretrained.lower() == "none":
        recipe = dataclasses.replace(recipe, clip=dataclasses.replace(recipe.clip,
                                                                      pretrained=None))  # fmt: skip
    _check_attention_layers(recipe, args)
    return recipe


def task_inputs(args: argparse.Namespace, recipe) -> dict:
    """The split ``--eval-split`` names, scored when the engine evaluates."""
    if recipe.data.eval_split is None:
        return {}
    from clipwsss.cli.train import _dataset

    return {"eval_dataset": _dataset(args, args.profile or recipe.name, recipe.data.eval_split)}


def _check_attention_layers(recipe, args: argparse.Namespace) -> None:
    """The model itself uses the last min(N, available) maps, which the recipes rely on."""
    given = [n for n in ("caa_layers", "rfm_layers") if getattr(args, f"model.{n}") is not None]
    if not given:
        return
    from clipwsss.clip.loading import load_clip
    from clipwsss.train.tasks.common import clip_name

    clip = load_clip(clip_name(recipe.clip), recipe.clip.pretrained)
    n_blocks = len(clip.model.visual.transformer.resblocks)
    for name in given:
        value = getattr(args, f"model.{name}")
        if value > n_blocks:
            raise ValueError(f"{name}={value} (--{name.replace('_', '-')}): the CLIP model "
                             f"{recipe.clip.model} has {n_blocks} blocks")  # fmt: skip


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``clipwsss predict`` for a ``train weclip`` run (besides ``--run-dir``)."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", required=True, choices=("voc12", "coco14"), help="data set kind")
    g.add_argument("--root", required=True, type=Path, help="VOC2012 or COCO 2014 folder")
    g.add_argument("--split", default=None, help="split list (default train)")
    g.add_argument("--device", default=None, help="auto (cuda if present), cpu or cuda")
    p.add_argument("--out", required=True, type=Path, help="output folder of <id>.png")
    p.add_argument("--scales", default="1.0,0.75", help="comma-separated (supp. Table 5)")
    p.add_argument("--no-flip", action="store_true", help="no horizontal-flip averaging")
    p.add_argument("--long-side", type=non_negative_int, default=None,
                   help="resize long side; 0 = keep (default: the recipe's: 512, toy: 0)")
    p.add_argument("--crf", action="store_true", help="dense CRF on the softmax")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_predict(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from clipwsss.clip.loading import resolve_device
    from clipwsss.data import build_dataset
    from clipwsss.methods.weclip.infer import parse_scales
    from clipwsss.methods.weclip.pipeline import predict_dataset
    from clipwsss.train.runs import load_run

    recipe, model = load_run(args.run_dir)
    model = model.to(resolve_device(args.device or "auto"))
    names = model.vocab.names if recipe.clip.classes == "toy" else None
    kwargs = {} if names is None else {"class_names": list(names)}
    dataset = build_dataset(args.dataset, args.root, args.split or "train", **kwargs)
    long_side = recipe.tta.long_side if args.long_side is None else (args.long_side or None)
    config = dataclasses.replace(recipe.tta, scales=parse_scales(args.scales),
                                 flip=not args.no_flip, long_side=long_side,
                                 crf=args.crf)  # fmt: skip
    bar = not args.quiet and sys.stderr.isatty()  # no bar in a redirected log
    n = predict_dataset(model, dataset, args.out, config, progress=bar,
                        record={"run_dir": str(args.run_dir)})  # fmt: skip
    print(f"wrote {n} PNGs to {args.out}")
    return 0
