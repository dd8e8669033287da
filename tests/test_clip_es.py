"""End-to-end tests for clipwsss.methods.clip_es (CLIP-ES stages 1-2: Softmax-GradCAM, then CAA) on
the tiny random ViT and ResNet; the pieces are checked against direct calls of the pure
modules."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.testing import assert_close

import clipwsss as cw
from clipwsss.cams.caa import attention_affinity, caa_refine, refine_cams
from clipwsss.cams.gradcam import build_text_setup, softmax_gradcam
from clipwsss.clip.dense import dense_forward, preprocess
from clipwsss.clip.text import background_text_features, class_text_features
from clipwsss.data import load_image
from clipwsss.methods.clip_es import ClipES, ClipEsConfig
from clipwsss.vocab import voc_vocabulary

LABELS = [7, 14]  # cat, person


def _image(h: int = 72, w: int = 90, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def voc():
    return voc_vocabulary()


@pytest.mark.parametrize("refine", ["caa", "mhsa", "none"])
@pytest.mark.parametrize("pooling", ["avg", "cls"])
def test_end_to_end_shapes_and_ranges(tiny_vit, voc, refine, pooling):
    es = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, refine=refine, pooling=pooling))
    image = _image()
    out = es(image, LABELS)
    assert out.grid == (5, 6)
    assert out.keys.tolist() == LABELS
    assert out.cams.shape == (2, 5, 6)
    assert float(out.cams.min()) >= 0 and float(out.cams.max()) <= 1
    assert out.scores.shape == (2,) and float(out.scores.sum()) < 1 and (out.scores > 0).all()
    if refine == "none":
        assert out.refined is None
    else:
        assert out.refined.shape == (2, 5, 6) and out.refined.dtype == torch.float32
        assert float(out.refined.min()) >= 0 and float(out.refined.max()) <= 1
        assert es.upsample(out.refined, image.shape[:2]).shape == (2, 72, 90)


def test_matches_the_pure_modules(tiny_vit, voc):
    cfg = ClipEsConfig(caa_layers=2)
    out = ClipES(tiny_vit, voc, cfg)(_image(), LABELS)

    pixels = preprocess(_image(), patch_size=16)[None]
    dense = dense_forward(tiny_vit, pixels, pos_embed_fp16=cfg.pos_embed_fp16)
    text = build_text_setup(
        class_text_features(tiny_vit, voc), background_text_features(tiny_vit, voc), LABELS
    )
    scale = float(tiny_vit.model.logit_scale.exp())
    cams, scores = softmax_gradcam(dense, text, logit_scale=scale, return_scores=True)
    assert_close(out.cams, cams)
    assert_close(out.scores, scores)
    assert_close(out.refined, caa_refine(cams, dense.attn[0], n_layers=2))

    mhsa = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, refine="mhsa"))(_image(), LABELS)
    affinity = attention_affinity(dense.attn[0], n_layers=2)
    assert_close(mhsa.refined, refine_cams(cams, affinity, None))


def test_float32_pos_embed_switch(tiny_vit, voc):
    """Official: the interpolated positional table is rounded to float16; the
    switch keeps it in float32, which moves the CAMs by a rounding-sized amount."""
    from clipwsss.clip.dense import interpolate_pos_embed, official_pos_embed

    table = tiny_vit.model.visual.positional_embedding
    rounded = official_pos_embed(table, (5, 6))
    assert rounded.dtype == table.dtype
    assert torch.equal(rounded, interpolate_pos_embed(table, (5, 6)).half().float())
    assert not torch.equal(rounded, interpolate_pos_embed(table, (5, 6)))
    fp16 = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2))(_image(), LABELS)
    fp32 = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, pos_embed_fp16=False))(_image(), LABELS)
    diff = float((fp16.cams - fp32.cams).abs().max())
    assert 0 < diff < 0.05


def test_text_switches_change_the_cams(tiny_vit, voc):
    image = _image()
    base = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, refine="none"))(image, LABELS)
    for change in (
        {"softmax": False},
        {"use_background": False},
        {"text_set": "dataset"},
        {"fusion": "feature"},
        {"template": "a photo of a {}."},
    ):
        cfg = ClipEsConfig(caa_layers=2, refine="none", **change)
        out = ClipES(tiny_vit, voc, cfg)(image, LABELS)
        assert out.cams.shape == (2, 5, 6)
        assert (out.cams - base.cams).abs().max() > 1e-4, change


def test_single_label_without_background_gives_a_zero_gradient(tiny_vit, voc):
    # One foreground row and no background: the softmax score is always 1, so the
    # Softmax-GradCAM has nothing to show (a reason the background set matters, Table 6).
    cfg = ClipEsConfig(caa_layers=2, refine="none", use_background=False)
    out = ClipES(tiny_vit, voc, cfg)(_image(), [7])
    assert_close(out.scores, torch.ones(1))
    assert_close(out.cams, torch.zeros(1, 5, 6))


def test_resnet_gives_cams_without_refinement(tiny_rn, voc):
    out = ClipES(tiny_rn, voc)(_image(100, 130), LABELS)
    assert out.grid == (4, 5) and out.cams.shape == (2, 4, 5) and out.refined is None


def test_label_errors(tiny_vit, voc):
    es = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2))
    with pytest.raises(ValueError, match="empty"):
        es(_image(), [])
    with pytest.raises(IndexError):
        es(_image(), [20])
    with pytest.raises(IndexError):
        es(_image(), [3, -1])


def test_duplicate_labels_are_refused(tiny_vit, voc):
    # [7, 7] would put the cat row twice into the softmax and silently change its score.
    es = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, refine="none"))
    with pytest.raises(ValueError, match="duplicate"):
        es(_image(), [7, 7])


def test_bad_refine_value(tiny_vit, voc):
    with pytest.raises(ValueError):
        ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, refine="crf"))(_image(), [0])


def _write(path, mode: str):
    rng = np.random.default_rng(1)
    if mode == "L":
        img = Image.fromarray(rng.integers(0, 256, (70, 85), dtype=np.uint8), "L")
    elif mode == "RGBA":
        img = Image.fromarray(rng.integers(0, 256, (70, 85, 4), dtype=np.uint8), "RGBA")
    elif mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (70, 85), dtype=np.uint16))
        assert img.mode.startswith("I;16")
    else:
        img = Image.fromarray(rng.integers(0, 256, (70, 85, 3), dtype=np.uint8)).convert("P")
    img.save(path)
    return path


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P"])
def test_image_files_of_any_mode_go_through(tiny_vit, voc, tmp_path, mode):
    path = _write(tmp_path / f"img_{mode.replace(';', '')}.png", mode)
    image = load_image(path)
    assert image.shape == (70, 85, 3) and image.dtype == np.uint8
    out = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2))(image, [11])
    assert out.cams.shape == out.refined.shape == (1, 5, 6)
    assert torch.isfinite(out.refined).all()


def test_top_level_exports():
    assert cw.ClipES is ClipES and cw.ClipEsConfig is ClipEsConfig
    cfg = ClipEsConfig()
    assert (cfg.caa_layers, cfg.sinkhorn_iters, cfg.caa_power, cfg.box_threshold) == (8, 3, 2, 0.4)
    assert (cfg.pooling, cfg.refine, cfg.fusion, cfg.text_set) == (
        "avg",
        "caa",
        "sentence",
        "image",
    )


def test_returns_attention_affinity_and_block_tokens_of_its_one_forward(tiny_vit, voc):
    es = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2))
    out = es(_image(), LABELS)
    pixels = preprocess(_image(), patch_size=16)[None]
    dense = dense_forward(tiny_vit, pixels, pos_embed_fp16=es.config.pos_embed_fp16)  # as ClipES
    n_blocks, t = dense.attn.shape[1], dense.attn.shape[-1]
    assert out.attn.shape == (n_blocks, t, t) and not out.attn.requires_grad
    assert_close(out.attn, dense.attn[0], rtol=0, atol=0)  # the forward is deterministic
    expected = attention_affinity(dense.attn[0], n_layers=2)
    assert out.affinity.shape == (t - 1, t - 1)
    assert_close(out.affinity, expected, rtol=0, atol=0)
    assert_close(es.affinity(out.attn), expected, rtol=0, atol=0)
    assert len(out.block_tokens) == n_blocks
    assert_close(out.block_tokens[-1], dense.block_tokens[-1][0].detach())
    # The refinement is the one of the affinity it returns.
    assert_close(out.refined, es.refine_from_affinity(out.cams, out.affinity))
    # No refinement: no affinity computed, the attention still returned.
    plain = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2, refine="none"))(_image(), LABELS)
    assert plain.affinity is None and plain.refined is None and plain.attn is not None


def test_batch_equals_one_image_at_a_time_and_refuses_mixed_sizes(tiny_vit, voc):
    es = ClipES(tiny_vit, voc, ClipEsConfig(caa_layers=2))
    images, labels = [_image(seed=0), _image(seed=1)], [LABELS, [3]]
    outs = es.batch(images, labels)
    assert len(outs) == 2
    for out, image, lab in zip(outs, images, labels, strict=True):
        one = es(image, lab)
        assert out.keys.tolist() == list(lab)
        assert_close(out.cams, one.cams)
        assert_close(out.refined, one.refined)
    with pytest.raises(ValueError, match="same-size"):
        es.batch([_image(), _image(h=80)], [LABELS, LABELS])
    with pytest.raises(ValueError, match="label lists"):
        es.batch(images, [LABELS])
