"""The data flags every data-set command shares: ``--profile``, ``--root``, ``--split``,
``--limit`` (``train METHOD`` and ``predict``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from clipwsss.cli.config_flags import non_negative_int

PROFILES = ("toy", "voc12", "coco14")


def add_data_flags(parser: argparse.ArgumentParser, *, default_split: str = "train") -> None:
    """Add ``--profile {toy,voc12,coco14}`` (default roots), ``--root PATH`` (overrides the
    profile's root), ``--split NAME`` and ``--limit N`` in a "data" group."""
    g = parser.add_argument_group("data")
    g.add_argument("--profile", choices=PROFILES, default=None,
                   help="data set and default root (default: the recipe's name)")  # fmt: skip
    g.add_argument("--root", type=Path, default=None, help="data folder (default: the profile's)")
    g.add_argument("--split", default=default_split, help=f"split list (default {default_split})")
    g.add_argument("--limit", type=non_negative_int, default=None,
                   help="use only the first N ids of the split")  # fmt: skip
