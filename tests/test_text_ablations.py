"""Prompt ensembles, customised sentences and background subsets (notebook 18)."""

import pytest
import torch

from clipwsss.clip.text import class_text_features, encode_texts
from clipwsss.experiments.text_ablations import (
    EnsembleClipES,
    background_subsets,
    ensemble_features,
    with_sentences,
)
from clipwsss.methods.clip_es import ClipES, ClipEsConfig
from clipwsss.vocab import CLIP_ES_TEMPLATE, make_vocabulary

VOCAB = make_vocabulary({"cat": ["cat", "kitty"], "dog": ["dog"]}, background=["grass", "sky"])


def test_ensemble_of_one_template_is_that_template(tiny_vit):
    one = ensemble_features(tiny_vit, VOCAB.sentences, [CLIP_ES_TEMPLATE])
    torch.testing.assert_close(one, class_text_features(tiny_vit, VOCAB))


def test_ensemble_is_renormalised_mean(tiny_vit):
    templates = ["a photo of a {}.", "a drawing of a {}."]
    feats = ensemble_features(tiny_vit, ["cat"], templates)
    each = encode_texts(tiny_vit, [t.format("cat") for t in templates])
    mean = each.mean(0)
    torch.testing.assert_close(feats[0], mean / mean.norm())
    assert not torch.allclose(feats[0], each[0])


def test_ensemble_es_uses_the_ensemble(tiny_vit):
    templates = ("a photo of a {}.", "a drawing of a {}.")
    cfg = ClipEsConfig(caa_layers=2)
    es = EnsembleClipES(tiny_vit, VOCAB, cfg, templates=templates)
    torch.testing.assert_close(
        es._class_features[0], ensemble_features(tiny_vit, VOCAB.sentences, templates)
    )
    plain = ClipES(tiny_vit, VOCAB, cfg)
    assert not torch.allclose(es._class_features[0], plain._class_features[0])
    assert es._background.shape == plain._background.shape


def test_with_sentences():
    v = with_sentences(VOCAB, {"cat": "cat with fur, kitty"})
    assert v.sentences == ("cat with fur, kitty", VOCAB.sentences[1])
    assert v.synonyms == VOCAB.synonyms and v.background == VOCAB.background
    with pytest.raises(KeyError):
        with_sentences(VOCAB, {"horse": "a horse"})


def test_background_subsets():
    subs = background_subsets(["a", "b", "c"], [0, 2, 3])
    assert subs == {"first 0": (), "first 2": ("a", "b"), "first 3": ("a", "b", "c")}
    with pytest.raises(ValueError):
        background_subsets(["a"], [2])


def test_class_iou_table():
    import numpy as np

    from clipwsss.experiments.text_ablations import class_iou_table

    rng = np.random.default_rng(0)
    a = rng.integers(0, 20, (30, 3, 3))
    b = a.copy()
    b[:, 1, 1] += 10  # more true positives of class 1 in every image
    t = class_iou_table({"a": a, "b": b}, 1, [("b", "a")], n_boot=200)
    s = a.sum(0)
    expect = 100 * s[1, 1] / (s[1].sum() + s[:, 1].sum() - s[1, 1])
    assert abs(t.loc["a", "mIoU"] - expect) < 1e-9
    assert t.loc["a", "95% low"] <= expect <= t.loc["a", "95% high"]
    assert t.loc["b - a", "excludes 0"] and t.loc["b - a", "95% low"] > 0
