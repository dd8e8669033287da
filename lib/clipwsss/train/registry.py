"""The registry of trained methods: name -> the module that holds its recipe side.

A method module gives:

- ``Recipe``: a frozen dataclass deriving from ``clipwsss.train.recipe.Recipe`` with a
  ``train: TrainConfig`` field and its other configs (model, data, tta, loss);
- ``RECIPES``: the named recipes (flat literals: "voc12", "coco14", "toy", ...);
- ``build_model(recipe) -> nn.Module``: the model a recipe describes (untrained);
- ``tta_config(recipe) -> TtaConfig`` (optional): the recipe's test for ``clipwsss predict``
  when ``recipe.tta`` is a method's own inference config rather than a ``TtaConfig``;
- ``Task``: its ``TrainTask`` (a ``clipwsss.train.runs.RecipeTask``), built as
  ``Task(recipe, dataset, model=None, **inputs)``; ``inputs`` are its keyword-only input
  folders (DeepLab's ``masks_dir``), recorded as paths, never compared on resume.

``clipwsss train NAME`` (flags generated from ``Recipe``), the run record and
``load_run(run_dir)`` are written once for every module listed here; modules are imported
on first use (``clipwsss --help`` imports none).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module path of the methods trained through the shared recipe path.
TRAINED_METHODS: dict[str, str] = {
    "deeplab": "clipwsss.train.tasks.deeplab",
    "weakclip": "clipwsss.train.tasks.weakclip",
    "weclip": "clipwsss.train.tasks.weclip",
}


def register_method(name: str, module: str) -> None:
    """Add (or replace) a trained method: ``module`` is its import path."""
    TRAINED_METHODS[name] = module


def method_module(name: str) -> ModuleType:
    """The module of the trained method ``name``.

    Raises:
        KeyError: an unregistered name (the message lists the known ones).
    """
    if name not in TRAINED_METHODS:
        raise KeyError(f"no trained method {name!r}; known: {sorted(TRAINED_METHODS)}")
    return importlib.import_module(TRAINED_METHODS[name])


__all__ = ["TRAINED_METHODS", "method_module", "register_method"]
