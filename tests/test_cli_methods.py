"""One `clipwsss train <method>` and one `clipwsss predict` for every trained method
(clipwsss/cli/methods.py): registration, dispatch on the run's recorded task, usage errors."""

import json

import pytest

from clipwsss.cli.main import main


def test_one_train_and_one_predict_for_every_method(capsys):
    from clipwsss.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "predict-weclip" not in sub.choices  # one predict, dispatching on the run folder
    # One generic train command (cli/train.py); a method's CLI module adds its input flags.
    args = parser.parse_args(["train", "weclip", "--profile", "voc12", "--root", "x"])
    assert args.method == "weclip" and args.handler.__module__ == "clipwsss.cli.train"
    assert args.method_hooks.__name__ == "clipwsss.cli.weclip"
    args = parser.parse_args(["train", "weakclip", "--recipe", "toy"])
    assert args.method == "weakclip" and args.method_hooks.__name__ == "clipwsss.cli.weakclip"
    args = parser.parse_args(["train", "deeplab", "--profile", "toy", "--masks", "m"])
    assert args.method == "deeplab" and args.method_hooks.__name__ == "clipwsss.cli.deeplab"


def test_predict_dispatches_on_the_recorded_task(tmp_path, capsys):
    from clipwsss.cli.methods import run_method

    runs = (("DeepLabTask", "deeplab"), ("WeClipTask", "weclip"), ("WeakClipTask", "weakclip"))
    for cls, method in runs:
        (tmp_path / "config.json").write_text(json.dumps({"task": {"class": cls}}))
        assert run_method(tmp_path) == method
        assert main(["predict", "--run-dir", str(tmp_path), "--help"]) == 0
        assert "--out" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:  # an unknown flag
        main(["predict", "--run-dir", str(tmp_path), "--out", "o", "--no-such-flag", "3"])
    assert err.value.code == 2 and "--no-such-flag" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"task": {"class": "OtherTask"}}))
    assert main(["predict", "--run-dir", str(tmp_path), "--out", "o"]) == 1
    assert "'OtherTask'" in capsys.readouterr().err


def test_predict_without_a_run_is_a_usage_error(capsys):
    assert main(["predict", "--out", "o"]) == 2
    assert "--run-dir" in capsys.readouterr().err
    assert main(["predict", "--help"]) == 0
    assert "train weclip" in capsys.readouterr().out


def test_unknown_flags_still_refused_outside_predict(capsys):
    with pytest.raises(SystemExit) as err:
        main(["eval", "--no-such-flag"])
    assert err.value.code == 2
