"""Notebook 05's readings: on the toy profile the crane sentences say the demo cannot work and
point to the measurement; the co-occurrence counts decide how the world's rule is worded."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import synonym_fusion as rd


def _crane(toy: bool) -> str:
    return rd.crane_text(
        name_to_bird=1.0,
        name_to_synonyms=0.99,
        name_to_tower=0.6,
        sentence_to_bird=0.84,
        sentence_to_tower=0.36,
        iou_name_only=32.4,
        iou_synonyms=32.4,
        toy=toy,
    )


def test_toy_crane_text_says_the_demo_cannot_work_and_points_to_the_measurement():
    text = " ".join(_crane(toy=True).split())
    assert "cannot work on the toy profile, by construction" in text
    assert "at cosine 0.99 or more" in text
    assert "results/toy/synonym_cosines.csv" in text and "crane_cooccurrence.csv" in text
    assert "cannot work" not in _crane(toy=False)


def test_reading_words_intervals_and_extremes():
    text = rd.reading(
        name_only=43.0,
        synonyms=45.5,
        syn=Interval(2.5, 1.3, 3.5),
        person=(30.2, 37.0),
        gain={"aeroplane": 9.3, "horse": -3.0, "crane": 0.0},
        crane=_crane(toy=True),
        refined={"sentence": 41.9, "feature": 40.4, "cam": 40.5},
        others={"feature": Interval(-1.4, -2.7, 0.1), "cam": Interval(-1.4, -2.7, 0.1)},
        spread={"person": 8.2, "crane": 2.8},
    )
    text = " ".join(text.split())
    assert "largest gain is aeroplane (+9.3) and the largest loss horse (-3.0)" in text
    assert "feature -1.4 (95% interval -2.7 to +0.1, within the image noise)" in text
    assert "up to 8.2 points (person)" in text and "by construction" in text


def test_cannot_disambiguate_follows_the_counts():
    def text(both: int) -> str:
        return rd.cannot_disambiguate(
            scenes=2000,
            with_distractor=146,
            with_class=253,
            with_both=both,
            synonym_cosine=0.99,
            tower_cosine=0.6,
            iou_name_only=32.4,
            iou_synonyms=32.4,
        )

    assert "a tower crane only where there is no crane" in text(0)
    assert "only 5 scored scenes have a tower crane beside a crane" in text(5)
