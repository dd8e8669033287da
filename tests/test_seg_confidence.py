"""One CRF per image: the masks, the unthresholded labels and the confidence maps of one pass
reproduce the `clipwsss masks` PNGs at any mu."""

import numpy as np
import pytest

import clipwsss.pipelines.masks as masks_module
from clipwsss.data import load_label_png
from clipwsss.io.camfiles import read_run_record, save_cams
from clipwsss.pipelines.masks import MaskOptions, generate_masks


@pytest.fixture
def cams_dataset(tmp_path, make_rect_voc):
    ds = make_rect_voc(tmp_path / "voc", n=3)
    rng = np.random.default_rng(0)
    for s in ds:
        gt = load_label_png(s.gt_path)
        keys = np.array([k for k in s.labels])
        cams = np.stack([(gt == k + 1) * 0.4 + 0.6 * rng.random(gt.shape) for k in keys])
        save_cams(tmp_path / "cams" / f"{s.image_id}.npy", keys, cams, cams)
    return ds


def test_masking_at_mu_equals_the_official_masks(tmp_path, cams_dataset, monkeypatch):
    ds = cams_dataset
    calls, crf = [], masks_module.crf_posterior
    counted = lambda *a, **k: [calls.append(1), crf(*a, **k)][1]  # noqa: E731
    monkeypatch.setattr(masks_module, "crf_posterior", counted)
    generate_masks(
        ds,
        tmp_path / "cams",
        tmp_path / "m95",
        workers=1,
        labels_dir=tmp_path / "labels0",
        conf_dir=tmp_path / "conf",
        progress=False,
    )
    assert len(calls) == len(ds)  # one CRF per image for all three outputs
    assert read_run_record(tmp_path / "labels0")["threshold"] == 0.0
    assert read_run_record(tmp_path / "conf")["stage"] == "confidence"
    assert read_run_record(tmp_path / "conf")["threshold"] is None  # any mu may reuse it
    ignored = {}
    for mu in (0.0, 0.95, 0.998):
        out = tmp_path / f"masks{mu}"
        generate_masks(ds, tmp_path / "cams", out, workers=1, threshold=mu, progress=False)
        for s in ds:
            label = load_label_png(tmp_path / "labels0" / f"{s.image_id}.png")
            conf = np.load(tmp_path / "conf" / f"{s.image_id}.npy")
            official = load_label_png(out / f"{s.image_id}.png")
            assert conf.dtype == np.float32
            assert (label == 255).sum() == 0
            np.testing.assert_array_equal(np.where(conf < mu, 255, label), official)
            if mu == 0.95:
                np.testing.assert_array_equal(
                    load_label_png(tmp_path / "m95" / f"{s.image_id}.png"), official
                )
            ignored[mu] = ignored.get(mu, 0) + int((official == 255).sum())
    assert ignored[0.998] > ignored[0.95] > ignored[0.0] == 0


def test_resume_needs_every_output_and_options_or_switches(tmp_path, cams_dataset):
    ds = cams_dataset
    cams = tmp_path / "cams"
    generate_masks(ds, cams, tmp_path / "m", workers=0, progress=False)
    report = generate_masks(
        ds, cams, tmp_path / "m", workers=0, conf_dir=tmp_path / "c", progress=False
    )
    assert report.done == len(ds)  # the confidence maps were missing: the images rerun
    assert len(list((tmp_path / "c").glob("*.npy"))) == len(ds)
    options = MaskOptions(threshold=0.5)
    with pytest.raises(ValueError, match="either as options or as keywords"):
        generate_masks(ds, cams, tmp_path / "x", options=options, threshold=0.5, progress=False)
    with pytest.raises(ValueError, match="three different folders"):
        generate_masks(ds, cams, tmp_path / "x", labels_dir=tmp_path / "x", progress=False)
    generate_masks(ds, cams, tmp_path / "o", workers=0, options=options, progress=False)
    assert read_run_record(tmp_path / "o")["threshold"] == 0.5
