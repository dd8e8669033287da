"""The reading of notebook 12 words CGL - CE, the mu sweep and the longer schedule from values."""

from __future__ import annotations

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import deeplab_cgl


def _reading(diffs: list[Interval]) -> str:
    return deeplab_cgl.reading(
        profile="toy",
        diffs=diffs,
        paper_diff=0.5,
        seed_range=2.6,
        iterations=300,
        toy_mean=25.6,
        paper_val=71.1,
        mu_sweep="SWEEP",
    )


def test_cgl_minus_ce_is_worded_by_sign_and_interval():
    mixed = _reading([Interval(-3.6, -5.9, -1.1), Interval(0.8, -2.1, 3.7)])
    assert "CGL did not beat CE" in mixed
    assert "-1.4 points on average over 2 seeds (per seed -3.6, +0.8)" in mixed
    assert "lies below 0 for 1 of 2 seeds" in mixed
    assert mixed.endswith("SWEEP")
    gain = _reading([Interval(1.0, 0.2, 1.8), Interval(0.5, -0.5, 1.5)])
    assert "CGL beat CE" in gain and "below 0 for 0 of 2 seeds" in gain


def test_mu_sweep_counts_real_differences_and_says_when_none_ran():
    none = deeplab_cgl.mu_sweep_text(
        profile="toy", sweep_seeds=[], others=[], reference=0.0, reference_is_lowest=False,
        cgl_runs=[], ignored_pct=0.0, paper_ignored_pct=0.0,
    )  # fmt: skip
    assert none.startswith("No mu sweep")
    text = deeplab_cgl.mu_sweep_text(
        profile="toy",
        sweep_seeds=[0],
        others=[("mu = 0.7", Interval(4.0, 1.7, 6.3)), ("mu = 0.8", Interval(-1.8, -3.9, 0.3))],
        reference=23.6,
        reference_is_lowest=True,
        cgl_runs=[23.6, 26.2],
        ignored_pct=2.01,
        paper_ignored_pct=2.25,
    )
    assert "against mu = 0.95" in text  # not every other mu scores above
    assert "1 of 2 image-bootstrap intervals exclude zero" in text
    assert "is the lowest of the CE and CGL runs" in text and "span 23.6-26.2" in text


def test_curve_text_runs_the_comparison_only_near_the_masks():
    kw = dict(step=400, run_iterations=600, finished=False, recipe_iterations=300, paper_diff=0.5)
    far = deeplab_cgl.curve_text(last={"ce": 27.7, "cgl": 28.4}, masks=50.8, **kw)
    assert "stopped at step 400 of 600" in far
    assert "still far below (by 22.4-23.1 points)" in far and "was not run" in far
    near = deeplab_cgl.curve_text(last={"ce": 48.0, "cgl": 49.5}, masks=50.8, **kw)
    assert "was not run" not in near and "long enough" in near


def test_curve_text_names_a_plateau_and_words_the_long_comparison():
    kw = dict(step=1500, run_iterations=1500, finished=True, recipe_iterations=300, paper_diff=0.5)
    flat = deeplab_cgl.curve_text(
        last={"ce": 37.6, "cgl": 38.0}, masks=50.8, late_gain=0.9, late_from=1000, **kw
    )
    assert "no longer learning" in flat and "gained at most 0.9 points" in flat
    rising = deeplab_cgl.curve_text(
        last={"ce": 37.6, "cgl": 38.0}, masks=50.8, late_gain=6.0, late_from=1000, **kw
    )
    assert "no longer learning" not in rising and "was not run" in rising
    diff = Interval(0.4, -0.8, 1.6)
    one = deeplab_cgl.curve_text(
        last={"ce": 37.6, "cgl": 38.0}, masks=50.8, long_diff=diff, seeds=1, **kw
    )
    assert "+0.4 (95% interval -0.8 to +1.6, within" in one and "not the seeds" in one
    two = deeplab_cgl.curve_text(
        last={"ce": 37.6, "cgl": 38.0}, masks=50.8, long_diff=diff, seeds=2, **kw
    )
    assert "2 training seeds" in two and "not the seeds" not in two
