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
    result = checks.check_values(
        "nb", "stages", STAGES + 5, params={**PARAMS, "seed": 1}, folder=stored
    )
    assert result.ok and not result.checked and result.line.startswith("not checked")


def test_per_name_tolerances_strings_and_nan(tmp_path, monkeypatch):
    values = {"sharpness a": 0.099, "mIoU a": 44.2, "prompt": "a {}.", "RN50": float("nan")}
    tol = {"sharpness": 0.003}
    monkeypatch.setenv(checks.RECORD_ENV, "1")
    checks.check_values("nb", "c", values, params=PARAMS, tol=tol, folder=tmp_path)
    monkeypatch.delenv(checks.RECORD_ENV)

    def run(**change):
        return checks.check_values(
            "nb", "c", {**values, **change}, params=PARAMS, folder=tmp_path
        ).ok

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


# A share over a count: the confidence bin [0.3, 0.5) of notebook 08 held 201 pixels on one
# machine (81 right: 40.3 %) and 203 on another (81 right: 39.9 %); "[0.1, 0.3)" is a bin of
# 40 pixels.
BINS = {"[0.1, 0.3)": 25.0, "[0.3, 0.5)": 100 * 81 / 201, "[0.99, 1]": 91.82, "mIoU": 52.06}
BIN_COUNTS = {"[0.1, 0.3)": 40.0, "[0.3, 0.5)": 201.0, "[0.99, 1]": 1_500_000.0}


def _store(tmp_path, monkeypatch, values, **kw):
    monkeypatch.setenv(checks.RECORD_ENV, "1")
    result = checks.check_values("nb", "c", values, params=PARAMS, folder=tmp_path, **kw)
    monkeypatch.delenv(checks.RECORD_ENV)
    assert result.ok
    return result


def test_count_tolerance_shrinks_with_the_count_and_covers_zero_shares():
    tols = [checks.count_tolerance(40.0, n) for n in (10, 100, 1_000, 100_000)]
    assert tols == sorted(tols, reverse=True) and tols[-1] < 0.5 < tols[0]
    assert checks.count_tolerance(100.0, 50) > 1.0  # 50 of 50 right still gets a tolerance
    assert checks.count_tolerance(0.0, 50) > 1.0


def test_two_pixels_more_on_another_cpu_pass_and_uncounted_shares_are_not_checked(
    tmp_path, monkeypatch
):
    _store(tmp_path, monkeypatch, BINS, counts=BIN_COUNTS)
    other_cpu = {**BINS, "[0.3, 0.5)": 100 * 81 / 203}
    result = checks.check_values(
        "nb",
        "c",
        other_cpu,
        params=PARAMS,
        folder=tmp_path,
        counts={**BIN_COUNTS, "[0.3, 0.5)": 203.0},
    )
    assert result.ok, result.line
    assert "wider for 1 over small counts" in result.line
    assert "1 counted under 100 shown, not checked" in result.line
    # A flat 0.3 points fails the same two pixels (the defect this rule mends).
    assert checks.compare(BINS, other_cpu, 0.3)
    # A share over 40 pixels is shown, not checked; a large-count share keeps the floor.
    assert checks.check_values(
        "nb", "c", {**BINS, "[0.1, 0.3)": 90.0}, params=PARAMS, folder=tmp_path, counts=BIN_COUNTS
    ).ok
    moved = {**BINS, "[0.99, 1]": BINS["[0.99, 1]"] + 0.5}
    assert not checks.check_values(
        "nb", "c", moved, params=PARAMS, folder=tmp_path, counts=BIN_COUNTS
    ).ok
    assert not checks.check_values(
        "nb", "c", {**BINS, "mIoU": 52.56}, params=PARAMS, folder=tmp_path, counts=BIN_COUNTS
    ).ok
    # The bin itself still catches a real change of its share.
    assert not checks.check_values(
        "nb", "c", {**BINS, "[0.3, 0.5)": 60.0}, params=PARAMS, folder=tmp_path, counts=BIN_COUNTS
    ).ok


def test_a_share_over_a_few_hundred_pixels_gets_a_wider_tolerance(tmp_path, monkeypatch):
    values, counts = {"bin": 40.0, "mIoU": 52.0}, {"bin": 400.0}
    _store(tmp_path, monkeypatch, values, counts=counts)
    rule = checks.rules(json.loads((tmp_path / "nb.json").read_text())["checks"]["c"])
    assert rule["bin"].checked and rule["bin"].widened and rule["bin"].tolerance > 4
    assert rule["mIoU"] == checks.Rule(checks.MIOU_TOLERANCE)

    def run(bin_value, bin_count=400.0):
        return checks.check_values(
            "nb",
            "c",
            {**values, "bin": bin_value},
            params=PARAMS,
            folder=tmp_path,
            counts={"bin": bin_count},
        )

    assert run(44.0).ok and run(36.0).ok
    assert not run(60.0).ok and not run(20.0).ok
    # The line depends on the stored run only, not on this machine's count.
    assert run(41.0).line == run(41.0, bin_count=150.0).line
    assert "wider for 1 over small counts" in run(41.0).line
    # A smaller count now widens the tolerance (the smaller of the two counts is used).
    assert run(47.0, bin_count=120.0).ok and not run(47.0).ok


def test_a_derived_difference_adds_its_parts_tolerances(tmp_path, monkeypatch):
    values = {"fixes": 73.0, "breaks": 20.0, "fixes - breaks": 53.0}
    counts = {"fixes": 500.0, "breaks": 500.0}
    derived = {"fixes - breaks": ("fixes", "breaks")}
    _store(tmp_path, monkeypatch, values, counts=counts, derived=derived)
    rule = checks.rules(json.loads((tmp_path / "nb.json").read_text())["checks"]["c"])
    both = checks.count_tolerance(73.0, 500) + checks.count_tolerance(20.0, 500)
    assert rule["fixes - breaks"].tolerance == pytest.approx(both)
    big = {k: 1e7 for k in counts}  # large counts: every tolerance is the floor again
    _store(tmp_path, monkeypatch, values, counts=big, derived=derived)
    rule = checks.rules(json.loads((tmp_path / "nb.json").read_text())["checks"]["c"])
    assert {r.tolerance for r in rule.values()} == {checks.MIOU_TOLERANCE}
    with pytest.raises(KeyError, match="not checked"):
        checks.check_values(
            "nb",
            "c",
            values,
            params=PARAMS,
            folder=tmp_path,
            derived={"fixes - breaks": ("fixes", "nope")},
        )


def test_every_comparison_can_be_logged(tmp_path, monkeypatch):
    _store(tmp_path, monkeypatch, BINS, counts=BIN_COUNTS)
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv(checks.LOG_ENV, str(log))
    checks.check_values("nb", "c", BINS, params=PARAMS, folder=tmp_path, counts=BIN_COUNTS)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["value"] for r in rows} == {"[0.3, 0.5)", "[0.99, 1]", "mIoU"}  # not the 40
    assert all(r["stored"] == r["now"] and r["check"] == "nb/c" for r in rows)
