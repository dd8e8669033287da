"""``clipwsss train weakclip`` and ``clipwsss predict``: WeakCLIP from the command line.

    clipwsss train weakclip --recipe voc12 --root data/VOCdevkit/VOC2012 --split train_aug \\
        --seeds outputs/voc12/masks --run-dir runs/weakclip_voc12
    clipwsss predict --run-dir runs/weakclip_voc12 --root data/VOCdevkit/VOC2012 \\
        --split train --out outputs/voc12/weakclip_masks

Seeds default to ``outputs/<profile>/masks`` (CLIP-ES masks from ``clipwsss masks``); any
folder of pseudo-mask PNGs works (WeCLIP's, MCTformer's). Every field of ``WeakClipConfig``
and ``TrainConfig`` has a flag (generated); ``--corrected`` starts from the paper's model.
A rerun of the same command resumes (training from its last checkpoint, prediction from the
first missing PNG).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from pathlib import Path

from clipwsss.cli.config_flags import (
    add_config_arguments,
    config_from_args,
    non_negative_int,
)
from clipwsss.methods.weakclip.config import WeakClipConfig, corrected
from clipwsss.methods.weakclip.recipes import RECIPE_NAMES, get_recipe
from clipwsss.train import TrainConfig

_SKIP_MODEL_FLAGS = ("feature_blocks",)  # a tuple of 4: set by the recipe
_SKIP_TRAIN_FLAGS = ("run_dir",)  # --run-dir is added by hand (it has a default)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=("toy", "voc12", "coco14"), help="default: the recipe's")
    p.add_argument("--root", type=Path, help="data folder (default: the profile's)")
    p.add_argument("--split", default=None, help="split list name (default train)")
    p.add_argument("--model", help="open_clip model or local-dir:/path (default: the profile's)")
    p.add_argument("--pretrained", help="weights tag or file (default: the profile's)")
    p.add_argument(
        "--allow-random-weights", action="store_true", help="accept --pretrained none (tests only)"
    )
    p.add_argument("--limit", type=non_negative_int, help="use only the first N images")


def add_train_parser(methods) -> None:
    """Register ``weakclip`` on the ``train`` parser's method subparsers (``cli/methods.py``)."""
    p = methods.add_parser(
        "weakclip",
        help="train WeakCLIP on seed masks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recipe", choices=RECIPE_NAMES, default="voc12", help="named recipe")
    p.add_argument("--seeds", type=Path, help="seed-mask folder (default outputs/<profile>/masks)")
    p.add_argument("--run-dir", type=Path, help="run folder (default runs/weakclip_<recipe>)")
    p.add_argument("--corrected", action="store_true", help="the paper's model (see docs)")
    for name in ("seed", "boundary", "aux"):
        p.add_argument(f"--no-{name}-loss", action="store_true", help=f"switch off the {name} loss")
    _add_common(p)
    add_config_arguments(p, WeakClipConfig, skip=_SKIP_MODEL_FLAGS, recipe=True)
    add_config_arguments(p, TrainConfig, skip=_SKIP_TRAIN_FLAGS, recipe=True)
    p.set_defaults(handler=cmd_train)


def _setting(args: argparse.Namespace, recipe_name: str):
    """Profile, CLIP, class names and data set of a command."""
    from clipwsss.clip.loading import load_clip
    from clipwsss.data import build_dataset
    from clipwsss.experiments.profiles import get_profile

    profile = get_profile(args.profile or recipe_name)
    pretrained = args.pretrained if args.pretrained is not None else profile.pretrained
    if pretrained == "none" and not args.allow_random_weights:
        raise ValueError("--pretrained none means random CLIP weights: add --allow-random-weights")
    clip = load_clip(args.model or profile.model, None if pretrained == "none" else pretrained)
    names = ["background", *profile.class_names()]
    kwargs = {"class_names": names[1:]} if profile.dataset == "voc12" else {}
    root = args.root or Path(profile.data_root)
    dataset = build_dataset(profile.dataset, root, args.split or "train", **kwargs)
    if args.limit is not None:
        dataset = copy.copy(dataset)
        dataset.ids = dataset.ids[: args.limit]
    return profile, clip, names, dataset


def _recipe(args: argparse.Namespace):
    from clipwsss.methods.weakclip.losses import LossConfig

    recipe = get_recipe(args.recipe)
    model = corrected(**_arch(recipe.model)) if args.corrected else recipe.model
    model = config_from_args(WeakClipConfig, args, model)
    loss = dataclasses.replace(
        recipe.loss or LossConfig(),
        seed=not args.no_seed_loss,
        boundary=not args.no_boundary_loss,
        aux=not args.no_aux_loss,
    )
    return dataclasses.replace(recipe, model=model, loss=loss)


def _arch(config: WeakClipConfig) -> dict:
    """The size fields of a config (what ``--corrected`` keeps from the recipe)."""
    quirks = ("chain_coattention", "adapter_lr_mult", "double_class_embedding")
    return {
        f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in quirks
    }


def cmd_train(args: argparse.Namespace, argv) -> int:
    from clipwsss.train import train
    from clipwsss.train.tasks.weakclip import WeakClipTask, train_config

    recipe = _recipe(args)
    profile, clip, names, dataset = _setting(args, recipe.name)
    seeds = args.seeds or Path("outputs") / profile.name / "masks"
    run_dir = args.run_dir or Path("runs") / f"weakclip_{recipe.name}"
    flags = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(TrainConfig)}
    flags = {k: tuple(v) if isinstance(v, list) else v for k, v in flags.items() if v is not None}
    flags.pop("run_dir", None)
    config = train_config(recipe, run_dir, **flags)
    result = train(WeakClipTask(clip, names, dataset, seeds, recipe), config)
    print(f"weakclip: {result.step} steps in {result.run_dir} (resumed from {result.resumed_from})")
    return 0


def run_settings(run_dir: Path) -> dict:
    """The task settings a finished run recorded in ``config.json``."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a `train weakclip` run?")
    task = json.loads(path.read_text())["task"]
    settings = task.get("config", task)
    if settings.get("method") != "weakclip":
        raise ValueError(f"{run_dir} is not a WeakCLIP run")
    return settings


def load_predictor(run_dir: Path, device: str = "auto"):
    """The trained WeakCLIP of a finished ``train weakclip`` run, ready for ``clipwsss
    predict``: the profile's CLIP (refused if its weights differ from the run's), the
    recorded model, the recipe's input statistics (in the model) and test.

    Returns:
        A :class:`~clipwsss.pipelines.predict.Predictor`.
    """
    from clipwsss.clip.loading import load_clip, resolve_device
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.methods.weakclip.model import build_weakclip
    from clipwsss.pipelines.predict import Predictor, trained_identity
    from clipwsss.pipelines.tta import weakclip_tta
    from clipwsss.train import load_trained

    settings = run_settings(run_dir)
    recipe = settings["recipe"]
    profile = get_profile(recipe["name"])
    clip = load_clip(profile.model, None if profile.pretrained == "none" else profile.pretrained)
    recorded = settings.get("clip_fingerprint")
    if recorded and clip.fingerprint != recorded:
        raise ValueError(f"{run_dir} was trained on CLIP weights {recorded}; the {profile.name} "
                         f"profile's {profile.model} has {clip.fingerprint}")  # fmt: skip
    names = settings["class_names"]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in recipe["model"].items()}
    trained = trained_identity(run_dir)
    model = build_weakclip(clip, names, WeakClipConfig(**fields), pixel_mean=recipe["mean"],
                           pixel_std=recipe["std"])  # fmt: skip
    model = load_trained(run_dir, model).to(resolve_device(device)).eval()
    return Predictor(
        method="weakclip", model=model, tta=weakclip_tta(get_recipe(recipe["name"]).inference),
        profile=profile.name, root=None, class_names=tuple(names[1:]), trained=trained,
    )  # fmt: skip
