"""The readings of notebook 18 word a difference by its interval (real or noise)."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import prompt_ablations

NOISE = Interval(0.3, -0.1, 0.7)
ENSEMBLE = Interval(-0.3, -0.8, 0.2)


def _text(unrelated: Interval, ensemble: Interval = ENSEMBLE) -> str:
    return " ".join(
        prompt_ablations.reading(
            profile="toy",
            ensemble=ensemble,
            sharpness_ensemble=0.12,
            sharpness_official=0.11,
            customised=NOISE,
            alternative=NOISE,
            person_iou=37.0,
            no_background=Interval(-13.9, -16.5, -11.7),
            paper_no_background=-5.3,
            background_sizes=[1, 4],
            subsets=[Interval(-1.1, -2.1, -0.2), NOISE],
            n_background=19,
            voc=NOISE,
            unrelated=unrelated,
        ).split()
    )


def test_unrelated_words_that_do_as_well_are_not_called_worse():
    text = _text(Interval(1.0, 0.2, 1.7))
    assert "Unrelated words do as well as the class-related set" in text
    assert "the unrelated words by +1.0 (95% interval +0.2 to +1.7, real)" in text
    assert "is not borne out" in text
    assert "does not measurably change that class" in text


def test_a_real_loss_of_unrelated_words_and_of_the_ensemble_is_worded_as_one():
    text = _text(Interval(-2.0, -3.0, -1.0), ensemble=Interval(-1.0, -1.5, -0.5))
    assert "Unrelated words do worse than the class-related set" in text
    assert "conjecture (an ensemble sharpens scores and hurts) is borne out" in text
    assert "(paper: -5.3)" in text


def test_background_words_reading_lists_only_real_differences():
    text = " ".join(
        prompt_ablations.background_words_reading(
            {
                "boat": Interval(-5.5, -9.4, -1.4),
                "crane": Interval(1.2, -0.0, 2.8),
                "horse": Interval(2.0, 0.5, 3.5),
            },
            0.97,
            0.99,
            "brick",
        ).split()
    )
    assert "beats the unrelated words on horse (+2.0) and loses on boat (-5.5)" in text
    assert "crane" not in text
    assert 'cosine 0.97-0.99 to one toy background word, "brick"' in text
