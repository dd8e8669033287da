"""The reading of notebook 20 calls a correlation real only when its interval excludes zero."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import failure_cases

BASE = dict(
    profile="toy",
    n_images=200,
    miou=41.9,
    size=Interval(0.37, 0.23, 0.48),
    n_small=50,
    small_miou=38.1,
    rest_miou=43.8,
    gap=Interval(-5.7, -11.0, 0.5),
)


def _text(**kw) -> str:
    return " ".join(failure_cases.reading(**BASE, **kw).split())


def test_real_profile_reading_has_size_only():
    text = _text()
    assert "rho +0.37 (95% interval +0.23 to +0.48, real)" in text
    assert "a gap of -5.7 (95% interval -11.0 to +0.5, within the image noise)" in text
    assert "Occlusion" not in text


def test_the_verdict_follows_the_intervals():
    occ, objects = Interval(-0.28, -0.41, -0.14), Interval(-0.44, -0.55, -0.32)
    noisy = _text(occlusion=occ, objects=objects, one_object_size=Interval(0.18, -0.05, 0.39))
    assert "size alone gives rho +0.18 (95% interval -0.05 to +0.39, within the image noise)" in (
        noisy
    )
    assert "does not fully bear out" in noisy
    real = _text(occlusion=occ, objects=objects, one_object_size=Interval(0.2, 0.05, 0.39))
    assert "So the toy world bears out the paper's reading" in real
