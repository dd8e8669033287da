"""The shipped micro-CLIP: checksum, loading, and the whole pipeline on toy images."""

import hashlib

import pytest
import torch

import clipwsss as cw
from clipwsss.data import VOCDataset
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, TOY_MODEL_DIR, get_profile
from clipwsss.experiments.stages import run_stages
from clipwsss.toy import generate_toy_voc

# Measured with the shipped checkpoint on these 20 images (seed 0): see results/toy/ and
# `python scripts/toy_margins.py` below. The asserted margins are about half of the measured
# gaps, so they catch a broken pipeline without being tuned to pass.
# Gaps to the best baseline, 20 images, seeds 0-4 (`python scripts/toy_margins.py`, this
# checkpoint): initial 22.4-35.6, + CAA 28.7-36.3, + dCRF 32.4-48.8 points.
MIN_GAIN_OVER_BASELINES = 11.0
# `python scripts/probe_toy_clip.py [DIR] --n-scenes 12`: this checkpoint 0.470 (Grad-CAM) /
# 0.555 (value path); the previous checkpoint (no window pairs, 800 steps) 0.310 / 0.265.
MIN_PROBE_MIOU = 0.38


def test_checkpoint_matches_its_checksums():
    lines = (TOY_MODEL_DIR / "SHA256SUMS").read_text().split("\n")
    entries = [line.split() for line in lines if line.strip()]
    assert {name for _, name in entries} >= {
        "open_clip_model.safetensors",
        "bpe_toy.txt.gz",
        "open_clip_config.json",
    }
    for digest, name in entries:
        assert hashlib.sha256((TOY_MODEL_DIR / name).read_bytes()).hexdigest() == digest, name


def test_checkpoint_is_small_and_loads_through_the_generic_path():
    assert (TOY_MODEL_DIR / "open_clip_model.safetensors").stat().st_size <= 10 * 2**20
    profile = get_profile("toy")
    clip = cw.load_clip(profile.model, profile.pretrained)
    assert clip.is_vit and clip.patch_size == 8
    assert (TOY_MODEL_DIR / "train_log.csv").is_file()


@pytest.fixture(scope="module")
def toy_stages(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root / "data", n_train=0, n_val=20, seed=0, image_size=TOY_IMAGE_SIZE)
    profile = get_profile("toy")
    es = cw.ClipES(cw.load_clip(profile.model), profile.vocabulary(), profile.clip_es)
    dataset = VOCDataset(root / "data", "val", class_names=profile.class_names())
    table, _ = run_stages(es, dataset, root / "run", workers=1, progress=False)
    return dict(zip(table["stage"], table["mIoU"], strict=True))


def test_pipeline_beats_the_trivial_baselines(toy_stages):
    best_baseline = max(toy_stages["all background"], toy_stages["largest class everywhere"])
    for stage in ("initial CAM", "+ CAA", "+ CAA + dCRF"):
        assert toy_stages[stage] >= best_baseline + MIN_GAIN_OVER_BASELINES, (stage, toy_stages)


def test_every_stage_stays_below_the_patch_grid_ceiling(toy_stages):
    ceiling = toy_stages["ceiling: 8px patch majority"]
    assert all(v < ceiling for k, v in toy_stages.items() if not k.startswith("ceiling"))


def test_token_text_maps_are_normalised_per_class_and_reject_unknown_paths(tiny_vit):
    import numpy as np

    from clipwsss.toy.evaluate import token_text_maps

    es = cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    dense = es.forward(image)
    for path in ("output", "value"):
        maps = token_text_maps(es, dense, [3, 7], path)
        assert maps.shape == (2, *dense.grid) == (2, 4, 6)
        assert maps.min() >= 0 and (maps.flatten(1).max(1).values > 0.99).all()
    assert not torch.allclose(token_text_maps(es, dense, [3, 7], "output"), maps)
    with pytest.raises(ValueError, match="path"):
        token_text_maps(es, dense, [3], "values")


def test_shipped_micro_clip_localises_on_both_grad_cam_and_value_path():
    """The property the window-pair recipe was trained for (README, "How we got there")."""
    from clipwsss.toy.evaluate import localisation_probe

    probe = localisation_probe(cw.load_clip(get_profile("toy").model), n_scenes=12)
    assert probe["gradcam_avg"] >= MIN_PROBE_MIOU and probe["value_path"] >= MIN_PROBE_MIOU, probe
