"""Tests for clipwsss.clip.loading and clipwsss.clip.dense: any-size preprocessing, dense
ViT/ResNet forwards, loading.

The dense forwards are checked against open_clip's own forward (at the native input size,
where both must agree) and against hooks placed inside that forward (GradCAM target, attention
maps). Paper: CLIP-ES Section 4.1 and supplementary A (Table S1).
"""

import copy
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.testing import assert_close

import clipwsss as cw
from clipwsss.clip.dense import (
    attention_map,
    dense_forward,
    interpolate_pos_embed,
    preprocess,
    resnet_dense_forward,
    vit_dense_forward,
    vit_forward_floor,
)
from clipwsss.clip.loading import CLIP_MEAN, CLIP_STD, PRETRAINED_ENV, _is_torchscript_archive


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pixels(h: int, w: int, b: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.stack([preprocess(_image(h, w, seed + i), patch_size=16) for i in range(b)])


# --------------------------------------------------------------------------- preprocess


def test_preprocess_rounds_up_with_bicubic_and_clip_normalisation():
    image = _image(70, 90)  # 70 x 90 -> 80 x 96, no crop
    x = preprocess(image, patch_size=16)
    resized = Image.fromarray(image).resize((96, 80), Image.BICUBIC)
    expected = (np.asarray(resized, dtype=np.float32) / 255.0 - np.array(CLIP_MEAN)) / np.array(
        CLIP_STD
    )
    assert x.shape == (3, 80, 96) and x.dtype == torch.float32
    assert_close(x, torch.from_numpy(expected.astype(np.float32)).permute(2, 0, 1))


@pytest.mark.parametrize(
    ("h", "w", "p", "out"), [(375, 500, 16, (384, 512)), (33, 64, 32, (64, 64))]
)
def test_preprocess_output_size_is_next_multiple(h, w, p, out):
    assert preprocess(_image(h, w), patch_size=p).shape[1:] == out


def test_preprocess_does_not_resize_a_multiple(monkeypatch):
    image = _image(48, 64)

    def no_resize(*args, **kwargs):
        raise AssertionError("resize called for an image that is already a multiple")

    monkeypatch.setattr(Image.Image, "resize", no_resize)
    x = preprocess(image, patch_size=16)
    expected = (image.astype(np.float32) / 255.0 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    assert_close(x, torch.from_numpy(expected.astype(np.float32)).permute(2, 0, 1))


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 100, 3), np.uint8),  # smaller than one 16 px patch
        np.zeros((100, 15, 3), np.uint8),
        np.zeros((32, 32, 3), np.float32),  # not uint8
        np.zeros((32, 32, 3), np.uint16),
        np.zeros((32, 32), np.uint8),  # grey, not RGB
        np.zeros((32, 32, 4), np.uint8),  # RGBA
    ],
    ids=["short", "narrow", "float32", "uint16", "grey", "rgba"],
)
def test_preprocess_rejects_bad_images(image):
    with pytest.raises(ValueError):
        preprocess(image, patch_size=16)


# --------------------------------------------------------------------------- positional table


def test_interpolate_pos_embed_identity_at_native_grid():
    table = torch.randn(1 + 14 * 14, 8)
    assert_close(interpolate_pos_embed(table, (14, 14)), table, rtol=0, atol=0)


def test_interpolate_pos_embed_shape_and_cls_row():
    table = torch.randn(1 + 4 * 4, 8)
    out = interpolate_pos_embed(table, (3, 5))
    assert out.shape == (1 + 15, 8)
    assert_close(out[0], table[0], rtol=0, atol=0)  # class position kept as is
    const = torch.cat([torch.randn(1, 8), torch.ones(16, 8) * 2.5])  # constant grid stays constant
    assert_close(interpolate_pos_embed(const, (24, 32))[1:], torch.full((768, 8), 2.5))


@pytest.mark.filterwarnings("ignore:.*upsample.*deprecated")
def test_interpolate_pos_embed_bilinear_like_f_upsample():
    table = torch.randn(1 + 4 * 4, 6)
    grid = table[1:].reshape(1, 4, 4, 6).permute(0, 3, 1, 2)
    ref = F.upsample(grid, size=(6, 7), mode="bilinear", align_corners=False)  # official call
    assert_close(interpolate_pos_embed(table, (6, 7))[1:], ref[0].permute(1, 2, 0).reshape(42, 6))


def test_interpolate_pos_embed_rejects_non_square():
    with pytest.raises(ValueError):
        interpolate_pos_embed(torch.randn(1 + 12, 4), (3, 4))


# --------------------------------------------------------------------------- ViT dense forward


def test_vit_cls_pooling_matches_open_clip_at_native_size(tiny_vit):
    visual = tiny_vit.model.visual
    assert visual.pool_type == "tok"  # open_clip's default: the class token
    pixels = _pixels(64, 64, b=2)
    dense = vit_dense_forward(visual, pixels, pooling="cls")
    with torch.no_grad():
        ref = visual(pixels)
        ref_model = tiny_vit.model.encode_image(pixels)
    assert_close(dense.image_embedding.detach(), ref, rtol=0, atol=1e-5)
    assert_close(dense.image_embedding.detach(), ref_model, rtol=0, atol=1e-5)
    assert_close(vit_forward_floor(visual, pixels), ref, rtol=0, atol=1e-5)


def _open_clip_tokens(visual, pixels):
    with torch.no_grad():
        return visual.transformer(visual._embeds(pixels))


def test_vit_avg_pooling_is_mean_of_ln_post_patch_tokens(tiny_vit):
    visual = tiny_vit.model.visual
    pixels = _pixels(64, 64, b=2)
    dense = vit_dense_forward(visual, pixels, pooling="avg")
    tokens = visual.ln_post(_open_clip_tokens(visual, pixels))
    expected = tokens[:, 1:].mean(dim=1) @ visual.proj
    assert_close(dense.image_embedding.detach(), expected, rtol=0, atol=1e-5)
    assert dense.image_embedding.requires_grad


def test_vit_any_size_equals_open_clip_with_interpolated_table(tiny_vit):
    visual = copy.deepcopy(tiny_vit.model.visual)
    pixels = _pixels(80, 112)  # grid (5, 7)
    dense = vit_dense_forward(visual, pixels, pooling="cls")
    visual.positional_embedding = torch.nn.Parameter(
        interpolate_pos_embed(visual.positional_embedding.data, (5, 7))
    )
    with torch.no_grad():
        ref = visual(pixels)
    assert dense.grid == (5, 7)
    assert_close(dense.image_embedding.detach(), ref, rtol=0, atol=1e-5)
    assert_close(vit_forward_floor(tiny_vit.model.visual, pixels), ref, rtol=0, atol=1e-5)


def test_vit_activation_is_last_ln1_output(tiny_vit):
    visual = tiny_vit.model.visual
    pixels = _pixels(64, 64, b=2)
    seen = {}
    hook = visual.transformer.resblocks[-1].ln_1.register_forward_hook(
        lambda mod, inp, out: seen.setdefault("ln_1", out.detach())
    )
    try:
        with torch.no_grad():
            visual(pixels)
    finally:
        hook.remove()
    dense = vit_dense_forward(visual, pixels)
    assert dense.activation.shape == (2, 17, 48) and dense.n_prefix_tokens == 1
    assert dense.activation.is_leaf and dense.activation.requires_grad
    assert_close(dense.activation.detach(), seen["ln_1"], rtol=0, atol=1e-5)
    assert_close(dense.patch_activation, dense.activation[:, 1:])
    block = visual.transformer.resblocks[-1]
    assert_close(block.ln_1(dense.last_block_input), dense.activation.detach())


def _open_clip_block_io(visual, pixels, *, inputs: bool = False) -> list:
    """Each open_clip block's input (``inputs``) or output in one plain forward."""
    seen = []
    hooks = [
        blk.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
        if inputs
        else blk.register_forward_hook(lambda mod, inp, out: seen.append(out.detach()))
        for blk in visual.transformer.resblocks
    ]
    try:
        with torch.no_grad():
            visual(pixels)
    finally:
        for h in hooks:
            h.remove()
    return seen


def test_vit_block_tokens_are_every_block_output_of_open_clip(tiny_vit):
    visual = tiny_vit.model.visual
    pixels = _pixels(64, 64, b=2)
    outputs = _open_clip_block_io(visual, pixels)
    dense = vit_dense_forward(visual, pixels)
    assert len(dense.block_tokens) == len(visual.transformer.resblocks) == len(outputs)
    for ours, ref in zip(dense.block_tokens, outputs, strict=True):
        assert ours.shape == (2, 17, 48)
        assert_close(ours.detach(), ref, rtol=0, atol=1e-5)
    assert not dense.block_tokens[0].requires_grad
    assert dense.block_tokens[-1].requires_grad  # differentiable w.r.t. the GradCAM target


def test_vit_attention_maps_match_every_block_of_open_clip(tiny_vit):
    visual = tiny_vit.model.visual
    pixels = _pixels(64, 64, b=2)
    inputs = _open_clip_block_io(visual, pixels, inputs=True)
    dense = vit_dense_forward(visual, pixels)
    n_blocks = len(visual.transformer.resblocks)
    assert dense.attn.shape == (2, n_blocks, 17, 17)
    assert_close(dense.attn.sum(-1), torch.ones(2, n_blocks, 17))  # softmax over keys
    for i, (blk, x) in enumerate(zip(visual.transformer.resblocks, inputs, strict=True)):
        a = blk.ln_1(x)
        _, ref = blk.attn(a, a, a, need_weights=True, average_attn_weights=True)
        assert_close(dense.attn[:, i], ref, rtol=0, atol=1e-6)


def test_attention_map_equals_multihead_attention_weights(tiny_vit):
    block = tiny_vit.model.visual.transformer.resblocks[-1]
    normed = torch.randn(2, 31, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, ref = block.attn(normed, normed, normed, need_weights=True, average_attn_weights=True)
        ours = attention_map(block, normed)
    assert ours.shape == (2, 31, 31)
    assert_close(ours, ref, rtol=0, atol=1e-6)


def test_vit_dense_forward_any_size_shapes(tiny_vit):
    dense = dense_forward(tiny_vit, _pixels(80, 96))
    assert dense.grid == (5, 6)
    assert dense.activation.shape == (1, 31, 48)
    assert dense.attn.shape == (1, 3, 31, 31)
    assert dense.image_embedding.shape == (1, 32)


def test_vit_dense_forward_rejects_unknown_pooling(tiny_vit):
    with pytest.raises(ValueError):
        vit_dense_forward(tiny_vit.model.visual, _pixels(64, 64), pooling="max")


# --------------------------------------------------------------------------- ResNet dense forward


def test_resnet_dense_forward_matches_open_clip_at_native_size(tiny_rn):
    visual = tiny_rn.model.visual
    pixels = _pixels(64, 64, b=2)
    seen = {}
    hook = visual.layer4.register_forward_hook(lambda m, i, o: seen.setdefault("l4", o.detach()))
    try:
        with torch.no_grad():
            ref = visual(pixels)
    finally:
        hook.remove()
    dense = resnet_dense_forward(visual, pixels)
    assert_close(dense.image_embedding.detach(), ref, rtol=0, atol=1e-5)
    assert dense.grid == (2, 2) and dense.attn is None and dense.n_prefix_tokens == 0
    assert_close(dense.activation.detach(), seen["l4"].flatten(2).transpose(1, 2))
    assert dense.activation.requires_grad and dense.image_embedding.requires_grad


def test_resnet_dense_forward_any_size(tiny_rn):
    assert tiny_rn.patch_size == 32 and not tiny_rn.is_vit
    pixels = torch.stack([preprocess(_image(90, 120), patch_size=32)])  # -> 96 x 128
    dense = dense_forward(tiny_rn, pixels)
    assert dense.grid == (3, 4)
    assert dense.activation.shape == (1, 12, 512)
    assert dense.image_embedding.shape == (1, 32)


# --------------------------------------------------------------------------- load_clip


def test_load_clip_missing_file_says_how_to_provide_weights(tmp_path):
    with pytest.raises(cw.WeightsNotFoundError) as info:
        cw.load_clip("clipwsss-tiny-vit", tmp_path / "ViT-B-16.pt")
    msg = str(info.value)
    assert PRETRAINED_ENV in msg and "--pretrained" in msg and "ViT-B-16.pt" in msg


def test_load_clip_env_unset_raises(monkeypatch):
    monkeypatch.delenv(PRETRAINED_ENV, raising=False)
    with pytest.raises(cw.WeightsNotFoundError, match=PRETRAINED_ENV):
        cw.load_clip("clipwsss-tiny-vit", "env")


def test_load_clip_unknown_tag_raises_not_random():
    with pytest.raises(cw.WeightsNotFoundError):
        cw.load_clip("clipwsss-tiny-vit", "openai")  # no such tag for the tiny model


def test_load_clip_state_dict_round_trip_by_path_and_env(tiny_vit, tmp_path, monkeypatch):
    path = tmp_path / "tiny.pt"
    torch.save(tiny_vit.model.state_dict(), path)
    assert not _is_torchscript_archive(path)
    torch.manual_seed(123)  # a different random init underneath
    loaded = cw.load_clip("clipwsss-tiny-vit", path)
    monkeypatch.setenv(PRETRAINED_ENV, str(path))
    from_env = cw.load_clip("clipwsss-tiny-vit", "env")
    ref = tiny_vit.model.state_dict()
    for clip in (loaded, from_env):
        got = clip.model.state_dict()
        assert got.keys() == ref.keys()
        for key in ref:
            assert torch.equal(got[key], ref[key]), key
        assert clip.pretrained == str(path) and clip.patch_size == 16 and clip.is_vit
        assert not any(p.requires_grad for p in clip.model.parameters())


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.script is deprecated
def test_torchscript_archive_detection(tmp_path):
    scripted = torch.jit.script(torch.nn.Linear(3, 2))
    ts_path = tmp_path / "ViT-B-16.pt"
    scripted.save(str(ts_path))
    sd_path = tmp_path / "state.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), sd_path)
    text_path = tmp_path / "notes.pt"
    text_path.write_text("not an archive")
    assert _is_torchscript_archive(ts_path)
    assert not _is_torchscript_archive(sd_path)
    assert not _is_torchscript_archive(text_path)


def test_load_clip_openai_offline_fails_fast_never_random(tmp_path):
    # A fresh process with an empty hub cache, offline, and proxies that refuse connections:
    # must raise WeightsNotFoundError quickly (never fall back to random weights, never hang).
    code = textwrap.dedent(
        """
        import time, clipwsss as cw
        t = time.perf_counter()
        try:
            cw.load_clip("ViT-B-16", "openai")
        except cw.WeightsNotFoundError as err:
            assert "CLIPWSSS_PRETRAINED" in str(err)
            print(f"RAISED {time.perf_counter() - t:.1f}")
        else:
            print("LOADED")
        """
    )
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    env.pop(PRETRAINED_ENV, None)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=90
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("RAISED"), out.stdout
    assert float(out.stdout.split()[1]) < 30
    assert time.perf_counter() - start < 60


# --------------------------------------------------------------------------- full size (slow)


@pytest.mark.slow
def test_vit_b16_random_init_voc_size_grid_and_cams():
    torch.manual_seed(0)
    clip = cw.load_clip("ViT-B-16", pretrained=None)
    assert clip.patch_size == 16 and clip.pretrained is None
    image = _image(375, 500)  # a VOC-like 500 x 375 (W x H) image
    pixels = preprocess(image, patch_size=16)
    assert pixels.shape == (3, 384, 512)
    es = cw.ClipES(clip, cw.voc_vocabulary())
    out = es(image, labels=[7, 14])
    assert out.grid == (24, 32) == (math.ceil(375 / 16), math.ceil(500 / 16))
    assert out.cams.shape == out.refined.shape == (2, 24, 32)
    assert es.upsample(out.refined, image.shape[:2]).shape == (2, 375, 500)
    assert float(out.cams.min()) >= 0 and float(out.cams.max()) < 1


def test_model_configs_ship_with_package():
    configs = Path(cw.__file__).parent / "model_configs"
    assert {p.name for p in configs.glob("*.json")} >= {
        "clipwsss-tiny-vit.json",
        "clipwsss-tiny-rn.json",
    }


def test_weights_fingerprint_follows_the_weights_not_the_object(tiny_vit):
    import copy

    from clipwsss.clip.loading import weights_fingerprint

    same = copy.deepcopy(tiny_vit.model)
    assert weights_fingerprint(same) == weights_fingerprint(tiny_vit.model)
    assert tiny_vit.fingerprint == "random-init"  # pretrained=None: nothing to identify
    with torch.no_grad():
        next(same.parameters()).view(-1)[0] += 1e-3
    assert weights_fingerprint(same) != weights_fingerprint(tiny_vit.model)


def test_resolve_device_auto_and_errors():
    from clipwsss.clip.loading import resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device"):
        resolve_device("no-such-device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


def test_random_init_asked_for_logs_no_open_clip_warning(caplog):
    """``pretrained=None`` asks for random weights (tests, timing, parameter counts), so
    open_clip's "No pretrained weights loaded" says nothing new and stays out of notebook
    outputs; other warnings still pass and the filter is removed afterwards."""
    import logging

    with caplog.at_level(logging.WARNING):
        cw.load_clip("clipwsss-tiny-vit", pretrained=None)
        logging.warning("No pretrained weights loaded for model 'x' (outside load_clip)")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["No pretrained weights loaded for model 'x' (outside load_clip)"]
