"""The micro-CLIP training script runs and writes a folder that loads like any open_clip."""

import json

import numpy as np
import pytest
import torch

import clipwsss as cw
from clipwsss.clip.dense import vit_tokens
from clipwsss.toy.train import (
    ToyClipConfig,
    contrastive_loss,
    encode_with_windows,
    sha256,
    train_toy_clip,
    window_caption,
)


def test_training_runs_a_few_steps_and_the_result_loads(tmp_path):
    cfg = ToyClipConfig(
        steps=2,
        batch_size=8,
        pool_scenes=16,
        eval_every=2,
        warmup=1,
        vision_layers=1,
        text_layers=1,
        window_pairs=0.0,
    )
    seen = []
    out = train_toy_clip(
        tmp_path / "m", cfg, eval_fn=lambda d: seen.append(d) or {"x": 1.0}, log=lambda *_: None
    )
    assert len(seen) == 1
    for name in (
        "open_clip_config.json",
        "open_clip_model.safetensors",
        "bpe_toy.txt.gz",
        "train_log.csv",
        "SHA256SUMS",
    ):
        assert (out / name).is_file(), name
    sums = dict(line.split()[::-1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sums["open_clip_model.safetensors"] == sha256(out / "open_clip_model.safetensors")
    clip = cw.load_clip(f"local-dir:{out}")
    config = json.loads((out / "open_clip_config.json").read_text())
    assert clip.patch_size == cfg.patch_size
    assert clip.tokenizer.vocab_size == config["model_cfg"]["text_cfg"]["vocab_size"]
    assert abs(float(clip.model.logit_scale.exp()) - cfg.init_logit_scale) < 1.0


def test_contrastive_loss_shares_the_target_between_identical_captions():
    img = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), dim=-1)
    same = torch.ones(2, 2, dtype=torch.bool)  # both captions equal: either match is right
    loss = contrastive_loss(img, img, torch.tensor(10.0), same)
    torch.testing.assert_close(loss, torch.log(torch.tensor(2.0)))  # uniform over 2 positives


def test_training_with_window_pairs_runs(tmp_path):
    cfg = ToyClipConfig(
        steps=2,
        batch_size=8,
        pool_scenes=16,
        eval_every=2,
        warmup=1,
        vision_layers=1,
        text_layers=1,
        window_pairs=1.0,
    )
    out = train_toy_clip(tmp_path / "w", cfg, log=lambda *_: None)
    assert (out / "open_clip_model.safetensors").is_file()
    with pytest.raises(ValueError, match="patch_dropout"):
        train_toy_clip(tmp_path / "x", ToyClipConfig(window_pairs=1.0, patch_dropout=0.5))
    cfg = ToyClipConfig(
        steps=1,
        batch_size=4,
        pool_scenes=8,
        warmup=1,
        vision_layers=1,
        text_layers=1,
        window_pairs=0.5,
        window_path="value",
        value_whole_image=True,
    )
    assert (train_toy_clip(tmp_path / "v", cfg, log=lambda *_: None) / "SHA256SUMS").is_file()
    with pytest.raises(ValueError, match="value_whole_image"):
        train_toy_clip(tmp_path / "y", ToyClipConfig(value_whole_image=True, window_path="output"))
    with pytest.raises(ValueError, match="window_path"):
        train_toy_clip(tmp_path / "z", ToyClipConfig(window_pairs=1.0, window_path="values"))


def _tiny_visual_model():
    import open_clip

    torch.manual_seed(0)
    vision = dict(image_size=32, patch_size=8, width=32, layers=2, head_width=16, pool_type="avg")
    text = dict(context_length=8, vocab_size=50, width=32, heads=2, layers=1)
    return open_clip.CLIP(embed_dim=16, vision_cfg=vision, text_cfg=text).eval()


def test_embedding_step_is_open_clips_bit_for_bit():
    """encode_with_windows embeds with the public vit_tokens, not open_clip's private
    _embeds; the retrained micro-CLIP stays the same only if they agree exactly."""
    visual = _tiny_visual_model().visual
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(vit_tokens(visual, pixels)[0], visual._embeds(pixels))


def test_whole_grid_windows_match_the_models_own_pooling():
    model = _tiny_visual_model()
    pixels = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        full, windows = encode_with_windows(model, pixels, [0, 2], [(0, 0, 4, 4)] * 2, grid=4)
        torch.testing.assert_close(full, model.encode_image(pixels))
        torch.testing.assert_close(windows, full[[0, 2]])


def test_value_path_window_is_the_mean_of_the_last_blocks_values():
    """With query/key weights zeroed, attention is uniform, so every token's attention output
    over the patch keys is the mean of the out-projected values: the value path by construction."""
    model = _tiny_visual_model()
    visual, last = model.visual, model.visual.transformer.resblocks[-1]
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        _, windows = encode_with_windows(
            model, pixels, [1], [(1, 0, 2, 3)], grid=4, window_path="value"
        )
        x = visual._embeds(pixels[1:])
        for block in visual.transformer.resblocks[:-1]:
            x = block(x)
        c = last.attn.embed_dim
        last.attn.in_proj_weight[: 2 * c] = 0
        last.attn.in_proj_bias[: 2 * c] = 0
        keep = torch.zeros(4, 4, dtype=torch.bool)
        keep[1:3, 0:3] = True
        ignore = torch.cat([torch.ones(1, dtype=torch.bool), ~keep.flatten()])[None]
        normed = last.ln_1(x)
        uniform = last.attn(normed, normed, normed, key_padding_mask=ignore)[0][:, 0]
        torch.testing.assert_close(windows, visual.ln_post(uniform) @ visual.proj)


def test_window_caption_names_exactly_the_objects_inside_the_window():
    inst = np.zeros((96, 96), np.uint8)
    inst[8:24, 8:24] = 1  # a cow in the top-left 2 x 2 patches
    inst[72:88, 72:88] = 2  # a bus in the bottom-right 2 x 2 patches
    rng = np.random.default_rng(0)
    seen = {"cow": 0, "bus": 0, "none": 0}
    for _ in range(300):
        drawn = window_caption(rng, inst, [4, 2], ("grass",), patch=8)
        assert drawn is not None  # 2 x 2 objects in a 12 x 12 grid: a clean window exists
        (y0, x0, h, w), text = drawn
        assert 4 <= h <= 9 and 4 <= w <= 9 and y0 + h <= 12 and x0 + w <= 12
        has_cow = y0 <= 1 and x0 <= 1 and y0 + h >= 3 and x0 + w >= 3
        has_bus = y0 <= 9 and x0 <= 9 and y0 + h >= 11 and x0 + w >= 11
        cow_words = ("cow", "cattle", "calf", "bull", "ox")
        assert any(wd in text for wd in cow_words) == has_cow, (text, y0, x0, h, w)
        assert any(wd in text for wd in ("bus", "coach")) == has_bus, (text, y0, x0, h, w)
        seen["cow" if has_cow else "bus" if has_bus else "none"] += 1
    assert min(seen.values()) > 0, seen


def test_training_script_parses_every_recipe_field(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "train_toy_clip.py"
    spec = importlib.util.spec_from_file_location("train_toy_clip_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(
        [
            "--out",
            str(tmp_path / "m"),
            "--steps",
            "1",
            "--batch-size",
            "4",
            "--pool-scenes",
            "8",
            "--vision-layers",
            "1",
            "--text-layers",
            "1",
            "--warmup",
            "1",
            "--eval-every",
            "5",
            "--value-whole-image",
            "--window-pairs",
            "0.5",
            "--threads",
            "1",
        ]
    )
    saved = json.loads((tmp_path / "m" / "train_config.json").read_text())
    assert saved["value_whole_image"] is True and saved["window_pairs"] == 0.5
    assert saved["steps"] == 1 and saved["window_path"] == "value"
