"""`clipwsss train deeplab` / `clipwsss predict` end to end on a tiny rectangle set."""

import json
import shutil

import numpy as np
import pytest

from clipwsss.cli.main import main
from clipwsss.data import load_label_png


@pytest.fixture(scope="module")
def voc(tmp_path_factory, make_rect_voc):
    root = tmp_path_factory.mktemp("seg")
    ds = make_rect_voc(root / "voc", n=4)
    masks = root / "masks"
    masks.mkdir()
    for s in ds:
        shutil.copy(s.gt_path, masks / f"{s.image_id}.png")
    return root, ds, masks


def _train_args(root, masks, run_dir, *extra):
    return [
        "train",
        "deeplab",
        "--profile",
        "voc12",
        "--root",
        str(root / "voc"),
        "--split",
        "train",
        "--masks",
        str(masks),
        "--run-dir",
        str(run_dir),
        "--arch",
        "torchvision",  # our option; the default Caffe network is ResNet-50/101 only
        "--backbone",
        "resnet18",
        "--crop",
        "48",
        "--iterations",
        "30",
        "--batch-size",
        "4",
        "--lr",
        "0.01",
        "--log-interval",
        "5",
        "--checkpoint-interval",
        "10",
        "--progress",
        "false",
        "--device",
        "cpu",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(voc):
    root, ds, masks = voc
    run = root / "run"
    args = _train_args(
        root,
        masks,
        run,
        "--init",
        "random",
        "--allow-random-weights",
        "--val-split",
        "train",
        "--eval-interval",
        "30",
    )
    assert main(args) == 0
    return run


def test_training_lowers_the_loss_and_evaluates(trained):
    rows = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if r["kind"] == "train"]
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert len(evals) == 1 and 0.0 <= evals[0]["miou"] <= 1.0
    record = json.loads((trained / "config.json").read_text())
    assert record["task"]["recipe"]["loss"]["kind"] == "cgl"
    assert record["train"]["iterations"] == 30


def test_predict_writes_voc_pngs_and_eval_reads_them(trained, voc, capsys):
    root, ds, _ = voc
    out = root / "pred"
    args = [
        "predict",
        "--run-dir",
        str(trained),
        "--profile",
        "voc12",
        "--root",
        str(root / "voc"),
        "--split",
        "train",
        "--out",
        str(out),
        "--scales",
        "0.75",
        "1",
        "--quiet",
        "--voc-test",
    ]
    assert main(args) == 0
    folder = out / "results" / "VOC2012" / "Segmentation" / "comp6_test_cls"
    for s in ds:
        pred = load_label_png(folder / f"{s.image_id}.png")
        assert pred.shape == (64, 80) and pred.max() < 21
    assert main(args) == 0 and "0 written, 4 already there" in capsys.readouterr().out
    assert (
        main(
            [
                "eval",
                "--pred",
                str(folder),
                "--dataset",
                "voc12",
                "--root",
                str(root / "voc"),
                "--split",
                "train",
                "--quiet",
            ]
        )
        == 0
    )


def test_random_init_needs_the_flag_and_bad_masks_exit_1(voc, tmp_path, capsys):
    root, ds, masks = voc
    assert main(_train_args(root, masks, tmp_path / "r", "--init", "random")) == 2
    bad = tmp_path / "bad"
    shutil.copytree(masks, bad)
    from clipwsss.data import save_label_png

    save_label_png(bad / "img_2.png", np.full((64, 80), 40, np.uint8))
    args = _train_args(root, bad, tmp_path / "r", "--init", "random", "--allow-random-weights")
    assert main(args) == 1
    assert "class ids [40]" in capsys.readouterr().err
    (bad / "img_2.png").unlink()
    assert main(args) == 1
    assert "no pseudo-mask" in capsys.readouterr().err


def test_missing_weights_exit_2(voc, tmp_path, capsys):
    root, _, masks = voc
    args = _train_args(root, masks, tmp_path / "w", "--weights", str(tmp_path / "r101.pth"))
    assert main(args) == 2
    assert "r101.pth not found" in capsys.readouterr().err


def test_default_caffe_network_needs_a_deeplab_pytorch_file(voc, tmp_path, capsys):
    """voc12's default network is deeplab-pytorch's: no weights -> exit 2 naming the option;
    the kit's reduced file (1 block per stage) is refused for a ResNet-101 (exit 1)."""
    from pathlib import Path

    root, _, masks = voc
    base = [
        "train",
        "deeplab",
        "--profile",
        "voc12",
        "--root",
        str(root / "voc"),
        "--split",
        "train",
        "--masks",
        str(masks),
        "--run-dir",
        str(tmp_path / "c"),
        "--device",
        "cpu",
        "--progress",
        "false",
    ]
    assert main(base) == 2
    assert "arch='torchvision'" in capsys.readouterr().err
    kit = Path(__file__).parent / "fidelity" / "deeplab" / "fixture" / "weights"
    kit_file = str(kit / "deeplabv2_r1111_msc-random-fp16.pth")
    assert main([*base, "--init", "file", "--weights", kit_file]) == 1
    assert "keys matched" in capsys.readouterr().err
