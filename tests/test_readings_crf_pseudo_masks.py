"""The reading of 08 compares the CRF's gain with the paper's through our interval and words
the fixed/broken balance and the Eq. 8 verdict from the values."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import crf_pseudo_masks as cp


def _flat(text: str) -> str:
    """The paragraph as nbk.reading renders it (lines joined)."""
    return " ".join(text.split())


def test_gain_against_the_paper():
    assert cp.gain_comparison(Interval(10.0, 7.8, 13.1), 4.2).startswith("more than")
    assert cp.gain_comparison(Interval(1.0, 0.2, 2.0), 4.2).startswith("less than")
    assert cp.gain_comparison(Interval(4.0, 2.0, 6.0), 4.2).startswith("as the paper's")
    assert "not shown to help" in cp.gain_comparison(Interval(1.0, -1.0, 3.0), 4.2)


def _text(net, ignored_paper):
    iv = Interval(50.0, 45.0, 55.0)
    changes = cp.CrfChanges(iv, iv, iv, Interval(68.6, 63.3, 73.4), net)
    masks = cp.MaskSide(iv, iv, "[0.99, 1]", 96.4, 91.8, 6, 7, "bus", 6.8)
    return _flat(
        cp.reading(
            model="m",
            seed=Interval(41.9, 39.7, 44.6),
            crf=Interval(51.8, 48.2, 56.8),
            gain=Interval(10.0, 7.8, 13.1),
            paper={"seed": 70.8, "dcrf": 75.0},
            changes=changes,
            masks=masks,
            threshold=0.95,
            ignored={"official": 1.3, "paper": ignored_paper},
            miou_paper=75.3,
            low_mu=0.7,
            ignored_paper_low_mu=37.8,
        )
    )


def test_balance_and_eq8_verdict():
    text = _text(Interval(52.9, 42.9, 62.0), 93.0)
    assert "fixes more pixels than it breaks" in text and "over-confident against" in text
    assert "not Eq. 8 as written, is what makes μ = 0.95 usable" in text
    assert "seed is below the paper's 70.8" in text
    other = _text(Interval(-1.0, -4.0, 2.0), 20.0)
    assert "about as many pixels as it breaks" in other
    assert "either confidence leaves a usable mask at μ = 0.95" in other
