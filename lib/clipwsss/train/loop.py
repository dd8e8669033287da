"""``train(task, config)``: the one training loop every trainable clipwsss method uses.

Built on Hugging Face ``accelerate``: device placement, mixed precision, gradient sync and
``save_state`` / ``load_state``. One CPU process needs no launcher; several GPUs run the same
script under ``accelerate launch``. Checkpoints are written to a temporary folder and renamed
(atomic); a run restarted with the same ``run_dir`` resumes from the newest one and, with
``deterministic=True`` on CPU, ends with the weights an uninterrupted run would have.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, PartialState
from accelerate.state import AcceleratorState
from accelerate.utils import send_to_device, set_seed
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .config import RESUMABLE_FIELDS, TrainConfig, lr_factor
from .logs import RunLog
from .sampler import SeededDataset, StepBatchSampler
from .task import TrainTask

CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.pt"


class ConfigMismatchError(ValueError):
    """``run_dir`` holds a run with a different configuration than the one asked for."""


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` returns."""

    model: nn.Module  # the trained model, unwrapped (on the training device)
    run_dir: Path  # config.json, log.csv, log.jsonl, eval.csv, checkpoints/, model.pt
    step: int  # optimizer steps done (= config.iterations)
    resumed_from: int  # step of the checkpoint the run continued from; 0 = fresh
    history: list[dict[str, Any]]  # every log row (train and eval), as in log.jsonl
    final_eval: dict[str, float] | None  # last evaluation, if the task evaluates


class _TrainState:
    """The engine's own checkpointed state (registered with accelerate)."""

    def __init__(self, seed: int) -> None:
        self.step, self.seed = 0, seed

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step, self.seed = int(state["step"]), int(state["seed"])


def _make_accelerator(config: TrainConfig) -> Accelerator:
    cuda = torch.cuda.is_available()
    if PartialState().num_processes == 1:
        # accelerate keeps one global state per process; a notebook or test that trains twice
        # with other precision settings needs it reset (safe without a distributed launch).
        AcceleratorState._reset_state()
    if config.device == "cuda" and not cuda:
        raise RuntimeError("--device cuda: no CUDA device is available")
    use_cpu = config.device == "cpu" or not cuda
    if config.mixed_precision == "fp16" and use_cpu:
        raise ValueError("mixed_precision=fp16 needs CUDA; use bf16 or no on CPU")
    return Accelerator(cpu=use_cpu, mixed_precision=config.mixed_precision)


def checkpoint_steps(run_dir: str | Path) -> list[int]:
    """Steps of the complete checkpoints in ``run_dir`` (ascending)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in root.glob("step-*") if p.name[5:].isdigit())


def _checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINTS / f"step-{step:08d}"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _save_checkpoint(acc: Accelerator, run_dir: Path, step: int, config: TrainConfig) -> None:
    """save_state into a temporary folder, then rename it to checkpoints/step-N (atomic)."""
    final = _checkpoint_dir(run_dir, step)
    tmp = final.with_name(".tmp-" + final.name)
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    acc.save_state(str(tmp))
    acc.wait_for_everyone()
    if acc.is_main_process:
        (tmp / "run_config.json").write_text((run_dir / "config.json").read_text())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoint_steps(run_dir)[: -config.keep_checkpoints]:
            shutil.rmtree(_checkpoint_dir(run_dir, old), ignore_errors=True)
    acc.wait_for_everyone()


def _run_record(task: TrainTask, config: TrainConfig) -> dict[str, Any]:
    return {
        "train": config.to_dict(),
        "task": {"class": type(task).__qualname__, **task.config()},
        "seed": config.seed,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }


def _check_same_run(run_dir: Path, record: dict[str, Any]) -> None:
    old = json.loads((run_dir / "config.json").read_text())
    record = json.loads(json.dumps(record))  # as stored: tuples become lists
    diff = [
        k
        for k, v in record["train"].items()
        if k not in RESUMABLE_FIELDS and old["train"].get(k) != v
    ]
    if old["task"] != record["task"]:
        diff.append("task settings")
    if diff:
        raise ConfigMismatchError(
            f"{run_dir} holds a run with different {', '.join(diff)}; use another run_dir "
            "or resume=False to start over"
        )


def _prepare_run_dir(task: TrainTask, config: TrainConfig, acc: Accelerator) -> Path:
    run_dir = Path(config.run_dir)
    record = _run_record(task, config)
    if acc.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not config.resume:
            shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
            (run_dir / "log.jsonl").unlink(missing_ok=True)
        elif checkpoint_steps(run_dir) and (run_dir / "config.json").exists():
            _check_same_run(run_dir, record)
        _atomic_write(run_dir / "config.json", json.dumps(record, indent=2) + "\n")
    acc.wait_for_everyone()
    return run_dir


def _build_optimizer(task: TrainTask, model: nn.Module, config: TrainConfig):
    groups = []
    for g in task.param_groups(model):
        wd = config.weight_decay if g.weight_decay is None else g.weight_decay
        groups.append(
            {
                "params": g.params,
                "lr": config.lr * g.lr_mult,
                "weight_decay": wd,
                "lr_mult": g.lr_mult,
                "name": g.name,
                **g.extra,
            }
        )
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


class _StopFlag:
    """SIGINT sets a flag; the loop checkpoints at the end of the step, then stops."""

    def __init__(self) -> None:
        self.set, self._old = False, None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _evaluate(task: TrainTask, acc: Accelerator, model: nn.Module) -> dict[str, float] | None:
    result = None
    if acc.is_main_process:
        model.eval()
        with torch.no_grad():
            result = task.evaluate(acc.unwrap_model(model))
        model.train()
    acc.wait_for_everyone()
    return result


def _one_step(task, acc, model, optimizer, batches, step: int, config: TrainConfig):
    """One optimizer step over ``grad_accum`` micro-batches; returns the mean logs."""
    task.begin_step(step + 1, config.iterations)
    factor = lr_factor(step, config)
    for group in optimizer.param_groups:
        group["lr"] = config.lr * group["lr_mult"] * factor
    totals: dict[str, float] = {}
    for m in range(config.grad_accum):
        batch = send_to_device(next(batches), acc.device)
        sync = nullcontext() if m == config.grad_accum - 1 else acc.no_sync(model)
        with sync:
            with acc.autocast():
                loss, logs = task.loss(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}")
            acc.backward(loss / config.grad_accum)
        for key, value in {"loss": loss.item(), **logs}.items():
            totals[key] = totals.get(key, 0.0) + float(value) / config.grad_accum
    if config.max_grad_norm > 0:
        acc.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {**totals, "lr": config.lr * factor}


def _resume(acc: Accelerator, run_dir: Path, config: TrainConfig, state: _TrainState) -> int:
    steps = checkpoint_steps(run_dir) if config.resume else []
    if steps:
        acc.load_state(str(_checkpoint_dir(run_dir, steps[-1])))
    return state.step


def _loader(task: TrainTask, acc: Accelerator, config: TrainConfig, start: int) -> DataLoader:
    dataset = task.train_dataset()
    sampler = StepBatchSampler(
        len(dataset),
        config.batch_size,
        config.seed,
        start_step=start,
        total_steps=config.iterations,
        grad_accum=config.grad_accum,
        num_processes=acc.num_processes,
        process_index=acc.process_index,
    )
    # A private generator: creating the iterator must not draw from the (restored) global RNG.
    return DataLoader(
        SeededDataset(dataset),
        batch_sampler=sampler,
        collate_fn=task.collate,
        num_workers=config.num_workers,
        generator=torch.Generator(),
    )


def train(task: TrainTask, config: TrainConfig) -> TrainResult:
    """Train ``task``'s model as ``config`` says; resume from ``run_dir`` if it holds a run.

    Writes ``config.json`` (resolved config, task settings, seed), ``log.jsonl`` /
    ``log.csv`` / ``eval.csv``, ``checkpoints/step-N`` (accelerate state: model, optimizer,
    RNGs, engine step) and, at the end, ``model.pt`` (the model's state_dict). SIGINT stops
    after a checkpoint at the current step (``KeyboardInterrupt`` is raised then).
    """
    acc = _make_accelerator(config)
    old_det = torch.are_deterministic_algorithms_enabled()
    set_seed(config.seed)
    torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
    try:
        return _train(task, config, acc)
    finally:
        torch.use_deterministic_algorithms(old_det)


def _train(task: TrainTask, config: TrainConfig, acc: Accelerator) -> TrainResult:
    run_dir = _prepare_run_dir(task, config, acc)
    model = task.build_model()
    optimizer = _build_optimizer(task, model, config)
    model, optimizer = acc.prepare(model, optimizer)
    state = _TrainState(config.seed)
    acc.register_for_checkpointing(state)
    start = _resume(acc, run_dir, config, state)
    log = RunLog(run_dir, resume_step=start, enabled=acc.is_main_process)
    final_eval = None
    if start < config.iterations:
        final_eval = _loop(task, config, acc, model, optimizer, state, log, start)
    unwrapped = acc.unwrap_model(model)
    if acc.is_main_process:
        tmp = run_dir / (MODEL_FILE + ".tmp")
        torch.save(unwrapped.state_dict(), tmp)
        os.replace(tmp, run_dir / MODEL_FILE)
    if final_eval is None:  # a finished run: its last logged evaluation
        row = next((r for r in reversed(log.rows) if r["kind"] == "eval"), None)
        final_eval = (
            None if row is None else {k: v for k, v in row.items() if k not in ("kind", "step")}
        )
    return TrainResult(unwrapped, run_dir, state.step, start, list(log.rows), final_eval)


def _loop(task, config, acc, model, optimizer, state, log, start) -> dict[str, float] | None:
    batches = iter(_loader(task, acc, config, start))
    bar = tqdm(
        total=config.iterations,
        initial=start,
        disable=not (config.progress and acc.is_main_process),
        desc=Path(config.run_dir).name,
        dynamic_ncols=True,
    )
    model.train()
    tick, since, final_eval = time.perf_counter(), 0, None
    with _StopFlag() as stop, bar:
        for step in range(start, config.iterations):
            values = _one_step(task, acc, model, optimizer, batches, step, config)
            state.step = done = step + 1
            since += 1
            last = done == config.iterations
            bar.update(1)
            if done % config.log_interval == 0 or last:
                now = time.perf_counter()
                # This step's values (not a window mean: a resumed run logs the same rows).
                row = {**values, "samples_per_s": since * config.batch_size / (now - tick)}
                log.write("train", done, row)
                bar.set_postfix(loss=f"{row['loss']:.4f}", img_s=f"{row['samples_per_s']:.1f}")
                tick, since = now, 0
            if (config.eval_interval and done % config.eval_interval == 0) or last:
                final_eval = _evaluate(task, acc, model)
                if final_eval:
                    log.write("eval", done, final_eval)
            if done % config.checkpoint_interval == 0 or last or stop.set:
                _save_checkpoint(acc, Path(config.run_dir), done, config)
            if stop.set and not last:
                raise KeyboardInterrupt(f"stopped at step {done}; rerun to resume")
    return final_eval


def load_trained(run_dir: str | Path, model: nn.Module) -> nn.Module:
    """Load ``run_dir/model.pt`` (written when a run finishes) into ``model``."""
    path = Path(run_dir) / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the run in {run_dir} has not finished")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model
