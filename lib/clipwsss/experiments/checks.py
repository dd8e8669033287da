"""Checks of notebook results that hold on any CPU: computed values against stored ones.

A ``# NBVAL_CHECK_OUTPUT`` cell used to print a table of rounded floats, which nbval compares
as text; a value near a rounding boundary (43.85) then flips with the BLAS kernel or the CPU.
Here the cell prints one verdict line instead. The values are compared with the ones stored
in ``notebooks/checks/<notebook>.json`` (written when the committed notebooks are
re-executed, ``scripts/execute_notebooks.py``) within a stated tolerance: 0.3 points for
mIoU, so a rounding-sized wobble passes and a real half-point regression fails. A share over
a small count (a confidence bin of 67 pixels, a rare class) moves by whole points when another
CPU moves a few contested pixels: its count is stored beside it and its tolerance follows the
count (:func:`rules`; the reasoning is in docs/checks.md).

Experiment layer: used by the notebooks; no torch.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

MIOU_TOLERANCE = 0.3  # mIoU / IoU points: a 0.5-point regression must fail
Z = 2.0  # binomial standard errors a share over a count may move (count_tolerance)
MIN_COUNT = 100  # a share over fewer items is shown but not checked
RECORD_ENV = "CLIPWSSS_RECORD_CHECKS"  # "1": store the computed values (re-execution)
LOG_ENV = "CLIPWSSS_CHECKS_LOG"  # a path: append every compared number (make perturb)
CHECKS_DIR = Path(__file__).resolve().parents[3] / "notebooks" / "checks"


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``ok`` False when a value left its tolerance."""

    ok: bool
    checked: bool  # False: no comparable stored run (other parameters), nothing compared
    line: str  # the short verdict the notebook prints
    failures: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.line


def flatten(values: Any) -> dict[str, Any]:
    """A Series, DataFrame or mapping as ``{"row / column": value}`` (plain Python values)."""
    if isinstance(values, pd.DataFrame):
        return flatten(values.stack(future_stack=True))
    if isinstance(values, pd.Series):
        return {_name(k): _plain(v) for k, v in values.items()}
    return {str(k): _plain(v) for k, v in dict(values).items()}


def _name(key: Any) -> str:
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _floor(name: str, tol: float | Mapping[str, float]) -> float:
    if isinstance(tol, Mapping):
        return float(next((t for key, t in tol.items() if key in name), MIOU_TOLERANCE))
    return float(tol)


def count_tolerance(percent: float, count: float) -> float:
    """``Z`` binomial standard errors (in points) of a percentage measured over ``count`` items.

    The share of a few dozen pixels moves by whole points when another CPU moves a handful
    of contested pixels; the standard error says by how much such a share is known at all.
    The share is shrunk towards 50 % (Agresti-Coull: two successes and two failures added),
    so a share of 0 or 100 % over a small count still gets a tolerance.
    """
    p = (percent / 100 * count + 2) / (count + 4)
    return Z * 100 * math.sqrt(p * (1 - p) / (count + 4))


@dataclass(frozen=True)
class Rule:
    """How one stored value is compared: its tolerance, or not at all (``checked`` False)."""

    tolerance: float
    checked: bool = True
    widened: bool = False  # True: the count made it wider than the floor


def rules(
    entry: Mapping[str, Any], counts_now: Mapping[str, float] | None = None
) -> dict[str, Rule]:
    """The :class:`Rule` of every value of a stored check ``entry``.

    A value without a count gets the floor (``entry["tolerance"]``: a float or per-name
    substrings). A value with a count n (``entry["counts"]``: the pixels or images a
    percentage is taken over) gets ``max(floor, count_tolerance(value, n))``, with n the
    smaller of the stored and the current count, and is not checked when the stored count is
    below :data:`MIN_COUNT`. A derived value (``entry["derived"]``: name -> the names it is
    computed from, e.g. a difference) gets ``max(floor, sum of its parts' count tolerances)``
    and is not checked when one of its parts is not. Whether a value is checked or widened
    depends on the stored run only, so the printed verdict is the same on every machine.
    """
    floor_of = entry["tolerance"]
    counts = entry.get("counts", {})
    now = counts_now or {}
    values = entry["values"]
    spread: dict[str, float] = {}  # count tolerance without the floor
    out: dict[str, Rule] = {}
    for key, value in values.items():
        floor = _floor(key, floor_of)
        if key not in counts or not isinstance(value, float) or math.isnan(value):
            out[key] = Rule(floor)
            continue
        stored_n = float(counts[key])
        n = min(stored_n, float(now.get(key, stored_n)))
        spread[key] = count_tolerance(value, max(n, 0.0))
        out[key] = Rule(max(floor, spread[key]), stored_n >= MIN_COUNT, spread[key] > floor)
    for key, parts in entry.get("derived", {}).items():
        if key not in values:
            raise KeyError(f"derived value '{key}' is not among the checked values")
        floor = _floor(key, floor_of)
        total = sum(spread.get(part, 0.0) for part in parts)
        checked = all(out[part].checked for part in parts if part in out)
        out[key] = Rule(max(floor, total), checked, total > floor)
    return out


def compare(
    stored: Mapping[str, Any],
    now: Mapping[str, Any],
    tol: float | Mapping[str, float] = MIOU_TOLERANCE,
    *,
    counts: Mapping[str, float] | None = None,
    counts_now: Mapping[str, float] | None = None,
    derived: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Names (with stored and computed value) that differ by more than their tolerance.

    Numbers compare within their :func:`rules` tolerance (``tol``: a float, or ``{substring
    of the name: tolerance}``, the first match wins, else 0.3; widened by ``counts`` and
    ``derived``); values not checked are skipped; NaN equals NaN; anything else must be equal.
    """
    entry = {
        "values": dict(stored),
        "tolerance": tol,
        "counts": dict(counts or {}),
        "derived": dict(derived or {}),
    }
    return _compare(entry, now, counts_now)


def _compare(
    entry: Mapping[str, Any], now: Mapping[str, Any], counts_now: Mapping[str, float] | None
) -> list[str]:
    stored = entry["values"]
    rule = rules(entry, counts_now)
    bad = [f"{k} missing" for k in stored if k not in now]
    bad += [f"{k} new" for k in now if k not in stored]
    for key in (k for k in stored if k in now):
        a, b = stored[key], now[key]
        if not rule[key].checked:
            continue
        if isinstance(a, float) and isinstance(b, float):
            same = (math.isnan(a) and math.isnan(b)) or abs(a - b) <= rule[key].tolerance
        else:
            same = a == b
        _log(key, a, b, rule[key])
        if not same:
            bad.append(f"{key}: stored {a!r}, now {b!r}")
    return bad


def _log(key: str, stored: Any, now: Any, rule: Rule) -> None:
    """Append one comparison to ``$CLIPWSSS_CHECKS_LOG`` (the perturbation report), if set."""
    path = os.environ.get(LOG_ENV)
    if not path or not isinstance(stored, float) or not isinstance(now, float):
        return
    row = {
        "check": _current.get("where", ""),
        "value": key,
        "stored": stored,
        "now": now,
        "tolerance": rule.tolerance,
        "widened": rule.widened,
    }
    with open(path, "a") as f:
        f.write(json.dumps(row, allow_nan=True) + "\n")


_current: dict[str, str] = {}


def check_values(
    notebook: str,
    name: str,
    values: Any,
    *,
    params: Mapping[str, Any],
    tol: float | Mapping[str, float] = MIOU_TOLERANCE,
    counts: Any = None,
    derived: Mapping[str, Sequence[str]] | None = None,
    folder: Path | None = None,
) -> CheckResult:
    """Compare ``values`` with the ones stored for ``notebook``'s check ``name``.

    Args:
        notebook: notebook name, e.g. "01_overview" (the file ``<folder>/<notebook>.json``).
        name: which check of the notebook (several cells may check).
        values: a Series, DataFrame or mapping of numbers (or strings, compared exactly).
        params: the notebook parameters the values depend on; a run with other parameters
            (another profile, seed, limit) is reported as not checked, never as failed.
        tol: the tolerance floor: absolute, or ``{substring of a value name: tolerance}``.
        counts: for values that are percentages over a count (pixels, images): the count,
            shaped as ``values`` (or a mapping by name). Their tolerance grows as the count
            shrinks, and below :data:`MIN_COUNT` they are shown but not checked (:func:`rules`).
        derived: value name -> the names it is computed from (a difference of two shares):
            its tolerance is the sum of theirs.
        folder: where the JSON lives (default ``notebooks/checks``).

    With ``CLIPWSSS_RECORD_CHECKS=1`` the values (and ``params``, counts) are stored first.
    """
    path = (folder or CHECKS_DIR) / f"{notebook}.json"
    now = flatten(values)
    now_counts = flatten(counts) if counts is not None else {}
    unknown = sorted(set(now_counts) - set(now)) + sorted(
        {p for k, ps in (derived or {}).items() for p in (k, *ps)} - set(now)
    )
    if unknown:
        raise KeyError(f"counts or derived name values that are not checked: {unknown}")
    params = json.loads(json.dumps({k: _plain(v) for k, v in params.items()}))  # tuples
    data = json.loads(path.read_text()) if path.is_file() else {"params": params, "checks": {}}
    if os.environ.get(RECORD_ENV) == "1":
        if data["params"] != params:
            data = {"params": params, "checks": {}}
        entry: dict[str, Any] = {"tolerance": tol, "values": now}
        if now_counts:
            entry["counts"] = now_counts
        if derived:
            entry["derived"] = {k: list(v) for k, v in derived.items()}
        data["checks"][name] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n")
    where = f"{path.parent.name}/{path.name}"
    if data["params"] != params:
        return CheckResult(
            True,
            False,
            f"not checked: {where} holds a run with other parameters ({data['params']})",
        )
    if name not in data["checks"]:
        return CheckResult(False, False, f"FAIL: no stored values '{name}' in {where}")
    entry = data["checks"][name]
    _current["where"] = f"{notebook}/{name}"
    bad = _compare(entry, now, now_counts)
    tol_text = _describe(entry)
    if bad:
        line = f"FAIL: {len(bad)} of {len(now)} values off the stored run ({tol_text}): "
        return CheckResult(False, True, line + "; ".join(bad[:5]), tuple(bad))
    if entry["tolerance"] == 0 and not entry.get("counts"):
        return CheckResult(True, True, f"OK: {len(now)} values equal to the stored ones in {where}")
    return CheckResult(True, True, f"OK: {len(now)} values within {tol_text} of {where}")


def _describe(entry: Mapping[str, Any]) -> str:
    tol = entry["tolerance"]
    if isinstance(tol, Mapping):
        text = ", ".join(f"{t:g} for '{k}'" for k, t in tol.items())
        text += f", else {MIOU_TOLERANCE:g}"
    else:
        text = f"{float(tol):g}"
    rule = rules(entry)
    widened = sum(r.widened and r.checked for r in rule.values())
    skipped = sum(not r.checked for r in rule.values())
    if widened:
        text += f"; wider for {widened} over small counts"
    if skipped:
        text += f"; {skipped} counted under {MIN_COUNT} shown, not checked"
    return text


# Parameters that change no checked value (where files go, processes, figure sizes).
IGNORED_PARAMETERS = frozenset({"results_dir", "workers", "crf_workers", "threads", "device"})


def parameters_of(
    notebook: str, namespace: Mapping[str, Any], *, folder: Path | None = None
) -> dict[str, Any]:
    """The values in ``namespace`` of the names that ``notebook``'s ``parameters`` cell sets.

    Names in :data:`IGNORED_PARAMETERS` and figure sizes (``n_figure*``, ``n_cam_rows``)
    are left out. The notebook is read from ``notebooks/`` (or ``folder``).
    """
    import ast

    import nbformat

    path = (folder or CHECKS_DIR.parent) / f"{notebook}.ipynb"
    cells = nbformat.read(path, as_version=4).cells
    cell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    names = [
        t.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    ]
    keep = [
        n
        for n in names
        if n not in IGNORED_PARAMETERS and not n.startswith("n_figure") and n != "n_cam_rows"
    ]
    return {n: namespace[n] for n in keep}


def check(
    notebook: str,
    name: str,
    values: Any,
    namespace: Mapping[str, Any],
    tol: float | Mapping[str, float] = MIOU_TOLERANCE,
    *,
    counts: Any = None,
    derived: Mapping[str, Sequence[str]] | None = None,
) -> CheckResult:
    """:func:`check_values` with the notebook's parameters taken from ``namespace``.

    In a notebook: ``print(checks.check("01_overview", "stages", table, globals()))``.
    """
    params = parameters_of(notebook, namespace)
    return check_values(
        notebook, name, values, params=params, tol=tol, counts=counts, derived=derived
    )
