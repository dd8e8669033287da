"""The reading of notebook 13 words WeCLIP against CLIP-ES from the intervals' sides of zero."""

from __future__ import annotations

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import weclip_overview


def _reading(train: list[Interval], **kw) -> str:
    names = [f"WeCLIP seed {s}" for s in range(len(train))]
    args = dict(
        profile="toy",
        recipe_steps=300,
        rfm_step=92,
        n_train=200,
        n_val=200,
        train_diffs=dict(zip(names, train, strict=True)),
        val_diffs=dict(zip(names, train, strict=True)),
        paper_weclip=78.2,
        paper_clipes=75.0,
        caa_train=41.3,
        we_train=[38.2, 34.5][: len(train)],
        we_val=[38.2, 33.2][: len(train)],
        recipe_share_pct=1.0,
        n_blocks=4,
        old_numerics=False,
        notebook_run="RUN",
    )
    return weclip_overview.reading(**{**args, **kw})


def test_supplementary_table_1_verdict_follows_the_intervals():
    below = _reading([Interval(-12.7, -18.6, -8.5), Interval(-16.4, -22.1, -11.8)])
    assert "does not bear out supplementary Table 1" in below
    assert "WeCLIP seed 0 -12.7 (-18.6 to -8.5)" in below
    assert "+3.2 points on VOC train (78.2 vs 75.0)" in below
    assert "span 3.7 points on toy train" in below and below.endswith("RUN")
    above = _reading([Interval(2.0, 0.5, 3.5), Interval(1.0, 0.1, 2.0)])
    assert "agrees in sign with supplementary Table 1" in above
    mixed = _reading([Interval(-2.0, -3.0, -1.0), Interval(0.5, -1.0, 2.0)])
    assert "does not settle supplementary Table 1: of 2 seeds, 1 lie below and 0 above" in mixed
    one = _reading([Interval(-2.0, -3.0, -1.0)])
    assert "one training seed" in one and "training noise is not measured" in one


def test_notebook_run_and_rfm_texts():
    run = weclip_overview.notebook_run_text(
        steps=20, batch_size=2, recipe_steps=300, n_images=200, weclip=8.9, clip_es=41.8,
        diff=Interval(-32.9, -35.7, -30.8), loss_first=4.75, loss_last=4.44,
    )  # fmt: skip
    assert "-32.9 (-35.7 to -30.8) whose interval excludes zero" in run
    assert "went down from 4.75 to 4.44" in run
    noisy = weclip_overview.notebook_run_text(
        steps=20, batch_size=2, recipe_steps=300, n_images=200, weclip=40.0, clip_es=41.0,
        diff=Interval(-1.0, -2.0, 0.5), loss_first=4.0, loss_last=4.5,
    )  # fmt: skip
    assert "includes zero" in noisy and "went up" in noisy
    rfm = weclip_overview.rfm_labels_text({"small decoder": Interval(-12.7, -18.7, -7.0)})
    assert "small decoder: -12.7 (95% interval -18.7 to -7.0, real)" in rfm
