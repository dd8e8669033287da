"""``clipwsss train deeplab`` and ``clipwsss predict`` of a DeepLab run (registered by
``cli/methods.py``): the DeepLab stage on the command line.

    clipwsss train deeplab --profile voc12 --masks outputs/voc12/masks \\
        --run-dir runs/deeplab_voc12 [--init coco --weights deeplab_coco.pth] [--loss ce]
    clipwsss predict --run-dir runs/deeplab_voc12 --profile voc12 --split val \\
        --out outputs/voc12/deeplab_val --crf
    clipwsss eval --pred outputs/voc12/deeplab_val --dataset voc12 \\
        --root data/VOCdevkit/VOC2012 --split val

Every ``TrainConfig`` field has a flag (``--iterations``, ``--batch-size``, ``--lr``, ...);
unset flags keep the profile's recipe (``clipwsss.train.tasks.deeplab_recipes``). See
docs/deeplab.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from clipwsss.cli.config_flags import (
    add_config_arguments,
    config_from_args,
    non_negative_int,
    positive_int,
)
from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD
from clipwsss.train import TrainConfig

DEFAULT_TRAIN_SPLIT = {"voc12": "train_aug", "coco14": "train", "toy": "train"}


def _add_profile_args(p: argparse.ArgumentParser, split_help: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--profile", required=True, choices=("toy", "voc12", "coco14"))
    g.add_argument("--root", type=Path, help="data folder (default: the profile's)")
    g.add_argument("--split", help=split_help)
    g.add_argument("--limit", type=non_negative_int, help="use only the first N ids of the split")


def add_train_parser(methods) -> None:
    """Register ``deeplab`` on the ``train`` parser's method subparsers (``cli/methods.py``)."""
    p = methods.add_parser("deeplab", help="DeepLabV2 + CGL on CLIP-ES pseudo-masks")
    _add_profile_args(p, "training split (default: train_aug for voc12, else train)")
    p.add_argument("--masks", required=True, type=Path, help="pseudo-mask PNG folder")
    p.add_argument("--conf", type=Path, help="confidence maps <id>.npy (CGL with --mu)")
    p.add_argument("--val-split", help="split with GT scored at each evaluation")
    p.add_argument("--loss", choices=("cgl", "ce", "balanced_ce"), help="default: recipe's")
    p.add_argument("--mu", type=float, help="CGL threshold (default 0.95)")
    p.add_argument("--init", choices=("imagenet", "coco", "file", "random"))
    p.add_argument("--weights", help="local weights file (ImageNet ResNet or COCO DeepLab)")
    p.add_argument("--backbone", choices=("resnet18", "resnet34", "resnet50", "resnet101"))
    p.add_argument(
        "--arch",
        choices=("caffe", "torchvision"),
        help="caffe: deeplab-pytorch's DeepLabV2 + MSC (voc12/coco14 default); torchvision: "
        "torchvision's ResNet, single scale",
    )
    p.add_argument("--crop", type=positive_int, help="training crop (default: recipe's)")
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="permit --init random (a warning is printed)",
    )
    p.add_argument(
        "--skip-mask-check", action="store_true", help="do not read every mask before training"
    )
    add_config_arguments(p, TrainConfig, recipe=True)
    p.set_defaults(handler=cmd_train)


def _dataset(args, split: str):
    from clipwsss.data import build_dataset
    from clipwsss.experiments.profiles import get_profile

    profile = get_profile(args.profile)
    root = args.root or Path(profile.data_root)
    ds = build_dataset(profile.dataset, root, split, class_names=profile.class_names())
    if args.limit is not None:
        ds.ids = ds.ids[: args.limit]
    return ds


def _recipe(args):
    from clipwsss.train.tasks.deeplab import get_recipe

    recipe = get_recipe(args.profile, init=args.init, weights=args.weights, arch=args.arch)
    model = (
        recipe.model
        if args.backbone is None
        else dataclasses.replace(recipe.model, backbone=args.backbone)
    )
    augment = (
        recipe.augment if args.crop is None else dataclasses.replace(recipe.augment, crop=args.crop)
    )
    train = recipe.train
    if args.run_dir is None:
        train = dataclasses.replace(train, run_dir=f"runs/deeplab_{args.profile}")
    train = config_from_args(TrainConfig, args, train)
    return dataclasses.replace(
        recipe,
        model=model,
        augment=augment,
        train=train,
        loss=args.loss or recipe.loss,
        mu=recipe.mu if args.mu is None else args.mu,
    )


def cmd_train(args: argparse.Namespace, argv) -> int:
    from clipwsss.seg import check_pseudo_masks
    from clipwsss.train import train
    from clipwsss.train.tasks.deeplab import DeepLabTask

    recipe = _recipe(args)
    if recipe.model.init == "random" and not args.allow_random_weights:
        why = (
            "--init random"
            if args.init == "random"
            else f"the {args.profile} recipe initialises DeepLab at random (its init is "
            "'random': no pretrained backbone for the toy world)"
        )
        print(
            f"clipwsss train: error: {why}; add --allow-random-weights to accept random weights",
            file=sys.stderr,
        )
        return 2
    split = args.split or DEFAULT_TRAIN_SPLIT[args.profile]
    val = _dataset(args, args.val_split) if args.val_split else None
    task = DeepLabTask(
        recipe,
        _dataset(args, split),
        args.masks,
        conf_dir=args.conf,
        val_dataset=val,
        allow_random=args.allow_random_weights,
    )
    if not args.skip_mask_check:
        print(f"checked {check_pseudo_masks(task.train_dataset())} pseudo-masks in {args.masks}")
    result = train(task, recipe.train)
    last = [r for r in result.history if r["kind"] == "train"][-1]
    print(
        f"done: {result.step} iterations in {result.run_dir} (resumed from step "
        f"{result.resumed_from}); last loss {last['loss']:.4f}"
    )
    if result.final_eval:
        print("evaluation: " + json.dumps(result.final_eval))
    return 0


def load_run(run_dir: Path, device: str = "auto"):
    """The recipe and trained model of a finished ``train deeplab`` run."""
    from clipwsss.clip.loading import resolve_device
    from clipwsss.seg import DeepLabConfig, deeplab_network
    from clipwsss.train import load_trained

    record = json.loads((Path(run_dir) / "config.json").read_text())
    fields = record["task"]["recipe"]["model"]
    fields.setdefault("arch", "torchvision")  # runs recorded before the Caffe network
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    model = load_trained(run_dir, deeplab_network(DeepLabConfig(**fields)))
    return record, model.to(resolve_device(device)).eval()


def load_predictor(run_dir: Path, device: str = "auto"):
    """The trained DeepLab of a finished ``train deeplab`` run, ready for ``clipwsss
    predict``: the recorded network and weights, the recipe's normalisation (in the model)
    and test.

    Returns:
        A :class:`~clipwsss.pipelines.predict.Predictor`.
    """
    from clipwsss.pipelines.predict import Predictor, trained_identity
    from clipwsss.pipelines.tta import deeplab_tta
    from clipwsss.seg import set_normalization

    trained = trained_identity(run_dir)
    record, model = load_run(run_dir, device)
    recipe = record["task"]["recipe"]
    infer = {"crf_image": "rgb", "normalization": "torchvision",  # runs recorded before
             **recipe["infer"]}  # fmt: skip
    set_normalization(model, infer["normalization"], infer.get("mean", IMAGENET_MEAN),
                      infer.get("std", IMAGENET_STD))  # fmt: skip
    return Predictor(method="deeplab", model=model, tta=deeplab_tta(infer),
                     profile=recipe.get("name", "voc12"), root=None, class_names=None,
                     trained=trained)  # fmt: skip
