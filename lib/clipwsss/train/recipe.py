"""One recipe shape for every trained method, written whole into ``config.json``.

A method's recipe is a frozen dataclass of config dataclasses (model, ``TrainConfig``, data and
augmentation, test-time settings, loss). ``to_dict`` writes it as JSON-ready nested dicts and
``Recipe.from_dict`` rebuilds it from them: nested dataclasses, tuples (lists in JSON),
``X | None`` fields. One function serves every method, so no reader restores tuples by hand.
The module imports no torch: the CLI reads recipes for ``--help``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready nested dicts (tuples become lists, as JSON stores them)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _convert(kind: Any, value: Any, where: str) -> Any:
    """``value`` read from JSON as the annotated type ``kind``."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, where)
        for option in options:  # e.g. str | int: the first whose type matches
            if isinstance(option, type) and isinstance(value, option):
                return value
        return value
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping for {kind.__name__}, got {value!r}")
        return from_dict(kind, value, where=where)
    if origin is tuple:
        items = typing.get_args(kind)
        variadic = len(items) == 2 and items[1] is Ellipsis
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        kinds = [items[0]] * len(value) if variadic else list(items)
        if not variadic and len(kinds) != len(value):
            raise ValueError(f"{where}: expected {len(kinds)} values, got {len(value)}")
        pairs = enumerate(zip(kinds, value, strict=True))
        return tuple(_convert(k, v, f"{where}[{i}]") for i, (k, v) in pairs)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "") -> T:
    """Rebuild the dataclass ``cls`` from :func:`to_dict`'s output (fields not given keep their
    defaults; the dataclass's own checks run).

    Raises:
        ValueError: a key that is no field of ``cls`` (named with its path), or a value of the
            wrong form.
    """
    where = where or cls.__name__
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"{where}: unknown setting(s) {unknown}; {cls.__name__} has {sorted(names)}"
        )
    hints = _hints(cls)
    values = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """The frozen CLIP a method builds on, by name (its weights are never copied into a run)."""

    # open_clip name, local-dir:/path, or "toy" (the shipped micro-CLIP)
    model: str = "ViT-B-16"
    pretrained: str | None = "openai"  # weights tag or file; None: random weights (tests)
    classes: str = "voc12"  # class vocabulary: voc12 | coco14 | toy

    def __post_init__(self) -> None:
        if self.classes not in ("voc12", "coco14", "toy"):
            raise ValueError(f"classes={self.classes!r}: choose voc12, coco14 or toy")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Base of every trained method's recipe (subclasses add ``model``, ``train``, ``data``,
    ``tta`` and ``loss`` config fields; ``name`` is the named recipe it started from)."""

    name: str  # the named recipe this one started from ("voc12", "coco14", "toy")

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready (what ``config.json`` records as ``recipe``)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """The recipe ``to_dict`` wrote (``config.json``'s ``recipe``)."""
        return from_dict(cls, data)


__all__ = ["ClipSpec", "Recipe", "from_dict", "to_dict"]
