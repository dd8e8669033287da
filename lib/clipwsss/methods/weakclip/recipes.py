"""Named WeakCLIP training recipes (official schedules; a CPU-sized toy one).

Official code: ``configs/_base_/schedules/schedule_20k.py`` / ``schedule_40k.py``, the
top-level VOC / COCO configs and ``tools/train.py``. One recipe is a flat literal, like a
notebook's parameter cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD
from clipwsss.validate import check_range

from .config import WeakClipConfig
from .infer import COCO_CRF, InferenceConfig
from .losses import LossConfig


@dataclass(frozen=True)
class TrainRecipe:
    """One training setting.

    Attributes:
        name: recipe name.
        model: architecture switches.
        loss: loss switches.
        crop_size: square training crop (official 512).
        scale_range: random rescale of the short side relative to ``crop_size`` (0.5-2.0).
        batch_size: images per step (official 8 per GPU x 2 GPUs for VOC).
        iters: optimiser steps (VOC 20k, COCO 40k).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        min_lr: absolute floor of the cosine schedule (mmcv ``min_lr``), for every group.
        warmup_iters: linear warm-up steps.
        warmup_ratio: warm-up start as a fraction of the lr.
        mean: input normalisation mean; [paper≠code] the official pipeline feeds CLIP
            ImageNet-normalised images.
        std: input normalisation std.
        seed: random seed (official 504).
        checkpoint_every: steps between checkpoints.
        inference: test-time scales, flip, windows and CRF for the pseudo masks.
    """

    name: str
    model: WeakClipConfig = field(default_factory=WeakClipConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    crop_size: int = 512  # RandomCrop 512 x 512
    scale_range: tuple[float, float] = (0.5, 2.0)  # Resize (2048, 512), ratio_range
    batch_size: int = 16  # 8 / GPU x 2 GPUs
    iters: int = 20_000  # schedule_20k
    lr: float = 1e-4  # AdamW
    weight_decay: float = 3e-5
    min_lr: float = 1e-6  # CosineAnnealing min_lr (absolute)
    warmup_iters: int = 1500  # warmup='linear'
    warmup_ratio: float = 1e-6
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    seed: int = 504  # tools/train.py --seed
    checkpoint_every: int = 2000
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    def __post_init__(self) -> None:
        for name in ("crop_size", "batch_size", "iters", "checkpoint_every"):
            check_range(name, getattr(self, name), low=1)
        check_range("lr", self.lr, above=0)
        for name in ("weight_decay", "min_lr", "seed"):
            check_range(name, getattr(self, name), low=0)
        check_range("warmup_ratio", self.warmup_ratio, low=0, high=1)
        check_range("scale_range", self.scale_range[0], above=0)
        check_range("scale_range", self.scale_range[1], low=self.scale_range[0])
        for value in self.std:
            check_range("std", value, above=0)


def _recipes() -> dict[str, TrainRecipe]:
    toy_model = WeakClipConfig(
        # The micro-CLIP has 4 blocks: all four feed the adapter (ViT-B/16 uses 4/6/8/12 of 12).
        feature_blocks=(1, 2, 3, 4),
        input_resolution=96,  # toy images: 12 x 12 patches of 8 px
        name_context=8,  # the toy tokenizer splits "aeroplane" into 4 word pieces
        coattn_width=64,
        neck_channels=64,
        head_channels=64,
    )
    return {
        "voc12": TrainRecipe(name="voc12"),
        "coco14": TrainRecipe(
            name="coco14",
            batch_size=24,  # 6 / GPU x 4 GPUs
            iters=40_000,  # schedule_40k
            inference=InferenceConfig(crf_params=COCO_CRF),
        ),
        "toy": TrainRecipe(
            name="toy",
            model=toy_model,
            # P is 48 x 48 for a 96 crop; the losses run at 48 (the official 64 is P / 2).
            loss=LossConfig(loss_size=48),
            crop_size=96,
            scale_range=(0.75, 1.5),
            batch_size=8,
            iters=300,
            lr=1e-3,
            warmup_iters=20,
            mean=(0.48145466, 0.4578275, 0.40821073),  # the micro-CLIP was trained on these
            std=(0.26862954, 0.26130258, 0.27577711),
            seed=0,
            checkpoint_every=50,
            # 3 scales x flip, whole images (no windows): 6 forwards per toy image on a CPU.
            inference=InferenceConfig(short_side=96, scales=(0.75, 1.0, 1.25), crop=128),
        ),
    }


RECIPE_NAMES = ("voc12", "coco14", "toy")


def get_recipe(name: str, **overrides) -> TrainRecipe:
    """A named recipe with optional field overrides.

    Raises:
        KeyError: unknown name (the message lists the known ones).
    """
    recipes = _recipes()
    if name not in recipes:
        raise KeyError(f"unknown WeakCLIP recipe {name!r}; known: {list(recipes)}")
    return replace(recipes[name], **overrides)
