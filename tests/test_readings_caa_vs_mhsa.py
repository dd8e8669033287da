"""The reading of 06 says a loss whose interval excludes 0 is real and one that straddles 0 is
noise, and mentions the multi-scale rows only when they were run."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import caa_vs_mhsa


def _flat(text: str) -> str:
    """The paragraph as nbk.reading renders it (lines joined)."""
    return " ".join(text.split())


MIOU = {
    "initial": 45.5,
    "initial + dCRF": 42.8,
    "+ MHSA": 34.8,
    "+ MHSA + dCRF": 41.5,
    "+ CAA": 41.9,
    "+ CAA + dCRF": 51.8,
}
SHARE = {
    "initial": Interval(5.0, 3.9, 6.1),
    "+ MHSA": Interval(22.7, 19.9, 25.5),
    "+ CAA": Interval(20.5, 17.8, 23.2),
}


def _text(caa_init, mass_gap, **kw):
    return _flat(
        caa_vs_mhsa.reading(
            profile="toy",
            miou=MIOU,
            caa_mhsa=Interval(7.0, 5.2, 8.8),
            caa_init=caa_init,
            crf_pair=Interval(10.4, 6.9, 13.5),
            crf_init=Interval(9.0, 4.1, 14.5),
            n_two_class=82,
            leak={**SHARE, "+ MHSA - + CAA": Interval(2.1, 0.3, 4.3)},
            mass={**SHARE, "+ MHSA - + CAA": mass_gap},
            **kw,
        )
    )


def test_a_real_loss_and_a_loss_within_noise_are_worded_apart():
    real = _text(Interval(-3.6, -6.4, -0.4), Interval(1.0, 0.2, 2.0))
    assert "CAA changes mIoU by -3.6 (95% interval -6.4 to -0.4, real)" in real
    noisy = _text(Interval(-1.0, -3.0, 1.0), Interval(1.0, 0.2, 2.0))
    assert "-1.0 (95% interval -3.0 to +1.0, within the image noise)" in noisy
    assert "82 two-class images" in real and "multi-scale" not in real
    assert "by mass the boxes do not keep" not in real
    worse = _text(Interval(-3.6, -6.4, -0.4), Interval(-1.5, -2.5, -0.5))
    assert "by mass the boxes do not keep the CAM off the other object" in worse


def test_multi_scale_rows_only_when_run():
    multi = {
        "initial": Interval(7.8, 6.4, 9.2),
        "+ CAA + dCRF": Interval(1.0, -1.0, 3.0),
        "initial + dCRF vs + CAA + dCRF": Interval(2.0, 0.5, 3.5),
    }
    text = _text(
        Interval(-3.6, -6.4, -0.4),
        Interval(1.0, 0.2, 2.0),
        scales=[0.75, 1.0],
        multi=multi,
        multi_initial=53.3,
    )
    assert "scales [0.75, 1.0]" in text and "to 53.3 %" in text


def test_attention_reading_names_each_seed():
    iv = Interval(1.0, 0.5, 1.5)
    text = _flat(
        caa_vs_mhsa.attention_reading(
            bg_obj=3.9,
            within=2.0,
            auc={"W_attn": 70, "A": 55, "A^t": 60, "A^t, last block": 66, "locality": 58},
            vs_locality={"A^t": iv, "A^t, last block": iv},
            other={"A^t": 52, "locality": 53},
            at_within=1.1,
            at_bg_obj=0.9,
            fresh_official={1: iv, 2: Interval(-1.0, -2.0, 0.5)},
            fresh_last1={1: iv},
            gain={0: Interval(-3.6, -6.4, -0.4)},
            model={"vision_layers": 4, "vision_width": 128, "steps": 4000, "pool_scenes": 20000},
            candidate={"bg_obj": 2.5, "auc": 60.5},
            candidate_gain=Interval(-2.0, -4.0, -0.1),
        )
    )
    assert "seed 1: +1.0" in text and "seed 2: -1.0 (95% interval -2.0 to +0.5, within" in text
    assert "seed 0: -3.6" in text and "20,000 captioned scenes" in text
