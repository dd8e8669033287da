"""`clipwsss train weakclip` and `clipwsss predict` end to end on a few toy images."""

import numpy as np
import pytest

from clipwsss.cli.main import build_parser, main
from clipwsss.data import load_label_png, save_label_png
from clipwsss.toy import generate_toy_voc


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root, n_train=4, n_val=2, seed=7, image_size=96)
    return root


def _train_argv(root, seeds, run_dir):
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
        str(run_dir),
        "--iterations",
        "2",
        "--batch-size",
        "2",
        "--progress",
        "false",
        "--device",
        "cpu",
    ]


def test_train_then_predict(toy_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_train_argv(toy_root, toy_root / "SegmentationClass", run)) == 0
    assert (run / "model.safetensors").is_file()
    out = tmp_path / "pred"
    argv = [
        "predict",
        "--run-dir",
        str(run),
        "--root",
        str(toy_root),
        "--split",
        "val",
        "--out",
        str(out),
        "--scales",
        "1.0",
        "--no-flip",
    ]
    assert main(argv) == 0
    masks = sorted(out.glob("*.png"))
    assert len(masks) == 2 and load_label_png(masks[0]).shape == (96, 96)
    assert "2 written" in capsys.readouterr().out


def test_bad_seed_folder_gives_a_clear_error(toy_root, tmp_path, capsys):
    seeds = tmp_path / "seeds"
    for image_id in (toy_root / "ImageSets/Segmentation/train.txt").read_text().split():
        save_label_png(seeds / f"{image_id}.png", np.full((96, 96), 42, np.uint8))
    assert main(_train_argv(toy_root, seeds, tmp_path / "run")) == 1
    assert "class ids [42] outside 0..10" in capsys.readouterr().err


def test_predict_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    argv = ["predict", "--run-dir", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    assert "train weakclip" in capsys.readouterr().err


def test_every_config_field_has_a_flag():
    args = build_parser().parse_args(
        ["train", "weakclip", "--n-prompts", "4", "--chain-coattention", "true", "--lr", "3e-4"]
    )
    got = [getattr(args, k) for k in ("model.n_prompts", "model.chain_coattention", "train.lr")]
    assert got == [4, True, 3e-4]


def test_random_weights_need_an_explicit_flag(capsys):
    assert main(["train", "weakclip", "--recipe", "toy", "--pretrained", "none"]) == 1
    assert "--allow-random-weights" in capsys.readouterr().err
