"""The data flags every data-set command shares (``train METHOD``, ``predict``): ``--profile``,
``--root``, ``--split``, ``--limit``; and the data set they name."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from clipwsss.cli.config_flags import non_negative_int

PROFILES = ("toy", "voc12", "coco14")


def add_data_flags(parser: argparse.ArgumentParser, *, default_split: str = "train") -> None:
    """Add ``--profile``, ``--root``, ``--split`` and ``--limit`` (group "data").

    ``--profile`` left out means the command's own default (``predict``: the trained run's).
    """
    g = parser.add_argument_group("data")
    g.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="data set and its default folder and classes",
    )
    g.add_argument("--root", type=Path, default=None, help="data folder (default: the profile's)")
    g.add_argument(
        "--split", default=default_split, help=f"split list name (default {default_split})"
    )
    g.add_argument(
        "--limit",
        type=non_negative_int,
        default=None,
        help="handle only the first N ids (of the shard)",
    )
    parser.set_defaults(default_split=default_split)


def dataset_from_flags(
    args: argparse.Namespace,
    *,
    profile: str | None = None,
    root: str | Path | None = None,
    class_names: Sequence[str] | None = None,
):
    """The data set of the flags; ``profile``, ``root``: the defaults when a flag is absent.

    Raises:
        ValueError: no profile, or a class list other than ``class_names`` (the classes a
            trained model predicts).
    """
    from clipwsss.data import build_dataset
    from clipwsss.experiments.profiles import get_profile

    name = args.profile or profile
    if name is None:
        raise ValueError("give the data set: --profile toy|voc12|coco14 (and --root)")
    prof = get_profile(name)
    folder = args.root or (root if args.profile is None and root else prof.data_root)
    kwargs = {"class_names": prof.class_names()} if prof.dataset == "voc12" else {}
    dataset = build_dataset(prof.dataset, folder, args.split or args.default_split, **kwargs)
    if class_names is not None and list(dataset.class_names) != list(class_names):
        raise ValueError(
            f"the run was trained on the classes {list(class_names)}, but --profile {name} "
            f"has {list(dataset.class_names)}: give the profile of the run"
        )
    return dataset
