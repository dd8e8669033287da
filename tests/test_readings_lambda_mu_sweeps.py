"""The reading of 07 holds for any sweep: it takes values, words the Table S3 verdict from
where the paper's shares fall, and says when λ = 0 is as good as MHSA."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import lambda_mu_sweeps as lm

BINS = [
    lm.ConfidenceBin("[0.5, 0.8)", 0.73, 0.64, 0.82, 0.78),
    lm.ConfidenceBin("[0.8, 0.95)", 1.39, 1.24, 1.55, 1.43),
    lm.ConfidenceBin("[0.95, 1]", 97.86, 97.61, 98.10, 97.75),
]


def _text(zero_vs_mhsa, bins=BINS, **kw):
    values = dict(
        model="the toy model",
        best_lambda=0.5,
        best_miou=42.0,
        profile_lambda=0.4,
        profile_miou=41.9,
        zero_miou=36.7,
        best_vs_profile=Interval(0.2, -0.5, 0.9),
        profile_vs_zero=Interval(5.2, 3.5, 6.6),
        zero_vs_mhsa=zero_vs_mhsa,
        bins=bins,
        mu_low=0.0,
        mu_high=0.95,
        ignored_high=1.3,
        miou_mu_low=51.8,
        miou_mu_high=52.7,
        mu_gain=Interval(0.9, 0.7, 1.2),
    )
    values.update(kw)
    return " ".join(lm.reading(**values).split())  # as nbk.reading renders it


def test_table_s3_verdict_follows_the_intervals():
    assert lm.s3_verdict(BINS) == "the paper's share lies inside our 95% interval in every bin"
    shifted = [lm.ConfidenceBin(b.name, b.share, b.low, b.high, b.paper + 1) for b in BINS]
    assert "outside our 95% interval in every bin" in lm.s3_verdict(shifted)
    one = [BINS[0], *shifted[1:]]
    assert lm.s3_verdict(one).endswith("only in [0.5, 0.8)")


def test_lambda_zero_against_mhsa_and_any_sweep():
    real = _text(Interval(1.9, 1.0, 2.9))
    assert "yet it is not MHSA here" in real
    assert "Of the λ swept, the CAA mIoU peaks at λ = 0.5 (42.0 %)" in real
    same = _text(Interval(0.3, -0.4, 1.0), best_lambda=0.4, mu_low=0.5, mu_high=0.9)
    assert "as good as MHSA here" in same and "Raising μ from 0.5 to 0.9" in same
