"""WeakCLIP as a task of the shared training engine (``clipwsss.train``, on accelerate).

One recipe (``weakclip_recipes.py``) gives the CLIP, the model, the losses, the data settings
and the engine's ``TrainConfig`` (AdamW, cosine to ``min_lr`` with linear warm-up). Resume,
checkpoints, logs and multi-GPU runs are the engine's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from torch import nn

from clipwsss.clip.loading import ClipModel
from clipwsss.data import SegmentationDataset
from clipwsss.methods.weakclip.data import SeedDataset, load_seed
from clipwsss.methods.weakclip.model import WeakCLIP, build_weakclip
from clipwsss.methods.weakclip.train import param_groups, training_step
from clipwsss.pipelines.common import check_data_identity
from clipwsss.pipelines.tta import TtaConfig, weakclip_tta
from clipwsss.train.runs import RecipeTask
from clipwsss.train.task import ParamGroup
from clipwsss.train.tasks.common import load_spec_clip, spec_vocabulary
from clipwsss.train.tasks.weakclip_recipes import (
    RECIPES,
    WeakClipData,
    WeakClipRecipe,
    get_recipe,
    with_run,
)

Recipe = WeakClipRecipe  # the registry's names (clipwsss.train.registry)


def class_names(recipe: WeakClipRecipe) -> list[str]:
    """The K class texts of the recipe's vocabulary, "background" first."""
    return ["background", *spec_vocabulary(recipe.clip).names]


def build_model(recipe: WeakClipRecipe, clip: ClipModel | None = None) -> WeakCLIP:
    """WeakCLIP on the recipe's frozen CLIP (loaded without moving torch's RNG); the model's
    ``clip_fingerprint`` is the CLIP weights' (``load_run`` checks it against the run's)."""
    clip = clip or load_spec_clip(recipe.clip, keep_rng=True)
    d = recipe.data  # the input statistics travel with the model (model.preprocess)
    model = build_weakclip(
        clip, class_names(recipe), recipe.model, pixel_mean=d.mean, pixel_std=d.std
    )
    model.clip_fingerprint = clip.fingerprint
    return model


def tta_config(recipe: WeakClipRecipe) -> TtaConfig:
    """The recipe's recorded test as the shared :class:`TtaConfig` (``predict``'s default)."""
    return weakclip_tta(recipe.tta)


class WeakClipTask(RecipeTask):
    """Train WeakCLIP on seed masks (pseudo-mask PNGs) of a data set's images.

    Args:
        recipe: CLIP, model, loss, data and engine settings.
        dataset: the training images.
        model: a built model; None: built from the recipe when the engine asks.
        seed_dir: folder of ``<image_id>.png`` seed masks.
        clip: the recipe's frozen CLIP, if already loaded (else loaded from ``recipe.clip``).
    """

    method = "weakclip"

    def __init__(
        self,
        recipe: WeakClipRecipe,
        dataset: SegmentationDataset,
        model: nn.Module | None = None,
        *,
        seed_dir: str | Path,
        clip: ClipModel | None = None,
    ) -> None:
        super().__init__(recipe, dataset, model)
        names = class_names(recipe)
        if len(names) != dataset.n_classes:
            raise ValueError(
                f"{len(names)} class names for a data set of {dataset.n_classes} classes"
            )
        self.seed_dir, self.clip = Path(seed_dir), clip

    def _clip(self) -> ClipModel:
        if self.clip is None:
            self.clip = load_spec_clip(self.recipe.clip, keep_rng=True)
        return self.clip

    def build_model(self) -> nn.Module:
        if self.model is None:
            self.model = build_model(self.recipe, self._clip())
        return self.model

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        return [ParamGroup(g.params, lr_mult=g.lr_mult, name=g.name) for g in param_groups(model)]

    def frozen_keys(self, model: nn.Module) -> set[str]:
        """The frozen CLIP towers (about 690 MB at ViT-B/16): rebuilt from ``recipe.clip`` and
        checked against ``clip_fingerprint``, never copied into a checkpoint."""
        return {
            k
            for k, p in model.named_parameters()
            if not p.requires_grad and k.startswith(("visual.", "text_encoder."))
        }

    def train_dataset(self) -> SeedDataset:
        d = self.recipe.data
        return SeedDataset(
            self.dataset,
            self.seed_dir,
            crop_size=d.crop_size,
            scale_range=d.scale_range,
            mean=d.mean,
            std=d.std,
        )

    def loss(self, model: nn.Module, batch: Any, step: int, iterations: int):
        """Seed, boundary and auxiliary losses (WeakCLIP Sec. 3.6).

        Shapes:
            ``batch["pixels"]`` (B, 3, H, W), ``batch["seeds"]`` (B, H, W) int with 255 =
            ignore; the loss is 0-d.
        """
        d = self.recipe.data
        terms = training_step(model, batch, self.recipe.loss, mean=d.mean, std=d.std)
        logs = {k: getattr(terms, k).detach().item() for k in ("seed", "boundary", "aux")}
        return terms.total, logs

    def paths(self) -> dict[str, Any]:
        return {**super().paths(), "seed_dir": self.seed_dir}

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
        # The CLIP is recorded by name (recipe.clip) and weight fingerprint, never copied.
        return {**super().config(), "clip_fingerprint": self._clip().fingerprint}


Task = WeakClipTask

__all__ = [
    "RECIPES",
    "Recipe",
    "Task",
    "WeakClipData",
    "WeakClipRecipe",
    "WeakClipTask",
    "build_model",
    "class_names",
    "get_recipe",
    "with_run",
]
