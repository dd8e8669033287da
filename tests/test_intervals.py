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


def _prompt_like_runs(n_runs=6, n_images=60, related=True):
    """Runs whose per-image accuracy rises with the run index; x rises with it too
    (``related``) or is the same noise-free value up to a shuffled order (unrelated)."""
    x, y = {}, {}
    order = [3, 0, 5, 1, 4, 2][:n_runs]
    for r in range(n_runs):
        h = np.zeros((n_images, 2, 2), np.int64)
        for i in range(n_images):
            right = np.random.default_rng(100 * r + i).binomial(100, 0.5 + 0.05 * r)
            h[i, 0, 0], h[i, 0, 1] = right, 100 - right
            h[i, 1, 1], h[i, 1, 0] = right, 100 - right
        y[f"run {r}"] = h
        level = r if related else order[r]
        x[f"run {r}"] = (np.full(n_images, 1.0 + level), np.full(n_images, 10.0))
    return x, y


def test_correlation_table_point_values_and_intervals():
    x, y = _prompt_like_runs()
    t = iv.correlation_table(x, y, n_boot=200)
    assert list(t.index) == ["pearson r", "spearman rho"]
    px = [x[n][0].sum() / x[n][1].sum() for n in x]
    py = [mean_iou(y[n].sum(0)) for n in x]
    assert t.loc["pearson r", "value"] == pytest.approx(np.corrcoef(px, py)[0, 1])
    assert t.loc["spearman rho", "value"] == pytest.approx(1.0)
    r = iv.interval(t, "pearson r")
    assert r.excludes_zero and r.low <= r.value <= r.high <= 1 + 1e-9
    assert r.text(digits=2).startswith(f"+{r.value:.2f} (95% interval")
    x_u, y_u = _prompt_like_runs(related=False)
    rho = iv.interval(iv.correlation_table(x_u, y_u, n_boot=200), "spearman rho")
    assert rho.low <= rho.value <= rho.high


def test_correlation_table_refuses_mismatched_runs():
    x, y = _prompt_like_runs()
    with pytest.raises(ValueError, match="same runs"):
        iv.correlation_table(x, {k: v for k, v in list(y.items())[:-1]}, n_boot=10)
    with pytest.raises(ValueError, match="differ in images"):
        iv.correlation_table(x, {k: v[:-1] for k, v in y.items()}, n_boot=10)
