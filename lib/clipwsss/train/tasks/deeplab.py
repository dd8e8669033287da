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
from clipwsss.pipelines.tta import TtaConfig, deeplab_tta
from clipwsss.seg.data import PseudoMaskDataset
from clipwsss.seg.deeplab import build_deeplab, deeplab_network
from clipwsss.seg.infer import set_normalization
from clipwsss.seg.losses import msc_loss
from clipwsss.train.runs import RecipeTask
from clipwsss.train.task import ParamGroup
from clipwsss.train.tasks.deeplab_recipes import (
    RECIPES,
    DeepLabLoss,
    DeepLabRecipe,
    get_recipe,
    with_torchvision,
)

Recipe = DeepLabRecipe  # the registry's names (clipwsss.train.registry)
TRAIN_SPLITS = {"voc12": "train_aug"}  # a recipe's default training split (else "train")


def build_model(recipe: DeepLabRecipe) -> nn.Module:
    """The untrained network of the recipe (no init weights read: a run's are loaded), with
    the recipe's input normalisation (``model.preprocess``)."""
    return _normalised(deeplab_network(recipe.model), recipe)


def tta_config(recipe: DeepLabRecipe) -> TtaConfig:
    """The recipe's recorded test as the shared :class:`TtaConfig` (``predict``'s default)."""
    return deeplab_tta(recipe.tta)


def _normalised(model: nn.Module, recipe: DeepLabRecipe) -> nn.Module:
    t = recipe.tta
    return set_normalization(model, t.normalization, t.mean, t.std)


class DeepLabTask(RecipeTask):
    """Train DeepLabV2 on ``masks_dir`` (and optional ``conf_dir``) for ``dataset``'s images.

    Args:
        recipe: Model, augmentation, loss and training settings.
        dataset: The training split (image paths and ids).
        model: A built model; None: ``build_deeplab`` with the recipe's init, after seeding.
        masks_dir: Pseudo-mask PNGs, one per id.
        conf_dir: Optional confidence maps (``<id>.npy``) for CGL with a chosen mu.
        val_dataset: Optional split with GT, scored (single scale, no CRF) when the engine
            evaluates.
        allow_random: Permit ``init="random"`` (warns).
    """

    method = "deeplab"

    def __init__(
        self,
        recipe: DeepLabRecipe,
        dataset: SegmentationDataset,
        model: nn.Module | None = None,
        *,
        masks_dir: str | Path,
        conf_dir: str | Path | None = None,
        val_dataset: SegmentationDataset | None = None,
        allow_random: bool = False,
    ) -> None:
        super().__init__(recipe, dataset, model)
        self.val_dataset, self.allow_random = val_dataset, allow_random
        self.masks_dir, self.conf_dir = Path(masks_dir), conf_dir and Path(conf_dir)
        pixels = "caffe" if recipe.model.arch == "caffe" else "torchvision"
        for name, part in (("data", recipe.data), ("tta", recipe.tta)):  # data None: no aug.
            if part is not None and part.normalization != pixels:
                raise ValueError(
                    f"recipe {recipe.name!r}: arch={recipe.model.arch!r} takes {pixels} "
                    f"inputs but {name}.normalization={part.normalization!r}"
                )
        self._data = PseudoMaskDataset(
            dataset,
            self.masks_dir,
            n_classes=recipe.model.n_classes,
            augment=recipe.data,
            conf_dir=self.conf_dir,
        )

    def build_model(self) -> nn.Module:
        if self.model is None:
            model = build_deeplab(self.recipe.model, allow_random=self.allow_random)
            self.model = _normalised(model, self.recipe)
        return self.model

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        m = self.recipe.loss.head_lr_mult  # deeplab-pytorch: 10x weights, 20x biases (no decay)
        head_w = [p for n, p in model.aspp.named_parameters() if n.endswith("weight")]
        head_b = [p for n, p in model.aspp.named_parameters() if n.endswith("bias")]
        return [
            ParamGroup(model.backbone_parameters(), name="backbone"),
            ParamGroup(head_w, lr_mult=m, name="aspp.weight"),
            ParamGroup(head_b, lr_mult=2 * m, weight_decay=0.0, name="aspp.bias"),
        ]

    def train_dataset(self) -> Dataset:
        return self._data

    def loss(
        self, model: nn.Module, batch: dict, step: int, iterations: int
    ) -> tuple[Any, dict[str, float]]:
        """CGL (or CE) summed over the network's outputs.

        Shapes:
            ``batch["image"]`` (B, 3, H, W), ``batch["label"]`` (B, H, W) int with 255 =
            ignore, optional ``batch["conf"]`` (B, H, W); the loss is 0-d.
        """
        logits = model(batch["image"])  # arch caffe: the four MSC outputs
        cfg = self.recipe.loss
        loss = msc_loss(
            logits, batch["label"], batch.get("conf"), kind=cfg.kind, mu=cfg.mu, resize=cfg.resize
        )
        return loss, {}

    def evaluate(self, model: nn.Module) -> dict[str, float] | None:
        if self.val_dataset is None:
            return None
        quick = dataclasses.replace(self.recipe.tta, scales=(1.0,), flip=False, crf=False)
        return evaluate_segmenter(
            model, self.val_dataset, self.recipe.model.n_classes, deeplab_tta(quick)
        )

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "cgl_conf": self.conf_dir is not None,
            "train_ids": len(self.dataset),
        }

    def paths(self) -> dict[str, Any]:
        return {**super().paths(), "masks": self.masks_dir, "conf": self.conf_dir}

    def check_inputs(self) -> None:
        check_data_identity(self.masks_dir, self.dataset, "pseudo-masks")


Task = DeepLabTask

__all__ = [
    "RECIPES",
    "DeepLabLoss",
    "DeepLabRecipe",
    "DeepLabTask",
    "Recipe",
    "Task",
    "build_model",
    "get_recipe",
    "with_torchvision",
]
