"""Bootstrap tables: a difference with a clear gap excludes zero, a coin flip does not."""

import numpy as np
import pytest

from clipwsss.experiments import intervals as iv
from clipwsss.metrics import mean_iou


def _runs(n_images=80):
    """Two-class per-image confusion matrices: 'good' labels 80% of the pixels right, 'bad'
    60%; 'bad twin' is 'bad' again (the same draws)."""
    out = {}
    for name, p in [("good", 0.8), ("bad", 0.6), ("bad twin", 0.6)]:
        h = np.zeros((n_images, 2, 2), np.int64)
        for i in range(n_images):
            right = np.random.default_rng(i).binomial(100, p)
            h[i, 0, 0], h[i, 0, 1] = right, 100 - right
            h[i, 1, 1], h[i, 1, 0] = right, 100 - right
        out[name] = h
    return out


def test_table_rows_points_and_verdicts():
    runs = _runs()
    table = iv.bootstrap_table(runs, [("good", "bad"), ("bad", "bad twin")], n_boot=200)
    assert list(table.index) == ["good", "bad", "bad twin", "good - bad", "bad - bad twin"]
    assert table.loc["good", "mIoU"] == pytest.approx(100 * mean_iou(runs["good"].sum(0)))
    gap = iv.interval(table, "good - bad")
    assert gap.excludes_zero and gap.verdict() == "real" and gap.low < gap.value < gap.high
    same = iv.interval(table, "bad - bad twin")  # identical runs: a zero-width interval at 0
    assert not same.excludes_zero and same.verdict() == "within the image noise"
    assert gap.text().startswith("+") and gap.text().endswith(", real)")
    assert same.text().endswith("within the image noise)")


def test_unknown_run_in_differences_is_refused():
    with pytest.raises(KeyError, match="not given"):
        iv.bootstrap_table(_runs(), [("good", "nope")], n_boot=10)
