"""The reading template of notebook 16 (WeakCLIP ablations): a variant whose interval excludes
zero is named with its side, noise is called noise, and the resolution sentence compares the
toy interval widths with the paper's differences."""

from __future__ import annotations

import math

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import weakclip_ablations as wa

PAPER = {"N 2": -0.4, "N 16": -0.3, "init 1": -0.1, "corrected": math.nan}


def _reading(variants: dict[str, Interval], **kw) -> str:
    base = dict(
        variants=variants,
        paper=PAPER,
        ours={"default": 68.5, **{v: 68.5 + iv.value for v, iv in variants.items()}},
        labels_miou=52.8,
        labels=Interval(-15.6, -20.9, -8.1),
        n_prompts=8,
        residual_init=0.1,
        train_seed=0,
        iterations=150,
        images=100,
        old_numerics=False,
    )
    return wa.reading(**{**base, **kw})


NOISE = {
    "N 2": Interval(-2.9, -7.2, 0.7),
    "N 16": Interval(1.8, -1.1, 4.3),
    "init 1": Interval(-0.1, -0.4, 0.1),
    "corrected": Interval(-0.0, -1.2, 1.1),
}


def test_noise_everywhere_is_worded_as_neither_confirming_nor_contradicting():
    text = _reading(NOISE)
    assert "For every one of the 4 toy variants" in text
    assert "neither confirms nor contradicts" in text
    assert "not distinguishable from the faithful default" in text
    assert "All variants are above the CLIP-ES labels" in text and "excludes zero" in text


def test_a_real_loss_is_named_below_with_its_interval():
    text = _reading({**NOISE, "N 2": Interval(-4.0, -7.2, -0.7)})
    assert "1 of 4 toy variants differ from the default (N = 8, init 0.1)" in text
    assert "N 2 below it, -4.0 (-7.2 to -0.7)" in text
    worse = _reading({**NOISE, "corrected": Interval(-2.0, -3.0, -1.0)})
    assert "is worse than the faithful default" in worse
    better = _reading({**NOISE, "corrected": Interval(2.0, 1.0, 3.0)})
    assert "is better than the faithful default" in better and "corrected above it" in better


def test_resolution_compares_interval_widths_with_the_paper():
    wide = wa.resolution({"N 2": NOISE["N 2"], "N 16": NOISE["N 16"]}, PAPER, "N")
    assert "5.4 to 7.9 points wide" in wide and "cannot resolve" in wide
    narrow = wa.resolution({"N 2": Interval(0.0, -0.1, 0.1)}, PAPER, "N")
    assert "narrower than the paper's differences" in narrow
    barely = wa.resolution({"init 1": Interval(0.0, -0.1, 0.05)}, {"init 1": -0.1}, "x")
    assert "about the size of the paper's differences" in barely


def test_full_recipe_and_labels_sentences():
    text = _reading(NOISE, ours={"default": 50.0, "N 2": 51.0}, full_train=[
        Interval(16.1, 10.3, 20.0), Interval(16.9, 11.4, 20.7)], full_iterations=300)  # fmt: skip
    assert "All variants stay below the CLIP-ES labels" in text
    assert "in every one of its 2 training seeds" in text
    assert "shortfall here being one of training budget" in text
    assert "made with the same CLIP-ES numerics" in text
    mixed = _reading(NOISE, full_train=[Interval(1.0, 0.5, 2.0), Interval(-1.0, -2.0, -0.5)],
                     full_iterations=300, full_old=True)  # fmt: skip
    assert "in 1 of its 2 training seeds (below in 1)" in mixed and "other CLIP-ES" in mixed
    assert "No toy ablation table for profile voc12" in wa.no_table("voc12")


def test_component_rows_are_read_with_their_side_and_the_untrained_adapter():
    assert wa.components(NOISE, 0.0) == ""
    rows = {**NOISE, "no adapter": Interval(-3.0, -5.0, -1.0), "no co-attention": Interval(
        0.2, -0.5, 0.9)}  # fmt: skip
    text = wa.components(rows, 0.0)
    assert "without the adapter the model is worse than the default, -3.0 (-5.0 to -1.0)" in text
    assert "without the co-attention the model is not distinguishable from the default" in text
    assert "never trains its adapter" in text and "boundary" not in text
    gain = wa.components({"no boundary loss": Interval(-2.0, -3.0, -1.0)}, 0.0)
    assert "without the boundary loss the model is worse than the default" in gain
    assert "adapter" not in gain
    assert "never trains" not in wa.components(rows, 1.0)
    assert "Switching one component off" in _reading(rows, adapter_lr_mult=0.0)
    assert "Switching one component off" not in _reading(NOISE)
