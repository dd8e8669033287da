"""Reliability: kills, stale outputs, collisions, bad inputs (tiny CLIP, CPU)."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from clipwsss.cli.main import main
from clipwsss.io.camfiles import OutputMismatchError, check_run_record

TINY = [
    "--model",
    "clipwsss-tiny-vit",
    "--pretrained",
    "none",
    "--allow-random-weights",
    "--caa-layers",
    "2",
    "--quiet",
]


@pytest.fixture()
def voc(tmp_path, make_rect_voc) -> Path:
    return make_rect_voc(tmp_path / "VOC2012", 3, seed=1).root


def _data(root: Path, *extra: str) -> list[str]:
    return ["--dataset", "voc12", "--root", str(root), "--split", "train", *extra]


# --------------------------------------------------------------------------- atomic check


def _claim(folder: str, value: int, barrier, results) -> None:
    import time

    import clipwsss.io.camfiles as camfiles

    write = camfiles.atomic_write_text

    def slow_write(*args, **kwargs):  # widen the window between the check and the write
        time.sleep(0.05)
        return write(*args, **kwargs)

    camfiles.atomic_write_text = slow_write  # this forked child only
    barrier.wait()
    try:
        check_run_record(folder, {"stage": "cams", "config": value}, ("stage", "config"))
        results.put(value)
    except OutputMismatchError:
        results.put(-1)


def test_concurrent_run_record_checks_accept_one_setting(tmp_path):
    """Processes with two settings released together: only one setting may win a folder."""
    ctx = mp.get_context("fork")
    for trial in range(8):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [
            ctx.Process(target=_claim, args=(str(folder), i % 2, barrier, results))
            for i in range(6)
        ]
        for p in procs:
            p.start()
        accepted = {results.get(timeout=30) for _ in procs} - {-1}
        for p in procs:
            p.join(timeout=30)
        assert len(accepted) == 1, f"trial {trial}: settings {accepted} both accepted"
        recorded = json.loads((folder / "run.json").read_text())["config"]
        assert accepted == {recorded}


# --------------------------------------------------------------------------- first failure


def test_failed_first_run_does_not_lock_the_folder(voc, tmp_path, capsys):
    out = str(tmp_path / "cams")
    bad = [*TINY[:-3], "--quiet"]  # default --caa-layers 8 on a 3-block model
    assert main(["cams", *_data(voc), "--out", out, *bad]) == 1
    err = capsys.readouterr().err
    assert "--caa-layers" in err and "Traceback" not in err
    assert main(["cams", *_data(voc), "--out", out, *TINY]) == 0  # the corrected rerun


def test_check_without_claim_writes_nothing(tmp_path):
    check_run_record(tmp_path, {"config": 1}, ("config",), claim=False)
    assert not (tmp_path / "run.json").exists()
    check_run_record(tmp_path, {"config": 2}, ("config",))
    check_run_record(tmp_path, {"config": 2}, ("config",), claim=False)
    with pytest.raises(OutputMismatchError, match="config"):
        check_run_record(tmp_path, {"config": 1}, ("config",), claim=False)


# --------------------------------------------------------------------------- stale outputs


def test_rerun_with_another_root_is_refused(voc, tmp_path, make_rect_voc, capsys):
    out = str(tmp_path / "cams")
    assert main(["cams", *_data(voc), "--out", out, *TINY]) == 0
    other = make_rect_voc(tmp_path / "other" / "VOC2012", 3, seed=5).root  # same ids
    capsys.readouterr()
    assert main(["cams", *_data(other), "--out", out, *TINY]) == 1
    err = capsys.readouterr().err
    assert "data" in err and "other settings" in err


def _custom(tmp_path: Path, labels: str) -> list[str]:
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
            images / f"{name}.png"
        )
    (tmp_path / "labels.txt").write_text(labels)
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    return [
        "--dataset",
        "custom",
        "--root",
        str(images),
        "--labels",
        str(tmp_path / "labels.txt"),
        "--classes",
        str(tmp_path / "classes.txt"),
    ]


def test_edited_labels_file_is_refused(tmp_path, capsys):
    out = str(tmp_path / "cams")
    assert main(["cams", *_custom(tmp_path, "a cat\nb dog\n"), "--out", out, *TINY]) == 0
    capsys.readouterr()
    assert main(["cams", *_custom(tmp_path, "a dog\nb cat\n"), "--out", out, *TINY]) == 1
    assert "labels_sha256" in capsys.readouterr().err


# --------------------------------------------------------------------------- class order


def test_eval_and_masks_refuse_another_class_order(voc, tmp_path, capsys):
    from clipwsss.data import VOC_CLASSES

    cams = str(tmp_path / "cams")
    assert main(["cams", *_data(voc), "--out", cams, *TINY]) == 0
    reversed_list = tmp_path / "reversed.txt"
    reversed_list.write_text("\n".join(VOC_CLASSES[::-1]) + "\n")
    capsys.readouterr()
    classes = ["--classes", str(reversed_list)]
    assert main(["eval", "--pred", cams, *_data(voc, *classes), "--quiet"]) == 1
    assert "class" in capsys.readouterr().err
    masks = ["masks", "--cams", cams, *_data(voc, *classes), "--out", str(tmp_path / "m")]
    assert main([*masks, "--workers", "0", "--quiet"]) == 1
    assert "class" in capsys.readouterr().err
    assert not list((tmp_path / "m").glob("*.png"))


# --------------------------------------------------------------------------- custom missing


def test_custom_missing_image_is_skipped_with_skip_bad_images(tmp_path, capsys):
    data = _custom(tmp_path, "a cat\nb dog\ngone cat\n")
    out = tmp_path / "cams"
    assert main(["cams", *data, "--out", str(out), *TINY]) == 1
    assert "gone" in capsys.readouterr().err
    assert main(["cams", *data, "--out", str(out), *TINY, "--skip-bad-images"]) == 0
    assert sorted(p.stem for p in out.glob("*.npy")) == ["a", "b"]
    assert "gone" in (out / "failed.txt").read_text()


# --------------------------------------------------------------------------- masks workers

_SLOW_MASKS = """
import sys, time
import clipwsss.pipelines.masks as masks
def slow_job(job, options):  # a CRF that takes a minute
    time.sleep(60)
masks._mask_job = slow_job  # the forked workers inherit it
from clipwsss.cli.main import main
sys.exit(main(["masks", "--cams", sys.argv[1], "--dataset", "voc12", "--root", sys.argv[2],
               "--split", "train", "--out", sys.argv[3], "--workers", "2", "--quiet"]))
"""


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_slow_masks(tmp_path: Path, voc: Path):
    import os
    import subprocess
    import sys
    import time

    (tmp_path / "cams").mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "lib")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_MASKS, str(tmp_path / "cams"), str(voc), str(tmp_path / "m")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(kids := _children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(kids) >= 2, "the masks workers did not start"
    time.sleep(1.0)  # let the workers take their jobs
    return proc, kids


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    import time

    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_masks_workers_die_with_their_parent(voc, tmp_path, signal_name):
    import os
    import signal

    proc, kids = _start_slow_masks(tmp_path, voc)
    try:
        os.kill(proc.pid, getattr(signal, signal_name))
        rc = proc.wait(timeout=20)
        left = _wait_gone(kids, 10)
        assert not left, f"workers {left} outlived their parent ({signal_name})"
        if signal_name == "SIGTERM":
            err = proc.stderr.read()
            assert rc == 143 and "rerun" in err and "Traceback" not in err, err
    finally:
        proc.kill()
        for pid in kids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- huge images


def test_image_above_the_pixel_limit_is_refused_or_skipped(voc, tmp_path, capsys):
    out = tmp_path / "cams"
    small = ["--max-image-pixels", "4000"]  # the fixture's images are 64 x 80 = 5120 px
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, *small]) == 1
    err = capsys.readouterr().err
    assert "--max-image-pixels" in err and "--skip-bad-images" in err and "Traceback" not in err
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, *small, "--skip-bad-images"]) == 0
    assert len((out / "failed.txt").read_text().splitlines()) == 3
    assert not list(out.glob("*.npy"))


def test_default_pixel_limit_refuses_a_large_photo(tiny_vit, tmp_path):
    from PIL import Image

    from clipwsss.data import VOCDataset, write_split, write_voc_sample
    from clipwsss.methods.clip_es import ClipES, ClipEsConfig
    from clipwsss.pipelines.cams import MAX_IMAGE_PIXELS, generate_cams
    from clipwsss.pipelines.common import BadImageError
    from clipwsss.vocab import voc_vocabulary

    h, w = 1000, MAX_IMAGE_PIXELS // 1000 + 16
    label = np.zeros((h, w), np.uint8)
    label[100:300, 100:300] = 8  # cat
    write_voc_sample(tmp_path / "VOC2012", "big", np.zeros((h, w, 3), np.uint8), label)
    write_split(tmp_path / "VOC2012", "train", ["big"])
    es = ClipES(tiny_vit, voc_vocabulary(), ClipEsConfig(caa_layers=2))
    with pytest.raises(BadImageError, match="max_image_pixels"):
        generate_cams(es, VOCDataset(tmp_path / "VOC2012", "train"), tmp_path / "c", progress=False)
    assert Image.MAX_IMAGE_PIXELS is None or MAX_IMAGE_PIXELS < Image.MAX_IMAGE_PIXELS


# --------------------------------------------------------------------------- local-dir


def test_pretrained_with_a_local_dir_model_is_refused(voc, tmp_path, capsys):
    from clipwsss.clip.loading import load_clip
    from clipwsss.experiments.profiles import TOY_MODEL_DIR

    local = ["--model", f"local-dir:{TOY_MODEL_DIR}", "--quiet", "--refine", "none"]
    cams = ["cams", *_data(voc), "--out", str(tmp_path / "c"), *local]
    for extra in (
        ["--pretrained", str(tmp_path / "w.pt")],
        ["--pretrained", "none", "--allow-random-weights"],
    ):
        assert main([*cams, *extra]) == 2
        err = capsys.readouterr().err
        assert "local-dir" in err and "RANDOM" not in err, err
    with pytest.raises(ValueError, match="local-dir"):
        load_clip(f"local-dir:{TOY_MODEL_DIR}", str(tmp_path / "w.pt"))
    assert main([*cams, "--limit", "0"]) == 0
    err = capsys.readouterr().err
    assert f"weights of {TOY_MODEL_DIR}" in err and "RANDOM" not in err, err


# --------------------------------------------------------------------------- minor items


def test_empty_split_is_an_error(voc, tmp_path, capsys):
    (voc / "ImageSets" / "Segmentation" / "empty.txt").write_text("")
    data = ["--dataset", "voc12", "--root", str(voc), "--split", "empty"]
    assert main(["cams", *data, "--out", str(tmp_path / "c"), *TINY]) == 1
    err = capsys.readouterr().err
    assert "no image" in err and "empty.txt" in err and "--skip-bad-images" not in err


def test_empty_labels_file_is_an_error(tmp_path, capsys):
    assert main(["cams", *_custom(tmp_path, ""), "--out", str(tmp_path / "c"), *TINY]) == 1
    assert "no image" in capsys.readouterr().err


def test_missing_class_list_gets_no_skip_hint(voc, tmp_path, capsys):
    missing = ["--classes", str(tmp_path / "none.txt")]
    assert main(["cams", *_data(voc, *missing), "--out", str(tmp_path / "c"), *TINY]) == 1
    err = capsys.readouterr().err
    assert "none.txt" in err and "--skip-bad-images" not in err


def test_failed_log_forgets_images_fixed_since(voc, tmp_path):
    out = tmp_path / "cams"
    image = voc / "JPEGImages" / "img_1.jpg"
    image.rename(image.with_suffix(".bak"))
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, "--skip-bad-images"]) == 0
    assert "img_1" in (out / "failed.txt").read_text()
    image.with_suffix(".bak").rename(image)
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, "--skip-bad-images"]) == 0
    assert "img_1" not in (out / "failed.txt").read_text()


def test_header_counts_the_shard(voc, tmp_path, capsys):
    assert main(["cams", *_data(voc), "--out", str(tmp_path / "c"), *TINY, "--shard", "1/2"]) == 0
    assert "cams: 1 of 3 images" in capsys.readouterr().err


def test_only_existing_with_no_predictions_is_an_error(voc, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    pred = ["eval", "--pred", str(tmp_path / "empty"), *_data(voc), "--kind", "cams"]
    assert main([*pred, "--only-existing", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "no prediction" in captured.err and "nan" not in captured.out


def test_toy_classes_yaml_loads_with_synonyms_and_background(tmp_path):
    from clipwsss.toy.evaluate import toy_vocabulary
    from clipwsss.toy.world import generate_toy_voc
    from clipwsss.vocab import load_vocabulary

    generate_toy_voc(tmp_path / "toy", n_train=1, n_val=1, image_size=96)
    assert load_vocabulary(tmp_path / "toy" / "classes.yaml") == toy_vocabulary()
