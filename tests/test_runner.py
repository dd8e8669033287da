"""Tests for clipwsss.pipelines (cams, masks, evaluate) and clipwsss.io.camfiles: CAM files,
masks, evaluation, resume."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import clipwsss as cw
from clipwsss.data import (
    VOC_CLASSES,
    CorruptImageError,
    VOCDataset,
    load_label_png,
    save_label_png,
    voc_palette,
    write_split,
    write_voc_sample,
)
from clipwsss.io.camfiles import (
    CamFileError,
    MissingCamKeyError,
    OutputMismatchError,
    load_cams,
    save_cams,
)
from clipwsss.metrics import mean_iou
from clipwsss.pipelines.cams import generate_cams
from clipwsss.pipelines.common import UnknownLabelError, parse_shard, select_ids
from clipwsss.pipelines.evaluate import evaluate
from clipwsss.pipelines.masks import generate_masks

CAT, DOG = VOC_CLASSES.index("cat"), VOC_CLASSES.index("dog")
H, W = 64, 80


@pytest.fixture(scope="module")
def es(tiny_vit):
    return cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))


@pytest.fixture()
def voc(tmp_path, make_rect_voc):
    return make_rect_voc(tmp_path / "VOC2012", 6, ignore_row=True)


def _tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


# --------------------------------------------------------------------------- CAM files


def test_cam_files_official_format(es, voc, tmp_path):
    out = tmp_path / "cams"
    report = generate_cams(es, voc, out, progress=False)
    assert (report.done, report.skipped_existing, report.failed, report.unlabelled) == (
        6,
        0,
        (),
        (),
    )
    for sample in voc:
        record = np.load(out / f"{sample.image_id}.npy", allow_pickle=True).item()
        assert set(record) == {"keys", "attn_highres", "highres"}
        assert record["keys"].dtype == np.int64
        assert record["keys"].tolist() == list(sample.labels)
        for key in ("attn_highres", "highres"):
            cams = record[key]
            assert cams.dtype == np.float16 and cams.shape == (len(sample.labels), H, W)
            assert 0 <= cams.min() and cams.max() <= 1
        assert not np.array_equal(record["attn_highres"], record["highres"])  # CAA ran
    assert (out / "run.json").is_file() and not _tmp_files(out)


def test_refine_none_stores_initial_cams_as_attn_highres(tiny_vit, voc, tmp_path):
    es = cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2, refine="none"))
    generate_cams(es, voc, tmp_path / "cams", limit=2, progress=False)
    f = load_cams(tmp_path / "cams" / "img_1.npy")
    np.testing.assert_array_equal(f.get("attn_highres"), f.get("highres"))


def test_load_cams_reads_official_files_and_names_problems(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, {"keys": np.array([3]), "attn_highres": np.zeros((1, 4, 5), np.float16)})
    f = load_cams(path)
    assert f.keys.tolist() == [3] and f.get("attn_highres").shape == (1, 4, 5)
    with pytest.raises(MissingCamKeyError, match="highres"):
        f.get("highres", path)
    path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(CamFileError, match="x.npy"):
        load_cams(path)
    with pytest.raises(ValueError, match=r"\(2, H, W\)"):
        save_cams(path, [1, 2], np.zeros((1, 4, 5)), np.zeros((1, 4, 5)))


# --------------------------------------------------------------------------- resume


def test_resume_skips_finished_images(es, voc, tmp_path):
    out = tmp_path / "cams"
    first = generate_cams(es, voc, out, limit=3, progress=False)
    assert first.done == 3
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    assert sorted(mtimes) == ["img_0.npy", "img_1.npy", "img_2.npy"]
    second = generate_cams(es, voc, out, progress=False)
    assert (second.done, second.skipped_existing) == (3, 3)
    assert all((out / name).stat().st_mtime_ns == t for name, t in mtimes.items())
    assert len(list(out.glob("*.npy"))) == 6


def test_interrupted_run_leaves_no_partial_files(es, voc, tmp_path, monkeypatch):
    out = tmp_path / "cams"
    real_save, calls = np.save, []

    def dying_save(file, arr, *args, **kwargs):
        calls.append(file)
        if len(calls) == 3:  # killed while writing the third file
            Path(file).write_bytes(b"\x93NUMPY half-written")
            raise KeyboardInterrupt
        return real_save(file, arr, *args, **kwargs)

    monkeypatch.setattr(np, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        generate_cams(es, voc, out, progress=False)
    monkeypatch.setattr(np, "save", real_save)
    assert not _tmp_files(out)
    assert sorted(p.name for p in out.glob("*.npy")) == ["img_0.npy", "img_1.npy"]
    assert load_cams(out / "img_1.npy").get("attn_highres").shape == (2, H, W)
    report = generate_cams(es, voc, out, progress=False)
    assert (report.done, report.skipped_existing) == (4, 2)


def test_resume_with_other_settings_is_refused(tiny_vit, es, voc, tmp_path):
    generate_cams(es, voc, tmp_path / "cams", limit=1, progress=False)
    other = cw.ClipES(
        tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2, box_threshold=0.7)
    )
    with pytest.raises(OutputMismatchError, match="box_threshold"):
        generate_cams(other, voc, tmp_path / "cams", progress=False)


def test_resume_with_retrained_weights_at_the_same_path_is_refused(tiny_vit, es, voc, tmp_path):
    import copy
    import dataclasses

    from clipwsss.clip.loading import weights_fingerprint

    generate_cams(es, voc, tmp_path / "cams", limit=1, progress=False)
    model = copy.deepcopy(tiny_vit.model)
    with torch.no_grad():
        model.visual.proj.add_(0.01)  # "retrained": same name, same path, other weights
    retrained = dataclasses.replace(tiny_vit, model=model, fingerprint=weights_fingerprint(model))
    assert retrained.pretrained == tiny_vit.pretrained
    other = cw.ClipES(retrained, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))
    with pytest.raises(OutputMismatchError, match="weights"):
        generate_cams(other, voc, tmp_path / "cams", progress=False)


# --------------------------------------------------------------------------- bad input


def test_missing_image_raises_or_is_skipped(es, voc, tmp_path):
    (voc.root / "JPEGImages" / "img_2.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="img_2.jpg"):
        generate_cams(es, voc, tmp_path / "a", progress=False)
    with pytest.warns(RuntimeWarning, match="1 bad input"):
        report = generate_cams(es, voc, tmp_path / "b", skip_bad=True, progress=False)
    assert report.done == 5 and [i for i, _ in report.failed] == ["img_2"]
    log = (tmp_path / "b" / "failed.txt").read_text().splitlines()
    assert len(log) == 1 and log[0].startswith("img_2\tFileNotFoundError") and "img_2.jpg" in log[0]


def test_corrupt_image_raises_or_is_skipped(es, voc, tmp_path):
    path = voc.root / "JPEGImages" / "img_4.jpg"
    path.write_bytes(path.read_bytes()[:300])  # truncated JPEG
    with pytest.raises(CorruptImageError, match="img_4.jpg"):
        generate_cams(es, voc, tmp_path / "a", progress=False)
    with pytest.warns(RuntimeWarning):
        report = generate_cams(es, voc, tmp_path / "b", skip_bad=True, progress=False)
    assert [i for i, _ in report.failed] == ["img_4"] and report.done == 5
    assert "CorruptImageError" in (tmp_path / "b" / "failed.txt").read_text()


def test_unlabelled_image_is_reported_and_run_continues(es, tmp_path, make_rect_voc):
    voc = make_rect_voc(tmp_path / "VOC2012", 3, ignore_row=True, empty=("img_empty",))
    assert voc.ids[1] == "img_empty"
    out = tmp_path / "cams"
    for _ in range(2):  # the rerun must not repeat the id in the log
        with pytest.warns(RuntimeWarning, match="no image-level label.*img_empty"):
            report = generate_cams(es, voc, out, progress=False)
        assert report.unlabelled == ("img_empty",)
    assert report.skipped_existing == 3
    assert (out / "unlabelled.txt").read_text() == "img_empty\n"
    assert sorted(p.stem for p in out.glob("*.npy")) == ["img_0", "img_1", "img_2"]


def test_unknown_class_id_names_the_image(es, voc, tmp_path, monkeypatch):
    real = voc.sample

    def sample(image_id):
        s = real(image_id)
        return s if image_id != "img_3" else type(s)(s.image_id, s.image_path, (CAT, 25))

    monkeypatch.setattr(voc, "sample", sample)
    with pytest.raises(UnknownLabelError, match=r"img_3.*\[7, 25\]"):
        generate_cams(es, voc, tmp_path / "cams", progress=False)
    assert (tmp_path / "cams" / "img_2.npy").is_file()  # the images before it are kept


def test_vocabulary_must_match_the_dataset(tiny_vit, voc, tmp_path):
    vocab = cw.make_vocabulary(["cat", "dog"])
    es = cw.ClipES(tiny_vit, vocab, cw.ClipEsConfig(caa_layers=2, use_background=False))
    with pytest.raises(ValueError, match="2 classes but the dataset 20"):
        generate_cams(es, voc, tmp_path / "cams", progress=False)


# --------------------------------------------------------------------------- shards


def test_shards_partition_the_ids():
    ids = [f"i{k}" for k in range(10)]
    parts = [select_ids(ids, shard=(i, 3)) for i in range(3)]
    assert parts[1] == ["i1", "i4", "i7"]
    assert sorted(sum(parts, [])) == sorted(ids)
    assert select_ids(ids, shard=(1, 3), limit=2) == ["i1", "i4"]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "-1/2", "1/0", "1", "a/b"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_sharded_runs_fill_one_folder(es, voc, tmp_path):
    out = tmp_path / "cams"
    generate_cams(es, voc, out, shard=(1, 2), progress=False)
    assert sorted(p.stem for p in out.glob("*.npy")) == ["img_1", "img_3", "img_5"]
    report = generate_cams(es, voc, out, shard=(0, 2), progress=False)
    assert report.done == 3 and len(list(out.glob("*.npy"))) == 6


# --------------------------------------------------------------------------- masks


@pytest.fixture()
def cams_dir(es, voc, tmp_path):
    generate_cams(es, voc, tmp_path / "cams", progress=False)
    return tmp_path / "cams"


def test_masks_are_palette_pngs_of_class_ids(voc, cams_dir, tmp_path):
    report = generate_masks(voc, cams_dir, tmp_path / "m", workers=0, overlays=True, progress=False)
    assert report.done == 6 and not _tmp_files(tmp_path / "m")
    for sample in voc:
        with Image.open(tmp_path / "m" / f"{sample.image_id}.png") as img:
            assert img.mode == "P" and img.size == (W, H)
            assert img.getpalette()[: 3 * 16] == voc_palette(16)
        mask = load_label_png(tmp_path / "m" / f"{sample.image_id}.png")
        assert set(np.unique(mask)) <= {0, 255, *(k + 1 for k in sample.labels)}
        assert (tmp_path / "m" / "overlays" / f"{sample.image_id}.jpg").is_file()
    full = generate_masks(voc, cams_dir, tmp_path / "t0", workers=0, threshold=0.0, progress=False)
    assert full.done == 6
    assert all(255 not in load_label_png(p) for p in (tmp_path / "t0").glob("*.png"))


def test_masks_process_pool_matches_in_process(voc, cams_dir, tmp_path):
    generate_masks(
        voc, cams_dir, tmp_path / "serial", workers=0, confidence="paper", limit=4, progress=False
    )
    report = generate_masks(
        voc, cams_dir, tmp_path / "pool", workers=2, confidence="paper", limit=4, progress=False
    )
    assert report.done == 4
    for path in (tmp_path / "serial").glob("*.png"):
        np.testing.assert_array_equal(
            load_label_png(path), load_label_png(tmp_path / "pool" / path.name)
        )
    again = generate_masks(
        voc, cams_dir, tmp_path / "pool", workers=2, confidence="paper", progress=False
    )
    assert (again.done, again.skipped_existing) == (2, 4)


def test_masks_missing_cam_file_and_unknown_key(voc, cams_dir, tmp_path):
    (cams_dir / "img_1.npy").unlink()
    with pytest.raises(FileNotFoundError, match="img_1.npy"):
        generate_masks(voc, cams_dir, tmp_path / "a", workers=0, progress=False)
    with pytest.warns(RuntimeWarning):
        report = generate_masks(
            voc, cams_dir, tmp_path / "b", workers=0, skip_bad=True, progress=False
        )
    assert report.done == 5 and [i for i, _ in report.failed] == ["img_1"]
    save_cams(cams_dir / "img_1.npy", [30], np.zeros((1, H, W)), np.zeros((1, H, W)))
    with pytest.raises(UnknownLabelError, match="img_1.*30"):
        generate_masks(voc, cams_dir, tmp_path / "b", workers=0, progress=False)


# --------------------------------------------------------------------------- evaluation


@pytest.fixture()
def tiny_gt(tmp_path):
    """Two 4x4 images: a (cat cols 0-2, bg col 3, pixel (0,0) ignored), b (bg col 0, dog)."""
    root = tmp_path / "gt"
    img = np.zeros((4, 4, 3), np.uint8)
    gt_a = np.zeros((4, 4), np.uint8)
    gt_a[:, :3], gt_a[0, 0] = CAT + 1, 255
    gt_b = np.full((4, 4), DOG + 1, np.uint8)
    gt_b[:, 0] = 0
    write_voc_sample(root, "a", img, gt_a)
    write_voc_sample(root, "b", img, gt_b)
    write_split(root, "train", ["a", "b"])
    return VOCDataset(root, "train")


def write_tiny_cams(pred: Path) -> Path:
    """CAM files for ``tiny_gt``: a cat CAM 0.9 0.9 0.4 0.1 by column, a dog CAM 0 1 1 1."""
    cam_a = np.tile(np.array([0.9, 0.9, 0.4, 0.1], np.float16), (4, 1))[None]
    cam_b = np.tile(np.array([0.0, 1.0, 1.0, 1.0], np.float16), (4, 1))[None]
    save_cams(pred / "a.npy", [CAT], cam_a, cam_a)
    save_cams(pred / "b.npy", [DOG], cam_b, cam_b)
    return pred


def test_evaluate_cams_by_hand(tiny_gt, tmp_path):
    pred = write_tiny_cams(tmp_path / "pred")
    # k = 1: column 2 of a (cam 0.4 < bg 0.6) is background; k = 2: bg 0.36 < 0.4, cat.
    # Split-level counts at k = 1: bg TP 8, FP 4 -> 8/12; cat TP 7, FN 4 -> 7/11; dog 1.
    result = evaluate(tiny_gt, pred, choose_exponent_on_gt=True, progress=False)
    assert result.kind == "cams" and result.n_images == 2
    assert result.scores.miou == pytest.approx((8 / 12 + 7 / 11 + 1) / 3)
    assert result.chosen_on_gt.exponents == (1, 2) and result.chosen_on_gt.best == 2
    assert result.chosen_on_gt.scores.miou == pytest.approx(1.0)
    fixed2 = evaluate(tiny_gt, pred, bg_exponent=2, progress=False)
    assert fixed2.scores.miou == pytest.approx(1.0) and fixed2.chosen_on_gt is None
    d = result.to_dict()
    assert (
        set(d["iou"]) == {"background", "cat", "dog"}
        and "leaks labels" in (d["chosen_on_gt"]["note"])
    )


def test_evaluate_per_image_hists_sum_to_the_split(tiny_gt, tmp_path):
    pred = write_tiny_cams(tmp_path / "pred")
    result = evaluate(tiny_gt, pred, per_image=True, progress=False)
    hists = result.image_hists
    assert hists.shape == (2, 21, 21)  # VOC: background + 20 classes
    assert hists[0].sum() == 15 and hists[1].sum() == 16  # a has one ignored pixel
    assert mean_iou(hists.sum(0)) == pytest.approx(result.scores.miou)
    # image b alone is perfect; image a alone has a cat column labelled background (k = 1)
    assert mean_iou(hists[1]) == pytest.approx(1.0) and mean_iou(hists[0]) < 1.0
    assert evaluate(tiny_gt, pred, progress=False).image_hists is None


def test_evaluate_masks_ignores_255_and_reports_it(tiny_gt, tmp_path):
    pred = tmp_path / "pred"
    mask_a = np.zeros((4, 4), np.uint8)
    mask_a[:, :2], mask_a[:, 2], mask_a[3, 3] = CAT + 1, 255, CAT + 1
    mask_b = np.full((4, 4), DOG + 1, np.uint8)
    mask_b[:, 0] = 0
    save_label_png(pred / "a.png", mask_a)
    save_label_png(pred / "b.png", mask_b)
    result = evaluate(tiny_gt, pred, progress=False)
    # Scored: a has bg TP 3, FN 1 (the cat at (3,3)); cat TP 7, FP 1; b is perfect.
    assert result.kind == "masks"
    assert result.scores.miou == pytest.approx((7 / 8 + 7 / 8 + 1) / 3)
    assert result.ignored_fraction == pytest.approx(4 / 31)  # 4 of 15 + 16 labelled pixels


def test_evaluate_missing_predictions(tiny_gt, tmp_path):
    pred = tmp_path / "pred"
    save_label_png(pred / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(FileNotFoundError, match="b.png"):
        evaluate(tiny_gt, pred, progress=False)
    result = evaluate(tiny_gt, pred, only_existing=True, progress=False)
    assert (result.n_images, result.n_missing) == (1, 1)


def test_evaluate_scores_unlabelled_images_as_background(es, tmp_path, make_rect_voc):
    voc = make_rect_voc(tmp_path / "VOC2012", 2, ignore_row=True, empty=("img_empty",))
    with pytest.warns(RuntimeWarning):
        generate_cams(es, voc, tmp_path / "cams", progress=False)
    result = evaluate(voc, tmp_path / "cams", progress=False)
    assert result.n_images == 3 and result.n_missing == 0


def test_evaluate_matches_a_direct_computation(voc, cams_dir):
    """The runner's split-level mIoU equals summing metrics.confusion_matrix by hand."""
    from clipwsss.cams.labels import cams_to_label
    from clipwsss.metrics import confusion_matrix, mean_iou

    hist = np.zeros((21, 21), np.int64)
    for sample in voc:
        f = load_cams(cams_dir / f"{sample.image_id}.npy")
        label = cams_to_label(torch.from_numpy(f.get("attn_highres")), f.keys, exponent=2)
        hist += confusion_matrix(label, load_label_png(sample.gt_path), 21)
    result = evaluate(voc, cams_dir, bg_exponent=2, progress=False)
    assert result.scores.miou == pytest.approx(mean_iou(hist))


def test_jpeg_overlay_of_cams(es, voc, tmp_path):
    generate_cams(es, voc, tmp_path / "cams", limit=2, overlays=True, progress=False)
    data = (tmp_path / "cams" / "overlays" / "img_1.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (2 * W, H)  # one panel per class (cat, dog)
