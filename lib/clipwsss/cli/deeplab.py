"""``clipwsss train deeplab`` and ``clipwsss predict`` of a DeepLab run (registered by
``cli/methods.py``): the DeepLab stage on the command line.

    clipwsss train deeplab --profile voc12 --masks outputs/voc12/masks \\
        --run-dir runs/deeplab_voc12 [--init coco --weights deeplab_coco.pth] [--loss ce]
    clipwsss predict --run-dir runs/deeplab_voc12 --profile voc12 --split val \\
        --out outputs/voc12/deeplab_val --crf
    clipwsss eval --pred outputs/voc12/deeplab_val --dataset voc12 \\
        --root data/VOCdevkit/VOC2012 --split val

Every field of the recipe (``DeepLabConfig``, ``TrainConfig``, ``AugmentConfig`` as
``data``, ``InferConfig`` as ``tta``, ``DeepLabLoss``) has a flag (``--iterations``,
``--batch-size``, ``--lr``, ``--loss``, ``--mu``, ``--crop``, ...); unset flags keep the
profile's recipe (``clipwsss.train.tasks.deeplab_recipes``). ``train deeplab`` is the shared
``cli/train.py`` command; this module adds DeepLab's input folders. See docs/deeplab.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from clipwsss.cli.config_flags import non_negative_int


def _add_profile_args(p: argparse.ArgumentParser, split_help: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--profile", required=True, choices=("toy", "voc12", "coco14"))
    g.add_argument("--root", type=Path, help="data folder (default: the profile's)")
    g.add_argument("--split", help=split_help)
    g.add_argument("--limit", type=non_negative_int, help="use only the first N ids of the split")


def add_input_flags(p: argparse.ArgumentParser) -> None:
    """DeepLab's inputs besides the data flags (``train deeplab``, ``cli/train.py``)."""
    p.add_argument("--masks", required=True, type=Path, help="pseudo-mask PNG folder")
    p.add_argument("--conf", type=Path, help="confidence maps <id>.npy (CGL with --mu)")
    p.add_argument("--val-split", help="split with GT scored at each evaluation")
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="permit --init random (a warning is printed)",
    )
    p.add_argument(
        "--skip-mask-check", action="store_true", help="do not read every mask before training"
    )


def base_recipe(name: str, args: argparse.Namespace):
    """The named recipe re-initialised as ``--init`` / ``--weights`` / ``--arch`` ask (``--init
    coco`` lowers the lr, ``--arch torchvision`` switches normalisation: ``get_recipe``)."""
    from clipwsss.train.tasks.deeplab import get_recipe

    return get_recipe(
        name,
        init=getattr(args, "model.init"),
        weights=getattr(args, "model.weights"),
        arch=getattr(args, "model.arch"),
    )


def task_inputs(args: argparse.Namespace, recipe) -> dict:
    """The task's keyword inputs; random init needs ``--allow-random-weights`` (exit 2)."""
    from clipwsss.cli.main import UsageError

    if recipe.model.init == "random" and not args.allow_random_weights:
        why = (
            "--init random"
            if getattr(args, "model.init") == "random"
            else f"the {recipe.name} recipe initialises DeepLab at random (its init is "
            "'random': no pretrained backbone for the toy world)"
        )
        raise UsageError(f"{why}; add --allow-random-weights to accept random weights")
    from clipwsss.cli.train import _dataset

    profile = args.profile or recipe.name
    val = _dataset(args, profile, args.val_split) if args.val_split else None
    return {
        "masks_dir": args.masks,
        "conf_dir": args.conf,
        "val_dataset": val,
        "allow_random": args.allow_random_weights,
    }


def before_train(task, args: argparse.Namespace) -> None:
    """Read every pseudo-mask before the first step (unless ``--skip-mask-check``)."""
    from clipwsss.seg import check_pseudo_masks

    if not args.skip_mask_check:
        print(f"checked {check_pseudo_masks(task.train_dataset())} pseudo-masks in {args.masks}")


def _dataset(args, split: str):
    from clipwsss.cli.train import _dataset

    return _dataset(args, args.profile, split)
