"""A trained method's task from its recipe, and ``load_run``: the recipe and trained model of
any run folder, read from ``config.json`` by one function for every registered method."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from .loop import load_trained
from .recipe import Recipe
from .registry import TRAINED_METHODS, method_module
from .task import TrainTask


class RecipeTask(TrainTask):
    """Base of a registered method's task: one constructor contract for every method.

    Args:
        recipe: the method's recipe (its ``train`` field is the engine's ``TrainConfig``).
        dataset: the training samples (what ``train_dataset`` returns).
        model: a built model (as open_clip's ``CLIPTask``); None: built from the recipe by
            the method's ``build_model`` when the engine asks (after it seeds).
    """

    method = ""  # the registry name, recorded in config.json

    def __init__(self, recipe: Recipe, dataset: Dataset, model: nn.Module | None = None) -> None:
        if self.method not in TRAINED_METHODS:
            raise KeyError(f"{type(self).__name__}.method {self.method!r} is not registered")
        self.recipe, self.dataset, self.model = recipe, dataset, model

    def build_model(self) -> nn.Module:
        if self.model is None:
            self.model = method_module(self.method).build_model(self.recipe)
        return self.model

    def train_dataset(self) -> Dataset:
        return self.dataset

    def paths(self) -> dict[str, Any]:
        """The data folder (``predict``'s default data set; a moved one still resumes)."""
        root = getattr(self.dataset, "root", None)
        return {"data_root": None if root is None else str(Path(root).resolve())}

    def config(self) -> dict[str, Any]:
        # The engine records recipe.train itself (its intervals and run_dir may change).
        recipe = self.recipe.to_dict()
        recipe.pop("train")
        data = {
            "split": getattr(self.dataset, "split", None),
            "classes": list(getattr(self.dataset, "class_names", None) or []),
        }
        return {"method": self.method, "recipe": recipe, "data": data}


def read_recipe(run_dir: str | Path) -> tuple[str, Recipe]:
    """The method name and whole recipe a run recorded in ``run_dir/config.json``.

    Raises:
        FileNotFoundError: no ``config.json``.
        ValueError: a record without a registered method and recipe (an older layout: the
            message names the task class it recorded).
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a `clipwsss train` run?")
    record = json.loads(path.read_text())
    task = record.get("task", {})
    method = task.get("method")
    if method not in TRAINED_METHODS or "recipe" not in task:
        raise ValueError(
            f"{path} records task {task.get('class')!r} without a registered method and recipe "
            f"(method {method!r}; registered: {sorted(TRAINED_METHODS)}): it was written by "
            "another clipwsss version or method; retrain it with this one"
        )
    cls = method_module(method).Recipe
    return method, cls.from_dict({**task["recipe"], "train": record["train"]})


def load_run(run_dir: str | Path) -> tuple[Recipe, nn.Module]:
    """The recipe and trained model (eval mode, on the CPU) of a finished run of any
    registered method.

    Raises:
        ValueError: the frozen CLIP the recipe names has other weights than the run's
            (``clip_fingerprint`` in ``config.json``).
    """
    method, recipe = read_recipe(run_dir)
    model = method_module(method).build_model(recipe)
    task = json.loads((Path(run_dir) / "config.json").read_text())["task"]
    want, got = task.get("clip_fingerprint"), getattr(model, "clip_fingerprint", None)
    if want is not None and got != want:
        raise ValueError(
            f"{run_dir} was trained on CLIP weights {want}, but {recipe.clip.model} now has {got}"
        )
    return recipe, load_trained(run_dir, model).eval()


__all__ = ["RecipeTask", "load_run", "read_recipe"]
