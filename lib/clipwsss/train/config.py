"""The training engine's configuration and learning-rate schedules.

``TrainConfig`` holds every switch of a run (one comment per field); ``lr_factor`` is the
schedule as a pure function of the optimizer step, so a resumed run needs no scheduler state.
``add_config_arguments`` / ``config_from_args`` generate CLI flags from any flat config
dataclass (one flag per field).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

SCHEDULES = ("poly", "cosine", "constant")
OPTIMIZERS = ("sgd", "adamw")
PRECISIONS = ("no", "fp16", "bf16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Methods fill it from their named recipes.

    ``batch_size`` is the number of samples per optimizer step in total (summed over
    processes and accumulation micro-steps), so a recipe means the same on 1 CPU or 8 GPUs.
    """

    iterations: int = 1000  # optimizer steps
    batch_size: int = 8  # samples per optimizer step, all processes and micro-steps together
    grad_accum: int = 1  # micro-steps per optimizer step (batch_size must divide evenly)
    lr: float = 1e-3  # base learning rate (parameter groups multiply it by lr_mult)
    weight_decay: float = 0.0  # L2 / decoupled decay (groups may override)
    optimizer: str = "sgd"  # sgd | adamw
    momentum: float = 0.9  # SGD momentum
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    schedule: str = "poly"  # poly | cosine | constant
    power: float = 0.9  # poly exponent: (1 - step / iterations) ** power
    min_lr_ratio: float = 0.0  # schedule floor as a fraction of lr
    warmup_iters: int = 0  # linear warm-up steps (multiplies the schedule, mmcv style)
    warmup_ratio: float = 1e-6  # warm-up starts at lr * warmup_ratio
    max_grad_norm: float = 0.0  # clip the global grad norm; 0 = off
    mixed_precision: str = "no"  # no | fp16 (CUDA only) | bf16
    seed: int = 0  # data order, augmentation and init
    deterministic: bool = True  # torch deterministic algorithms (bit-equal resume on CPU)
    device: str = "auto"  # auto | cpu | cuda
    num_workers: int = 0  # DataLoader worker processes
    log_interval: int = 10  # steps between log rows
    eval_interval: int = 0  # steps between evaluations; 0 = only after the last step
    checkpoint_interval: int = 100  # steps between checkpoints (and one after the last step)
    keep_checkpoints: int = 2  # newest checkpoints kept in run_dir/checkpoints
    run_dir: str = "runs/default"  # config.json, log.csv, log.jsonl, checkpoints/, model.pt
    resume: bool = True  # continue from the newest checkpoint in run_dir if there is one
    progress: bool = True  # tqdm progress bar

    def __post_init__(self) -> None:
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _check_choice("device", self.device, DEVICES)
        if self.iterations < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("iterations, batch_size and grad_accum must be >= 1")
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"batch_size {self.batch_size} is not divisible by grad_accum {self.grad_accum}"
            )
        if not 0 <= self.warmup_iters <= self.iterations:
            raise ValueError("warmup_iters must be in [0, iterations]")
        if min(self.log_interval, self.checkpoint_interval) < 1 or self.eval_interval < 0:
            raise ValueError("log/checkpoint intervals must be >= 1 and eval_interval >= 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data


# Fields that may change between a run and its resumption (they do not change the weights).
RESUMABLE_FIELDS = frozenset(
    {
        "log_interval",
        "eval_interval",
        "checkpoint_interval",
        "keep_checkpoints",
        "run_dir",
        "resume",
        "progress",
        "device",
        "num_workers",
    }
)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r}; choose one of {', '.join(choices)}")


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the base lr at optimizer step ``step`` (0-based).

    poly: ``(1 - step / iterations) ** power`` (DeepLab, Chen et al. 2017, Sec. 4);
    cosine: ``0.5 (1 + cos(pi step / iterations))``; both rescaled to end at
    ``min_lr_ratio``. Warm-up multiplies the schedule by a linear ramp from ``warmup_ratio``
    to 1 over ``warmup_iters`` steps (the mmcv convention WeCLIP's config uses).
    """
    t = min(step, config.iterations) / config.iterations
    if config.schedule == "poly":
        base = (1.0 - t) ** config.power
    elif config.schedule == "cosine":
        base = 0.5 * (1.0 + math.cos(math.pi * t))
    else:
        base = 1.0
    base = config.min_lr_ratio + (1.0 - config.min_lr_ratio) * base
    if step < config.warmup_iters:
        k = step / config.warmup_iters
        base *= 1.0 - (1.0 - k) * (1.0 - config.warmup_ratio)
    return base


# --------------------------------------------------------------------------- CLI helpers


def _flag_type(annotation: Any) -> tuple[Any, int | None]:
    """argparse ``type`` and ``nargs`` for a dataclass field annotation."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        return args[0], len(args)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _flag_type(args[0])
    return annotation, None


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, *, skip=()) -> None:
    """Add one ``--field-name`` flag per field of the flat dataclass ``cls``.

    Defaults are ``None`` (meaning: keep the recipe's value); booleans take true/false.
    """
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, nargs = _flag_type(hints[f.name])
        kind = _parse_bool if kind is bool else kind
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=kind,
            nargs=nargs,
            default=None,
            help=f"(default: the recipe's, {cls.__name__} {f.default!r})",
        )


def config_from_args(base: Any, args: argparse.Namespace) -> Any:
    """``base`` with every flag the user gave (not None) replaced."""
    changes = {}
    for f in dataclasses.fields(base):
        value = getattr(args, f.name, None)
        if value is not None:
            changes[f.name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **changes)


__all__ = [
    "TrainConfig",
    "RESUMABLE_FIELDS",
    "lr_factor",
    "add_config_arguments",
    "config_from_args",
]
