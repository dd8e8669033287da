"""Command-line flags generated from a config dataclass: one field, one flag, one comment.

A new switch of a method is one field with a trailing comment in its config dataclass; this
module turns it into ``--field-name`` (booleans: ``--x / --no-x``; ``Literal`` fields: choices)
with the comment as help text, and builds the config back from the parsed arguments. A field
may rename its flag with ``field(metadata={"flag": "name"})`` (e.g. ``use_background`` is
``--background / --no-background``) and keep an old spelling that sets a value with
``metadata={"negations": {"--old-flag": value}}`` (hidden from the help).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import typing
from typing import Any

_COMMENT = re.compile(r"^\s*(\w+)\s*:[^#]*#\s*(.+?)\s*$")
_ABOVE = re.compile(r"^\s*#\s*(.+?)\s*$")


def field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in the class source: the trailing one, else the lines above it."""
    comments, above = {}, []
    for line in inspect.getsource(cls).splitlines():
        if m := _ABOVE.match(line):
            above.append(m.group(1))
            continue
        if m := _COMMENT.match(line):
            comments[m.group(1)] = m.group(2)
        elif m := re.match(r"^\s*(\w+)\s*:", line):
            if above:
                comments[m.group(1)] = " ".join(above)
        above = []
    return comments


def flag_name(f: dataclasses.Field) -> str:
    """``--name`` of a field: ``metadata["flag"]`` or the field name with dashes."""
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
) -> None:
    """Add one flag per field of the dataclass ``cls`` (default: not given = config default).

    Args:
        parser: A parser or an argument group.
        cls: The config dataclass.
        skip: Fields left out (set by the caller another way).
    """
    comments, types = field_comments(cls), _field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = types[f.name]
        help_ = f"{comments.get(f.name, '')} (default {f.default!r})".replace("%", "%%")
        names = [flag_name(f)]
        if kind is bool:
            parser.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_)  # fmt: skip
        elif typing.get_origin(kind) is typing.Literal:
            choices = typing.get_args(kind)
            parser.add_argument(*names, dest=f.name, choices=choices, default=None, help=help_,
                                type=type(choices[0]))  # fmt: skip
        elif kind in (int, float, str):
            parser.add_argument(*names, dest=f.name, type=kind, default=None, help=help_)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no flag for type {kind!r}")
    for f in dataclasses.fields(cls):
        for name, value in f.metadata.get("negations", {}).items():
            parser.add_argument(name, dest=f.name, action="store_const", const=value,
                                default=None, help=argparse.SUPPRESS)  # fmt: skip


def config_from_args(cls: type, args: argparse.Namespace, base: Any | None = None) -> Any:
    """The config of ``args``: ``base`` (or the defaults) with every flag that was given."""
    base = cls() if base is None else base
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if getattr(args, f.name, None) is not None
    }
    return dataclasses.replace(base, **given)
