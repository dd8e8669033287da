"""Notebook 03's reading: the sharpness order and the intervals come from the values."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import pooling_backbone


def _text(avg_sharpness: float, d_caa: Interval) -> str:
    text = pooling_backbone.reading(
        profile="toy",
        avg={"initial": 45.5, "refined": 41.9, "sharpness": avg_sharpness},
        cls={"initial": 42.7, "refined": 40.0, "sharpness": 0.076},
        d_init=Interval(2.8, 0.1, 4.9),
        d_caa=d_caa,
    )
    return " ".join(text.split())


def test_sharper_avg_and_caa_within_noise():
    text = _text(0.110, Interval(1.9, -0.6, 4.0))
    assert "initial CAMs 45.5 vs 42.7 % (+2.8 (95% interval +0.1 to +4.9, real)" in text
    assert "after CAA 41.9 vs 40.0 % (+1.9 (95% interval -0.6 to +4.0, within the image" in text
    assert "avg-token pooling is sharper than the class token (0.110 vs 0.076" in text


def test_flatter_avg_and_missing_pooling():
    assert "is flatter than the class token (0.004 vs 0.076" in _text(0.004, Interval(1, 0.5, 2))
    missing = pooling_backbone.reading(profile="toy", avg=None, cls=None, d_init=None, d_caa=None)
    assert missing.startswith("Both poolings are needed")
