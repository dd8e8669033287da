"""WeakCLIP as a task of the shared training engine (``clipwsss.train``, on accelerate).

One recipe (``recipes.py``) gives the model, the losses and the schedule; :func:`train_config`
turns its schedule into the engine's ``TrainConfig`` (AdamW, cosine to ``min_lr`` with linear
warm-up). Resume, checkpoints, logs and multi-GPU runs are the engine's.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image
from torch import nn

from clipwsss.clip.loading import ClipModel
from clipwsss.data import SegmentationDataset
from clipwsss.methods.weakclip.data import SeedDataset, load_seed
from clipwsss.methods.weakclip.model import build_weakclip
from clipwsss.methods.weakclip.recipes import TrainRecipe
from clipwsss.methods.weakclip.train import param_groups, training_step
from clipwsss.pipelines.common import check_data_identity
from clipwsss.train import ParamGroup, TrainConfig, TrainResult, TrainTask, train


class WeakClipTask(TrainTask):
    """Train WeakCLIP on seed masks (pseudo-mask PNGs) of a data set's images.

    Args:
        clip: the frozen CLIP (ViT).
        class_names: K class texts, "background" first.
        dataset: the training images.
        seed_dir: folder of ``<image_id>.png`` seed masks.
        recipe: model, loss and data settings.
    """

    def __init__(
        self,
        clip: ClipModel,
        class_names: Sequence[str],
        dataset: SegmentationDataset,
        seed_dir: str | Path,
        recipe: TrainRecipe,
    ) -> None:
        if len(class_names) != dataset.n_classes:
            raise ValueError(
                f"{len(class_names)} class names for a data set of {dataset.n_classes} classes"
            )
        self.clip, self.class_names = clip, list(class_names)
        self.dataset, self.seed_dir, self.recipe = dataset, Path(seed_dir), recipe

    def build_model(self) -> nn.Module:
        r = self.recipe  # the input statistics travel with the model (model.preprocess)
        return build_weakclip(self.clip, self.class_names, r.model, pixel_mean=r.mean,
                              pixel_std=r.std)  # fmt: skip

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        return [ParamGroup(g.params, lr_mult=g.lr_mult, name=g.name) for g in param_groups(model)]

    def train_dataset(self) -> SeedDataset:
        r = self.recipe
        return SeedDataset(
            self.dataset, self.seed_dir, crop_size=r.crop_size, scale_range=r.scale_range,
            mean=r.mean, std=r.std,
        )  # fmt: skip

    def loss(self, model: nn.Module, batch: Any):
        r = self.recipe
        terms = training_step(model, batch, r.loss, mean=r.mean, std=r.std)
        logs = {k: getattr(terms, k).detach().item() for k in ("seed", "boundary", "aux")}
        return terms.total, logs

    def paths(self) -> dict[str, Any]:
        return {"seed_dir": self.seed_dir}

    def check_inputs(self) -> None:
        """Every seed mask (size against its image header, class ids) and the data set its
        ``run.json`` names, before the first step (not when its batch comes up)."""
        if not self.seed_dir.is_dir():
            raise FileNotFoundError(f"seed folder not found: {self.seed_dir}")
        check_data_identity(self.seed_dir, self.dataset, "seed masks")
        for image_id in self.dataset.ids:
            with Image.open(self.dataset.sample(image_id).image_path) as img:
                w, h = img.size
            path = self.seed_dir / f"{image_id}.png"
            load_seed(path, shape=(h, w), n_classes=self.dataset.n_classes)

    def config(self) -> dict[str, Any]:
        # JSON round trip: tuples become lists, so the resume check compares like with like.
        return json.loads(json.dumps(self._settings()))

    def _settings(self) -> dict[str, Any]:
        return {
            "method": "weakclip",
            # Inference settings do not change training: `predict` takes them from the recipe.
            "recipe": {
                k: v for k, v in dataclasses.asdict(self.recipe).items() if k != "inference"
            },
            "class_names": self.class_names,
            "clip": self.clip.name,
            "clip_fingerprint": self.clip.fingerprint,
        }


def train_config(recipe: TrainRecipe, run_dir: str | Path, **overrides) -> TrainConfig:
    """The engine config of a recipe: AdamW, cosine to min_lr with linear warm-up (mmcv)."""
    base = dict(
        iterations=recipe.iters,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        optimizer="adamw",
        schedule="cosine",
        min_lr_ratio=recipe.min_lr / recipe.lr,
        warmup_iters=recipe.warmup_iters,
        warmup_ratio=recipe.warmup_ratio,
        seed=recipe.seed,
        checkpoint_interval=recipe.checkpoint_every,
        run_dir=str(run_dir),
    )
    merged = {**base, **overrides}
    merged["warmup_iters"] = min(merged["warmup_iters"], merged["iterations"])  # short runs
    return TrainConfig(**merged)


def train_weakclip(
    clip: ClipModel,
    class_names: Sequence[str],
    dataset: SegmentationDataset,
    seed_dir: str | Path,
    recipe: TrainRecipe,
    run_dir: str | Path,
    **overrides,
) -> TrainResult:
    """Train (or resume) WeakCLIP into ``run_dir``; ``overrides`` change TrainConfig fields."""
    task = WeakClipTask(clip, class_names, dataset, seed_dir, recipe)
    return train(task, train_config(recipe, run_dir, **overrides))
