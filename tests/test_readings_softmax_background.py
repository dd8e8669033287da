"""Notebook 02's readings: the no-softmax rows worded by their values, intervals by their side
of zero, and the per-class view of class-related words."""

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import softmax_background as rd

VARIANTS = [rd.NO_SOFTMAX_CLASSES, rd.NO_SOFTMAX_BG, rd.SOFTMAX_CLASSES, rd.SOFTMAX_BG]
IOU = {
    rd.NO_SOFTMAX_CLASSES: {"boat": 26.3, "train": 26.8},
    rd.NO_SOFTMAX_BG: {"boat": 26.3, "train": 26.8},
    rd.SOFTMAX_CLASSES: {"boat": 24.2, "train": 9.0},
    rd.SOFTMAX_BG: {"boat": 35.8, "train": 56.8},
}


def _text(miou, bg):
    text = rd.reading(
        n_background=19,
        miou=miou,
        iou=IOU,
        detail=["boat", "train"],
        bg=bg,
        plain=Interval(6.4, 4.1, 8.7),
        middle=Interval(-7.5, -9.6, -5.5),
    )
    return " ".join(text.split())


def test_equal_no_softmax_rows_are_called_exactly_equal():
    miou = dict(zip(VARIANTS, [39.1, 39.1, 31.6, 45.5], strict=True))
    text = _text(miou, Interval(13.9, 11.7, 16.5))
    assert "they change nothing, exactly (39.1 vs 39.1 %)" in text
    assert "from 31.6 to 45.5 % (+13.9 (95% interval +11.7 to +16.5, real))" in text
    assert "boat 24.2 → 35.8, train 9.0 → 56.8" in text
    assert "goes 26.3 → 35.8 here" in text


def test_different_no_softmax_rows_and_noise():
    miou = dict(zip(VARIANTS, [39.1, 39.5, 31.6, 32.0], strict=True))
    text = _text(miou, Interval(0.4, -1.0, 1.8))
    assert "they change the mIoU (39.1 vs 39.5 %)" in text
    assert "within the image noise" in text


def test_class_related_words_quote_the_per_class_intervals():
    text = rd.class_related_words(
        related_vs_unrelated={"boat": Interval(-5.5, -8.0, -3.0)},
        caption_vs_classes={"boat": Interval(12.0, 9.0, 15.0)},
        boat_gain=Interval(11.6, 9.0, 14.0),
        hub="wall",
        unrelated_cosines=(0.81, 0.97),
        caption_words=["photo", "drawing"],
        caption_min=0.9,
    )
    text = " ".join(text.split())
    assert "class-related minus unrelated is boat -5.5 (95% interval -8.0 to -3.0, real)" in text
    assert '"wall" (cosine 0.81-0.97' in text and '"photo", "drawing": 0.90 or more' in text
