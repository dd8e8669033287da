"""Training runs that cannot be lost or mixed: the engine's answer to each fault and bad input
(docs/training.md, "What each fault gets"). Real processes and real signals where the fault is
about processes; a real size-limited tmpfs (skipped where mounting is not permitted) and a
monkeypatched full disk (always run) where it is about disk."""

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import torch
from tiny_runs import model_weights, run_tiny, same_weights, sigint_task

from clipwsss.io.locks import FolderLockedError
from clipwsss.train import (
    CheckpointError,
    ConfigMismatchError,
    DivergedError,
    TrainConfig,
    checkpoint_steps,
    train,
)
from clipwsss.train.tiny import TinyRegression, tiny_config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted tiny run (40 steps, checkpoints at 36 and 40)."""
    return train(TinyRegression(), tiny_config(str(tmp_path_factory.mktemp("ref"))))


@pytest.fixture
def finished(reference, tmp_path):
    """A copy of the finished reference run (a moved run folder, too)."""
    run = tmp_path / "run"
    shutil.copytree(reference.run_dir, run)
    return run


def _stopped_at_step_9(run_dir):
    """A run stopped by a real SIGINT during step 9: checkpoints 6 and 9, log rows to 5."""
    with pytest.raises(KeyboardInterrupt):
        train(sigint_task(9), tiny_config(str(run_dir)))
    assert checkpoint_steps(run_dir) == [6, 9]


class OtherTask(TinyRegression):
    """Another task (as `train weclip` is to a DeepLab run)."""


# 1 -------------------------------------------------------------------------------------------
def test_a_finished_run_without_checkpoints_is_not_overwritten_by_another_task(finished):
    shutil.rmtree(finished / "checkpoints")  # a user saving disk
    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    with pytest.raises(ConfigMismatchError, match=r"task\.class: 'TinyRegression' \(folder\)"):
        train(OtherTask(), tiny_config(str(finished)))
    with pytest.raises(ConfigMismatchError, match=r"lr: 0\.05 \(folder\) vs 0\.3 \(now\)"):
        train(TinyRegression(), tiny_config(str(finished), lr=0.3))
    assert {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()} == before
    again = train(TinyRegression(), tiny_config(str(finished)))  # same settings: finished
    assert again.resumed_from == 40 and len(again.history) == 12
    assert same_weights(model_weights(finished), before_weights := model_weights(finished))
    assert same_weights(again.model.state_dict(), before_weights)


# 2 -------------------------------------------------------------------------------------------
def test_keep_checkpoints_is_range_checked_and_zero_keeps_all(tmp_path):
    with pytest.raises(
        ValueError, match=r"keep_checkpoints \(--keep-checkpoints\) must be in \[0, inf\)"
    ):
        TrainConfig(keep_checkpoints=-1)
    train(TinyRegression(), tiny_config(str(tmp_path), iterations=13, keep_checkpoints=0))
    assert checkpoint_steps(tmp_path) == [6, 12, 13]


# 3 -------------------------------------------------------------------------------------------
def test_a_second_process_on_the_run_folder_is_refused_and_sigterm_checkpoints(tmp_path):
    """Two real processes on one folder: the second is refused naming the first's pid; the
    first then gets a real SIGTERM, checkpoints its step and exits 143."""
    # 80 steps of 3 s: it lasts 4 minutes unless stopped, so a slow start of the second process
    # on a loaded machine cannot outlast it (a SIGTERM ends it within one step).
    first = run_tiny(tmp_path, "--step-delay", "3", wait=False)
    lock = tmp_path / ".train.lock"
    try:
        deadline = time.time() + 60
        while not (lock.is_file() and lock.stat().st_size):  # the first holds the folder
            assert first.poll() is None and time.time() < deadline, first.stderr
            time.sleep(0.05)
        second = run_tiny(tmp_path)
        assert second.returncode == 1
        assert f"is in use by process {first.pid} on " in second.stderr
        assert first.poll() is None, "the first run ended before it could be signalled"
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 143
    finally:
        first.kill()
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)  # one writer


def test_folder_lock_names_the_holder(tmp_path):
    from clipwsss.io.locks import folder_lock

    with folder_lock(tmp_path, ".x.lock", wait=False):
        with pytest.raises(FolderLockedError, match=f"process {os.getpid()} on "):
            with folder_lock(tmp_path, ".x.lock", wait=False):
                pass
    with folder_lock(tmp_path, ".x.lock", wait=False):  # released
        pass


# 4 -------------------------------------------------------------------------------------------
def test_a_torn_last_log_line_is_dropped_on_resume_with_a_warning(reference, tmp_path):
    _stopped_at_step_9(tmp_path)
    with (tmp_path / "log.jsonl").open("a") as fh:
        fh.write('{"kind": "train", "step": 10, "loss": 0.1')  # the disk filled up here
    with pytest.warns(RuntimeWarning, match=r"log\.jsonl:\d+: dropped a torn last line"):
        result = train(TinyRegression(), tiny_config(str(tmp_path)))
    assert same_weights(result.model.state_dict(), reference.model.state_dict())
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [r["step"] for r in reference.history]


def test_a_damaged_row_before_the_last_is_an_error_naming_the_file(finished):
    lines = (finished / "log.jsonl").read_text().splitlines()
    lines[2] = lines[2][:20]
    (finished / "log.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"log\.jsonl:3: damaged log row"):
        train(TinyRegression(), tiny_config(str(finished)))


def test_a_log_write_on_a_full_disk_leaves_no_torn_line(tmp_path, monkeypatch):
    """Monkeypatched full disk (always runs): the write stops half-way with ENOSPC."""
    import clipwsss.train.logs as logs

    real_write, calls = os.write, []

    def full_disk(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(logs.os, "write", full_disk)
    with pytest.raises(OSError, match=r"No space left on device: '.*log\.jsonl'"):
        train(TinyRegression(), tiny_config(str(tmp_path)))
    monkeypatch.undo()
    assert (tmp_path / "log.jsonl").read_text() == ""  # cut back, not torn
    assert train(TinyRegression(), tiny_config(str(tmp_path), iterations=6)).step == 6


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def test_a_full_tmpfs_stops_the_run_cleanly_and_it_resumes_once_space_is_freed(reference, tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip(
            "mounting a tmpfs is not permitted here (needs root); the monkeypatched "
            "full-disk test covers the log write"
        )
    try:
        filler = disk / "filler"
        with filler.open("wb") as fh:  # leave 24 KiB: the first checkpoint does not fit
            fh.write(b"\0" * (shutil.disk_usage(disk).free - 24 * 1024))
        full = run_tiny(disk / "run")
        assert full.returncode == 1, full.stderr
        assert "cannot write the checkpoint of step 6" in full.stderr, full.stderr
        assert str(disk / "run") in full.stderr
        for line in (disk / "run" / "log.jsonl").read_text().splitlines():
            json.loads(line)  # no torn line
        filler.unlink()
        resumed = train(TinyRegression(), tiny_config(str(disk / "run")))
        assert same_weights(resumed.model.state_dict(), reference.model.state_dict())
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True, timeout=20)


# 5 -------------------------------------------------------------------------------------------
def test_a_truncated_file_of_the_newest_checkpoint_falls_back_to_the_previous(reference, tmp_path):
    _stopped_at_step_9(tmp_path)
    states = tmp_path / "checkpoints" / "step-00000009" / "random_states_0.pkl"
    states.write_bytes(states.read_bytes()[:1000])
    with pytest.warns(RuntimeWarning, match=r"random_states_0\.pkl has 1000 bytes") as record:
        result = train(TinyRegression(), tiny_config(str(tmp_path)))
    assert any("resuming from the checkpoint of step 6" in str(w.message) for w in record)
    assert result.resumed_from == 6
    assert (tmp_path / "checkpoints" / "damaged-step-00000009").is_dir()
    assert same_weights(result.model.state_dict(), reference.model.state_dict())


def test_checkpoints_of_an_older_version_without_a_manifest_still_resume(reference, finished):
    for folder in (finished / "checkpoints").glob("step-*"):
        (folder / "manifest.json").unlink()
    (finished / "model.safetensors").unlink()
    with pytest.warns(RuntimeWarning, match="no manifest.json .* not verified"):
        result = train(TinyRegression(), tiny_config(str(finished)))
    assert result.resumed_from == 40
    assert same_weights(result.model.state_dict(), reference.model.state_dict())


def test_no_complete_checkpoint_is_a_clear_error(finished):
    for step in checkpoint_steps(finished):
        (finished / "checkpoints" / f"step-{step:08d}" / "model.safetensors").write_bytes(b"x")
    (finished / "model.safetensors").unlink()
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match="--resume false"):
        train(TinyRegression(), tiny_config(str(finished)))


# 6 -------------------------------------------------------------------------------------------
def test_a_diverged_run_writes_no_non_finite_checkpoint(tmp_path):
    """lr 1e8: the first losses are finite, the weights are not; nothing non-finite is saved."""
    with pytest.raises(DivergedError, match="training diverged") as err:
        train(TinyRegression(), tiny_config(str(tmp_path), lr=1e8, checkpoint_interval=1))
    assert "--resume false" in str(err.value)
    from safetensors.torch import load_file

    for step in checkpoint_steps(tmp_path):
        weights = load_file(tmp_path / "checkpoints" / f"step-{step:08d}" / "model.safetensors")
        assert all(torch.isfinite(v).all() for v in weights.values()), step
    assert not (tmp_path / "model.safetensors").exists()
    ok = train(TinyRegression(), tiny_config(str(tmp_path), resume=False))
    assert ok.step == 40 and ok.resumed_from == 0


class NanTask(TinyRegression):
    def loss(self, model, batch, step, iterations):
        loss, logs = super().loss(model, batch, step, iterations)
        return loss * float("nan") if self.calls > 5 else loss, logs


def test_a_nan_loss_is_a_clear_error_and_earlier_checkpoints_are_kept(tmp_path):
    with pytest.raises(DivergedError, match=r"the loss is nan at step 3 \(lr"):
        train(NanTask(), tiny_config(str(tmp_path), checkpoint_interval=2))
    assert checkpoint_steps(tmp_path) == [2]


# 7 -------------------------------------------------------------------------------------------
def test_sigterm_checkpoints_the_current_step_then_resume_is_exact(reference, tmp_path):
    stopped = run_tiny(tmp_path, "--signal-at-step", "9", "--signal", "TERM")
    assert stopped.returncode == 143, stopped.stderr
    assert checkpoint_steps(tmp_path)[-1] == 9
    resumed = train(TinyRegression(), tiny_config(str(tmp_path)))
    assert resumed.resumed_from == 9
    assert same_weights(resumed.model.state_dict(), reference.model.state_dict())


# 10 ------------------------------------------------------------------------------------------
def test_settings_that_do_not_change_the_result_and_paths_do_not_block_a_resume(
    reference, tmp_path, monkeypatch
):
    run = tmp_path / "runs" / "x"
    shutil.copytree(reference.run_dir, run)  # a copied (moved) run
    shutil.rmtree(run / "checkpoints" / "step-00000040")
    (run / "model.safetensors").unlink()
    monkeypatch.chdir(tmp_path)
    changed = dict(
        checkpoint_interval=7,
        log_interval=3,
        eval_interval=0,
        device="cpu",
        progress=True,
        keep_checkpoints=5,
        num_workers=0,
    )
    result = train(TinyRegression(), tiny_config("./runs/x/", **changed))
    assert result.resumed_from == 36
    assert same_weights(result.model.state_dict(), reference.model.state_dict())


# 12 ------------------------------------------------------------------------------------------
def test_checkpoint_files_get_the_usual_mode_and_no_bar_goes_to_a_redirected_stderr(
    tmp_path, capfd
):
    umask = os.umask(0o022)
    try:
        train(TinyRegression(), tiny_config(str(tmp_path), iterations=10, progress=True))
    finally:
        os.umask(umask)
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in (tmp_path / "checkpoints").rglob("*")
        if p.is_file()
    }
    assert modes and set(modes.values()) == {0o644}, modes
    err = capfd.readouterr().err
    assert "\r" not in err and "it/s" not in err
    assert f"{tmp_path.name}: step 5/10 loss " in err and "step 10/10" in err


# 13 ------------------------------------------------------------------------------------------
def test_a_run_dir_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"--run-dir\) .*f is a file"):
        train(TinyRegression(), tiny_config(str(tmp_path / "f")))
    with pytest.raises(NotADirectoryError, match="is a file"):
        train(TinyRegression(), tiny_config(str(tmp_path / "f" / "run")))


def test_a_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    if not _mount_tmpfs(ro, "1m"):
        pytest.skip("mounting a tmpfs is not permitted here (needs root)")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True, timeout=20)
        with pytest.raises(OSError, match=r"Read-only file system: '.*ro/run'"):
            train(TinyRegression(), tiny_config(str(ro / "run")))
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True, timeout=20)


def test_warmup_error_names_the_values_and_flags():
    with pytest.raises(ValueError, match=r"warmup_iters \(--warmup-iters\) is 11.*= \[0, 10\]"):
        TrainConfig(iterations=10, warmup_iters=11)
