"""DeepLabV2 on pseudo-masks as a ``clipwsss.train`` task (CLIP-ES Sec. 3.4, supp. E).

The network, data, losses and inference are ``clipwsss.seg`` (layer 3, no engine import); the
task and the named recipes (``deeplab_recipes``, they hold a ``TrainConfig``) are layer 4.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from clipwsss.data import SegmentationDataset
from clipwsss.pipelines.common import check_data_identity
from clipwsss.pipelines.predict import evaluate_segmenter
from clipwsss.pipelines.tta import deeplab_tta
from clipwsss.seg.data import PseudoMaskDataset
from clipwsss.seg.deeplab import build_deeplab
from clipwsss.seg.infer import set_normalization
from clipwsss.seg.losses import msc_loss
from clipwsss.train import ParamGroup, TrainTask
from clipwsss.train.tasks.deeplab_recipes import (
    DeepLabRecipe,
    coco_recipe,
    get_recipe,
    toy_recipe,
    voc_recipe,
    with_torchvision,
)


class DeepLabTask(TrainTask):
    """Train DeepLabV2 on ``masks_dir`` (and optional ``conf_dir``) for ``dataset``'s images.

    Args:
        recipe: Model, augmentation, loss and training settings.
        dataset: The training split (image paths and ids).
        masks_dir: Pseudo-mask PNGs, one per id.
        conf_dir: Optional confidence maps (``<id>.npy``) for CGL with a chosen mu.
        val_dataset: Optional split with GT, scored (single scale, no CRF) when the engine
            evaluates.
        allow_random: Permit ``init="random"`` (warns).
    """

    def __init__(
        self,
        recipe: DeepLabRecipe,
        dataset: SegmentationDataset,
        masks_dir,
        *,
        conf_dir=None,
        val_dataset: SegmentationDataset | None = None,
        allow_random: bool = False,
    ) -> None:
        self.recipe, self.dataset, self.val_dataset = recipe, dataset, val_dataset
        self.masks_dir, self.conf_dir = Path(masks_dir), conf_dir and Path(conf_dir)
        self.allow_random = allow_random
        pixels = "caffe" if recipe.model.arch == "caffe" else "torchvision"
        for name, part in (("augment", recipe.augment), ("infer", recipe.infer)):
            if part is not None and part.normalization != pixels:
                raise ValueError(
                    f"recipe {recipe.name!r}: arch={recipe.model.arch!r} takes {pixels} "
                    f"inputs but {name}.normalization={part.normalization!r}"
                )
        self._data = PseudoMaskDataset(
            dataset,
            self.masks_dir,
            n_classes=recipe.model.n_classes,
            augment=recipe.augment,
            conf_dir=self.conf_dir,
        )

    def build_model(self) -> nn.Module:
        return build_deeplab(self.recipe.model, allow_random=self.allow_random)

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        m = self.recipe.head_lr_mult  # deeplab-pytorch: 10x weights, 20x biases (no decay)
        head_w = [p for n, p in model.aspp.named_parameters() if n.endswith("weight")]
        head_b = [p for n, p in model.aspp.named_parameters() if n.endswith("bias")]
        return [
            ParamGroup(model.backbone_parameters(), name="backbone"),
            ParamGroup(head_w, lr_mult=m, name="aspp.weight"),
            ParamGroup(head_b, lr_mult=2 * m, weight_decay=0.0, name="aspp.bias"),
        ]

    def train_dataset(self) -> Dataset:
        return self._data

    def loss(self, model: nn.Module, batch: dict) -> tuple[Any, dict[str, float]]:
        logits = model(batch["image"])  # arch caffe: the four MSC outputs
        loss = msc_loss(
            logits,
            batch["label"],
            batch.get("conf"),
            kind=self.recipe.loss,
            mu=self.recipe.mu,
            resize=self.recipe.resize,
        )
        return loss, {}

    def evaluate(self, model: nn.Module) -> dict[str, float] | None:
        if self.val_dataset is None:
            return None
        quick = dataclasses.replace(self.recipe.infer, scales=(1.0,), flip=False, crf=False)
        set_normalization(model, quick.normalization, quick.mean, quick.std)
        n_classes = self.recipe.model.n_classes
        return evaluate_segmenter(model, self.val_dataset, n_classes, deeplab_tta(quick))

    def config(self) -> dict[str, Any]:
        # The engine records the TrainConfig itself (intervals, run_dir may change on resume).
        recipe = {k: v for k, v in self.recipe.to_dict().items() if k != "train"}
        return {"recipe": recipe, "cgl_conf": self.conf_dir is not None,
                "train_ids": len(self.dataset)}  # fmt: skip

    def paths(self) -> dict[str, Any]:
        return {"masks": self.masks_dir, "conf": self.conf_dir}

    def check_inputs(self) -> None:
        check_data_identity(self.masks_dir, self.dataset, "pseudo-masks")


__all__ = [
    "DeepLabRecipe",
    "DeepLabTask",
    "coco_recipe",
    "get_recipe",
    "toy_recipe",
    "voc_recipe",
    "with_torchvision",
]
