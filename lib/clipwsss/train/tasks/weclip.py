"""WeCLIP as a task of the shared training engine (``clipwsss.train``; docs/training.md).

    recipe = RECIPES["voc12"]
    task = WeClipTask(recipe, build_dataset("voc12", "data/VOCdevkit/VOC2012", "train_aug"))
    result = train(task, recipe.train)

The engine owns the loop, the optimizer (AdamW), the poly + warm-up schedule, checkpoints and
exact resume, and passes each optimizer step to the loss (the CAA -> RFM switch follows it);
this module supplies the recipes, the model, the data and the loss (``training_step``).
Official: ``configs/voc_attn_reg.yaml``, ``coco_attn_reg.yaml``, ``scripts/dist_clip_voc.py``,
``utils/optimizer.py`` (WeCLIP Section 4.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from clipwsss.clip.loading import load_clip
from clipwsss.data import SegmentationDataset, load_image, load_label_png
from clipwsss.methods.weclip.config import WeClipConfig, coco_config
from clipwsss.methods.weclip.infer import InferenceConfig
from clipwsss.methods.weclip.model import WeClip
from clipwsss.methods.weclip.samples import WeClipTrainSet
from clipwsss.methods.weclip.train import toy_config, training_step
from clipwsss.metrics import confusion_matrix, mean_iou
from clipwsss.pipelines.tta import TtaConfig, predict_label, weclip_tta
from clipwsss.train.config import TrainConfig
from clipwsss.train.recipe import ClipSpec
from clipwsss.train.recipe import Recipe as BaseRecipe
from clipwsss.train.runs import RecipeTask
from clipwsss.train.task import ParamGroup
from clipwsss.train.tasks.common import TOY_CLIP, clip_name, spec_vocabulary


@dataclass(frozen=True)
class WeClipData:
    """Training crops, image-label source and in-training validation."""

    crop: int = 320  # configs/voc_attn_reg.yaml: crop_size 320
    # Official: image labels from the GT PNGs; default: the data set's label source (XML).
    labels_from_gt: bool = False
    eval_split: str | None = None  # official: validation on VOC train every 2000 iterations
    eval_limit: int | None = None  # score only the first N images of eval_split


@dataclass(frozen=True)
class WeClipRecipe(BaseRecipe):
    """One WeCLIP training setting (the loss weights are ``WeClipConfig`` fields)."""

    clip: ClipSpec = field(default_factory=ClipSpec)
    model: WeClipConfig = field(default_factory=WeClipConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: WeClipData = field(default_factory=WeClipData)
    tta: InferenceConfig = field(default_factory=InferenceConfig)  # test_msc_flip_voc.py


# PolyWarmupAdamW: the decoder's lr is config 2e-4 x 10 (its param group), i.e. 2e-3
# effective; weight decay 0.01; poly power 1.0 after 50 warm-up steps from 1e-6; seed 1;
# samples_per_gpu 4 on one GPU.
_OFFICIAL = dict(
    optimizer="adamw",
    schedule="poly",
    lr=2e-3,
    weight_decay=0.01,
    power=1.0,
    warmup_iters=50,
    warmup_ratio=1e-6,
    seed=1,
    batch_size=4,
)

RECIPES: dict[str, WeClipRecipe] = {
    "voc12": WeClipRecipe(name="voc12", train=TrainConfig(**_OFFICIAL, iterations=30000)),
    "coco14": WeClipRecipe(
        name="coco14",
        clip=ClipSpec(classes="coco14"),
        model=coco_config(),
        train=TrainConfig(**_OFFICIAL, iterations=80000),
    ),
    # The shipped micro-CLIP (4 blocks, 8 px patches) on the 96 px toy world.
    "toy": WeClipRecipe(
        name="toy",
        clip=ClipSpec(model="toy", pretrained=None, classes="toy"),
        model=toy_config(),
        train=TrainConfig(**{**_OFFICIAL, "warmup_iters": 10, "seed": 0}, iterations=300),
        data=WeClipData(crop=96),
        tta=InferenceConfig(long_side=None),  # the toy images' own size
    ),
}
Recipe = WeClipRecipe  # the registry's names (clipwsss.train.registry)
TRAIN_SPLITS = {"voc12": "train_aug"}  # a recipe's default training split (else "train")


def build_model(recipe: WeClipRecipe) -> WeClip:
    """The frozen CLIP of the recipe with a fresh decoder."""
    clip = load_clip(clip_name(recipe.clip), recipe.clip.pretrained)
    return WeClip(clip, spec_vocabulary(recipe.clip), recipe.model)


def tta_config(recipe: WeClipRecipe) -> TtaConfig:
    """The recipe's recorded test as the shared :class:`TtaConfig` (``predict``'s default)."""
    return weclip_tta(recipe.tta)


class WeClipTask(RecipeTask):
    """WeCLIP training: frozen CLIP + decoder, online pseudo labels, seg + 0.1 aff loss.

    Args:
        recipe: CLIP, model, engine and data settings.
        dataset: the training split.
        model: a built model; None: built from the recipe after the engine seeds.
        eval_dataset: the split ``recipe.data.eval_split`` names, scored when the engine
            evaluates (None: no evaluation).
    """

    method = "weclip"

    def __init__(
        self,
        recipe: WeClipRecipe,
        dataset: SegmentationDataset,
        model: nn.Module | None = None,
        *,
        eval_dataset: SegmentationDataset | None = None,
    ) -> None:
        super().__init__(recipe, dataset, model)
        self.eval_dataset = eval_dataset

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        # Official: the decoder is param group 3 with lr x 10 of config lr 2e-4; the recipes
        # give lr 2e-3 directly, the same effective rate without a hidden multiplier.
        return [ParamGroup(list(model.decoder.parameters()), name="decoder")]

    def train_dataset(self) -> Dataset:
        return WeClipTrainSet(
            self.dataset,
            crop=self.recipe.data.crop,
            normalisation=self.recipe.model.normalisation,
            labels_from_gt=self.recipe.data.labels_from_gt,
        )

    def loss(
        self, model: nn.Module, batch: Any, step: int, iterations: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Segmentation + affinity loss on the online pseudo labels (``training_step``).

        Shapes:
            ``batch["pixels"]`` (B, 3, H, W), ``batch["labels"]`` (B, C-1) multi-hot; the
            loss is 0-d.
        """
        out = training_step(model, batch, step=step, iterations=iterations)
        return out.total, {"seg": out.seg.item(), "aff": out.aff.item()}

    def evaluate(self, model: nn.Module) -> dict[str, float] | None:
        """Single-scale mIoU of the predictions on the eval split (None without one)."""
        dataset = self.eval_dataset
        if dataset is None:
            return None
        limit = self.recipe.data.eval_limit
        n = len(dataset) if limit is None else limit
        cfg = weclip_tta({"scales": (1.0,), "flip": False, "long_side": None})
        hist = np.zeros((dataset.n_classes,) * 2, np.int64)
        for i in range(min(n, len(dataset))):
            sample = dataset[i]
            image = load_image(sample.image_path)
            pred = predict_label(model, image, cfg)
            hist += confusion_matrix(pred, load_label_png(sample.gt_path), dataset.n_classes)
        return {"val_miou": 100 * mean_iou(hist)}


Task = WeClipTask

__all__ = [
    "RECIPES",
    "TOY_CLIP",
    "Recipe",
    "Task",
    "WeClipData",
    "WeClipRecipe",
    "WeClipTask",
    "build_model",
]
