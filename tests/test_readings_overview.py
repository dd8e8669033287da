"""Notebook 01's reading: CAA worded by its interval, the paper's gain named only on a loss."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import overview

STAGES = {
    "all background": 7.7,
    "largest class everywhere": 10.4,
    "ceiling": 83.6,
    "initial CAM": 45.5,
    "+ CAA": 41.9,
    "+ CAA + dCRF": 51.8,
    "pseudo-mask": 52.7,
    "initial CAM, k on GT": 51.3,
}


def _text(caa: Interval) -> str:
    text = overview.reading(
        profile="toy",
        n_images=200,
        stages=STAGES,
        caa=caa,
        crf=Interval(10.0, 7.8, 13.1),
        helped=("boat", 35.8, 45.9),
        hurt=("sheep", 55.7, 39.1),
        kept=98.7,
        threshold=0.95,
        k_on_gt="k = 3",
        bg_exponent=1.0,
    )
    return " ".join(text.split())


def test_a_real_loss_names_the_paper_gain():
    text = _text(Interval(-3.6, -6.4, -0.4))
    assert "CAA changes the mIoU by -3.6 (95% interval -6.4 to -0.4, real) (the paper gains" in text
    assert "it helps boat (35.8 → 45.9) and hurts sheep (55.7 → 39.1)" in text
    assert "51.3 % with k = 3 chosen on the labels against 45.5 % at the fixed k = 1" in text


def test_a_gain_within_noise_is_worded_as_noise():
    text = _text(Interval(1.0, -0.5, 2.5))
    assert "+1.0 (95% interval -0.5 to +2.5, within the image noise)" in text
    assert "the paper gains" not in text
