"""``clipwsss train <method>`` and ``clipwsss predict``: one command each for every trained method.

    clipwsss train deeplab  --profile voc12 --masks outputs/voc12/masks --run-dir runs/deeplab
    clipwsss train weclip   --recipe voc12 --root data/VOCdevkit/VOC2012 ...
    clipwsss train weakclip --recipe voc12 --root data/VOCdevkit/VOC2012 --seeds ... ...
    clipwsss predict --run-dir runs/weclip_voc --out outputs/voc12/weclip_masks [--crf ...]

``train`` has one subcommand per method of the trained-method registry
(``clipwsss.train.registry``), all built by ``cli/train.py`` from the method's nested recipe
(``clipwsss train <method> --help`` lists its flags); ``cli/<method>.py`` only adds a method's
input flags and checks. ``predict`` reads the run's method and recipe (``config.json``:
``task.method``, ``task.recipe``), loads it with ``load_run`` and runs the one predict
pipeline (``pipelines/predict.py``, ``pipelines/tta.py``): the same flags for every method;
``clipwsss predict --run-dir RUN --help`` lists them with the run's defaults.
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
    """The method a training run folder belongs to, from its ``config.json`` (``task.method``;
    older records: the task's class), read without loading torch (``predict --help``).

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
    if method is not None and method not in METHODS:  # a method without a CLI module of its own
        from clipwsss.train.registry import TRAINED_METHODS

        if method in TRAINED_METHODS:
            return method
    if method is None or method not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"{run_dir} is a run of task {task.get('class')!r}; predict knows {known}")
    return method


def load_predictor(run_dir: Path, device: str = "auto"):
    """A finished run of any registered method, ready for ``clipwsss predict``: its recipe's
    model with the run's weights (``load_run``), its recipe's test (``recipe.tta``: a
    ``TtaConfig``, or the method module's ``tta_config(recipe)``), the data it recorded.

    Returns:
        A :class:`~clipwsss.pipelines.predict.Predictor`.
    """
    from clipwsss.clip.loading import resolve_device
    from clipwsss.pipelines.predict import Predictor, trained_identity
    from clipwsss.train.registry import method_module
    from clipwsss.train.runs import load_run

    method = run_method(run_dir)
    trained = trained_identity(run_dir)  # before loading: the files predicted with
    recipe, model = load_run(run_dir)
    to_tta = getattr(method_module(method), "tta_config", None)  # the registry's optional hook
    tta = recipe.tta if to_tta is None else to_tta(recipe)
    record = json.loads((Path(run_dir) / "config.json").read_text())
    data, paths = record["task"].get("data", {}), record.get("paths", {})
    return Predictor(
        method=method,
        model=model.to(resolve_device(device)).eval(),
        tta=tta,
        profile=recipe.name,
        root=paths.get("data_root"),
        class_names=tuple(data["classes"]) if data.get("classes") else None,
        trained=trained,
    )


def predict_parser(method: str) -> argparse.ArgumentParser:
    """The ``clipwsss predict`` parser of a ``train <method>`` run: the same flags for every
    method; the test-time flags (generated from ``TtaConfig``) default to the run's recipe."""
    from clipwsss.cli.config_flags import add_config_arguments, positive_float, positive_int
    from clipwsss.cli.data_flags import add_data_flags
    from clipwsss.cli.main import _shard  # main imports this module
    from clipwsss.pipelines.tta import TtaConfig

    p = argparse.ArgumentParser(
        prog="clipwsss predict", description=f"Predict with a finished `train {method}` run."
    )
    p.add_argument("--run-dir", required=True, type=Path, help=f"a finished `train {method}` run")
    p.add_argument("--out", required=True, type=Path, help="output folder of <id>.png")
    add_data_flags(p, default_split="val" if method == "deeplab" else "train")
    r = p.add_argument_group("run")
    r.add_argument(
        "--shard",
        type=_shard,
        default=(0, 1),
        metavar="I/N",
        help="handle ids[I::N] (0 <= I < N); default 0/1",
    )
    r.add_argument(
        "--batch-size",
        type=positive_int,
        default=1,
        help="same-size images per forward (default 1)",
    )
    r.add_argument(
        "--skip-bad-images",
        action="store_true",
        help="skip missing or corrupt images, list them in OUT/failed.txt",
    )
    r.add_argument(
        "--voc-test",
        action="store_true",
        help="write OUT/results/VOC2012/Segmentation/comp6_test_cls/",
    )
    r.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    t = p.add_argument_group("test-time augmentation (default: the run's recipe)")
    add_config_arguments(t, TtaConfig, skip=("crf_params",), recipe=True)
    for action in t._group_actions:  # refused by argparse, before any model loads
        if action.dest in ("scales", "side", "window", "stride"):
            action.type = positive_float if action.dest == "scales" else positive_int
    return p


def cmd_predict(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``clipwsss predict``: find the run's method, load it, predict the data set's PNGs."""
    if args.run_dir is None:
        if args.help:
            print(__doc__)
            return 0
        print(
            "usage: clipwsss predict --run-dir RUN [flags]\nclipwsss predict: error: "
            "the following arguments are required: --run-dir",
            file=sys.stderr,
        )
        return 2
    method = run_method(args.run_dir)
    parser = predict_parser(method)
    if args.help:
        parser.print_help()
        return 0
    flags = parser.parse_args(["--run-dir", str(args.run_dir), *args.method_flags])
    from clipwsss.cli.config_flags import config_from_args
    from clipwsss.cli.data_flags import dataset_from_flags
    from clipwsss.cli.main import check_output_path  # main imports this module
    from clipwsss.pipelines.launch import launched_processes
    from clipwsss.pipelines.predict import predict_dataset
    from clipwsss.pipelines.tta import TtaConfig

    check_output_path(flags.out, "--out")
    launch = launched_processes()
    device = launch.device if launch.n > 1 and flags.device == "auto" else flags.device
    predictor = load_predictor(flags.run_dir, device)
    tta = config_from_args(TtaConfig, flags, predictor.tta)
    dataset = dataset_from_flags(
        flags, profile=predictor.profile, root=predictor.root, class_names=predictor.class_names
    )
    report = predict_dataset(
        predictor.model,
        dataset,
        flags.out,
        tta,
        method=method,
        trained=predictor.trained,
        limit=flags.limit,
        shard=launch.shard(flags.shard),
        skip_bad=flags.skip_bad_images,
        batch_size=flags.batch_size,
        voc_test_layout=flags.voc_test,
        progress=not flags.quiet and launch.rank == 0,
        record={"run_dir": str(Path(flags.run_dir).resolve()), "command": ["clipwsss", *argv]},
    )
    print(f"predict{launch.note}: {report.summary()}")
    launch.finish([report])
    return 0
