"""``clipwsss train <method>`` and ``clipwsss predict``: one command each for every trained method.

    clipwsss train deeplab  --profile voc12 --masks outputs/voc12/masks --run-dir runs/deeplab
    clipwsss train weclip   --recipe voc12 --root data/VOCdevkit/VOC2012 ...
    clipwsss train weakclip --recipe voc12 --root data/VOCdevkit/VOC2012 --seeds ... ...
    clipwsss predict --run-dir runs/weclip_voc --out outputs/voc12/weclip_masks [method flags]

``train`` has one subcommand per method of the trained-method registry
(``clipwsss.train.registry``), all built by ``cli/train.py`` from the method's nested recipe
(``clipwsss train <method> --help`` lists its flags); ``cli/<method>.py`` only adds a method's
input flags and checks. ``predict`` reads what the run folder recorded (``config.json``:
``task.method``; older records: the task's class as ``task.class``) and hands the remaining
flags to that method's predictor, so one command serves every method; ``clipwsss predict
--run-dir RUN --help`` lists that run's flags (``add_predict_arguments``, ``cmd_predict``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# method name -> its CLI module (imported when the parser is built).
METHODS: dict[str, str] = {
    "deeplab": "clipwsss.cli.deeplab",
    "weclip": "clipwsss.cli.weclip",
    "weakclip": "clipwsss.cli.weakclip",
}
# The engine's record of a run (config.json "task"."class") -> method name.
TASK_CLASSES: dict[str, str] = {
    "WeClipTask": "weclip",
    "WeakClipTask": "weakclip",
    "DeepLabTask": "deeplab",
}


TRAIN_HELP = "train a method with the shared engine (train METHOD --help)"
PREDICT_HELP = "pseudo-mask / segmentation PNGs from a trained run (any method)"


def _module(method: str) -> ModuleType:
    return importlib.import_module(METHODS[method])


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register ``train`` (a subcommand per method) and ``predict`` on the top-level parser."""
    train = sub.add_parser(
        "train",
        help=TRAIN_HELP,
        description="Train one method with the shared engine (clipwsss.train); rerunning the "
        "same command resumes from the run's last checkpoint. See docs/training.md.",
    )
    methods = train.add_subparsers(dest="method", required=True, metavar="METHOD")
    from clipwsss.cli.train import add_train_parser
    from clipwsss.train.registry import TRAINED_METHODS

    for name in METHODS:
        if name not in TRAINED_METHODS:
            _module(name).add_train_parser(methods)
    for name in TRAINED_METHODS:  # one generic command; a CLI module only adds input flags
        add_train_parser(methods, name, _module(name) if name in METHODS else None)
    p = sub.add_parser(
        "predict",
        add_help=False,
        help=PREDICT_HELP,
        description="Predict with a finished `clipwsss train <method>` run; the method is read "
        "from RUN/config.json. `clipwsss predict --run-dir RUN --help` lists its flags.",
    )
    p.add_argument("--run-dir", type=Path, help="a finished `clipwsss train <method>` run")
    p.add_argument("-h", "--help", action="store_true", help="show the run's predict flags")
    p.set_defaults(handler=cmd_predict, takes_method_flags=True)


def run_method(run_dir: Path) -> str:
    """The method a training run folder belongs to, from its ``config.json``.

    Raises:
        FileNotFoundError: no ``config.json`` (not a training run).
        ValueError: a run of a task no registered method predicts with.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: is {run_dir} a `clipwsss train <method>` run "
            f"(train {' | train '.join(METHODS)})?"
        )
    try:
        task = json.loads(path.read_text()).get("task", {})
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    method = task.get("method") or TASK_CLASSES.get(task.get("class", ""))
    if method is None or method not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"{run_dir} is a run of task {task.get('class')!r}; predict knows {known}")
    return method


def predict_parser(method: str) -> argparse.ArgumentParser:
    """The full ``clipwsss predict`` parser of one method's runs."""
    p = argparse.ArgumentParser(
        prog="clipwsss predict", description=f"Predict with a finished `train {method}` run."
    )
    p.add_argument("--run-dir", required=True, type=Path, help=f"a finished `train {method}` run")
    _module(method).add_predict_arguments(p)
    return p


def cmd_predict(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``clipwsss predict``: find the run's method, parse its flags, run its predictor."""
    if args.run_dir is None:
        if args.help:
            print(__doc__)
            return 0
        print("usage: clipwsss predict --run-dir RUN [method flags]\nclipwsss predict: error: "
              "the following arguments are required: --run-dir", file=sys.stderr)  # fmt: skip
        return 2
    method = run_method(args.run_dir)
    parser = predict_parser(method)
    if args.help:
        parser.print_help()
        return 0
    method_args = parser.parse_args(["--run-dir", str(args.run_dir), *args.method_flags])
    method_args.command = "predict"
    from clipwsss.cli.main import check_output_path  # main imports this module

    check_output_path(method_args.out, "--out")
    return _module(method).cmd_predict(method_args, argv)
