"""``clipwsss train weclip`` and ``clipwsss predict`` of a WeCLIP run: WeCLIP's handlers.

    clipwsss train weclip --recipe voc12 --root data/VOCdevkit/VOC2012 \\
        --split train_aug --run-dir runs/weclip_voc
    clipwsss predict --run-dir runs/weclip_voc --root data/VOCdevkit/VOC2012 \\
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


def check_recipe(recipe, args: argparse.Namespace):
    """``--pretrained none``: random CLIP weights (recorded as None); ``--caa-layers`` /
    ``--rfm-layers`` at most the CLIP model's blocks (as ``cams`` refuses)."""
    if recipe.clip.pretrained is not None and recipe.clip.pretrained.lower() == "none":
        recipe = dataclasses.replace(recipe, clip=dataclasses.replace(recipe.clip, pretrained=None))
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
            raise ValueError(
                f"{name}={value} (--{name.replace('_', '-')}): the CLIP model "
                f"{recipe.clip.model} has {n_blocks} blocks"
            )
