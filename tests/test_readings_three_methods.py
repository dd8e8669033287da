"""The reading of notebook 17 calls a method above or below CLIP-ES only where the interval
excludes zero, and sets the toy DeepLab against its masks."""

from __future__ import annotations

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.readings import three_methods


def test_side_and_relation_follow_the_intervals():
    above, noise, below = Interval(8.8, 3.0, 14.2), Interval(1.0, -1.0, 3.0), Interval(-2, -3, -1)
    assert three_methods.side([above, above]) == "above"
    assert three_methods.side([noise, noise]) == "level with"
    assert three_methods.side([above, below]) == "above (seed 0) / below (seed 1)"
    text = three_methods.relation([above, noise])
    assert text == (
        "above (seed 0) / level with (seed 1) CLIP-ES dCRF (+8.8 [+3.0, +14.2] and "
        "+1.0 [-1.0, +3.0] points)"
    )


def _reading(deeplab: Interval, methods_val_low: float, old: list[str]) -> str:
    up, down = Interval(16.1, 10.3, 20.0), Interval(-12.7, -18.6, -8.5)
    return three_methods.reading(
        n_train=200, n_val=200, weakclip={"train": [up, up], "val": [up, up]},
        weclip={"train": [down, down], "val": [down, down]},
        papers={"weakclip": 77.2, "clip_es": 75.0, "weclip": 78.2, "weclip_clip_es": 75.0},
        deeplab=deeplab, deeplab_images="the first 100 of the 200", methods_val_low=methods_val_low,
        masks_val=51.8, deeplab_steps=300, ratio_toy=0.38, ratio_vitb16=3.55, old=old,
    )  # fmt: skip


def test_deeplab_against_its_masks_and_the_methods():
    text = _reading(Interval(27.2, 23.6, 30.7), methods_val_low=20.0, old=[])
    assert "WeakCLIP's are above CLIP-ES dCRF" in text and "WeCLIP's are below" in text
    assert "reaches 23.6-27.2 on the first 100 of the 200 val images, overlapping" in text
    assert "24.6 to 28.2 points below the CLIP-ES masks" in text
    assert "All four result files are from the current" in text
    low = _reading(Interval(27.2, 23.6, 30.7), methods_val_low=31.0, old=["WeCLIP"])
    assert "below the lowest interval of WeCLIP's and WeakCLIP's" in low
    assert "The result files of WeCLIP say" in low
    above = _reading(Interval(60.0, 55.0, 65.0), methods_val_low=20.0, old=[])
    assert "and not below the CLIP-ES masks" in above
