"""Tests for clipwsss.experiments.efficiency: timed stages equal the untimed pipeline, Table 3
arithmetic, memory readings, and the batched vs per-class GradCAM comparison (tiny random ViT)."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch.testing import assert_close

from clipwsss.experiments import efficiency as eff
from clipwsss.methods.clip_es import ClipES, ClipEsConfig
from clipwsss.pipelines.masks import MaskOptions, pseudo_mask_for
from clipwsss.vocab import voc_vocabulary

LABELS = (7, 14)


def _image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def es(tiny_vit):
    return ClipES(tiny_vit, voc_vocabulary(), ClipEsConfig(caa_layers=2))


def test_timed_cams_equal_clip_es(es):
    clock = eff.StageClock()
    out, loop = eff.timed_cams(es, _image(), LABELS, clock, time_loop=True)
    ref = es(_image(), LABELS)
    assert_close(out.cams, ref.cams)
    assert_close(out.refined, ref.refined)
    assert_close(out.scores, ref.scores)
    assert out.keys.tolist() == list(LABELS) and out.grid == ref.grid
    assert_close(loop, ref.cams, rtol=0, atol=1e-5)  # the official loop gives the same CAMs
    assert set(clock.seconds) == {"CLIP forward", eff.LOOP_STAGE, "Softmax-GradCAM", "CAA"}


def test_timed_image_equals_runner_mask(es):
    image = _image()
    clock = eff.StageClock()
    mask = eff.timed_image(es, image, LABELS, clock)
    ref = es(image, LABELS)
    cams = es.upsample(ref.refined, image.shape[:2]).half().numpy()
    expected = pseudo_mask_for(image, ref.keys.numpy(), cams, MaskOptions())
    np.testing.assert_array_equal(mask, expected)
    assert set(clock.seconds) == set(eff.STAGES)
    assert all(len(v) == 1 and v[0] >= 0 for v in clock.seconds.values())


def test_time_pipeline_table_and_totals(es):
    samples = [(_image(seed=i), LABELS[: 1 + i % 2]) for i in range(3)]
    timing = eff.time_pipeline(es, samples, time_loop=True)
    assert list(timing.seconds.columns) == [*eff.STAGES, eff.LOOP_STAGE]
    assert len(timing.seconds) == 3 and timing.n_labels == (1, 2, 1)
    assert timing.image_sizes == ((48, 64),) * 3
    per = timing.per_image()
    assert timing.inference_seconds() == pytest.approx(per[list(eff.INFERENCE_STAGES)].sum())
    assert timing.crf_seconds() == pytest.approx(per[list(eff.CRF_STAGES)].sum())
    total = timing.inference_seconds() + timing.crf_seconds()
    assert timing.images_per_second() == pytest.approx(1 / total)
    assert timing.peak_memory_bytes > 0 and "ru_maxrss" in timing.memory_kind
    with pytest.raises(ValueError, match="no samples"):
        eff.time_pipeline(es, [])


def test_cpu_peak_memory_is_a_process_high_water_mark():
    before = eff.peak_memory_bytes("cpu")
    rss = eff.rss_bytes()
    assert rss is None or 0 < rss <= before * 1.01  # current RSS never above the peak
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    block += 1
    assert eff.peak_memory_bytes("cpu") >= before
    eff.reset_peak_memory("cpu")  # no-op on the CPU
    assert eff.peak_memory_bytes("cpu") >= before
    del block


def test_extrapolation_and_table3():
    assert eff.extrapolate_hours(3.6, n_images=1000) == pytest.approx(1.0)
    assert eff.extrapolate_hours(3.6, n_images=1000, workers=4) == pytest.approx(0.25)
    seconds = pd.DataFrame([dict.fromkeys(eff.STAGES, 0.1)] * 2)
    timing = eff.PipelineTiming(seconds, ((375, 500),) * 2, (1, 2), int(2e9), "x", None)
    paper = {"t3_inference_h": 0.4, "t3_dcrf_h": 0.2, "t3_total_h": 0.6, "t3_memory_gb": 2.0}
    table = eff.table3_comparison(timing, paper=paper, label="ours", crf_workers=2, n_images=3600)
    assert table.loc["t3_inference_h", "ours"] == pytest.approx(0.4)  # 4 stages x 0.1 s
    assert table.loc["t3_dcrf_h", "ours"] == pytest.approx(0.1)  # 0.2 s over 2 workers
    assert table.loc["t3_total_h", "ours"] == pytest.approx(0.5)
    assert table.loc["t3_memory_gb", "ours / paper"] == pytest.approx(1.0)


def test_gradcam_schedules_agree(es):
    samples = [(_image(), LABELS), (_image(seed=1), (3,))]
    cmp = eff.gradcam_schedules(es, samples)
    assert cmp.per_image["K"].tolist() == [2, 1] and cmp.batched is None
    assert (cmp.per_image["max |batched - loop|"] < 1e-5).all()
    gts = [np.random.default_rng(i).integers(0, 21, (48, 64)).astype(np.uint8) for i in (0, 1)]
    scored = eff.gradcam_schedules(es, samples, gts=gts, n_classes=21)
    assert scored.batched.miou == pytest.approx(scored.loop.miou, abs=1e-3)
    assert 0 <= scored.batched.miou <= 1


def test_map_labels_keeps_k_and_resize():
    names, target = ["crane", "boat", "car"], ["aeroplane", "bicycle", "bird", "boat", "car"]
    assert eff.map_labels([1, 2], names, target) == (3, 4)
    assert eff.map_labels([0, 1], names, target) == (0, 3)  # unknown name: first unused id
    assert eff.map_labels([0], names, ["boat"]) == (0,)
    ((img, lab),) = eff.resized_samples([(_image(), (1, 2))], size=(30, 40))
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8 and lab == (1, 2)


def test_hardware_and_parameter_count(tiny_vit):
    hw = eff.hardware("cpu")
    assert hw["device"] == "cpu" and int(hw["torch threads"]) >= 1 and hw["CPU"]
    counts = eff.parameter_count(tiny_vit)
    assert counts["total"] == sum(p.numel() for p in tiny_vit.model.parameters())
    assert counts["image tower"] + counts["text tower + logit scale"] == counts["total"]
