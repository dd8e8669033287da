"""Checkpoint folders of a run: ``run_dir/checkpoints/step-N``, each with a manifest.

A checkpoint is written into ``.tmp-step-N`` (accelerate's ``save_state``), every file's size
and SHA-256 go into ``manifest.json`` (written last), and the folder is renamed to ``step-N``.
Resuming verifies every file of the newest checkpoint against its manifest; a damaged one
(a truncated or changed file, a file missing) is never loaded: it is moved aside to
``damaged-step-N`` and the run falls back to the previous complete checkpoint, saying so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

CHECKPOINTS = "checkpoints"
MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint cannot be used (the message names its folder, step and file)."""


def checkpoint_steps(run_dir: str | Path) -> list[int]:
    """Steps of the checkpoint folders in ``run_dir`` (ascending; not yet verified)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in root.glob("step-*") if p.name[5:].isdigit())


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    """``run_dir/checkpoints/step-<8 digits>``."""
    return Path(run_dir) / CHECKPOINTS / f"step-{step:08d}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, step: int) -> None:
    """Record every file of ``folder`` (size, SHA-256) in ``folder/manifest.json``.

    Files get the mode a plain ``open(path, "w")`` gives (0o666 less the umask): some writers
    (safetensors) create theirs private (0o600).
    """
    umask = os.umask(0)
    os.umask(umask)
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        os.chmod(path, 0o666 & ~umask)
        files[path.relative_to(folder).as_posix()] = {
            "size": path.stat().st_size,
            "sha256": _sha256(path),
        }
    text = json.dumps({"step": step, "files": files}, indent=1) + "\n"
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, folder / MANIFEST)


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete checkpoint (None: every file matches its manifest).

    A folder without a manifest was written before manifests existed (the manifest is written
    before the atomic rename to ``step-N``): it is used, with a warning that it is unverified.
    """
    path = folder / MANIFEST
    if not path.is_file():
        warnings.warn(
            f"{folder} has no {MANIFEST} (written by an older clipwsss): its files are not "
            "verified",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    try:
        files = json.loads(path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as err:
        return f"{path} is not readable ({err})"
    for name, want in files.items():
        file = folder / name
        if not file.is_file():
            return f"{file} is missing"
        size = file.stat().st_size
        if size != want["size"]:
            return f"{file} has {size} bytes, {want['size']} were written"
        if _sha256(file) != want["sha256"]:
            return f"{file} does not match its SHA-256 (changed after it was written)"
    return None


def newest_complete(run_dir: Path, verify: bool = True) -> int | None:
    """The step of the newest complete checkpoint; damaged newer ones are moved aside.

    Each damaged checkpoint is renamed ``damaged-step-N`` (kept for inspection, never loaded
    or pruned as a complete one) with a warning that names the file at fault.

    Raises:
        CheckpointError: checkpoints exist, but none is complete.
    """
    steps, bad = checkpoint_steps(run_dir), []
    for step in reversed(steps):
        folder = checkpoint_dir(run_dir, step)
        problem = checkpoint_problem(folder) if verify else None
        if problem is None:
            if bad:
                warnings.warn(
                    f"resuming from the checkpoint of step {step} ({folder}): the newer "
                    f"one(s) at step {', '.join(str(s) for s, _ in bad)} are damaged",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return step
        aside = folder.with_name("damaged-" + folder.name)
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(folder, aside)
        bad.append((step, problem))
        warnings.warn(
            f"checkpoint of step {step} is damaged and is not used: {problem}; moved to {aside}",
            RuntimeWarning,
            stacklevel=3,
        )
    if bad:
        raise CheckpointError(
            f"no complete checkpoint in {Path(run_dir) / CHECKPOINTS} (damaged: "
            + "; ".join(f"step {s}: {p}" for s, p in bad)
            + "); rerun with --resume false (resume=False) to start over"
        )
    return None
