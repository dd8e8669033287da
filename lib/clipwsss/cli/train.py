"""``clipwsss train NAME`` for every method in the trained-method registry: one parser and
one handler, with the flags generated from the method's nested ``Recipe``.

    clipwsss train NAME --recipe toy --profile toy --iterations 50 --run-dir runs/x

``--recipe`` picks a named recipe (``RECIPES``); every field of its nested configs has a flag
(``cli/config_flags.add_recipe_arguments``); the data flags are ``cli/data_flags``'s. The run
folder records the whole recipe (``config.json``), which ``clipwsss.train.runs.load_run``
reads back.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from clipwsss.cli.config_flags import add_recipe_arguments, recipe_from_args
from clipwsss.cli.data_flags import add_data_flags


def add_train_parser(methods, name: str) -> None:
    """Register ``train NAME`` for the registered method ``name`` (its module is imported:
    the recipe's classes give the flags)."""
    from clipwsss.train.registry import method_module

    module = method_module(name)
    p = methods.add_parser(name, help=(module.__doc__ or name).strip().splitlines()[0])
    p.add_argument("--recipe", choices=tuple(module.RECIPES), default=next(iter(module.RECIPES)),
                   help="named recipe (the flags below change its fields)")  # fmt: skip
    add_data_flags(p)
    add_recipe_arguments(p, module.Recipe)
    p.set_defaults(handler=cmd_train, trained_method=name)


def _dataset(args: argparse.Namespace, recipe_name: str):
    """The training split the data flags name (the profile defaults to the recipe's name)."""
    from clipwsss.data import build_dataset
    from clipwsss.experiments.profiles import get_profile

    profile = get_profile(args.profile or recipe_name)
    root = args.root or Path(profile.data_root)
    dataset = build_dataset(profile.dataset, root, args.split, class_names=profile.class_names())
    if args.limit is not None:
        dataset = copy.copy(dataset)
        dataset.ids = dataset.ids[: args.limit]
    return dataset


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Build the recipe from ``--recipe`` and the flags, then train (or resume) its run."""
    from clipwsss.train import train
    from clipwsss.train.registry import method_module

    module = method_module(args.trained_method)
    recipe = recipe_from_args(module.RECIPES[args.recipe], args)
    if recipe.name != args.recipe:
        recipe = dataclasses.replace(recipe, name=args.recipe)
    task = module.Task(recipe, _dataset(args, args.recipe))
    result = train(task, recipe.train)
    print(json.dumps({"run_dir": str(result.run_dir), "step": result.step,
                      "resumed_from": result.resumed_from, "final_eval": result.final_eval}))
    return 0
