"""The shared training engine (on Hugging Face ``accelerate``); see docs/training.md.

Usage: subclass ``TrainTask`` (model, data set, loss), then
``train(MyTask(...), TrainConfig(iterations=200, batch_size=8, run_dir="runs/x"))``. A trained
method of the package is a ``Recipe`` + ``RecipeTask`` registered in ``TRAINED_METHODS``;
``load_run(run_dir)`` gives the recipe and trained model of any of its runs.
"""

from .checkpoints import CheckpointError, checkpoint_steps
from .config import (
    RESUMABLE_FIELDS,
    TrainConfig,
    lr_factor,
)
from .logs import LogFileError
from .loop import (
    DivergedError,
    TrainingStopped,
    TrainResult,
    load_trained,
    train,
)
from .recipe import ClipSpec, Recipe
from .registry import TRAINED_METHODS, register_method
from .rundir import ConfigMismatchError
from .runs import RecipeTask, load_run
from .sampler import SeededDataset, StepBatchSampler
from .task import ParamGroup, TrainTask

__all__ = [
    "RESUMABLE_FIELDS",
    "TRAINED_METHODS",
    "ClipSpec",
    "Recipe",
    "RecipeTask",
    "CheckpointError",
    "ConfigMismatchError",
    "DivergedError",
    "LogFileError",
    "ParamGroup",
    "SeededDataset",
    "StepBatchSampler",
    "TrainConfig",
    "TrainResult",
    "TrainTask",
    "TrainingStopped",
    "checkpoint_steps",
    "load_run",
    "load_trained",
    "lr_factor",
    "register_method",
    "train",
]
