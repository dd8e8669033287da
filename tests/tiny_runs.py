"""Helpers of the engine tests (test_train_loop.py, test_train_safety.py): the tiny task in a
subprocess, its weights, and a real SIGINT during a chosen step."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from clipwsss.train.tiny import TinyRegression

ROOT = Path(__file__).resolve().parents[1]


def run_tiny(run_dir, *flags, wait: bool = True):
    """``python -m clipwsss.train.tiny RUN_DIR FLAGS`` (a CompletedProcess; a Popen if not
    ``wait``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "clipwsss.train.tiny", str(run_dir), *flags]
    if not wait:
        return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def model_weights(run_dir) -> dict:
    """The final ``model.safetensors`` of a run folder."""
    return load_file(Path(run_dir) / "model.safetensors")


def same_weights(a: dict, b: dict) -> bool:
    """Two state dicts with the same keys and bit-equal tensors."""
    assert a.keys() == b.keys()
    return all(torch.equal(a[k], b[k]) for k in a)


def sigint_task(step: int) -> TinyRegression:
    """The tiny task; a real SIGINT arrives during ``step``'s last micro-step."""
    task = TinyRegression()
    loss = task.loss

    def loss_then_sigint(*args, **kwargs):
        if task.calls == 2 * step - 1:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(*args, **kwargs)

    task.loss = loss_then_sigint
    return task
