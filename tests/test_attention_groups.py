"""Tests for clipwsss.experiments.attention_groups: attention within an object vs across it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import clipwsss as cw
from clipwsss.data import load_image, load_label_png
from clipwsss.experiments import attention_groups as ag


def labels_4x4() -> np.ndarray:
    """A 4 x 4 patch grid: class 1 in the top-left 2 x 2, class 2 in the bottom-right 2 x 2,
    one ignored patch, the rest background."""
    lab = np.zeros((4, 4), np.int64)
    lab[:2, :2], lab[2:, 2:] = 1, 2
    lab[0, 3] = 255
    return lab


def grouped_attention(lab: np.ndarray, inside: float = 1.0, across: float = 0.0) -> torch.Tensor:
    """Rows attend ``inside`` to patches of their own label, ``across`` elsewhere; rows sum 1."""
    flat = torch.as_tensor(lab).flatten()
    a = torch.where(flat[:, None] == flat[None, :], inside, across).float()
    return a / a.sum(1, keepdim=True)


def test_patch_labels_majority_with_purity_and_ignore():
    gt = np.zeros((8, 8), np.int64)
    gt[:4, :4] = 3  # patch (0, 0) all class 3
    gt[:4, 4:7] = 1  # patch (0, 1): 3/4 class 1, 1/4 background
    gt[4:, 4:] = 255  # patch (1, 1) ignored
    gt[4, 0] = 255  # patch (1, 0): 15 of 16 background, one ignored: 0.94
    lab = ag.patch_labels(gt, (2, 2), n_values=4, purity=0.8)
    assert lab.tolist() == [[3, 255], [0, 255]]
    assert ag.patch_labels(gt, (2, 2), n_values=4, purity=0.75).tolist() == [[3, 1], [0, 255]]
    with pytest.raises(ValueError):
        ag.patch_labels(gt, (2, 2), n_values=3)


def test_grouping_counts_of_a_perfectly_grouped_and_a_uniform_map():
    lab = labels_4x4()
    n = lab.size
    g = ag.grouping_counts(grouped_attention(lab), lab)
    assert set(g) == set(ag.GROUPS)
    assert g["object to background"][0] == 0 and g["background to object"][0] == 0
    assert g["object to other object"] == (0.0, 32.0)  # 4 x 4 pairs, both directions
    assert g["within object"][1] == 2 * 4 * 3  # two objects of 4 patches, no self pairs
    assert g["within object"][0] / g["within object"][1] == pytest.approx(n / 4)  # 1/4 per key
    assert g["background to background"][1] == 7 * 6
    u = ag.grouping_counts(torch.full((n, n), 1 / n), lab)
    for name, (total, pairs) in u.items():
        assert total == pytest.approx(pairs), name  # uniform attention is 1 in every group
    with pytest.raises(ValueError):
        ag.grouping_counts(torch.eye(n - 1), lab)


def test_ranking_counts_is_one_for_grouping_one_half_for_uniform_and_zero_inverted():
    lab = labels_4x4()
    n = lab.size
    for attn, expected in [
        (grouped_attention(lab), 1.0),
        (torch.full((n, n), 1 / n), 0.5),
        (grouped_attention(lab, 0.0, 1.0), 0.0),
    ]:
        r = ag.ranking_counts(attn, lab)
        for name in ag.RANKINGS:
            wins, comparisons = r[name]
            assert comparisons > 0 and wins / comparisons == pytest.approx(expected), name
    # 8 object queries x 3 own patches x 7 background patches
    assert ag.ranking_counts(torch.eye(n), lab)["own object over background"][1] == 8 * 3 * 7
    empty = ag.ranking_counts(torch.eye(n), np.zeros((4, 4), np.int64))
    assert empty == dict.fromkeys(ag.RANKINGS, (0.0, 0.0))


def test_locality_map_rows_sum_to_one_and_prefer_neighbours():
    m = ag.locality_map((3, 4))
    assert m.shape == (12, 12)
    torch.testing.assert_close(m.sum(1), torch.ones(12))
    assert m[0, 1] > m[0, 2] > m[0, 3] and m[0, 0] == m.max()


def test_attention_grouping_and_tables_on_the_tiny_vit(tiny_vit, make_rect_voc, tmp_path):
    voc = make_rect_voc(tmp_path / "VOC2012", 3, size=(96, 128))
    es = cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))
    rec = ag.attention_grouping(es, voc, voc.ids)
    out = es(load_image(voc.sample(voc.ids[0]).image_path), voc.sample(voc.ids[0]).labels)
    labels = ag.patch_labels(
        load_label_png(voc.sample(voc.ids[0]).gt_path), out.grid, n_values=voc.n_classes
    )
    first = ag.grouping_counts(out.affinity, labels)  # the official A^t, image 0
    for g, (total, pairs) in first.items():
        assert rec.maps[ag.affinity_name(2, 2)][g][0][0] == pytest.approx(total, rel=1e-5)
        assert rec.maps[ag.affinity_name(2, 2)][g][1][0] == pairs
    n_blocks = len(tiny_vit.model.visual.transformer.resblocks)
    assert list(rec.maps) == ag.map_names(n_blocks, 2) and rec.image_ids == tuple(voc.ids)
    for groups in rec.maps.values():
        for total, pairs in groups.values():
            assert total.shape == pairs.shape == (3,) and (total >= 0).all()
    t = ag.grouping_table(rec, n_boot=50)
    official = ag.affinity_name(2, 2)
    assert official == "A^t, last 2 blocks (Eq. 7)"
    assert t.loc[(official, "within object"), "pairs"] > 0
    row = t.loc[("block 1", "within object - background to object")]
    within = t.loc[("block 1", "within object"), "value"]
    assert row["value"] == pytest.approx(
        within - t.loc[("block 1", "background to object"), "value"]
    )
    r = ag.ranking_table(rec, n_boot=50)
    assert ((r["value"] >= -100) & (r["value"] <= 100)).all()
    assert ("own object over background", f"{official} - {ag.LOCALITY}") in r.index


def test_committed_toy_results_use_the_library_names():
    """results/toy/attention_*.csv (scripts/toy_attention_groups.py) hold the maps and groups
    that notebook 06's cell reads by name; a rename in the library must regenerate them."""
    from clipwsss.experiments.toy_claims import read_toy_result

    groups = read_toy_result("attention_groups.csv").query("model == 'shipped' and seed == 0")
    ranking = read_toy_result("attention_ranking.csv").query("model == 'shipped' and seed == 0")
    maps = ag.map_names(4, 3)  # the shipped micro-CLIP: 4 blocks, CAA on the last 3
    assert list(dict.fromkeys(groups["map"])) == maps
    assert set(ag.GROUPS) <= set(groups["group"])
    assert set(ranking["comparison"]) == set(ag.RANKINGS)
    view = ag.summary(groups, ranking, maps)
    auc = view.filter(like="AUC").to_numpy()
    assert ((auc >= 0) & (auc <= 100)).all() and view.notna().all().all()
