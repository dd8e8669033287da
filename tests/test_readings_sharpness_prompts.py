"""Notebook 04's reading: a correlation is called real only when its intervals exclude zero."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import sharpness_prompts as rd


def test_correlation_verdicts_follow_the_intervals():
    wide = rd.correlation_verdict(
        Interval(0.61, -0.15, 0.89), Interval(0.71, -0.14, 0.9), significant=True
    )
    assert wide.startswith("not shown to be correlated") and "p-values" in wide
    pos = rd.correlation_verdict(Interval(0.6, 0.2, 0.9), Interval(0.7, 0.3, 0.9), significant=True)
    assert pos.startswith("*positively* correlated") and "the opposite of Fig. 3" in pos
    neg = rd.correlation_verdict(
        Interval(-0.6, -0.9, -0.2), Interval(-0.7, -0.9, -0.3), significant=False
    )
    assert neg.startswith("*negatively* correlated") and "(as Fig. 3" in neg
    one = rd.correlation_verdict(
        Interval(0.6, 0.2, 0.9), Interval(0.5, -0.1, 0.9), significant=False
    )
    assert one.startswith("correlated by one measure only")


def test_reading_quotes_the_prompts_and_ranks():
    text = rd.reading(
        profile="toy",
        n_prompts=12,
        r=Interval(0.61, -0.15, 0.89),
        rho=Interval(0.71, -0.14, 0.9),
        pearson_p=0.04,
        spearman_p=0.005,
        least={"prompt": "a good photo of a {}.", "mIoU": 44.1},
        best={"prompt": "a plushie {}.", "mIoU": 47.7},
        worst={"prompt": "a rendering of a {}.", "mIoU": 42.6},
        best_vs_worst=Interval(5.1, 3.9, 6.5),
        best_vs_adopted=None,
        least_vs_adopted=Interval(-1.4, -2.0, -0.8),
        rank_sharp=7,
        rank_miou=2,
        adopted_miou=45.5,
        adopted_sharpness=0.11,
        paper_sharpness=0.004,
    )
    text = " ".join(text.split())
    assert "Pearson p = 0.04, Spearman p < 0.01" in text
    assert "the best prompt against the adopted one: none (the same prompt)" in text
    assert '"a clean origami {}." ranks 7 of 12 by sharpness and 2 of 12 by mIoU' in text
    assert "is 28 times the paper's 0.004" in text and "run this notebook on `voc12`" in text
