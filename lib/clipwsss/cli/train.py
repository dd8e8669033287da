"""``clipwsss train NAME`` for every method in the trained-method registry: one parser and
one handler, with the flags generated from the method's nested ``Recipe``.

    clipwsss train NAME --recipe toy --profile toy --iterations 50 --run-dir runs/x

``--recipe`` picks a named recipe (``RECIPES``; default: the ``--profile``'s); every field of
its nested configs has a flag (``cli/config_flags.add_recipe_arguments``); the data flags are
``cli/data_flags``'s. A method's CLI module (``cli/methods.METHODS``) may add its input
folders (``add_input_flags``, ``task_inputs``), start from a variant of a named recipe
(``base_recipe``), check the recipe (``check_recipe``) and the inputs (``before_train``); a
method without one needs none. The run folder records the whole recipe (``config.json``),
which ``clipwsss.train.runs.load_run`` reads back.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from clipwsss.cli.config_flags import add_recipe_arguments, recipe_from_args
from clipwsss.cli.data_flags import add_data_flags


def add_train_parser(methods, name: str, hooks: ModuleType | None = None) -> None:
    """Register ``train NAME`` for the registered method ``name`` (its module is imported:
    the recipe's classes give the flags); ``hooks``: its CLI module, if it has one."""
    from clipwsss.train.registry import method_module

    module = method_module(name)
    doc = (hooks or module).__doc__ or name
    p = methods.add_parser(
        name,
        help=doc.strip().splitlines()[0],
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--recipe",
        choices=tuple(module.RECIPES),
        default=None,
        help="named recipe (default: --profile's; the flags below change its fields)",
    )
    add_data_flags(p)
    p.set_defaults(split=None)  # None: the recipe's training split (TRAIN_SPLITS)
    if hooks is not None and hasattr(hooks, "add_input_flags"):
        hooks.add_input_flags(p)
    add_recipe_arguments(p, module.Recipe)
    p.set_defaults(handler=cmd_train, trained_method=name, method_hooks=hooks)


def _dataset(args: argparse.Namespace, profile_name: str, split: str):
    """The split the data flags name (``--root`` overrides the profile's folder)."""
    from clipwsss.data import build_dataset
    from clipwsss.experiments.profiles import get_profile

    profile = get_profile(profile_name)
    root = args.root or Path(profile.data_root)
    dataset = build_dataset(profile.dataset, root, split, class_names=profile.class_names())
    if args.limit is not None:
        dataset = copy.copy(dataset)
        dataset.ids = dataset.ids[: args.limit]
    return dataset


def recipe_of(args: argparse.Namespace, module: ModuleType, hooks: ModuleType | None):
    """The named recipe (``--recipe``, else ``--profile``'s, else the first) with the flags."""
    name = args.recipe or (args.profile if args.profile in module.RECIPES else None)
    name = name or next(iter(module.RECIPES))
    if hooks is not None and hasattr(hooks, "base_recipe"):
        base = hooks.base_recipe(name, args)
    else:
        base = module.RECIPES[name]
    recipe = recipe_from_args(base, args)
    if getattr(args, "train.run_dir", None) is None:  # runs/<method>_<recipe>
        run_dir = f"runs/{args.trained_method}_{name}"
        train = dataclasses.replace(recipe.train, run_dir=run_dir)
        recipe = dataclasses.replace(recipe, train=train)
    return dataclasses.replace(recipe, name=name)


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Build the recipe from ``--recipe`` and the flags, then train (or resume) its run."""
    from clipwsss.train import train
    from clipwsss.train.registry import method_module

    module, hooks = method_module(args.trained_method), args.method_hooks
    recipe = recipe_of(args, module, hooks)
    if hasattr(hooks, "check_recipe"):
        recipe = hooks.check_recipe(recipe, args)
    split = args.split or getattr(module, "TRAIN_SPLITS", {}).get(recipe.name, "train")
    dataset = _dataset(args, args.profile or recipe.name, split)
    inputs = hooks.task_inputs(args, recipe) if hasattr(hooks, "task_inputs") else {}
    task = module.Task(recipe, dataset, **inputs)
    if hasattr(hooks, "before_train"):
        hooks.before_train(task, args)
    result = train(task, recipe.train)
    print(
        json.dumps(
            {
                "run_dir": str(result.run_dir),
                "step": result.step,
                "resumed_from": result.resumed_from,
                "final_eval": result.final_eval,
            }
        )
    )
    return 0
