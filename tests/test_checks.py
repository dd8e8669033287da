"""Notebook checks: a rounding-sized wobble passes, a half-point regression fails."""

import json

import numpy as np
import pandas as pd
import pytest

from clipwsss.experiments import checks

PARAMS = {"profile": "toy", "seed": 0, "limit": 0}
# 43.85 sits on a rounding boundary: 43.8 or 43.9 at one decimal, depending on the CPU.
STAGES = pd.Series({"initial CAM": 44.04, "+ CAA": 41.77, "+ MHSA + dCRF": 43.85})


@pytest.fixture()
def stored(tmp_path, monkeypatch):
    monkeypatch.setenv(checks.RECORD_ENV, "1")
    result = checks.check_values("nb", "stages", STAGES, params=PARAMS, folder=tmp_path)
    monkeypatch.delenv(checks.RECORD_ENV)
    assert result.ok and result.checked
    return tmp_path


def test_recording_writes_the_values_and_params(stored):
    data = json.loads((stored / "nb.json").read_text())
    assert data["params"] == PARAMS
    assert data["checks"]["stages"]["values"]["+ MHSA + dCRF"] == pytest.approx(43.85)
    assert data["checks"]["stages"]["tolerance"] == checks.MIOU_TOLERANCE


@pytest.mark.parametrize("seed", range(5))
def test_rounding_sized_perturbation_passes_and_prints_the_same_line(stored, seed):
    wobble = np.random.default_rng(seed).uniform(-0.06, 0.06, len(STAGES))
    result = checks.check_values("nb", "stages", STAGES + wobble, params=PARAMS, folder=stored)
    assert result.ok, result.line
    # The printed verdict is what nbval compares: it must not depend on the wobble.
    again = checks.check_values("nb", "stages", STAGES, params=PARAMS, folder=stored)
    assert result.line == again.line and result.line.startswith("OK: 3 values within 0.3")
    assert STAGES.round(1)["+ MHSA + dCRF"] != (STAGES + 0.06).round(1)["+ MHSA + dCRF"]


@pytest.mark.parametrize("shift", [0.5, -0.5, 3.0])
def test_half_point_regression_fails(stored, shift):
    moved = STAGES.copy()
    moved["+ CAA"] += shift
    result = checks.check_values("nb", "stages", moved, params=PARAMS, folder=stored)
    assert not result.ok and result.checked
    assert result.line.startswith("FAIL: 1 of 3") and "+ CAA" in result.line


def test_missing_and_new_values_fail(stored):
    fewer = STAGES.drop("+ CAA")
    assert not checks.check_values("nb", "stages", fewer, params=PARAMS, folder=stored).ok
    more = pd.concat([STAGES, pd.Series({"extra": 1.0})])
    assert not checks.check_values("nb", "stages", more, params=PARAMS, folder=stored).ok
    assert not checks.check_values("nb", "other", STAGES, params=PARAMS, folder=stored).ok


def test_other_parameters_are_not_checked_rather_than_failed(stored):
    result = checks.check_values("nb", "stages", STAGES + 5, params={**PARAMS, "seed": 1},
                                 folder=stored)  # fmt: skip
    assert result.ok and not result.checked and result.line.startswith("not checked")


def test_per_name_tolerances_strings_and_nan(tmp_path, monkeypatch):
    values = {"sharpness a": 0.099, "mIoU a": 44.2, "prompt": "a {}.", "RN50": float("nan")}
    tol = {"sharpness": 0.003}
    monkeypatch.setenv(checks.RECORD_ENV, "1")
    checks.check_values("nb", "c", values, params=PARAMS, tol=tol, folder=tmp_path)
    monkeypatch.delenv(checks.RECORD_ENV)

    def run(**change):
        return checks.check_values("nb", "c", {**values, **change}, params=PARAMS,
                                   folder=tmp_path).ok  # fmt: skip

    assert run(**{"sharpness a": 0.101, "mIoU a": 44.4})
    assert not run(**{"sharpness a": 0.104})
    assert not run(prompt="a photo of {}.")
    assert not run(RN50=38.2)


def test_flatten_frames():
    frame = pd.DataFrame({"initial": [44.2, 41.6]}, index=["avg", "cls"])
    assert checks.flatten(frame) == {"avg / initial": 44.2, "cls / initial": 41.6}
    assert checks.flatten({"n": np.int64(3)}) == {"n": 3.0}
    multi = frame.set_index(pd.MultiIndex.from_tuples([("single", True), ("multi", False)]))
    assert checks.flatten(multi) == {
        "single / True / initial": 44.2,
        "multi / False / initial": 41.6,
    }
