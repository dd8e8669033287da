"""Notebook parameters checked in one place: types from the ``parameters`` cell, ranges, choices.

papermill's ``-p NAME VALUE`` passes ``[0.2, 0.4]`` as the string ``"[0.2, 0.4]"`` and ``-y``
passes YAML; either way a notebook may receive a string, an int for a float or a typo'd
value. :func:`validate_parameters` reads the defaults of the notebook's ``parameters`` cell,
converts each value to its default's type (a list or dict given as a string is parsed as a
Python literal) and checks ranges and choices, so a bad value fails in the first cell with
a message that names it, not after minutes of work.

Experiment layer: used by the notebooks; no torch.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

NOTEBOOKS_DIR = Path(__file__).resolve().parents[3] / "notebooks"

# name -> (lowest, highest) allowed, None for open; a list parameter is checked element-wise.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "limit": (0, None),
    "seed": (0, None),
    "workers": (0, None),
    "crf_workers": (0, None),
    "threads": (1, None),
    "threshold": (0, 1),
    "mus": (0, 1),
    "lambdas": (0, 1),
    "small_share": (0, 1),
    "bg_exponent": (0, None),
    "scales": (0, None),
    "powers": (1, None),
    "n_prompts": (3, None),
    "n_images": (1, None),
    "vit_images": (1, None),
    "vit_size": (16, None),
    "n_steps": (1, None),
    "batch_size": (0, None),
    "n_train_images": (1, None),
    "iterations": (0, None),
    "radius": (0, None),
    "prompt_counts": (1, None),
    "background_sizes": (1, None),
    "n_worst": (0, None),
    "n_figure": (0, None),
    "n_figure_images": (0, None),
    "n_cam_rows": (0, None),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "profile": ("toy", "voc12", "coco14"),
    "poolings": ("avg", "cls"),
    "fusions": ("sentence", "feature", "cam"),
    "paper": ("CLIP-ES", "WeCLIP", "WeakCLIP"),
}


def parameter_defaults(notebook: str, *, folder: Path | None = None) -> dict[str, Any]:
    """The names and default values of ``notebook``'s ``parameters`` cell (in order).

    A default that is not a Python literal is left out (it is not type-checked).
    """
    import nbformat

    path = (folder or NOTEBOOKS_DIR) / f"{notebook.removesuffix('.ipynb')}.ipynb"
    cells = nbformat.read(path, as_version=4).cells
    cell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    out: dict[str, Any] = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue
    return out


def _literal(name: str, text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise ValueError(f"{name}={text!r} is not a Python literal") from None


def _number(text: str) -> Any:
    """``text`` read as a Python literal if it is one, else unchanged (a type error follows)."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text


def _type_name(value: Any) -> str:
    return type(value).__name__


def coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default`` (see the module docstring).

    Raises:
        ValueError: the value cannot be read as that type (the message names ``name``).
    """
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        raise ValueError(f"{name} must be True or False, got {value!r} ({_type_name(value)})")
    if isinstance(default, int):
        if isinstance(value, str):
            value = _number(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r} ({_type_name(value)})")
        return value
    if isinstance(default, float):
        if isinstance(value, str):
            value = _number(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r} ({_type_name(value)})")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(
                f"{name} must be a string, got {value!r} ({_type_name(value)}); "
                f"papermill: -r {name} VALUE passes it unparsed"
            )
        return value
    if isinstance(default, (list, tuple)):
        if isinstance(value, str):
            try:
                value = _literal(name, value)
            except ValueError:  # a bare word list as typed: boat, car
                value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            value = [value]  # -p lambdas 0.4: a list of one
        if not isinstance(value, (list, tuple)):
            raise ValueError(
                f"{name} must be a list such as {list(default)!r}, got {value!r} "
                f"({_type_name(value)})"
            )
        if default:
            return [coerce(f"{name}[{i}]", v, default[0]) for i, v in enumerate(value)]
        return list(value)
    if isinstance(default, dict):
        if isinstance(value, str):
            value = _literal(name, value)
        if not isinstance(value, dict):
            raise ValueError(
                f"{name} must be a dict such as {default!r}, got {value!r} ({_type_name(value)})"
            )
        return value
    return value


def _check_range(name: str, value: Any, bounds: tuple[float | None, float | None]) -> None:
    values = value if isinstance(value, list) else [value]
    low, high = bounds
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if (low is not None and v < low) or (high is not None and v > high):
            span = f"[{low}, {high}]" if high is not None else f">= {low}"
            raise ValueError(f"{name}={value!r}: every value must be {span}")


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if v not in choices]
    if bad:
        raise ValueError(f"{name}={value!r}: {bad} not among {list(choices)}")


def validate_parameters(
    notebook: str,
    namespace: MutableMapping[str, Any],
    *,
    ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    folder: Path | None = None,
) -> None:
    """Check and convert, in ``namespace`` (a notebook's ``globals()``), every parameter of
    ``notebook``'s ``parameters`` cell: its default's type, :data:`RANGES`, :data:`CHOICES`
    (``ranges``/``choices`` add or replace entries for this notebook).

    In a notebook: ``nbk.validate_parameters("07_lambda_mu_sweeps", globals())``.

    Raises:
        ValueError: one line per bad parameter, each naming it, its value and what is allowed.
    """
    bounds = {**RANGES, **(ranges or {})}
    allowed = {**CHOICES, **(choices or {})}
    errors = []
    for name, default in parameter_defaults(notebook, folder=folder).items():
        if name not in namespace:
            continue
        try:
            value = coerce(name, namespace[name], default)
            if name in bounds:
                _check_range(name, value, bounds[name])
            if name in allowed:
                _check_choice(name, value, allowed[name])
        except ValueError as err:
            errors.append(str(err))
            continue
        namespace[name] = value
    if namespace.get("pretrained") and namespace.get("profile") == "toy":
        errors.append(
            f"pretrained={namespace['pretrained']!r}: the toy profile runs the shipped "
            "micro-CLIP; pretrained applies to voc12 and coco14"
        )
    if errors:
        raise ValueError(f"{notebook}: invalid parameter(s):\n  " + "\n  ".join(errors))
