"""Named WeakCLIP training recipes (official schedules; a CPU-sized toy one).

Official code: ``configs/_base_/schedules/schedule_20k.py`` / ``schedule_40k.py``, the
top-level VOC / COCO configs and ``tools/train.py``: AdamW, cosine annealing to the absolute
``min_lr`` 1e-6 (``TrainConfig.min_lr_ratio`` = 1e-6 / lr), linear warm-up. One recipe is a
flat literal, like a notebook's parameter cell.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from clipwsss.clip.loading import CLIP_MEAN, CLIP_STD  # the micro-CLIP was trained on these
from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD  # mmseg img_norm_cfg / 255
from clipwsss.methods.weakclip.config import WeakClipConfig
from clipwsss.methods.weakclip.infer import COCO_CRF, InferenceConfig
from clipwsss.methods.weakclip.losses import LossConfig
from clipwsss.train.config import TrainConfig
from clipwsss.train.recipe import ClipSpec, Recipe
from clipwsss.validate import check_range


@dataclass(frozen=True)
class WeakClipData:
    """Training crops and their normalisation."""

    crop_size: int = 512  # RandomCrop 512 x 512
    scale_range: tuple[float, float] = (0.5, 2.0)  # Resize (2048, 512), ratio_range
    # [paper≠code] the official pipeline feeds CLIP ImageNet-normalised images
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD  # input normalisation std

    def __post_init__(self) -> None:
        check_range("crop_size", self.crop_size, low=1)
        check_range("scale_range", self.scale_range[0], above=0)
        check_range("scale_range", self.scale_range[1], low=self.scale_range[0])
        for value in self.std:
            check_range("std", value, above=0)


@dataclass(frozen=True)
class WeakClipRecipe(Recipe):
    """One WeakCLIP training setting: CLIP, model, engine, data, test time and losses."""

    clip: ClipSpec = field(default_factory=ClipSpec)
    model: WeakClipConfig = field(default_factory=WeakClipConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: WeakClipData = field(default_factory=WeakClipData)
    tta: InferenceConfig = field(default_factory=InferenceConfig)
    loss: LossConfig = field(default_factory=LossConfig)


# tools/train.py and schedule_20k: AdamW 1e-4, weight decay 3e-5, cosine to min_lr 1e-6 with
# 1500 linear warm-up steps from 1e-6 of the lr; seed 504; a checkpoint every 2000 steps.
_OFFICIAL = dict(
    optimizer="adamw",
    schedule="cosine",
    lr=1e-4,
    weight_decay=3e-5,
    min_lr_ratio=1e-6 / 1e-4,
    warmup_iters=1500,
    warmup_ratio=1e-6,
    seed=504,
    checkpoint_interval=2000,
)

RECIPES: dict[str, WeakClipRecipe] = {
    "voc12": WeakClipRecipe(
        name="voc12",
        train=TrainConfig(**_OFFICIAL, iterations=20_000, batch_size=16),  # 8 / GPU x 2 GPUs
    ),
    "coco14": WeakClipRecipe(
        name="coco14",
        clip=ClipSpec(classes="coco14"),
        # 6 / GPU x 4 GPUs; schedule_40k
        train=TrainConfig(**_OFFICIAL, iterations=40_000, batch_size=24),
        tta=InferenceConfig(crf_params=COCO_CRF),
    ),
    "toy": WeakClipRecipe(
        name="toy",
        clip=ClipSpec(model="toy", pretrained=None, classes="toy"),
        model=WeakClipConfig(
            # The micro-CLIP has 4 blocks: all four feed the adapter (ViT-B/16: 4/6/8/12 of 12).
            feature_blocks=(1, 2, 3, 4),
            input_resolution=96,  # toy images: 12 x 12 patches of 8 px
            name_context=8,  # the toy tokenizer splits "aeroplane" into 4 word pieces
            coattn_width=64,
            neck_channels=64,
            head_channels=64,
        ),
        train=TrainConfig(
            **{
                **_OFFICIAL,
                "lr": 1e-3,
                "min_lr_ratio": 1e-6 / 1e-3,
                "warmup_iters": 20,
                "seed": 0,
                "checkpoint_interval": 50,
            },
            iterations=300,
            batch_size=8,
        ),
        data=WeakClipData(crop_size=96, scale_range=(0.75, 1.5), mean=CLIP_MEAN, std=CLIP_STD),
        # 3 scales x flip, whole images (no windows): 6 forwards per toy image on a CPU.
        tta=InferenceConfig(short_side=96, scales=(0.75, 1.0, 1.25), crop=128),
        # P is 48 x 48 for a 96 crop; the losses run at 48 (the official 64 is P / 2).
        loss=LossConfig(loss_size=48),
    ),
}


def get_recipe(name: str) -> WeakClipRecipe:
    """A named recipe.

    Raises:
        KeyError: unknown name (the message lists the known ones).
    """
    if name not in RECIPES:
        raise KeyError(f"unknown WeakCLIP recipe {name!r}; known: {list(RECIPES)}")
    return RECIPES[name]


def with_run(recipe: WeakClipRecipe, run_dir: str, **train: object) -> WeakClipRecipe:
    """The recipe with ``TrainConfig`` changes and ``run_dir``; a warm-up longer than a
    shortened run is cut to the run (the official 1500 steps in a 100-step test run)."""
    values = {"run_dir": str(run_dir), **train}
    iterations = values.get("iterations", recipe.train.iterations)
    values.setdefault("warmup_iters", min(recipe.train.warmup_iters, iterations))
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **values))
