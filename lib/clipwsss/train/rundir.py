"""The run folder: its record (``config.json``), the settings check and the path checks.

A folder holds a run once it has a ``config.json`` and anything trained (a checkpoint or
``model.pt``). A rerun in it must ask for the same result settings: everything but the
engine's ``RESUMABLE_FIELDS`` and the task's ``paths()``; otherwise it is refused with a list
of every setting that differs (``resume=False`` starts over).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from .checkpoints import CHECKPOINTS
from .config import RESUMABLE_FIELDS, TrainConfig
from .logs import naming_the_file
from .task import TrainTask

MODEL_FILE = "model.safetensors"  # the final trained weights (clipwsss.train.weights)
LEGACY_MODEL_FILE = "model.pt"  # what earlier versions wrote (a torch state_dict)
# Settings that older records kept in the task and that are paths or engine settings now
# (DeepLab's masks, conf and its recipe's TrainConfig; WeakCLIP's seed folder; WeCLIP's root).
_MOVED_TO_PATHS = (
    "task.recipe.train.",
    "task.masks",
    "task.conf",
    "task.seed_dir",
    "task.data.root",
)


class ConfigMismatchError(ValueError):
    """``run_dir`` holds a run with a different configuration than the one asked for."""


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with naming_the_file(tmp):
        tmp.write_text(text)
    os.replace(tmp, path)


def _run_record(task: TrainTask, config: TrainConfig) -> dict[str, Any]:
    return {
        "train": config.to_dict(),
        "task": {"class": type(task).__qualname__, **task.config()},
        "paths": {k: str(v) for k, v in task.paths().items()},  # recorded, never compared
        "seed": config.seed,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _check_same_run(run_dir: Path, record: dict[str, Any]) -> None:
    """Refuse ``record`` where it differs from ``run_dir/config.json`` on a result setting.

    The engine's ``RESUMABLE_FIELDS`` (intervals, device, progress, the run folder's path)
    and the task's ``paths()`` never block a resume; the message lists every other change.
    """
    path = run_dir / "config.json"
    try:
        stored = json.loads(path.read_text())
        old = {"train": stored["train"], "task": stored["task"]}
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigMismatchError(
            f"{path} is not a run record ({type(err).__name__}: {err}); use another --run-dir, "
            "or --resume false (resume=False) to start over in this folder"
        ) from None
    record = json.loads(json.dumps(record))  # as stored: tuples become lists
    old_flat = _flatten(old)
    new_flat = _flatten({"train": record["train"], "task": record["task"]})
    if "paths" not in stored:  # a record of an older version: paths were task settings then
        old_flat = {k: v for k, v in old_flat.items() if not k.startswith(_MOVED_TO_PATHS)}
        new_flat.pop("task.cgl_conf", None)  # DeepLab's conf folder, now a path
    absent = "<absent>"
    diff = [
        k
        for k in dict.fromkeys([*old_flat, *new_flat])
        if not (k.startswith("train.") and k[len("train.") :] in RESUMABLE_FIELDS)
        and old_flat.get(k, absent) != new_flat.get(k, absent)
    ]
    if old_flat.get("task.class") != new_flat.get("task.class"):
        diff = ["task.class"]  # another method's run: its other settings do not matter
    if diff:
        shown = [
            f"  {k}: {old_flat.get(k, absent)!r} (folder) vs {new_flat.get(k, absent)!r} (now)"
            for k in diff[:12]
        ]
        if len(diff) > 12:
            shown.append(f"  ... and {len(diff) - 12} more")
        raise ConfigMismatchError(
            f"{run_dir} holds a run with other settings:\n" + "\n".join(shown) + "\nuse another "
            "--run-dir, or --resume false (resume=False) to start over in this folder (its "
            "checkpoints, logs and model.pt are deleted)"
        )


def _holds_run(run_dir: Path) -> bool:
    """A record and something trained: a checkpoint (complete or not) or ``model.pt``."""
    root = run_dir / CHECKPOINTS
    checkpoints = root.is_dir() and any(
        p.name.startswith(("step-", "damaged-step-")) for p in root.iterdir()
    )
    final = (run_dir / MODEL_FILE).exists() or (run_dir / LEGACY_MODEL_FILE).exists()
    return (run_dir / "config.json").exists() and (checkpoints or final)


def check_run_dir(run_dir: Path) -> None:
    """A run folder (or the first of its parents that exists) must be a folder."""
    for folder in (run_dir, *run_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "" if folder == run_dir else f": {folder} "
                raise NotADirectoryError(
                    f"run_dir (--run-dir) {run_dir}{where or ' '}is a file, not a folder"
                )
            return


def prepare_run_dir(task: TrainTask, config: TrainConfig, acc: Accelerator) -> bool:
    """Check ``run_dir`` against the run asked for, then write its ``config.json``.

    Returns:
        Whether the folder held a run of these settings (to resume or reuse).
    """
    run_dir = Path(config.run_dir)
    record = _run_record(task, config)
    held = config.resume and _holds_run(run_dir)
    if acc.is_main_process:
        if not config.resume:
            shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
            for name in ("log.jsonl", MODEL_FILE, LEGACY_MODEL_FILE):
                (run_dir / name).unlink(missing_ok=True)
        elif held:
            _check_same_run(run_dir, record)
        _atomic_write(run_dir / "config.json", json.dumps(record, indent=2) + "\n")
    acc.wait_for_everyone()
    return held
