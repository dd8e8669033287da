"""A tiny regression task: the engine's worked example and its test fixture.

Each sample is a fixed input ``x`` (8 numbers) with a noisy augmentation drawn from the global
torch RNG (as real augmentation would be); the model is a small MLP with dropout, so both the
per-sample seeding and the checkpointed RNG state matter for an exact resume.

    python -m clipwsss.train.tiny RUN_DIR [--iterations 40] [--kill-at-step N]
        [--kill-while-saving N] [--signal-at-step N --signal TERM] [--step-delay S]

``--kill-at-step N`` sends SIGKILL to this process in the middle of step N (after the
forward pass), the way a crashed or pre-empted job dies; rerun without it to resume.
``--signal-at-step N`` sends ``--signal`` (TERM or INT) there instead, as a scheduler or
Ctrl-C would; ``--step-delay`` slows each step (a run that lasts, for the folder lock).
Exit status as ``clipwsss train``: 130 after SIGINT, 143 after SIGTERM, 1 on a known error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from .config import TrainConfig
from .loop import TrainingStopped, train
from .task import ParamGroup, TrainTask


class _Points(Dataset):
    def __init__(self, n: int = 48) -> None:
        gen = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 8, generator=gen)
        self.y = self.x @ torch.randn(8, 2, generator=gen)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        noise = 0.05 * torch.randn(8)  # augmentation from the (engine-seeded) global RNG
        return {"x": self.x[index] + noise, "y": self.y[index]}


class TinyRegression(TrainTask):
    """MLP 8 -> 32 -> 2 with dropout, MSE loss; the head's lr is 2x (a parameter group)."""

    def __init__(
        self,
        kill_at_step: int | None = None,
        *,
        signum: int = signal.SIGKILL,
        step_delay: float = 0.0,
    ) -> None:
        self.kill_at_step, self.calls = kill_at_step, 0
        self.signum, self.step_delay = signum, step_delay

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        return [
            ParamGroup(list(model[0].parameters()), name="body"),
            ParamGroup(list(model[3].parameters()), lr_mult=2.0, name="head"),
        ]

    def train_dataset(self) -> Dataset:
        return _Points()

    def loss(
        self, model: nn.Module, batch: Any, step: int, iterations: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean squared error of the regression.

        Shapes:
            ``batch["x"]`` (B, 8), ``batch["y"]`` (B, 2); the loss is 0-d.
        """
        pred = model(batch["x"])
        loss = nn.functional.mse_loss(pred, batch["y"])
        self.calls += 1
        if self.kill_at_step is not None and self.calls == self.kill_at_step + 1:
            os.kill(os.getpid(), self.signum)  # mid-step, before backward
        time.sleep(self.step_delay)
        return loss, {"pred_abs": pred.abs().mean().item()}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        data = _Points()
        return {"mse": nn.functional.mse_loss(model(data.x), data.y).item()}


def tiny_config(run_dir: str, iterations: int = 40, **changes: Any) -> TrainConfig:
    """The tiny task's recipe: SGD, poly, warm-up, 2 micro-steps, a checkpoint every 6."""
    base = dict(
        iterations=iterations,
        batch_size=8,
        grad_accum=2,
        lr=0.05,
        warmup_iters=4,
        checkpoint_interval=6,
        log_interval=5,
        eval_interval=10,
        device="cpu",
        run_dir=run_dir,
        progress=False,
        weight_decay=1e-4,
    )
    return TrainConfig(**{**base, **changes})


def _kill_while_saving(step: int) -> None:
    from accelerate import Accelerator

    save = Accelerator.save_state

    def save_then_die(self, output_dir=None, **kwargs):
        save(self, output_dir, **kwargs)
        if output_dir and output_dir.endswith(f"step-{step:08d}"):
            os.kill(os.getpid(), signal.SIGKILL)

    Accelerator.save_state = save_then_die


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--kill-at-step", type=int, default=None)
    parser.add_argument(
        "--kill-while-saving",
        type=int,
        default=None,
        help="SIGKILL after checkpoint STEP is written but before its rename",
    )
    parser.add_argument("--signal-at-step", type=int, default=None)
    parser.add_argument("--signal", choices=("TERM", "INT"), default="TERM")
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds per micro-step")
    args = parser.parse_args()
    if args.kill_while_saving is not None:
        _kill_while_saving(args.kill_while_saving)
    torch.set_num_threads(1)
    # The step counts micro-steps of this process: grad_accum = 2 per optimizer step; the
    # signal arrives during the last micro-step of that optimizer step.
    at, signum = args.kill_at_step, signal.SIGKILL
    if args.signal_at_step is not None:
        at, signum = args.signal_at_step, getattr(signal, "SIG" + args.signal)
    kill = None if at is None else 2 * at - 1
    task = TinyRegression(kill, signum=signum, step_delay=args.step_delay)
    try:
        train(task, tiny_config(args.run_dir, args.iterations))
    except TrainingStopped as err:
        print(f"stopped: {err}", file=sys.stderr)
        sys.exit(143 if err.signum == signal.SIGTERM else 130)
    except (ValueError, RuntimeError, OSError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
