"""The WeCLIP, WeakCLIP and DeepLab toy tables: one paired bootstrap, tiny inputs."""

from types import SimpleNamespace

import numpy as np
import pytest

from clipwsss.experiments import deeplab, weakclip, weclip
from clipwsss.experiments.intervals import bootstrap_table
from clipwsss.metrics import bootstrap_mious, mean_iou, percentile_interval, seg_scores


def _hists(seed: int, n: int = 10, c: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 40, size=(n, c, c))


def test_bootstrap_table_boot_mean_and_self_difference():
    runs = {"a": _hists(0), "b": _hists(1)}
    table = bootstrap_table(runs, [("a", "b"), ("b", "b")], n_boot=50, boot_mean=True)
    boot = 100 * bootstrap_mious([runs["a"], runs["b"]], n_boot=50)
    assert table.loc["a - b", "boot mean"] == pytest.approx((boot[:, 0] - boot[:, 1]).mean())
    assert table.loc["a", "boot mean"] == pytest.approx(boot[:, 0].mean())
    assert tuple(table.loc["b - b", ["mIoU", "95% low", "95% high"]]) == (0, 0, 0)
    assert "boot mean" not in bootstrap_table(runs, n_boot=5).columns


def test_weclip_rows_pair_each_weclip_run_with_clip_es():
    runs = {weclip.REFERENCE: _hists(0), "CLIP-ES + CAA": _hists(1), "WeCLIP seed 0": _hists(2)}
    rows = weclip.comparison_rows(runs, n_boot=50)
    assert [r["run"] for r in rows] == [*runs, f"WeCLIP seed 0 - {weclip.REFERENCE}"]
    boot = 100 * bootstrap_mious(list(runs.values()), n_boot=50)
    lo, hi = percentile_interval(boot[:, 2] - boot[:, 0])
    point = 100 * (mean_iou(runs["WeCLIP seed 0"].sum(0)) - mean_iou(runs[weclip.REFERENCE].sum(0)))
    assert rows[-1] == {
        "run": rows[-1]["run"],
        "mIoU": round(point, 1),
        "low": round(lo, 1),
        "high": round(hi, 1),
    }


def test_weclip_ablation_rows_and_markdown(tmp_path):
    runs = {
        weclip.DEFAULT_RUN: _hists(0),
        "seed 0: aff_weight=0": _hists(1),
        "seed 0: scales (0.75, 1.0)": _hists(2),
        "seed 1: scales (1.0,)": _hists(3),
        weclip.SEED1_REFERENCE: _hists(4),
    }
    rows = {r["run"]: r for r in weclip.ablation_rows(runs, n_boot=50)}
    for ref in (weclip.DEFAULT_RUN, weclip.SEED1_REFERENCE):  # each seed's reference reads 0
        assert (rows[ref]["diff"], rows[ref]["diff low"], rows[ref]["diff high"]) == (0, 0, 0)
    assert rows[weclip.DEFAULT_RUN]["paper (VOC val)"] == 74.9
    assert rows["seed 1: scales (1.0,)"]["paper (VOC val)"] == 74.0
    assert rows["seed 0: aff_weight=0"]["diff"] != 0
    md = weclip.ablations_markdown({"command": "cmd", "n_images": 10, "rows": list(rows.values())})
    assert md.count("\n| seed ") == len(runs) and "toy val, 10 images" in md


def test_weakclip_tables_compare_with_the_first_and_the_base():
    results = {
        n: SimpleNamespace(
            image_hists=_hists(i), ignored_fraction=ig, scores=seg_scores(_hists(i).sum(0))
        )
        for i, (n, ig) in enumerate([("dCRF", 0.0), ("WeakCLIP", None), ("mask", 0.02)])
    }
    table = weakclip.comparison_table(results, "val", n_boot=50)
    assert list(table["run or difference"]) == [*results, "WeakCLIP - dCRF", "mask - dCRF"]
    assert table["ignored %"].iloc[:3].tolist() == [0.0, 0.0, 2.0]
    assert table["ignored %"].iloc[3:].isna().all() and (table["split"] == "val").all()
    diff = table.set_index("run or difference")["mIoU"]
    assert diff["mask - dCRF"] == pytest.approx(diff["mask"] - diff["dCRF"])
    ab = weakclip.ablation_table(results, base="WeakCLIP", n_boot=50).set_index("run")
    assert ab.loc["WeakCLIP", "minus default"] == 0
    assert ab.loc["dCRF", "minus default"] == round(diff["dCRF"] - diff["WeakCLIP"], 1)
    assert next(iter(weakclip.VARIANTS)).startswith("default")


def test_deeplab_tables(tmp_path):
    hists = {
        f"{loss} seed {s}": _hists(3 * s + i)
        for s in (0, 1)
        for i, loss in enumerate(("ce", "cgl"))
    }
    noise = deeplab.noise_table(hists, [0, 1], n_boot=50).set_index("run or difference")
    assert list(noise.index[-2:]) == ["cgl - ce, seed 0", "cgl - ce, seed 1"]
    assert list(noise.columns) == ["mIoU", "95% low", "95% high"]
    keys = [(0.0, 0), (0.8, 0), (0.95, 0)]
    sweep = deeplab.mu_sweep_table(
        keys,
        [_hists(i) for i in range(3)],
        [1.4, 2.6, 3.0],
        {0.0: 0, 0.8: 5.0, 0.95: 9.0},
        iterations=7,
        n_boot=50,
    )
    ref = sweep.set_index("mu").loc[0.95]
    assert (ref["minus mu 0.95"], ref["excludes 0"], ref["run"]) == (0, False, "the CGL run")
    assert sweep["train s"].tolist() == [1, 3, 3] and (sweep["iterations"] == 7).all()
    np.save(tmp_path / "a.npy", np.array([[0.1, 0.6], [0.9, 0.99]], np.float32))
    conf = deeplab.confidence_table(tmp_path, [0.95]).set_index("pixels")["% of train pixels"]
    assert conf.tolist() == [25.0, 25.0, 25.0, 25.0, 75.0]
    log = [
        {"kind": "train", "step": 4, "samples_per_s": 2.0},
        {"kind": "val", "step": 4},
        {"kind": "train", "step": 2, "samples_per_s": 4.0},
    ]
    assert deeplab.train_seconds(log, batch_size=2) == pytest.approx(2 * 2 / 4 + 2 * 2 / 2)
    assert deeplab.run_name("cgl", 1, 0.8) == "cgl_mu0.8_seed1"
    assert deeplab.run_name("ce", 0, None) == "ce_seed0"


def test_clip_es_folders_run_one_crf_per_image(tmp_path, make_rect_voc, tiny_es, monkeypatch):
    import clipwsss.pipelines.masks as masks_module
    from clipwsss.data import load_label_png
    from clipwsss.experiments.stages import clip_es_folders

    ds = make_rect_voc(tmp_path / "voc", n=2, size=(32, 48))
    calls, crf = [], masks_module.crf_posterior
    monkeypatch.setattr(
        masks_module, "crf_posterior", lambda *a, **k: [calls.append(1), crf(*a, **k)][1]
    )
    out = clip_es_folders(tiny_es, ds, tmp_path / "run", threshold=0.95, confidence_maps=True)
    assert set(out) == {"cams", "crf", "masks", "conf"} and len(calls) == len(ds)
    for s in ds:
        label = load_label_png(out["crf"] / f"{s.image_id}.png")
        conf = np.load(out["conf"] / f"{s.image_id}.npy")
        mask = load_label_png(out["masks"] / f"{s.image_id}.png")
        np.testing.assert_array_equal(np.where(conf < 0.95, 255, label), mask)
    only = clip_es_folders(tiny_es, ds, tmp_path / "labels", threshold=None)
    assert set(only) == {"cams", "crf"} and not (tmp_path / "labels" / "masks").exists()
    for s in ds:  # the same CRF labels, made as the main output at mu = 0
        np.testing.assert_array_equal(
            load_label_png(only["crf"] / f"{s.image_id}.png"),
            load_label_png(out["crf"] / f"{s.image_id}.png"),
        )
