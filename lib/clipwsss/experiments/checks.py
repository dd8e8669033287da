"""Checks of notebook results that hold on any CPU: computed values against stored ones.

A ``# NBVAL_CHECK_OUTPUT`` cell used to print a table of rounded floats, which nbval compares
as text; a value near a rounding boundary (43.85) then flips with the BLAS kernel or the CPU.
Here the cell prints one verdict line instead. The values are compared with the ones stored
in ``notebooks/checks/<notebook>.json`` (written when the committed notebooks are
re-executed, ``scripts/execute_notebooks.py``) within a stated tolerance: 0.3 points for
mIoU, so a rounding-sized wobble passes and a real half-point regression fails.

Experiment layer: used by the notebooks; no torch.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

MIOU_TOLERANCE = 0.3  # mIoU / IoU points: a 0.5-point regression must fail
RECORD_ENV = "CLIPWSSS_RECORD_CHECKS"  # "1": store the computed values (re-execution)
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


def _tolerance(name: str, tol: float | Mapping[str, float]) -> float:
    if isinstance(tol, Mapping):
        return float(next((t for key, t in tol.items() if key in name), MIOU_TOLERANCE))
    return float(tol)


def compare(stored: Mapping[str, Any], now: Mapping[str, Any],
            tol: float | Mapping[str, float] = MIOU_TOLERANCE) -> list[str]:  # fmt: skip
    """Names (with stored and computed value) that differ by more than their tolerance.

    Numbers compare within ``tol`` (a float, or ``{substring of the name: tolerance}``, the
    first match wins, else 0.3); NaN equals NaN; anything else must be equal.
    """
    bad = [f"{k} missing" for k in stored if k not in now]
    bad += [f"{k} new" for k in now if k not in stored]
    for key in (k for k in stored if k in now):
        a, b = stored[key], now[key]
        if isinstance(a, float) and isinstance(b, float):
            same = (math.isnan(a) and math.isnan(b)) or abs(a - b) <= _tolerance(key, tol)
        else:
            same = a == b
        if not same:
            bad.append(f"{key}: stored {a!r}, now {b!r}")
    return bad


def check_values(
    notebook: str,
    name: str,
    values: Any,
    *,
    params: Mapping[str, Any],
    tol: float | Mapping[str, float] = MIOU_TOLERANCE,
    folder: Path | None = None,
) -> CheckResult:
    """Compare ``values`` with the ones stored for ``notebook``'s check ``name``.

    Args:
        notebook: notebook name, e.g. "01_overview" (the file ``<folder>/<notebook>.json``).
        name: which check of the notebook (several cells may check).
        values: a Series, DataFrame or mapping of numbers (or strings, compared exactly).
        params: the notebook parameters the values depend on; a run with other parameters
            (another profile, seed, limit) is reported as not checked, never as failed.
        tol: absolute tolerance, or ``{substring of a value name: tolerance}``.
        folder: where the JSON lives (default ``notebooks/checks``).

    With ``CLIPWSSS_RECORD_CHECKS=1`` the values (and ``params``) are stored first.
    """
    path = (folder or CHECKS_DIR) / f"{notebook}.json"
    now = flatten(values)
    params = json.loads(json.dumps({k: _plain(v) for k, v in params.items()}))  # tuples
    data = json.loads(path.read_text()) if path.is_file() else {"params": params, "checks": {}}
    if os.environ.get(RECORD_ENV) == "1":
        if data["params"] != params:
            data = {"params": params, "checks": {}}
        data["checks"][name] = {"tolerance": tol, "values": now}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n")
    where = f"{path.parent.name}/{path.name}"
    if data["params"] != params:
        return CheckResult(True, False, f"not checked: {where} holds a run with other "
                                        f"parameters ({data['params']})")  # fmt: skip
    if name not in data["checks"]:
        return CheckResult(False, False, f"FAIL: no stored values '{name}' in {where}")
    entry = data["checks"][name]
    bad = compare(entry["values"], now, entry["tolerance"])
    tol_text = _describe(entry["tolerance"])
    if bad:
        line = f"FAIL: {len(bad)} of {len(now)} values off the stored run ({tol_text}): "
        return CheckResult(False, True, line + "; ".join(bad[:5]), tuple(bad))
    if entry["tolerance"] == 0:
        return CheckResult(True, True, f"OK: {len(now)} values equal to the stored ones in {where}")
    return CheckResult(True, True, f"OK: {len(now)} values within {tol_text} of {where}")


def _describe(tol: float | Mapping[str, float]) -> str:
    if isinstance(tol, Mapping):
        parts = ", ".join(f"{t:g} for '{k}'" for k, t in tol.items())
        return f"{parts}, else {MIOU_TOLERANCE:g}"
    return f"{float(tol):g}"


# Parameters that change no checked value (where files go, processes, figure sizes).
IGNORED_PARAMETERS = frozenset({"results_dir", "workers", "crf_workers", "threads", "device"})


def parameters_of(notebook: str, namespace: Mapping[str, Any],
                  *, folder: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """The values in ``namespace`` of the names that ``notebook``'s ``parameters`` cell sets.

    Names in :data:`IGNORED_PARAMETERS` and figure sizes (``n_figure*``, ``n_cam_rows``)
    are left out. The notebook is read from ``notebooks/`` (or ``folder``).
    """
    import ast

    import nbformat

    path = (folder or CHECKS_DIR.parent) / f"{notebook}.ipynb"
    cells = nbformat.read(path, as_version=4).cells
    cell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    names = [t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)]  # fmt: skip
    keep = [n for n in names if n not in IGNORED_PARAMETERS
            and not n.startswith("n_figure") and n != "n_cam_rows"]  # fmt: skip
    return {n: namespace[n] for n in keep}


def check(notebook: str, name: str, values: Any, namespace: Mapping[str, Any],
          tol: float | Mapping[str, float] = MIOU_TOLERANCE) -> CheckResult:  # fmt: skip
    """:func:`check_values` with the notebook's parameters taken from ``namespace``.

    In a notebook: ``print(checks.check("01_overview", "stages", table, globals()))``.
    """
    params = parameters_of(notebook, namespace)
    return check_values(notebook, name, values, params=params, tol=tol)
