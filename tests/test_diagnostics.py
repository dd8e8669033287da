"""Tests for clipwsss.experiments.diagnostics (leak counts, confidence calibration) and the
ratio bootstrap of clipwsss.experiments.intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from clipwsss.data import VOC_CLASSES
from clipwsss.experiments import diagnostics as dg
from clipwsss.experiments import intervals as iv
from clipwsss.experiments.sweeps import iter_records, refined_cams
from clipwsss.pipelines.masks import MaskOptions, crf_pseudo_mask

H, W = 48, 64


def two_objects() -> np.ndarray:
    """GT: class 0 (value 1) in columns 0-3, class 2 (value 3) in columns 4-7, one ignored."""
    gt = np.zeros((2, 8), np.int64)
    gt[:, :4], gt[:, 4:] = 1, 3
    gt[0, 0] = 255
    return gt


def test_leak_counts_share_of_cam_mass_on_the_other_object():
    gt, keys = two_objects(), torch.tensor([0, 2])
    cams = torch.zeros(2, 2, 8)
    cams[0, :, :4] = 1.0  # class 0 only on its own object
    cams[1, :, 4:] = 1.0
    assert dg.leak_counts(cams, keys, gt) == (0.0, 7.0 + 8.0)
    cams[0, :, 4:] = 0.5  # class 0 leaks half its value onto the class-2 object
    on_other, total = dg.leak_counts(cams, keys, gt)
    assert on_other == pytest.approx(4.0) and total == pytest.approx(7 + 4 + 8)
    with pytest.raises(ValueError):
        dg.leak_counts(cams[:, :1], keys, gt)


def test_label_leak_counts_pixels_taken_by_another_image_class():
    gt, keys = two_objects(), torch.tensor([0, 2])
    label = torch.as_tensor(gt.clip(0, 3))
    assert dg.label_leak_counts(label, keys, gt) == (0, 15)
    label[:, 4:6] = 1  # class 0 takes 4 pixels of the class-2 object
    label[1, 0] = 0  # background on class 0: not a leak onto another object
    assert dg.label_leak_counts(label, keys, gt) == (4, 15)


def test_ratio_table_point_values_and_paired_differences():
    num_a, den = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 10.0, 10.0, 10.0])
    t = iv.ratio_table(
        {"a": (num_a, den), "b": (num_a / 2, den), "same": (num_a, den)},
        [("a", "b"), ("a", "same")],
        n_boot=200,
    )
    assert t.loc["a", "mIoU"] == pytest.approx(25.0)
    assert t.loc["a - b", "mIoU"] == pytest.approx(12.5)
    assert t.loc["a - b", "excludes 0"] and t.loc["a - b", "95% low"] > 0
    assert t.loc["a - same", ["95% low", "95% high"]].tolist() == [0.0, 0.0]  # paired
    assert not t.loc["a - same", "excludes 0"]
    assert iv.interval(t, "a").low <= 25.0 <= iv.interval(t, "a").high
    with pytest.raises(KeyError):
        iv.ratio_table({"a": (num_a, den)}, [("a", "zzz")])
    with pytest.raises(ValueError):
        iv.ratio_table({"a": (num_a, den[:2])})


def test_leak_records_cover_the_multi_class_images(tiny_es, rect_voc_48x64):
    ids = rect_voc_48x64.ids
    recs = dg.leak_records(tiny_es, rect_voc_48x64, ids)
    multi = [i for i in ids if len(rect_voc_48x64.sample(i).labels) >= 2]
    assert recs.image_ids == tuple(multi) and len(multi) > 0
    for counts in (recs.labels, recs.mass):
        assert set(counts) == {"initial", "+ MHSA", "+ CAA"}
        for num, den in counts.values():
            assert num.shape == den.shape == (len(multi),)
            assert (num >= 0).all() and (num <= den + 1e-6).all()
    assert ((recs.shares("+ CAA") >= 0) & (recs.shares("+ CAA") <= 100)).all()


def test_calibration_counts_every_labelled_pixel_and_matches_the_masks(tiny_es, rect_voc_48x64):
    ids = rect_voc_48x64.ids
    cal = dg.confidence_calibration(tiny_es, rect_voc_48x64, ids, threshold=0.9)
    wrong = kept_wrong = ignored = ignored_ok = labelled = 0
    for rec in iter_records(tiny_es, rect_voc_48x64, ids):
        hr = tiny_es.upsample(refined_cams(tiny_es, rec), rec.gt.shape).half()
        pm = crf_pseudo_mask(rec.image, rec.keys, hr, MaskOptions(threshold=0.9))
        lab = rec.gt != 255
        ok = pm.label.numpy()[lab] == rec.gt[lab]
        keep = pm.mask.numpy()[lab] != 255
        labelled += lab.sum()
        wrong += (~ok).sum()
        kept_wrong += (~ok & keep).sum()
        ignored += (~keep).sum()
        ignored_ok += (ok & ~keep).sum()
    assert cal.by_bin["pixels"].sum() == labelled
    assert cal.by_bin["share %"].sum() == pytest.approx(100)
    assert cal.wrong_kept[0].sum() == kept_wrong and cal.wrong_kept[1].sum() == wrong
    assert cal.ignored_correct[0].sum() == ignored_ok and cal.ignored_correct[1].sum() == ignored
    assert cal.per_class["pixels"].sum() == labelled
    assert list(cal.per_class.index[:2]) == ["background", VOC_CLASSES[0]]
    assert isinstance(cal.by_bin, pd.DataFrame) and cal.threshold == 0.9


def test_crf_changes_counts_match_the_seed_and_crf_labels(tiny_es, rect_voc_48x64):
    from clipwsss.cams.labels import cams_to_label
    from clipwsss.metrics import mean_iou

    ch = dg.crf_changes(tiny_es, rect_voc_48x64, rect_voc_48x64.ids)
    n_img = len(ch.image_ids)
    assert n_img > 0 and set(ch.image_hists) == {"seed", "seed + dCRF"}
    changed = fixed = broken = to_bg = labelled = 0
    for rec in iter_records(tiny_es, rect_voc_48x64, rect_voc_48x64.ids):
        hr = tiny_es.upsample(refined_cams(tiny_es, rec), rec.gt.shape).half()
        seed_label = cams_to_label(hr.float(), rec.keys).numpy()
        crf_label = crf_pseudo_mask(rec.image, rec.keys, hr).label.numpy()
        lab = rec.gt != 255
        s, c, g = seed_label[lab], crf_label[lab], rec.gt[lab]
        labelled += lab.sum()
        changed += (s != c).sum()
        fixed += ((s != c) & (c == g)).sum()
        broken += ((s != c) & (s == g)).sum()
        to_bg += ((s != c) & (c == 0)).sum()
    for counts in (ch.changed, ch.fixed, ch.broken, ch.to_background):
        assert counts[0].shape == counts[1].shape == (n_img,)
        assert (counts[0] <= counts[1]).all()
    assert ch.changed[0].sum() == changed and ch.changed[1].sum() == labelled
    assert ch.fixed[0].sum() == fixed and ch.broken[0].sum() == broken
    assert ch.to_background[0].sum() == to_bg and (ch.fixed[1] == ch.changed[0]).all()
    assert fixed + broken <= changed  # a change can also go from one wrong label to another
    for h in ch.image_hists.values():
        assert h.shape[0] == n_img and h.sum() == labelled
        assert 0 <= mean_iou(h.sum(0)) <= 1
