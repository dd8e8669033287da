"""The reading templates of notebook 15 (WeakCLIP overview) word each interval by its side of
zero and say when the short run contradicts the stored recipe."""

from __future__ import annotations

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import weakclip_overview as wo

UP, DOWN, NOISE = Interval(16.1, 10.3, 20.0), Interval(-3.0, -5.0, -1.0), Interval(0.5, -1.0, 2.0)


def _reading(short: Interval, **kw) -> str:
    base = dict(
        short=short, steps=120, batch_size=8, seed=0, images=40, split="train", paper_pseudo=77.2
    )
    return wo.reading(**{**base, **kw})


def test_direction_follows_the_interval_not_the_point():
    assert [wo.direction(iv) for iv in (UP, DOWN, NOISE)] == [
        "above",
        "below",
        "indistinguishable from",
    ]


def test_short_run_opposite_to_the_stored_recipe_is_said_first():
    text = wo.short_vs_stored(DOWN, [UP, UP])
    assert "shows the opposite of the stored result" in text and "below CLIP-ES" in text
    agree = wo.short_vs_stored(UP, [UP, UP])
    assert "agrees with the stored result" in agree and "every training seed" in agree
    mixed = wo.short_vs_stored(UP, [UP, NOISE])
    assert "depending on the training seed" in mixed and "opposite" in mixed


def test_reading_words_a_real_gain_and_a_noise_difference_apart():
    up = _reading(UP)
    assert "above the CLIP-ES labels it was trained on: +16.1 (+10.3 to +20.0)" in up
    assert "interval excludes zero" in up
    noise = _reading(NOISE)
    assert "not distinguishable from the CLIP-ES labels" in noise
    assert "interval includes zero" in noise
    assert "below the CLIP-ES labels" in _reading(DOWN)
    assert "77.2 % comes from MCTformer seeds" in up and "ViT-B/16" not in up


def test_reading_of_the_full_recipe_counts_seeds_on_each_side():
    both = _reading(UP, full_train={"0": UP, "1": UP}, full_val={"0": NOISE, "1": NOISE},
                    full_iterations=300)  # fmt: skip
    assert "bears out the paper's claim that WeakCLIP improves its seeds" in both
    assert "2 of 2 intervals lie above zero, 0 below" in both
    assert "within the noise: every interval includes zero" in both
    assert "refines the seeds of its own training images" in both
    none = _reading(UP, full_train={"0": DOWN}, full_val={"0": DOWN}, full_iterations=300)
    assert "does not bear out the paper's claim" in none
    assert "below zero in 1 of 1" in none and "refines the seeds" not in none
    some = _reading(UP, full_train={"0": UP, "1": NOISE}, full_val={"0": UP}, full_iterations=3)
    assert "only in some training seeds" in some


def test_reading_of_the_counts_compares_at_the_paper_precision():
    grads = {"receive a gradient": 17_033_237, "receive a gradient, base lr": 9_945_365,
             "dead co-attention layers": 4}  # fmt: skip
    same = _reading(UP, counts=(21.241, 171.465, 12.388), paper_counts=(21.2, 171.5, 12.4),
                    grads=grads)  # fmt: skip
    assert "equal to the paper's 21.2M / 171.5M (12.4 %)" in same
    assert "17.0M receive a gradient (4 co-attention layers" in same
    other = _reading(UP, counts=(25.0, 171.465, 14.6), paper_counts=(21.2, 171.5, 12.4),
                     grads=grads)  # fmt: skip
    assert "unlike the paper's" in other
