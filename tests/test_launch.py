"""`accelerate launch --multi_gpu --num_processes 2 -m clipwsss.cli cams ...` on a machine
without a GPU (two CPU processes, gloo; accelerate's `--cpu` starts one process unless given
an MPI host file): the images are split across the processes, the files equal one process's,
one run.json; a process killed mid-run loses only unfinished images and a rerun completes
the set."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from clipwsss.cli.main import main
from clipwsss.data import finished_files, load_label_png
from clipwsss.io.camfiles import load_cams, read_run_record
from clipwsss.pipelines.common import select_ids
from clipwsss.pipelines.launch import Launch, launched_processes

LIB = Path(__file__).resolve().parents[1] / "lib"
N_IMAGES = 24


def test_launch_shards_compose_with_the_shard_flag():
    ids = [str(i) for i in range(23)]
    for shard in ((0, 1), (1, 3)):
        parts = [select_ids(ids, shard=Launch(r, 2).shard(shard)) for r in range(2)]
        assert sorted(parts[0] + parts[1], key=int) == select_ids(ids, shard=shard)
        assert not set(parts[0]) & set(parts[1])
    assert launched_processes() == Launch()  # no launcher: one process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(argv: list[str]) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "clipwsss.cli",
        *argv,
    ]
    env = dict(os.environ, PYTHONPATH=str(LIB), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _workers(launcher: subprocess.Popen) -> list[int]:
    import psutil

    kids = psutil.Process(launcher.pid).children(recursive=True)
    return [p.pid for p in kids if "clipwsss.cli" in " ".join(p.cmdline())]


@pytest.mark.slow  # 30-85 s on 2 cores (idle to loaded): two launches of 2 processes
def test_two_processes_equal_one_and_a_killed_process_is_completed_by_a_rerun(
    tiny_vit, tmp_path, make_rect_voc, capsys
):
    root = make_rect_voc(tmp_path / "VOC2012", N_IMAGES, size=(96, 128), seed=2).root
    weights = tmp_path / "tiny.pt"
    torch.save(tiny_vit.model.state_dict(), weights)
    data = ["--dataset", "voc12", "--root", str(root), "--split", "train", "--quiet"]
    model = ["--model", "clipwsss-tiny-vit", "--pretrained", str(weights), "--caa-layers", "2"]
    ref = tmp_path / "ref"
    assert main(["cams", *data, *model, "--out", str(ref / "cams")]) == 0
    assert (
        main(
            [
                "masks",
                "--cams",
                str(ref / "cams"),
                *data,
                "--out",
                str(ref / "masks"),
                "--workers",
                "0",
            ]
        )
        == 0
    )
    capsys.readouterr()

    # One pass under two processes, one of them killed (SIGKILL) once files appear.
    out = tmp_path / "two"
    argv = [
        "cams",
        *data,
        *model,
        "--out",
        str(out / "cams"),
        "--masks",
        str(out / "masks"),
        "--workers",
        "1",
    ]
    launcher = _launch(argv)
    deadline = time.monotonic() + 120
    while not list((out / "cams").glob("*.npy")) and launcher.poll() is None:
        assert time.monotonic() < deadline, "no CAM file appeared"
        time.sleep(0.01)
    workers = _workers(launcher)
    assert len(workers) == 2, launcher.communicate()[0]
    os.kill(workers[1], signal.SIGKILL)
    log = launcher.communicate(timeout=120)[0]
    assert launcher.returncode != 0, log
    n_killed = len(finished_files(out / "cams", ".npy"))
    assert n_killed < N_IMAGES, "the kill came after the run had finished"
    # Every finished file is whole; a SIGKILL mid-write may leave a hidden temporary
    # (.img_N.XXXX.tmp.npy) that the rerun neither counts nor reads.
    for path in finished_files(out / "cams", ".npy"):
        load_cams(path)
    for path in finished_files(out / "masks", ".png"):
        load_label_png(path)
    temps = [p for p in out.rglob("*") if ".tmp" in p.name]
    assert all(p.name.startswith(".") for p in temps), temps

    rerun = _launch(argv)
    log = rerun.communicate(timeout=180)[0]
    assert rerun.returncode == 0, log
    assert f"all 2 processes: {N_IMAGES - n_killed} written, {n_killed} already there" in log
    assert (out / "cams" / "run.json").is_file() and (out / "masks" / "run.json").is_file()
    assert read_run_record(out / "cams")["config"] == read_run_record(ref / "cams")["config"]
    ids = [f"img_{i}" for i in range(N_IMAGES)]
    assert [p.stem for p in finished_files(out / "cams", ".npy")] == sorted(ids)
    for image_id in ids:
        a = load_cams(ref / "cams" / f"{image_id}.npy")
        b = load_cams(out / "cams" / f"{image_id}.npy")
        assert a.keys.tolist() == b.keys.tolist()
        for key in ("attn_highres", "highres"):
            np.testing.assert_array_equal(a.get(key), b.get(key))
        np.testing.assert_array_equal(
            load_label_png(ref / "masks" / f"{image_id}.png"),
            load_label_png(out / "masks" / f"{image_id}.png"),
        )


class _Rank(Launch):
    def finish(self, reports) -> None:  # no process group in this test
        pass


def test_masks_command_splits_the_images_across_processes(
    tmp_path, make_rect_voc, capsys, monkeypatch
):
    """Ranks 0 and 1 of two processes write disjoint halves; together the masks of one."""
    import clipwsss.cli.main as cli

    root = make_rect_voc(tmp_path / "VOC2012", 5, seed=3).root
    cams = tmp_path / "cams"
    for image_id in [f"img_{i}" for i in range(5)]:  # CAMs by hand: a box per class
        from clipwsss.data import VOCDataset
        from clipwsss.io.camfiles import save_cams

        keys = VOCDataset(root, "train").sample(image_id).labels
        c = np.zeros((len(keys), 64, 80), np.float32)
        for k in range(len(keys)):
            c[k, 8 * k : 8 * k + 30, 10:50] = 1.0
        save_cams(cams / f"{image_id}.npy", keys, c, c)
    data = ["--dataset", "voc12", "--root", str(root), "--split", "train", "--quiet"]
    argv = ["masks", "--cams", str(cams), *data, "--workers", "0"]
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    written = []
    for rank in range(2):
        monkeypatch.setattr(cli, "launched_processes", lambda r=rank: _Rank(r, 2))
        capsys.readouterr()
        assert main([*argv, "--out", str(tmp_path / "two")]) == 0
        out = capsys.readouterr().out
        assert f"masks [process {rank}/2]: {3 - rank} written" in out
        written.append(out)
    for i in range(5):
        np.testing.assert_array_equal(
            load_label_png(tmp_path / "one" / f"img_{i}.png"),
            load_label_png(tmp_path / "two" / f"img_{i}.png"),
        )
