"""Confidence maps + unthresholded labels reproduce the `clipwsss masks` PNGs at any mu."""

import numpy as np

from clipwsss.data import load_label_png
from clipwsss.io.camfiles import save_cams
from clipwsss.pipelines.masks import generate_masks
from clipwsss.seg.confidence import write_confidence_maps


def test_masking_at_mu_equals_the_official_masks(tmp_path, make_rect_voc):
    ds = make_rect_voc(tmp_path / "voc", n=3)
    rng = np.random.default_rng(0)
    for s in ds:
        gt = load_label_png(s.gt_path)
        keys = np.array([k for k in s.labels])
        cams = np.stack([(gt == k + 1) * 0.4 + 0.6 * rng.random(gt.shape) for k in keys])
        save_cams(tmp_path / "cams" / f"{s.image_id}.npy", keys, cams, cams)
    write_confidence_maps(
        ds, tmp_path / "cams", tmp_path / "labels0", tmp_path / "conf", progress=False
    )
    ignored = {}
    for mu in (0.99, 0.998):
        out = tmp_path / f"masks{mu}"
        generate_masks(ds, tmp_path / "cams", out, workers=1, threshold=mu, progress=False)
        for s in ds:
            label = load_label_png(tmp_path / "labels0" / f"{s.image_id}.png")
            conf = np.load(tmp_path / "conf" / f"{s.image_id}.npy").astype(np.float32)
            official = load_label_png(out / f"{s.image_id}.png")
            assert (label == 255).sum() == 0
            mismatch = (np.where(conf < mu, 255, label) != official).mean()
            assert mismatch == 0, (mu, mismatch)
            ignored[mu] = ignored.get(mu, 0) + int((official == 255).sum())
    assert ignored[0.998] > ignored[0.99] > 0
