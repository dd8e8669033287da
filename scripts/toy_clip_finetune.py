"""Fine-tune a micro-CLIP with window captions pooled from its *output* tokens (a candidate).

The shipped micro-CLIP pools its window captions from the last block's attention values
(``window_path="value"``): nothing in training asks a background token not to carry the
objects' class, and the measurement (scripts/toy_attention_groups.py) finds the background
tokens of the last block attending to the objects about twice as much as object tokens attend
to their own object. Here each window caption is matched to the mean of the model's *output*
tokens inside the window (``window_path="output"`` of :func:`clipwsss.toy.train.
encode_with_windows`), so a window with no object must look like background and a window
with one object must not carry the other one: the attention that mixes them is penalised.

Writes an open_clip folder loadable by ``load_clip("local-dir:OUT")``; the shipped model is
not touched. CPU:
    OMP_NUM_THREADS=1 nice -n 10 python scripts/toy_clip_finetune.py --out DIR --steps 250
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import clipwsss as cw
from clipwsss.experiments.profiles import TOY_MODEL_DIR
from clipwsss.toy.train import (
    BPE_FILE,
    contrastive_loss,
    encode_with_windows,
    save_weights,
    window_caption,
    write_checksums,
)
from clipwsss.toy.world import sample_scene


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--init", default=str(TOY_MODEL_DIR), help="open_clip folder to start from")
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--window-pairs", type=float, default=1.0)
    p.add_argument("--window-path", default="output", choices=["output", "value"])
    p.add_argument("--pool-scenes", type=int, default=4000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    out, init = Path(args.out), Path(args.init)
    out.mkdir(parents=True, exist_ok=True)
    for name in (BPE_FILE, "open_clip_config.json"):
        shutil.copy(init / name, out / name)
    (out / "finetune_config.json").write_text(json.dumps(vars(args), indent=2))

    clip = cw.load_clip(f"local-dir:{init}", device="cpu")
    model = clip.model.train()
    for prm in model.parameters():
        prm.requires_grad_(True)
    size = (
        model.visual.image_size[0]
        if isinstance(model.visual.image_size, tuple)
        else model.visual.image_size
    )
    patch = clip.patch_size
    grid = size // patch
    t0 = time.time()
    scenes = [sample_scene(rng, image_size=size) for _ in range(args.pool_scenes)]
    print(f"generated {len(scenes)} scenes in {time.time() - t0:.1f}s", flush=True)
    images = np.stack([s.image for s in scenes])
    mean = torch.tensor(clip.mean).view(1, 3, 1, 1)
    std = torch.tensor(clip.std).view(1, 3, 1, 1)
    opt = torch.optim.AdamW(
        [q for q in model.parameters() if q.requires_grad],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
        weight_decay=0.1,
    )
    t0 = time.time()
    for step in range(args.steps):
        lr = (
            args.lr
            * min(1.0, (step + 1) / args.warmup)
            * 0.5
            * (1 + math.cos(math.pi * step / args.steps))
        )
        for group in opt.param_groups:
            group["lr"] = lr
        idx = rng.integers(0, len(scenes), args.batch_size)
        batch = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float().div(255)
        flip = rng.random(args.batch_size) < 0.5
        batch[torch.from_numpy(flip)] = batch[torch.from_numpy(flip)].flip(-1)
        rows, boxes, texts = [], [], [scenes[i].caption for i in idx]
        for r in np.flatnonzero(rng.random(len(idx)) < args.window_pairs):
            s = scenes[idx[r]]
            drawn = window_caption(
                rng, s.instances, [o.class_id for o in s.objects], s.backgrounds, patch
            )
            if drawn is None:
                continue
            (y0, x0, h, w), text = drawn
            rows.append(int(r))
            boxes.append((y0, grid - x0 - w if flip[r] else x0, h, w))
            texts.append(text)
        img, win = encode_with_windows(
            model, (batch - mean) / std, rows, boxes, grid, args.window_path
        )
        img = F.normalize(torch.cat([img, win]), dim=-1)
        txt = F.normalize(model.encode_text(clip.tokenizer(texts)), dim=-1)
        names = np.array(texts)
        same = torch.from_numpy(names[:, None] == names[None, :])
        loss = contrastive_loss(img, txt, model.logit_scale.exp(), same)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 10 == 0 or step + 1 == args.steps:
            print(
                f"step={step + 1} loss={loss.item():.4f} lr={lr:.2e} "
                f"seconds={time.time() - t0:.0f}",
                flush=True,
            )
        if (step + 1) % 50 == 0 or step + 1 == args.steps:
            save_weights(model, out)
    write_checksums(out)


if __name__ == "__main__":
    main()
