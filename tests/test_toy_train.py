"""The micro-CLIP training script runs and writes a folder that loads like any open_clip."""

import json

import torch

import clipwsss as cw
from clipwsss.toy.train import ToyClipConfig, contrastive_loss, sha256, train_toy_clip


def test_training_runs_a_few_steps_and_the_result_loads(tmp_path):
    cfg = ToyClipConfig(steps=2, batch_size=8, pool_scenes=16, eval_every=2, warmup=1,
                        vision_layers=1, text_layers=1)  # fmt: skip
    seen = []
    out = train_toy_clip(tmp_path / "m", cfg, eval_fn=lambda d: seen.append(d) or {"x": 1.0},
                         log=lambda *_: None)  # fmt: skip
    assert len(seen) == 1
    for name in ("open_clip_config.json", "open_clip_model.safetensors", "bpe_toy.txt.gz",
                 "train_log.csv", "SHA256SUMS"):  # fmt: skip
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
