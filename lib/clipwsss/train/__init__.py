"""The shared training engine (on Hugging Face ``accelerate``); see docs/training.md.

Usage: subclass ``TrainTask`` (model, data set, loss), then
``train(MyTask(...), TrainConfig(iterations=200, batch_size=8, run_dir="runs/x"))``.
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
from .rundir import ConfigMismatchError
from .sampler import SeededDataset, StepBatchSampler
from .task import ParamGroup, TrainTask

__all__ = [
    "RESUMABLE_FIELDS",
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
    "load_trained",
    "lr_factor",
    "train",
]
