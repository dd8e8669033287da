"""Command-line flags generated from a config dataclass: one field, one flag, one comment.

A new switch of a method is one field with a trailing comment in its config dataclass; this
module turns it into ``--field-name`` (booleans: ``--x / --no-x`` or ``--x false``; ``Literal``
fields: choices; tuples: several values)
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
import types
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


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _unwrap_optional(kind: Any) -> Any:
    """``X | None`` as ``X`` (the flag's "not given" is already None)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    recipe: bool = False,
) -> None:
    """Add one flag per field of the dataclass ``cls`` (default: not given = config default).

    Booleans give ``--x`` / ``--no-x`` and also take a value (``--x false``); ``Literal``
    fields give choices; ``tuple[int, int]`` takes two values, ``tuple[int, ...]`` one or more.

    Args:
        parser: A parser or an argument group.
        cls: The config dataclass.
        skip: Fields left out (set by the caller another way).
        recipe: The defaults come from a named recipe, not the class (said in the help).
    """
    comments, hints = field_comments(cls), _field_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = _unwrap_optional(hints[f.name])
        default = f"the recipe's; {cls.__name__} {f.default!r}" if recipe else repr(f.default)
        help_ = f"{comments.get(f.name, '')} (default {default})".replace("%", "%%").lstrip()
        name = flag_name(f)
        if kind is bool:
            parser.add_argument(
                name,
                dest=f.name,
                nargs="?",
                const=True,
                type=_parse_bool,
                default=None,
                metavar="BOOL",
                help=help_,
            )
            parser.add_argument(
                "--no-" + name[2:],
                dest=f.name,
                action="store_const",
                const=False,
                default=None,
                help=argparse.SUPPRESS,
            )
        elif typing.get_origin(kind) is typing.Literal:
            choices = typing.get_args(kind)
            parser.add_argument(
                name, dest=f.name, choices=choices, default=None, help=help_, type=type(choices[0])
            )
        elif typing.get_origin(kind) is tuple:
            items = typing.get_args(kind)
            variadic = len(items) == 2 and items[1] is Ellipsis
            if items[0] not in (int, float, str) or not (variadic or len(set(items)) == 1):
                raise TypeError(f"{cls.__name__}.{f.name}: no flag for type {kind!r}")
            parser.add_argument(
                name,
                dest=f.name,
                type=items[0],
                default=None,
                help=help_,
                nargs="+" if variadic else len(items),
            )
        elif kind in (int, float, str):
            parser.add_argument(name, dest=f.name, type=kind, default=None, help=help_)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no flag for type {kind!r}")
    for f in dataclasses.fields(cls):
        for neg, value in f.metadata.get("negations", {}).items():
            parser.add_argument(
                neg,
                dest=f.name,
                action="store_const",
                const=value,
                default=None,
                help=argparse.SUPPRESS,
            )


def non_negative_int(text: str) -> int:
    """argparse type of a count (``--limit``): an int >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type of a scale or size factor (``--scales``): a finite float > 0."""
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type of a size (``--crop``): an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def config_from_args(cls: type, args: argparse.Namespace, base: Any | None = None) -> Any:
    """The config of ``args``: ``base`` (or the defaults) with every flag that was given."""
    base = cls() if base is None else base
    given = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            given[f.name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **given)


def _sections(cls: type) -> list[tuple[str, type]]:
    """The nested config dataclasses of a recipe: (field name, class), in field order."""
    hints = _field_types(cls)
    return [
        (f.name, _unwrap_optional(hints[f.name]))
        for f in dataclasses.fields(cls)
        if dataclasses.is_dataclass(_unwrap_optional(hints[f.name]))
    ]


def _flaggable(cls: type, name: str) -> bool:
    """A field a flag can set (a mapping or a tuple of pairs, such as ``crf_params``, is set
    in the recipe only)."""
    kind = _unwrap_optional(_field_types(cls)[name])
    if kind is dict or typing.get_origin(kind) is dict:
        return False
    if typing.get_origin(kind) is tuple:
        return all(k in (int, float, str, Ellipsis) for k in typing.get_args(kind))
    return True


def _nested_flag_names(cls: type, skip: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """(section, field) -> flag: ``--field-name`` where no other section has that field (today's
    spellings: ``--iterations``, ``--aff-weight``), else ``--section-field-name``; the engine's
    ``train`` section always keeps ``--field-name`` (``--seed`` is the training seed)."""
    pairs = [
        (s, f)
        for s, sub in _sections(cls)
        for f in dataclasses.fields(sub)
        if f"{s}.{f.name}" not in skip and s not in skip and _flaggable(sub, f.name)
    ]
    counts: dict[str, int] = {}
    for _, f in pairs:
        counts[flag_name(f)] = counts.get(flag_name(f), 0) + 1
    return {
        (s, f.name): flag_name(f)
        if counts[flag_name(f)] == 1 or s == "train"
        else f"--{s.replace('_', '-')}-{flag_name(f)[2:]}"
        for s, f in pairs
    }


def add_recipe_arguments(
    parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()
) -> None:
    """One flag per field of every nested config of the recipe class ``cls`` (a dataclass of
    config dataclasses: model, train, data, tta, loss), in one argument group per section.

    Flags keep the field's own spelling (``--iterations``) unless two sections share a field
    name, then the section prefixes it (``--tta-scales``). Unset flags keep the recipe's value.

    Args:
        parser: the ``train METHOD`` parser.
        cls: the recipe class.
        skip: "section" or "section.field" entries left out (set another way). A field that
            is itself a dataclass (WeakCLIP's ``tta.crf_params``) has no flag: the recipe sets it.
    """
    skip = (
        *skip,
        *(
            f"{section}.{f.name}"
            for section, sub in _sections(cls)
            for f in dataclasses.fields(sub)
            if dataclasses.is_dataclass(typing.get_type_hints(sub).get(f.name))
        ),
    )
    names = _nested_flag_names(cls, skip)
    for section, sub in _sections(cls):
        fields = tuple(f.name for f in dataclasses.fields(sub) if (section, f.name) not in names)
        renames = {
            flag_name(f): names[(section, f.name)]
            for f in dataclasses.fields(sub)
            if (section, f.name) in names
        }
        group = _RenamingGroup(
            parser.add_argument_group(f"{section} ({sub.__name__})"), section, renames
        )
        add_config_arguments(group, sub, skip=fields, recipe=True)


class _RenamingGroup:
    """An argument group that gives each field of ``section`` its recipe-wide flag (``renames``:
    the field's own flag -> the one used) and the destination ``section.field`` (so two
    sections may share a field name)."""

    def __init__(self, group, section: str, renames: dict[str, str]) -> None:
        self.group, self.section, self.renames = group, section, renames
        self.renames.update({"--no-" + a[2:]: "--no-" + b[2:] for a, b in renames.items()})

    def add_argument(self, name: str, *rest, dest: str, **kwargs):
        name = self.renames.get(name, name)
        if kwargs.get("metavar") is None and kwargs.get("action") is None:
            kwargs["metavar"] = dest.upper()
        return self.group.add_argument(name, *rest, dest=f"{self.section}.{dest}", **kwargs)


def recipe_from_args(recipe: Any, args: argparse.Namespace) -> Any:
    """``recipe`` with every flag of :func:`add_recipe_arguments` that was given."""
    changes = {}
    for section, sub in _sections(type(recipe)):
        given = {}
        for f in dataclasses.fields(sub):
            value = getattr(args, f"{section}.{f.name}", None)
            if value is not None:
                given[f.name] = tuple(value) if isinstance(value, list) else value
        if given:
            changes[section] = dataclasses.replace(getattr(recipe, section), **given)
    return dataclasses.replace(recipe, **changes)
