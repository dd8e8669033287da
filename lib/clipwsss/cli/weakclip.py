"""``clipwsss train weakclip`` and ``clipwsss predict``: WeakCLIP from the command line.

    clipwsss train weakclip --recipe voc12 --root data/VOCdevkit/VOC2012 --split train_aug \\
        --seeds outputs/voc12/masks --run-dir runs/weakclip_voc12
    clipwsss predict --run-dir runs/weakclip_voc12 --root data/VOCdevkit/VOC2012 \\
        --split train --out outputs/voc12/weakclip_masks

Seeds default to ``outputs/<profile>/masks`` (CLIP-ES masks from ``clipwsss masks``); any
folder of pseudo-mask PNGs works (WeCLIP's, MCTformer's). ``train weakclip`` is the shared
``cli/train.py`` command: every field of the recipe (``ClipSpec``, ``WeakClipConfig``,
``TrainConfig``, ``WeakClipData``, ``InferenceConfig`` as ``tta``, ``LossConfig``) has a
flag; this module adds the seed folder, ``--corrected`` (the paper's model) and the random-
weights guard. A rerun of the same command resumes (training from its last checkpoint,
prediction from the first missing PNG).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from pathlib import Path

from clipwsss.cli.config_flags import non_negative_int


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=("toy", "voc12", "coco14"), help="default: the recipe's")
    p.add_argument("--root", type=Path, help="data folder (default: the profile's)")
    p.add_argument("--split", default=None, help="split list name (default train)")
    p.add_argument("--limit", type=non_negative_int, help="use only the first N images")


def add_input_flags(p: argparse.ArgumentParser) -> None:
    """WeakCLIP's inputs besides the data flags (``train weakclip``, ``cli/train.py``)."""
    p.add_argument("--seeds", type=Path, help="seed-mask folder (default outputs/<profile>/masks)")
    p.add_argument("--corrected", action="store_true", help="the paper's model (see docs)")
    p.add_argument(
        "--allow-random-weights", action="store_true", help="accept --pretrained none (tests only)"
    )


def base_recipe(name: str, args: argparse.Namespace):
    """The named recipe; ``--corrected`` swaps in the paper's model (sizes kept), and a run
    shortened by ``--iterations`` gets a warm-up no longer than itself (unless given)."""
    from clipwsss.methods.weakclip.config import corrected
    from clipwsss.train.tasks.weakclip_recipes import get_recipe

    recipe = get_recipe(name)
    if args.corrected:
        recipe = dataclasses.replace(recipe, model=corrected(**_arch(recipe.model)))
    iterations = getattr(args, "train.iterations", None)
    if iterations is not None and getattr(args, "train.warmup_iters", None) is None:
        warmup = min(recipe.train.warmup_iters, iterations)
        train = dataclasses.replace(recipe.train, iterations=iterations, warmup_iters=warmup)
        recipe = dataclasses.replace(recipe, train=train)
    return recipe


def _arch(config) -> dict:
    """The size fields of a config (what ``--corrected`` keeps from the recipe)."""
    quirks = ("chain_coattention", "adapter_lr_mult", "double_class_embedding")
    return {
        f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in quirks
    }


def _random_weights(recipe, allow: bool):
    """``--pretrained none`` (random CLIP weights) only with ``--allow-random-weights``."""
    if recipe.clip.pretrained != "none":
        return recipe
    if not allow:
        raise ValueError("--pretrained none means random CLIP weights: add --allow-random-weights")
    return dataclasses.replace(recipe, clip=dataclasses.replace(recipe.clip, pretrained=None))


def task_inputs(args: argparse.Namespace, recipe) -> dict:
    """The seed folder (default ``outputs/<profile>/masks``)."""
    profile = args.profile or recipe.name
    return {"seed_dir": args.seeds or Path("outputs") / profile / "masks"}


def check_recipe(recipe, args: argparse.Namespace):
    """The recipe as trained: ``--pretrained none`` checked and recorded as None."""
    return _random_weights(recipe, args.allow_random_weights)


def _dataset(args: argparse.Namespace, recipe_name: str):
    """The profile's class texts (background first) and the split to segment."""
    from clipwsss.data import build_dataset
    from clipwsss.experiments.profiles import get_profile

    profile = get_profile(args.profile or recipe_name)
    kwargs = {"class_names": profile.class_names()} if profile.dataset == "voc12" else {}
    root = args.root or Path(profile.data_root)
    dataset = build_dataset(profile.dataset, root, args.split or "train", **kwargs)
    if args.limit is not None:
        dataset = copy.copy(dataset)
        dataset.ids = dataset.ids[: args.limit]
    return ["background", *profile.class_names()], dataset
