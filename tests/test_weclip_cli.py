"""`clipwsss train weclip` and `clipwsss predict` end to end on a tiny toy set."""

import json

import pytest

from clipwsss.cli.main import main
from clipwsss.data import load_label_png
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE
from clipwsss.toy import generate_toy_voc


def test_train_then_predict(tmp_path, capsys):
    root = tmp_path / "toy"
    generate_toy_voc(root, n_train=4, n_val=2, seed=0, image_size=TOY_IMAGE_SIZE)
    run = tmp_path / "run"
    argv = ["train", "weclip", "--recipe", "toy", "--dataset", "voc12", "--root", str(root),
            "--split", "train", "--iterations", "2", "--warmup-iters", "1", "--batch-size", "2",
            "--aff-weight", "0.5", "--run-dir", str(run), "--progress", "false"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 2 and (run / "model.pt").is_file()
    saved = json.loads((run / "config.json").read_text())
    assert saved["task"]["model"]["aff_weight"] == 0.5  # a generated model flag reached the run
    assert saved["train"]["iterations"] == 2 and saved["train"]["optimizer"] == "adamw"
    pred = tmp_path / "pred"
    argv = ["predict", "--run-dir", str(run), "--dataset", "voc12", "--root", str(root),
            "--split", "val", "--out", str(pred), "--long-side", "0", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    pngs = sorted(pred.glob("*.png"))
    assert len(pngs) == 2 and load_label_png(pngs[0]).shape == (96, 96)


def test_one_train_and_one_predict_for_every_method(capsys):
    from clipwsss.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "predict-weclip" not in sub.choices  # one predict, dispatching on the run folder
    args = parser.parse_args(["train", "weclip", "--dataset", "voc12", "--root", "x"])
    assert args.method == "weclip" and args.handler.__module__ == "clipwsss.cli.weclip"
    args = parser.parse_args(["train", "weakclip", "--recipe", "toy"])
    assert args.method == "weakclip" and args.handler.__module__ == "clipwsss.cli.weakclip"
    args = parser.parse_args(["train", "deeplab", "--profile", "toy", "--masks", "m"])
    assert args.method == "deeplab" and args.handler.__module__ == "clipwsss.cli.deeplab"


def test_predict_dispatches_on_the_recorded_task(tmp_path, capsys):
    from clipwsss.cli.methods import run_method

    runs = (("DeepLabTask", "deeplab"), ("WeClipTask", "weclip"), ("WeakClipTask", "weakclip"))
    for cls, method in runs:
        (tmp_path / "config.json").write_text(json.dumps({"task": {"class": cls}}))
        assert run_method(tmp_path) == method
        assert main(["predict", "--run-dir", str(tmp_path), "--help"]) == 0
        assert "--out" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:  # a WeCLIP flag on a WeakCLIP run
        main(["predict", "--run-dir", str(tmp_path), "--out", "o", "--long-side", "3"])
    assert err.value.code == 2 and "--long-side" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"task": {"class": "OtherTask"}}))
    assert main(["predict", "--run-dir", str(tmp_path), "--out", "o"]) == 1
    assert "'OtherTask'" in capsys.readouterr().err


def test_unknown_flags_still_refused_outside_predict(capsys):
    with pytest.raises(SystemExit) as err:
        main(["eval", "--no-such-flag"])
    assert err.value.code == 2
