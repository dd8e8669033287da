"""The reading of 10 explains the power t by a negative eigenvalue only when one dominates,
and turns "k = 1 minus k on GT" into how much the ground-truth choice flatters."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import official_vs_paper as ovp


def _flat(text: str) -> str:
    """The paragraph as nbk.reading renders it (lines joined)."""
    return " ".join(text.split())


def test_eigen_text_follows_the_eigenvalues():
    assert ovp.eigen_text(-0.09, 0.17, [0.53, 0.70, 0.55]).startswith("Not here")
    assert "t = 2 stays closest" in ovp.eigen_text(-0.09, 0.17, [0.53, 0.70, 0.55])
    assert "yet a power inverts" in ovp.eigen_text(-0.09, 0.17, [-0.2, 0.70, 0.55])
    assert ovp.eigen_text(-0.4, 0.17, [-0.2, 0.70, -0.1]).startswith("It can")


def test_flipped_and_reading():
    assert ovp.flipped(Interval(-5.8, -6.9, -4.8)) == Interval(5.8, 4.8, 6.9)
    assert (
        ovp.flipped(Interval(0.0, 0.0, 0.0)).text() == "+0.0 (95% interval +0.0 to +0.0, "
        "within the image noise)"
    )
    iv = Interval(6.9, 4.2, 9.4)
    text = _flat(
        ovp.reading(
            profile="toy",
            n_images=200,
            powers={1: Interval(-15.4, -17.7, -13.1), 3: Interval(-14.1, -16.2, -11.9)},
            eigen="E.",
            boxes=iv,
            boxes_miou=48.8,
            initial_miou=45.5,
            box_split={"output": iv, "draw, sources": iv, "draw, both": iv},
            crf_image=Interval(-0.1, -0.2, 0.0),
            loop_delta=0.0,
            max_diff=3.6e-7,
            exponent={"initial": Interval(-5.8, -6.9, -4.8), "refined": Interval(0.0, 0.0, 0.0)},
            confidence=Interval(22.5, 14.8, 29.6),
            ignored={"official": 1.3, "paper": 93.0},
        )
    )
    assert "with t = 1 or t = 3 instead" in text and "-15.4 (95% interval -17.7 to -13.1" in text
    assert "flatters the initial CAMs by +5.8 (95% interval +4.8 to +6.9, real)" in text
    assert "ignores 93 % of the pixels, against 1.3 %" in text
