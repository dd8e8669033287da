"""``train(task, config)``: the one training loop every trainable clipwsss method uses.

Built on Hugging Face ``accelerate``: device placement, mixed precision, gradient sync and
``save_state`` / ``load_state``. One CPU process needs no launcher; several GPUs run the same
script under ``accelerate launch``. Checkpoints are written to a temporary folder, recorded in
a manifest (every file's size and hash) and renamed (atomic); a run restarted with the same
``run_dir`` resumes from the newest complete one and, with ``deterministic=True`` on CPU, ends
with the weights an uninterrupted run would have. What each fault and bad input gets is the
table in docs/training.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
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

from clipwsss.io.locks import folder_lock

from .checkpoints import (
    CheckpointError,
    checkpoint_dir,
    checkpoint_steps,
    newest_complete,
    write_manifest,
)
from .config import TrainConfig, lr_factor
from .logs import RunLog, naming_the_file
from .rundir import LEGACY_MODEL_FILE, MODEL_FILE, check_run_dir, prepare_run_dir
from .sampler import SeededDataset, StepBatchSampler
from .task import TrainTask
from .weights import load_weights, save_weights

LOCK_FILE = ".train.lock"  # held by the process that trains in run_dir (clipwsss.io.locks)


class DivergedError(FloatingPointError):
    """The loss or the weights became NaN or infinite (no such state is ever checkpointed)."""


class TrainingStopped(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run (after a checkpoint of the current step).

    Attributes:
        signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


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


def _save_checkpoint(acc: Accelerator, run_dir: Path, step: int, config: TrainConfig) -> None:
    """save_state into a temporary folder, record its manifest, rename it to step-N."""
    final = checkpoint_dir(run_dir, step)
    tmp = final.with_name(".tmp-" + final.name)
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    try:
        acc.save_state(str(tmp))
    except (OSError, RuntimeError) as err:  # torch.save reports a full disk as RuntimeError
        free = shutil.disk_usage(run_dir).free
        raise OSError(
            f"cannot write the checkpoint of step {step} to {tmp} ({free} bytes free on its "
            f"disk): {type(err).__name__}: {err}"
        ) from err
    acc.wait_for_everyone()
    if acc.is_main_process:
        with naming_the_file(tmp):
            (tmp / "run_config.json").write_text((run_dir / "config.json").read_text())
            write_manifest(tmp, step)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if config.keep_checkpoints > 0:  # 0 keeps every checkpoint
            for old in checkpoint_steps(run_dir)[: -config.keep_checkpoints]:
                shutil.rmtree(checkpoint_dir(run_dir, old), ignore_errors=True)
    acc.wait_for_everyone()


def _checkpoint_without(acc: Accelerator, frozen: set[str]) -> None:
    """Checkpoints leave out the task's frozen weights (rebuilt from their named source) and
    load without them; a checkpoint holding them (an earlier version's) loads too."""

    def drop(models, weights, output_dir) -> None:
        for i, state in enumerate(weights):
            weights[i] = {k: v for k, v in state.items() if k.removeprefix("module.") not in frozen}

    def load(models, input_dir) -> None:
        from safetensors.torch import load_file

        for model in models:  # the engine prepares one model: model.safetensors
            missing, unexpected = acc.unwrap_model(model).load_state_dict(
                load_file(str(Path(input_dir) / "model.safetensors")), strict=False
            )
            missing = [k for k in missing if k not in frozen]
            if missing or unexpected:
                raise RuntimeError(
                    f"checkpoint does not fit the model: missing {missing[:5]}, "
                    f"unexpected {list(unexpected)[:5]}"
                )
        models.clear()  # loaded here: accelerate's strict load would want the frozen ones

    acc.register_save_state_pre_hook(drop)
    acc.register_load_state_pre_hook(load)


def _check_finite(model: nn.Module, step: int, what: str) -> None:
    """Refuse to save a state with a NaN or infinite weight (or buffer).

    Shapes:
        Every state-dict entry of any shape is checked.
    """
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise DivergedError(
                f"training diverged: weight {name!r} is not finite after step {step}, so the "
                f"{what} is not written; lower --lr (or set --max-grad-norm) and start over "
                "with --resume false (the checkpoints kept hold finite weights)"
            )


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
    """SIGINT or SIGTERM sets a flag; the loop checkpoints at the end of the step, then stops.

    A scheduler (Slurm, Kubernetes) sends SIGTERM before it kills a job: it gets the same
    checkpoint of the current step as Ctrl-C. A second signal stops at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    @property
    def set(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:  # a second signal: stop now
            raise TrainingStopped("stopped at once by a second signal", signum)
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)


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
    """One optimizer step over ``grad_accum`` micro-batches; returns the mean logs.

    Shapes:
        Each micro-batch holds ``batch_size / (grad_accum * processes)`` samples; the task's
        loss is 0-d.
    """
    factor = lr_factor(step, config)
    for group in optimizer.param_groups:
        group["lr"] = config.lr * group["lr_mult"] * factor
    totals: dict[str, float] = {}
    for m in range(config.grad_accum):
        batch = send_to_device(next(batches), acc.device)
        sync = nullcontext() if m == config.grad_accum - 1 else acc.no_sync(model)
        with sync:
            with acc.autocast():
                loss, logs = task.loss(model, batch, step + 1, config.iterations)
            if not torch.isfinite(loss):
                raise DivergedError(
                    f"training diverged: the loss is {loss.item()} at step {step + 1} (lr "
                    f"{config.lr * factor:.3g}); lower --lr (or set --max-grad-norm) and start "
                    "over with --resume false (the checkpoints kept hold finite weights)"
                )
            acc.backward(loss / config.grad_accum)
        for key, value in {"loss": loss.item(), **logs}.items():
            totals[key] = totals.get(key, 0.0) + float(value) / config.grad_accum
    if config.max_grad_norm > 0:
        acc.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {**totals, "lr": config.lr * factor}


def _resume(acc: Accelerator, run_dir: Path, config: TrainConfig, state: _TrainState) -> int:
    """Load the newest complete checkpoint (verified against its manifest); 0 = none."""
    if not config.resume:
        return 0
    if acc.is_main_process:
        try:
            newest_complete(run_dir)  # moves damaged ones aside, with a warning
        except CheckpointError:
            if not (run_dir / MODEL_FILE).is_file() and not (run_dir / LEGACY_MODEL_FILE).is_file():
                raise  # else a finished run: its model.pt is loaded instead
    acc.wait_for_everyone()
    step = newest_complete(run_dir, verify=False)
    if step is None:
        return 0
    folder = checkpoint_dir(run_dir, step)
    try:
        acc.load_state(str(folder))
    except Exception as err:
        raise CheckpointError(
            f"cannot load the checkpoint of step {step} ({folder}): {type(err).__name__}: {err}"
        ) from err
    return state.step


def _finished(acc: Accelerator, run_dir: Path, model: nn.Module, config: TrainConfig) -> bool:
    """Load the final weights of a finished run whose checkpoints were deleted (True if so)."""
    path = _final_weights(run_dir)
    if not (config.resume and path is not None):
        return False
    try:
        _load_final(path, acc.unwrap_model(model))
    except Exception as err:
        raise CheckpointError(
            f"cannot read {path} ({type(err).__name__}: {err}); rerun with --resume false "
            "(resume=False) to train again"
        ) from err
    return True


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
    RNGs, engine step, ``manifest.json``) and, at the end, ``model.pt`` (the model's
    state_dict). The task's inputs are checked first (``TrainTask.check_inputs``); the run
    folder is locked while the run lasts. SIGINT or SIGTERM stops after a checkpoint at the
    current step (``TrainingStopped``, a ``KeyboardInterrupt``, is raised then).

    Raises:
        ConfigMismatchError: ``run_dir`` holds a run with other result settings.
        FolderLockedError: another process trains in ``run_dir`` (named in the message).
        CheckpointError: no checkpoint of the run can be loaded.
        DivergedError: a NaN or infinite loss or weight (nothing non-finite is saved).
    """
    run_dir = Path(config.run_dir)
    check_run_dir(run_dir)
    task.check_inputs()
    acc = _make_accelerator(config)
    old_det = torch.are_deterministic_algorithms_enabled()
    set_seed(config.seed)
    torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
    try:
        lock = nullcontext()
        if acc.is_main_process:
            run_dir.mkdir(parents=True, exist_ok=True)
            lock = folder_lock(run_dir, LOCK_FILE, wait=False)
        with lock:
            return _train(task, config, acc)
    finally:
        torch.use_deterministic_algorithms(old_det)


def _train(task: TrainTask, config: TrainConfig, acc: Accelerator) -> TrainResult:
    run_dir = Path(config.run_dir)
    held = prepare_run_dir(task, config, acc)
    model = task.build_model()
    frozen = task.frozen_keys(model)
    optimizer = _build_optimizer(task, model, config)
    model, optimizer = acc.prepare(model, optimizer)
    if frozen:
        _checkpoint_without(acc, frozen)
    state = _TrainState(config.seed)
    acc.register_for_checkpointing(state)
    start = _resume(acc, run_dir, config, state)
    if start == 0 and held and _finished(acc, run_dir, model, config):
        start = state.step = config.iterations  # its checkpoints were deleted, model.pt kept
    log = RunLog(run_dir, resume_step=start, enabled=acc.is_main_process)
    final_eval = None
    if start < config.iterations:
        final_eval = _loop(task, config, acc, model, optimizer, state, log, start)
    unwrapped = acc.unwrap_model(model)
    if acc.is_main_process:
        _check_finite(unwrapped, state.step, MODEL_FILE)
        tmp = run_dir / (MODEL_FILE + ".tmp")
        try:
            save_weights(tmp, unwrapped, frozen)
        except (OSError, RuntimeError) as err:  # torch.save reports a full disk as RuntimeError
            raise OSError(
                f"cannot write {tmp} ({shutil.disk_usage(run_dir).free} bytes free on its disk):"
                f" {type(err).__name__}: {err}; the last checkpoint is kept, rerun to finish"
            ) from err
        os.replace(tmp, run_dir / MODEL_FILE)
        (run_dir / LEGACY_MODEL_FILE).unlink(missing_ok=True)  # a retrained run's older file
    if final_eval is None:  # a finished run: its last logged evaluation
        row = next((r for r in reversed(log.rows) if r["kind"] == "eval"), None)
        final_eval = (
            None if row is None else {k: v for k, v in row.items() if k not in ("kind", "step")}
        )
    return TrainResult(unwrapped, run_dir, state.step, start, list(log.rows), final_eval)


def _loop(task, config, acc, model, optimizer, state, log, start) -> dict[str, float] | None:
    batches = iter(_loader(task, acc, config, start))
    show = config.progress and acc.is_main_process
    bar_ok = sys.stderr.isatty()  # a redirected log gets one line per log row, not a bar
    name = Path(config.run_dir).resolve().name
    bar = tqdm(
        total=config.iterations,
        initial=start,
        disable=not (show and bar_ok),
        desc=name,
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
                if show and not bar_ok:
                    line = f"{name}: step {done}/{config.iterations} loss {row['loss']:.4f}"
                    print(f"{line} ({row['samples_per_s']:.1f} samples/s)", file=sys.stderr)
                tick, since = now, 0
            if (config.eval_interval and done % config.eval_interval == 0) or last:
                final_eval = _evaluate(task, acc, model)
                if final_eval:
                    log.write("eval", done, final_eval)
            if done % config.checkpoint_interval == 0 or last or stop.set:
                _check_finite(acc.unwrap_model(model), done, "checkpoint")
                _save_checkpoint(acc, Path(config.run_dir), done, config)
            if stop.set and not last:
                what = signal.Signals(stop.signum).name
                raise TrainingStopped(
                    f"{what}: stopped at step {done} after its checkpoint; rerun to resume",
                    stop.signum,
                )
    return final_eval


def _final_weights(run_dir: Path) -> Path | None:
    """``model.safetensors`` of a finished run, else an older version's ``model.pt``."""
    for name in (MODEL_FILE, LEGACY_MODEL_FILE):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    return None


def _load_final(path: Path, model: nn.Module) -> nn.Module:
    if path.name == LEGACY_MODEL_FILE:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model
    return load_weights(path, model)


def load_trained(run_dir: str | Path, model: nn.Module) -> nn.Module:
    """Load the final weights of ``run_dir`` (``model.safetensors``, written when a run
    finishes; an older version's ``model.pt``) into ``model``."""
    path = _final_weights(Path(run_dir))
    if path is None:
        raise FileNotFoundError(
            f"{Path(run_dir) / MODEL_FILE} not found: the run in {run_dir} has not finished"
        )
    return _load_final(path, model)
