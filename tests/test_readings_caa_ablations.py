"""The reading of notebook 19 names the best block range and words real losses as real."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import caa_ablations


def _text(early_values=(-30.0, -20.0)):
    loss = Interval(-19.0, -22.0, -16.0)
    return " ".join(
        caa_ablations.reading(
            profile="toy",
            initial=45.5,
            refined=41.9,
            caa=Interval(-3.6, -6.4, -0.4),
            paper_initial=58.6,
            paper_caa=70.8,
            default_layers=3,
            n_blocks=4,
            layers={
                "layers: last 1": Interval(4.3, 1.2, 6.9),
                "layers: last 2": Interval(-0.3, -3.0, 2.2),
                "layers: last 4": Interval(-2.6, -4.8, -0.2),
            },
            sinkhorn_off=loss,
            symmetrise_off=loss,
            both_off=Interval(-28.0, -30.6, -25.7),
            gradcam_blocks={
                f"GradCAM at block {i + 1}": Interval(v, v - 2, v + 2)
                for i, v in enumerate(early_values)
            },
        ).split()
    )


def test_reading_names_the_best_range_and_the_verdicts():
    text = _text()
    assert "the best (layers: last 1) changes refined mIoU by +4.3 (95% interval +1.2" in text
    assert "averaging all 4 blocks by -2.6 (95% interval -4.8 to -0.2, real)" in text
    assert "a change of -3.6 (95% interval -6.4 to -0.4, real)" in text
    assert "is the best of the 4" in text


def test_an_earlier_gradcam_block_that_does_better_is_said():
    assert "is not the best of the 4" in _text(early_values=(-30.0, 1.5))
    assert "+1.5 (95% interval -0.5 to +3.5, within the image noise)" in _text((-30.0, 1.5))
