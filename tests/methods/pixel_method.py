"""A fourth trained method, for the test that adding one needs only its model, loss and recipe:
a two-layer per-pixel classifier on the toy world (not a method of any paper)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from clipwsss.data import SegmentationDataset, load_image, load_label_png
from clipwsss.data.pixels import PixelStats
from clipwsss.pipelines.tta import TtaConfig
from clipwsss.train import TrainConfig
from clipwsss.train.recipe import Recipe as BaseRecipe
from clipwsss.train.runs import RecipeTask


@dataclass(frozen=True)
class PixelConfig:
    n_classes: int = 11  # background and the 10 toy classes
    hidden: int = 8  # channels of the 3x3 convolution


@dataclass(frozen=True)
class PixelData:
    size: int = 32  # images and labels resized to size x size


@dataclass(frozen=True)
class PixelLoss:
    label_smoothing: float = 0.0  # cross-entropy label smoothing


@dataclass(frozen=True)
class Recipe(BaseRecipe):
    model: PixelConfig = field(default_factory=PixelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: PixelData = field(default_factory=PixelData)
    tta: TtaConfig = field(default_factory=lambda: TtaConfig(scales=(1.0,), flip=False))
    loss: PixelLoss = field(default_factory=PixelLoss)


RECIPES = {
    "toy": Recipe(
        name="toy",
        train=TrainConfig(
            iterations=4,
            batch_size=2,
            lr=1e-2,
            optimizer="adamw",
            checkpoint_interval=2,
            progress=False,
        ),
    ),
}


def build_model(recipe: Recipe) -> nn.Module:
    """(B, 3, H, W) -> (B, n_classes, H, W) logits."""
    c = recipe.model
    return PixelNet(
        nn.Conv2d(3, c.hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(c.hidden, c.n_classes, 1)
    )


class PixelNet(PixelStats, nn.Sequential):
    """The network, owning its input statistics (``preprocess``: photo / 255, no mean)."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.set_pixel_stats((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


class _Pixels(Dataset):
    def __init__(self, dataset: SegmentationDataset, size: int) -> None:
        self.dataset, self.size = dataset, size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        sample = self.dataset[i]
        image = torch.from_numpy(np.asarray(load_image(sample.image_path))).permute(2, 0, 1)
        label = torch.from_numpy(load_label_png(sample.gt_path).astype(np.int64))
        image = F.interpolate(image[None].float() / 255, size=(self.size,) * 2, mode="bilinear")
        label = F.interpolate(label[None, None].float(), size=(self.size,) * 2, mode="nearest")
        return {"image": image[0], "label": label[0, 0].long()}


class Task(RecipeTask):
    method = "pixel"

    def train_dataset(self) -> Dataset:
        return _Pixels(self.dataset, self.recipe.data.size)

    def loss(self, model: nn.Module, batch: dict, step: int, iterations: int):
        logits = model(batch["image"])
        loss = F.cross_entropy(
            logits,
            batch["label"],
            ignore_index=255,
            label_smoothing=self.recipe.loss.label_smoothing,
        )
        return loss, {}
