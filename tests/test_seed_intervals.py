"""Seed-mean tables with paired image-bootstrap intervals (experiments.seed_intervals)."""

import numpy as np
import pytest

from clipwsss.experiments.seed_intervals import seed_mean_table
from clipwsss.metrics import mean_iou


def _hists(n_images: int, correct: float, seed: int) -> np.ndarray:
    """(N, 3, 3) per-image confusions: each image has 100 pixels of each of 3 classes, a
    share ``correct`` of them right (the rest on the next class)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_images, 3, 3), np.int64)
    for i in range(n_images):
        right = rng.binomial(100, correct, size=3)
        for c in range(3):
            out[i, c, c] = right[c]
            out[i, c, (c + 1) % 3] = 100 - right[c]
    return out


def test_seed_means_and_paired_difference():
    good = {s: _hists(40, 0.9, s) for s in (0, 1, 2)}
    bad = {s: _hists(40, 0.6, 10 + s) for s in (0, 1)}
    table = seed_mean_table({"good": good, "bad": bad}, [("good", "bad")], n_boot=200)
    per_seed = [100 * mean_iou(h.sum(0)) for h in good.values()]
    assert table.loc["good", "mIoU"] == pytest.approx(np.mean(per_seed))
    assert table.loc["good", "seeds"] == 3
    assert table.loc["good", "seed range"] == pytest.approx(max(per_seed) - min(per_seed))
    assert table.loc["good", "95% low"] < table.loc["good", "mIoU"] < table.loc["good", "95% high"]
    diff = table.loc["good - bad"]
    assert diff["seeds"] == 2  # only the shared seeds are paired
    expected = np.mean([100 * (mean_iou(good[s].sum(0)) - mean_iou(bad[s].sum(0))) for s in (0, 1)])
    assert diff["mIoU"] == pytest.approx(expected)
    assert diff["excludes 0"] and diff["95% low"] > 20


def test_identical_runs_give_a_zero_interval():
    h = {0: _hists(30, 0.8, 0), 1: _hists(30, 0.7, 1)}
    table = seed_mean_table({"a": h, "b": dict(h)}, [("a", "b")], n_boot=100)
    row = table.loc["a - b"]
    assert (row["mIoU"], row["95% low"], row["95% high"]) == (0.0, 0.0, 0.0)
    assert not row["excludes 0"]


def test_bad_inputs_raise():
    h = {0: _hists(10, 0.8, 0)}
    with pytest.raises(KeyError, match="not given"):
        seed_mean_table({"a": h}, [("a", "b")])
    with pytest.raises(ValueError, match="share no training seed"):
        seed_mean_table({"a": h, "b": {1: _hists(10, 0.8, 1)}}, [("a", "b")])
    with pytest.raises(ValueError, match="differ in images"):
        seed_mean_table({"a": h, "b": {0: _hists(11, 0.8, 1)}})
