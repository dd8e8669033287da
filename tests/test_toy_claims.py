"""Tests for clipwsss.experiments.toy_claims: text cosines, the world's crane/tower-crane
co-occurrence, and per-class paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clipwsss.clip.text import encode_texts
from clipwsss.experiments import toy_claims as tc


def test_text_cosines_are_prompt_embedding_cosines(tiny_vit):
    words = ["cat", "dog", "tower crane"]
    cos = tc.text_cosines(tiny_vit, words, words)
    assert list(cos.index) == words and list(cos.columns) == words
    np.testing.assert_allclose(np.diag(cos.to_numpy()), 1.0, atol=1e-5)
    np.testing.assert_allclose(cos.to_numpy(), cos.to_numpy().T, atol=1e-6)
    feats = encode_texts(tiny_vit, ["a clean origami cat.", "a clean origami dog."])
    assert cos.loc["cat", "dog"] == pytest.approx(float(feats[0] @ feats[1]), abs=1e-5)
    other = tc.text_cosines(tiny_vit, ["cat"], ["dog"], template="a photo of a {}.")
    assert other.shape == (1, 1) and other.iloc[0, 0] != pytest.approx(cos.loc["cat", "dog"])


def test_the_world_never_draws_a_tower_crane_with_the_crane_class():
    counts = tc.distractor_cooccurrence(200, seed=0)
    assert counts["scenes"] == 200
    assert counts["with class"] > 0 and counts["with distractor"] > 0
    assert counts["with both"] == 0  # the toy world's rule: no tower crane beside a crane
    trees = tc.distractor_cooccurrence(100, seed=0, distractor="tree", cls="sheep")
    assert trees["with both"] > 0  # the count can see co-occurrence where the world allows it


def hists(tp: list[int], fp: list[int], fn: list[int]) -> np.ndarray:
    """Per-image 2-class confusion matrices (rows GT): class 1's tp, fp, fn; background 10."""
    out = np.zeros((len(tp), 2, 2), np.int64)
    out[:, 1, 1], out[:, 0, 1], out[:, 1, 0], out[:, 0, 0] = tp, fp, fn, 10
    return out


def test_class_differences_per_class_values_and_paired_intervals():
    a = hists([8, 6, 9, 7], [1, 2, 0, 1], [1, 2, 1, 2])
    b = hists([5, 4, 6, 5], [3, 3, 2, 3], [4, 4, 4, 4])
    t = tc.class_differences(
        {"a": a, "b": b, "a again": a}, ["thing"], [("a", "b"), ("a", "a again")], n_boot=200
    )
    assert set(t.index.get_level_values("class")) == {"background", "thing"}
    iou_a = 100 * 30 / (30 + 4 + 6)
    iou_b = 100 * 20 / (20 + 11 + 16)
    assert t.loc[("thing", "a"), "IoU"] == pytest.approx(iou_a)
    assert t.loc[("thing", "a - b"), "IoU"] == pytest.approx(iou_a - iou_b)
    assert t.loc[("thing", "a - b"), "excludes 0"] and t.loc[("thing", "a - b"), "95% low"] > 0
    same = t.loc[("thing", "a - a again")]
    assert same["95% low"] == same["95% high"] == 0 and not same["excludes 0"]


def test_class_view_marks_real_differences_and_reads_the_csv_layout(tmp_path):
    a = hists([8, 6, 9, 7], [1, 2, 0, 1], [1, 2, 1, 2])
    b = hists([5, 4, 6, 5], [3, 3, 2, 3], [4, 4, 4, 4])
    t = tc.class_differences({"a": a, "b": b}, ["thing"], [("a", "b"), ("b", "a")], n_boot=200)
    t.to_csv(tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    for frame in (t, back):
        v = tc.class_view(frame, ["a", "b"], ["a - b", "b - a"], classes=["thing"])
        assert list(v.index) == ["thing"] and v.loc["thing", "a"] == round(100 * 30 / 40, 1)
        assert v.loc["thing", "a - b"].startswith("+") and v.loc["thing", "a - b"].endswith("*")
        assert v.loc["thing", "b - a"].startswith("-")
    with pytest.raises(FileNotFoundError, match="toy_text_claims"):
        tc.read_toy_result("nothing.csv", root=tmp_path)
