"""The reading of notebook 14 counts the ablations whose interval excludes zero, compares their
sign with the paper's, and sets them against the training noise of the default seeds."""

from __future__ import annotations

import math

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import weclip_ablations


def _row(variant, seed, diff, low, high, paper=math.nan):
    return {"variant": variant, "seed": seed, "diff": diff, "diff low": low, "diff high": high,
            "paper diff": paper}  # fmt: skip


def test_switches_scales_and_noise_are_worded_from_the_rows():
    switches = [
        _row("aff_weight=0", 0, -11.2, -13.6, -8.7, -1.6),
        _row("aff_target=prediction", 0, 4.2, 2.1, 6.3, -0.3),
        _row("first_block=3", 0, -1.7, -4.2, 0.7),
    ]
    scales = [_row("scales (1.0,)", 0, 1.0, 0.2, 1.8), _row("scales (0.5, 1.0)", 1, -2.0, -3, -1)]
    text = weclip_ablations.reading(
        profile="toy", switches=switches, scales=scales, default_by_seed={0: 40.0, 1: 35.0},
        old_numerics=False,
    )  # fmt: skip
    assert "2 of the 3 switches have an interval that excludes zero" in text
    assert "in the paper's direction: aff_weight=0)" in text  # +4.2 against the paper's -0.3
    assert "first_block=3 -1.7 (-4.2 to +0.7, includes zero)." in text
    assert "for seed 0, 0 of the 1 other sets score below" in text and "1 above ((1.0,))" in text
    assert "so for seed 0 the default {0.75, 1.0} is not the best set" in text
    assert "differ by 5.0 points" in text and "1 of the 4 differences" in text
    one = weclip_ablations.reading(
        profile="toy", switches=switches[2:], scales=scales[1:], default_by_seed={0: 40.0},
        old_numerics=True,
    )  # fmt: skip
    assert "0 of the 1 switches" in one and "no set beats the default" in one
    assert "training noise is not measured" in one and "previous numerics" in one


def test_rfm_text_calls_only_an_interval_excluding_zero_real():
    text = weclip_ablations.rfm_text(
        n_seeds=2, steps=[300], schedule=300, on=Interval(37.3, 34.9, 39.7),
        off=Interval(37.8, 35.2, 40.3), on_minus_off=Interval(-0.5, -2.1, 1.2), seed_range=2.2,
        labels_diff=Interval(-12.7, -18.7, -7.0), caa_labels=48.1, recipe_seeds={0: 38.2, 1: 33.2},
        n_val=200, clip_es_caa=41.9,
    )  # fmt: skip
    assert "on minus off is -0.5 (95% interval -2.1 to +1.2, within the image noise)" in text
    assert "-12.7 (95% interval -18.7 to -7.0, real)" in text
    assert "scored 38.2, 33.2 on the same 200 val images" in text and "seeds 0 and 1" in text
