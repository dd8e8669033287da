"""`clipwsss train <method>` on bad input and faults: another task on a finished run, masks or
seeds of another data set, a bad seed, NaN losses, resumes with harmless changes, range checks
of every flag, and the toy-data command (docs/training.md, "What each fault gets")."""

import json
import shutil

import numpy as np
import pytest

from clipwsss.cli.main import main
from clipwsss.data import VOCDataset, save_label_png
from clipwsss.pipelines.common import data_identity

FAST = ["--batch-size", "2", "--warmup-iters", "0", "--progress", "false", "--device", "cpu"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy") / "data"
    assert main(["toy-data", "--out", str(root), "--n-train", "4", "--n-val", "0"]) == 0
    return root


def _deeplab(root, masks, run, *extra):
    return [
        "train",
        "deeplab",
        "--profile",
        "toy",
        "--root",
        str(root),
        "--masks",
        str(masks),
        "--run-dir",
        str(run),
        "--iterations",
        "3",
        "--allow-random-weights",
        "--checkpoint-interval",
        "1",
        *FAST,
        *extra,
    ]


def _weclip(root, run, *extra):
    return [
        "train",
        "weclip",
        "--recipe",
        "toy",
        "--root",
        str(root),
        "--run-dir",
        str(run),
        "--iterations",
        "2",
        *FAST,
        *extra,
    ]


def _weakclip(root, seeds, run, *extra):
    return [
        "train",
        "weakclip",
        "--recipe",
        "toy",
        "--root",
        str(root),
        "--seeds",
        str(seeds),
        "--run-dir",
        str(run),
        "--iterations",
        "2",
        *FAST,
        *extra,
    ]


@pytest.fixture(scope="module")
def deeplab_run(toy, tmp_path_factory):
    run = tmp_path_factory.mktemp("dl") / "run"
    assert main(_deeplab(toy, toy / "SegmentationClass", run)) == 0
    return run


def test_toy_data_command_writes_a_voc_folder_and_refuses_a_file(toy, tmp_path, capsys):
    assert len((toy / "ImageSets/Segmentation/train.txt").read_text().split()) == 4
    assert len(list((toy / "SegmentationClass").glob("*.png"))) == 4
    (tmp_path / "f").write_text("x")
    assert main(["toy-data", "--out", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_another_task_on_a_finished_run_without_checkpoints_is_refused(
    deeplab_run, toy, tmp_path, capsys
):
    run = tmp_path / "run"
    shutil.copytree(deeplab_run, run)
    shutil.rmtree(run / "checkpoints")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(_weclip(toy, run)) == 1
    err = capsys.readouterr().err
    assert "task.class: 'DeepLabTask' (folder) vs 'WeClipTask' (now)" in err
    assert "--resume false" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_deeplab_resumes_with_other_intervals_device_progress_and_run_dir_spelling(
    deeplab_run, toy, tmp_path, capsys, monkeypatch
):
    shutil.copytree(deeplab_run, tmp_path / "runs" / "x")  # a copied (moved) run
    monkeypatch.chdir(tmp_path)
    argv = _deeplab(
        toy,
        toy / "SegmentationClass",
        "./runs/x/",
        "--checkpoint-interval",
        "2",
        "--log-interval",
        "7",
        "--device",
        "cpu",
        "--progress",
        "true",
    )
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["resumed_from"] == 3


def test_a_deeplab_run_recorded_by_an_older_version_still_resumes(
    deeplab_run, toy, tmp_path, capsys
):
    """Older records kept masks, conf and the recipe's TrainConfig in the task settings."""
    run = tmp_path / "run"
    shutil.copytree(deeplab_run, run)
    record = json.loads((run / "config.json").read_text())
    paths = record.pop("paths")
    task = record["task"]
    del task["cgl_conf"]
    task.update(masks=paths["masks"], conf=None)
    task["recipe"]["train"] = dict(record["train"], run_dir="elsewhere", progress=True)
    (run / "config.json").write_text(json.dumps(record))
    assert main(_deeplab(toy, toy / "SegmentationClass", run)) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["resumed_from"] == 3


@pytest.mark.parametrize("method", ["deeplab", "weclip", "weakclip"])
def test_a_nan_loss_ends_with_a_clear_message(method, toy, tmp_path, capsys, monkeypatch):
    from clipwsss.train.tasks.deeplab import DeepLabTask
    from clipwsss.train.tasks.weakclip import WeakClipTask
    from clipwsss.train.tasks.weclip import WeClipTask

    task = {"deeplab": DeepLabTask, "weclip": WeClipTask, "weakclip": WeakClipTask}[method]
    real = task.loss

    def nan_loss(self, model, batch, step, iterations):
        loss, logs = real(self, model, batch, step, iterations)
        return loss * float("nan"), logs

    monkeypatch.setattr(task, "loss", nan_loss)
    seeds = masks = toy / "SegmentationClass"
    argv = {
        "deeplab": _deeplab(toy, masks, tmp_path / "r"),
        "weclip": _weclip(toy, tmp_path / "r"),
        "weakclip": _weakclip(toy, seeds, tmp_path / "r"),
    }[method]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "training diverged: the loss is nan at step 1" in err and "Traceback" not in err


def test_a_huge_lr_never_checkpoints_non_finite_weights(toy, tmp_path, capsys):
    run = tmp_path / "run"
    argv = _deeplab(toy, toy / "SegmentationClass", run, "--lr", "1e8", "--keep-checkpoints", "0")
    assert main(argv) == 1
    assert "training diverged" in capsys.readouterr().err
    from safetensors.torch import load_file

    for folder in (run / "checkpoints").glob("step-*"):
        assert all(
            np.isfinite(v.numpy()).all() for v in load_file(folder / "model.safetensors").values()
        )
    assert not (run / "model.safetensors").exists()


@pytest.fixture(scope="module")
def other_data_masks(toy, tmp_path_factory):
    """Masks with a run.json made for a copy of the toy data (same ids, another root)."""
    base = tmp_path_factory.mktemp("other")
    shutil.copytree(toy, base / "copy")
    masks = base / "masks"
    shutil.copytree(toy / "SegmentationClass", masks)
    identity = data_identity(VOCDataset(base / "copy", "train"))
    (masks / "run.json").write_text(json.dumps({"stage": "masks", "data": identity}))
    return masks


@pytest.mark.parametrize("method", ["deeplab", "weakclip"])
def test_masks_or_seeds_of_another_data_set_are_refused(
    method, toy, other_data_masks, tmp_path, capsys
):
    run = tmp_path / "run"
    argv = (
        _deeplab(toy, other_data_masks, run)
        if method == "deeplab"
        else _weakclip(toy, other_data_masks, run)
    )
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "were made for another data set" in err and "root: " in err
    assert not run.exists()


def test_weakclip_checks_every_seed_before_the_first_step(toy, tmp_path, capsys):
    seeds = tmp_path / "seeds"
    shutil.copytree(toy / "SegmentationClass", seeds)
    last = (toy / "ImageSets/Segmentation/train.txt").read_text().split()[-1]
    save_label_png(seeds / f"{last}.png", np.full((96, 96), 42, np.uint8))
    run = tmp_path / "run"
    argv = _weakclip(toy, seeds, run, "--iterations", "4", "--checkpoint-interval", "1")
    assert main(argv) == 1
    assert f"{last}.png holds class ids [42]" in capsys.readouterr().err
    assert not run.exists()  # refused before the run folder is made


@pytest.mark.parametrize(
    ("method", "flags", "message"),
    [
        ("weclip", ["--box-threshold", "1.5"], "box_threshold (lambda) must be in [0, 1)"),
        ("weclip", ["--caa-layers", "9"], "caa_layers=9 (--caa-layers): the CLIP model"),
        ("weclip", ["--par-iters", "-3"], "par_iters (--par-iters) must be in [0, inf)"),
        ("weclip", ["--aff-radius", "-1"], "aff_radius (--aff-radius) must be in [1, inf)"),
        ("weclip", ["--warmup-ratio", "-1"], "warmup_ratio (--warmup-ratio) must be in [0, 1]"),
        ("weclip", ["--power", "-2"], "power (--power) must be in [0, inf)"),
        ("deeplab", ["--momentum", "5"], "momentum (--momentum) must be in [0, 1)"),
        ("deeplab", ["--weight-decay", "-1"], "weight_decay (--weight-decay) must be in [0, inf)"),
        ("deeplab", ["--mu", "1.5"], "mu (--mu) must be in [0, 1]"),
        ("deeplab", ["--keep-checkpoints", "-1"], "keep_checkpoints (--keep-checkpoints)"),
        ("weakclip", ["--lr", "-1"], "lr (--lr) must be in (0, inf)"),
        ("weakclip", ["--head-dropout", "1.5"], "head_dropout (--head-dropout) must be in [0, 1)"),
        ("deeplab", ["--limit", "-5"], "argument --limit: must be >= 0"),
        ("weakclip", ["--limit", "-5"], "argument --limit: must be >= 0"),
        ("deeplab", ["--crop", "0"], "crop (--crop) must be in [1, inf), got 0"),
    ],
)
def test_out_of_range_flags_are_refused_before_training(
    method, flags, message, toy, tmp_path, capsys
):
    run = tmp_path / "run"
    masks = toy / "SegmentationClass"
    argv = {
        "deeplab": _deeplab(toy, masks, run),
        "weclip": _weclip(toy, run),
        "weakclip": _weakclip(toy, masks, run),
    }[method] + flags
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    assert code in (1, 2)
    assert message in capsys.readouterr().err
    assert not run.exists()


def test_predict_scales_must_be_positive(deeplab_run, tmp_path, capsys):
    argv = [
        "predict",
        "--run-dir",
        str(deeplab_run),
        "--profile",
        "toy",
        "--out",
        str(tmp_path / "o"),
        "--scales",
        "0",
    ]
    with pytest.raises(SystemExit):
        main(argv)
    assert "argument --scales: must be > 0" in capsys.readouterr().err


def test_toy_deeplab_without_random_weights_names_the_recipe_not_a_flag(toy, tmp_path, capsys):
    argv = [a for a in _deeplab(toy, toy, tmp_path / "r") if a != "--allow-random-weights"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the toy recipe initialises DeepLab at random" in err and "--init random" not in err


def test_a_run_dir_that_is_a_file_is_a_clear_error(toy, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(_weclip(toy, tmp_path / "f")) == 1
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


def test_weclip_toy_trains_on_the_toy_train_split_and_predicts_at_native_size(
    toy, tmp_path, capsys
):
    from clipwsss.cli.methods import load_predictor
    from clipwsss.pipelines.tta import TTA_PRESETS

    run = tmp_path / "run"
    assert main(_weclip(toy, run)) == 0
    assert json.loads((run / "config.json").read_text())["task"]["data"]["split"] == "train"
    shutil.copytree(toy, tmp_path / "moved")  # the data set moved: the run still resumes
    capsys.readouterr()
    assert main(_weclip(tmp_path / "moved", run)) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["resumed_from"] == 2
    assert load_predictor(run, "cpu").tta.scale_base == "image"  # toy: the images' own size
    assert (TTA_PRESETS["weclip"].scale_base, TTA_PRESETS["weclip"].side) == ("long_side", 512)
