"""Train the toy world's micro-CLIP contrastively on generated captions (CPU or GPU).

The result is a standard open_clip folder (``open_clip_config.json``, safetensors weights, a
truncated CLIP BPE vocabulary), loaded through the same ``load_clip("local-dir:...")`` path as
any other CLIP: the methods never special-case it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from clipwsss.clip.dense import vit_tokens

BPE_FILE = "bpe_toy.txt.gz"
WEIGHTS_FILE = "open_clip_model.safetensors"


@dataclass(frozen=True)
class ToyClipConfig:
    """Micro-CLIP architecture and training recipe (flat, like a papermill cell)."""

    image_size: int = 96  # 12 x 12 patch grid with patch 8
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int = 4
    vision_head_width: int = 32
    vision_pool: str = "avg"  # train with the pooling CLIP-ES uses at inference
    patch_dropout: float = 0.0  # FLIP-style: drop this fraction of patches while training
    # Window pairs: this fraction of each batch also pools a random window of the token grid and
    # matches it to a caption of the objects inside it (``window_caption``, which reads the
    # generator's instance maps: a region-level signal real CLIP never gets).
    window_pairs: float = 1.0
    # How a window is pooled: "output" (the model's own pooling restricted to the window) or
    # "value" (mean of the last block's attention values, out-projected: the path Grad-CAM reads).
    window_path: str = "value"
    # With window_path="value": also pair every image's whole-grid value path with its caption.
    value_whole_image: bool = False
    text_width: int = 128
    text_layers: int = 3
    text_heads: int = 4
    context_length: int = 32
    bpe_merges: int = 4000  # first merges of CLIP's BPE: 4,515 tokens, captions <= 25 tokens
    embed_dim: int = 128
    init_logit_scale: float = 30.0  # sharper softmax than CLIP's 14.3 (toy-prototype notes)
    steps: int = 1500
    batch_size: int = 96
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 100
    pool_scenes: int = 20000  # scenes generated once and cycled through (with flips)
    seed: int = 0
    eval_every: int = 100


def open_clip_config(cfg: ToyClipConfig, vocab_size: int) -> dict:
    """The ``open_clip_config.json`` content for this architecture."""
    return {
        "model_cfg": {
            "embed_dim": cfg.embed_dim,
            "vision_cfg": {
                "image_size": cfg.image_size,
                "patch_size": cfg.patch_size,
                "width": cfg.vision_width,
                "layers": cfg.vision_layers,
                "head_width": cfg.vision_head_width,
                "pool_type": cfg.vision_pool,
                **({"patch_dropout": cfg.patch_dropout} if cfg.patch_dropout else {}),
            },
            "text_cfg": {
                "context_length": cfg.context_length,
                "vocab_size": vocab_size,
                "width": cfg.text_width,
                "heads": cfg.text_heads,
                "layers": cfg.text_layers,
                "tokenizer_kwargs": {"bpe_path": BPE_FILE},
            },
        },
        "preprocess_cfg": {
            "mean": [0.48145466, 0.4578275, 0.40821073],
            "std": [0.26862954, 0.26130258, 0.27577711],
        },
    }


def write_truncated_bpe(path: Path, n_merges: int) -> None:
    """Write the first ``n_merges`` merges of CLIP's BPE file (header line kept)."""
    from open_clip.tokenizer import default_bpe

    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    # mtime=0: the same bytes on every run, so the checksum is stable.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(("\n".join(lines[: n_merges + 1]) + "\n").encode("utf-8"))


def contrastive_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, same: torch.Tensor):
    """Symmetric CLIP loss whose targets spread over identical captions.

    Shapes:
        img, txt: (B, E) normalised; same: (B, B) bool, True where captions are equal.
    """
    logits = scale * img @ txt.T
    target = same.float() / same.float().sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def window_caption(
    rng: np.random.Generator,
    instances: np.ndarray,
    class_ids: list[int],
    backgrounds: tuple[str, ...],
    patch: int,
    min_side: int = 4,
    max_side: int = 9,
    tries: int = 10,
) -> tuple[tuple[int, int, int, int], str] | None:
    """A random window of the patch grid and a caption of the objects inside it.

    An object is inside when >= 60 % of its visible pixels are, outside when <= 10 % are;
    windows that cut an object in between are redrawn (``tries`` times, then None). A window
    with no object gets a background-only caption. Colour words and riding are not used.

    Args:
        instances: (S, S) instance map of the scene (0 = none, k = ``class_ids[k - 1]``).
        patch: patch size in pixels; window sides are ``min_side..max_side`` patches.

    Returns:
        ``((y0, x0, h, w) in patches, caption)`` or None.
    """
    from clipwsss.toy.world import TOY_CLASSES, make_caption

    grid = instances.shape[0] // patch
    total = np.bincount(instances.ravel(), minlength=len(class_ids) + 1)[1:]
    for _ in range(tries):
        h, w = rng.integers(min_side, max_side + 1, 2)
        y0, x0 = rng.integers(0, grid - h + 1), rng.integers(0, grid - w + 1)
        crop = instances[y0 * patch : (y0 + h) * patch, x0 * patch : (x0 + w) * patch]
        frac = np.bincount(crop.ravel(), minlength=len(class_ids) + 1)[1:] / np.maximum(total, 1)
        if np.any((frac > 0.1) & (frac < 0.6)):
            continue
        objects = [(TOY_CLASSES[c], None) for c, f in zip(class_ids, frac, strict=True) if f >= 0.6]
        return (int(y0), int(x0), int(h), int(w)), make_caption(rng, objects, backgrounds, [])
    return None


def _scene_pool(cfg: ToyClipConfig, rng: np.random.Generator):
    from clipwsss.toy.world import sample_scene

    images = np.empty((cfg.pool_scenes, cfg.image_size, cfg.image_size, 3), np.uint8)
    captions, scenes = [], []
    for i in range(cfg.pool_scenes):
        scene = sample_scene(rng, image_size=cfg.image_size)
        images[i] = scene.image
        captions.append(scene.caption)
        if cfg.window_pairs > 0:  # what window captions need, without the image
            ids = [o.class_id for o in scene.objects]
            scenes.append((scene.instances.astype(np.uint8), ids, scene.backgrounds))
    return images, captions, scenes


def _window_batch(cfg, rng, scenes, captions, idx, flip):
    """Window boxes (patches, after the flip) and captions for a share of the batch."""
    rows, boxes, texts = [], [], []
    grid = cfg.image_size // cfg.patch_size
    if cfg.value_whole_image:
        rows = list(range(len(idx)))
        boxes = [(0, 0, grid, grid)] * len(idx)
        texts = [captions[i] for i in idx]
    for row in np.flatnonzero(rng.random(len(idx)) < cfg.window_pairs):
        inst, ids, backgrounds = scenes[idx[row]]
        drawn = window_caption(rng, inst, ids, backgrounds, cfg.patch_size)
        if drawn is None:
            continue
        (y0, x0, h, w), text = drawn
        if flip[row]:
            x0 = grid - x0 - w
        rows.append(int(row))
        boxes.append((y0, x0, h, w))
        texts.append(text)
    return rows, boxes, texts


def encode_with_windows(
    model,
    pixels: torch.Tensor,
    rows: list[int],
    boxes: list,
    grid: int,
    window_path: str = "output",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image embeddings of the whole images and of windows of some of them.

    avg pooling: a window's embedding is the mean of the output tokens inside it. cls (tok)
    pooling: the class token re-runs the last block attending only to the window's tokens
    (and itself), so what it learns about a window must come through the last block's values,
    the path Grad-CAM reads.

    Shapes:
        pixels (B, 3, S, S); rows: n batch rows; boxes: n ``(y0, x0, h, w)`` in patches.
        Returns (B, E) and (n, E), unnormalised.
    """
    visual = model.visual
    x, _ = vit_tokens(visual, pixels)  # open_clip's embedding step, bit for bit (tested)
    for block in visual.transformer.resblocks[:-1]:
        x = block(x)
    last = visual.transformer.resblocks[-1]
    out = visual.ln_post(last(x))
    pooled = out[:, 1:].mean(1) if visual.pool_type == "avg" else out[:, 0]
    if not rows:
        return pooled @ visual.proj, pooled.new_zeros(0, visual.proj.shape[1])
    inside = torch.zeros(len(rows), grid, grid, dtype=torch.bool, device=pixels.device)
    for i, (y0, x0, h, w) in enumerate(boxes):
        inside[i, y0 : y0 + h, x0 : x0 + w] = True
    inside = inside.flatten(1)
    if window_path == "value":
        attn = last.attn
        c = attn.embed_dim
        values = F.linear(
            last.ln_1(x[rows, 1:]), attn.in_proj_weight[2 * c :], attn.in_proj_bias[2 * c :]
        )
        values = attn.out_proj(values)
        window = visual.ln_post((values * inside[..., None]).sum(1) / inside.sum(1, keepdim=True))
    elif visual.pool_type == "avg":
        tokens = out[rows, 1:]
        window = (tokens * inside[..., None]).sum(1) / inside.sum(1, keepdim=True)
    else:
        xs = x[rows]
        normed = last.ln_1(xs)
        ignore = torch.cat([inside.new_zeros(len(rows), 1), ~inside], 1)  # keep the cls key
        attn = last.attn(
            normed[:, :1], normed, normed, key_padding_mask=ignore, need_weights=False
        )[0]
        cls = xs[:, :1] + last.ls_1(attn)
        cls = cls + last.ls_2(last.mlp(last.ln_2(cls)))
        window = visual.ln_post(cls[:, 0])
    return pooled @ visual.proj, window @ visual.proj


def _lr(step: int, cfg: ToyClipConfig) -> float:
    """Linear warm-up to ``lr``, then cosine over the remaining steps (open_clip's
    ``cosine_lr``). Not :func:`clipwsss.train.config.lr_factor`: its warm-up multiplies a
    cosine taken over all steps (mmcv style): every lr would differ from those that trained
    the shipped micro-CLIP (``assets/toy_clip/train_config.json``)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))


def train_toy_clip(
    out_dir: str | Path,
    cfg: ToyClipConfig = ToyClipConfig(),
    *,
    device: str = "cpu",
    eval_fn=None,
    log=print,
) -> Path:
    """Train the micro-CLIP and write an open_clip folder to ``out_dir``.

    Args:
        out_dir: destination folder (created).
        cfg: architecture and recipe.
        device: "cpu" or "cuda".
        eval_fn: optional ``f(out_dir) -> dict`` called every ``cfg.eval_every`` steps on the
            saved checkpoint (e.g. zero-shot accuracy and CAM mIoU); logged to train_log.csv.
        log: where progress lines go.

    Returns:
        ``out_dir``.
    """
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    if cfg.window_pairs > 0 and cfg.patch_dropout > 0:
        raise ValueError("window_pairs needs the full token grid: set patch_dropout to 0")
    if cfg.window_path not in ("output", "value"):
        raise ValueError(f"window_path must be 'output' or 'value', got {cfg.window_path!r}")
    if cfg.value_whole_image and (cfg.window_path != "value" or cfg.window_pairs <= 0):
        raise ValueError("value_whole_image needs window_pairs > 0 and window_path='value'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    write_truncated_bpe(out / BPE_FILE, cfg.bpe_merges)
    tok = SimpleTokenizer(bpe_path=str(out / BPE_FILE), context_length=cfg.context_length)
    config = open_clip_config(cfg, tok.vocab_size)
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))

    model_cfg = dict(config["model_cfg"])
    model_cfg["text_cfg"] = {
        k: v for k, v in model_cfg["text_cfg"].items() if k != "tokenizer_kwargs"
    }
    model = open_clip.CLIP(**model_cfg).to(device)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(cfg.init_logit_scale))
    t0 = time.time()
    images, captions, scenes = _scene_pool(cfg, rng)
    log(f"generated {len(captions)} scenes in {time.time() - t0:.1f}s")
    tokens = tok(captions)
    cap_ids = np.unique(np.array(captions), return_inverse=True)[1]
    mean = torch.tensor(config["preprocess_cfg"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(config["preprocess_cfg"]["std"]).view(1, 3, 1, 1)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [
        p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)
    ]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    rows, t0 = [], time.time()
    for step in range(cfg.steps):
        idx = rng.integers(0, len(captions), cfg.batch_size)
        batch = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float().div(255)
        flip = torch.from_numpy(rng.random(cfg.batch_size) < 0.5)
        batch[flip] = batch[flip].flip(-1)
        pixels = ((batch - mean) / std).to(device)
        same = torch.from_numpy(cap_ids[idx][:, None] == cap_ids[idx][None, :]).to(device)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        texts = tokens[idx]
        if cfg.window_pairs > 0:
            drawn = _window_batch(cfg, rng, scenes, captions, idx, flip.numpy())
            win_rows, boxes, win_texts = drawn
            grid = cfg.image_size // cfg.patch_size
            img, windows = encode_with_windows(
                model, pixels, win_rows, boxes, grid, cfg.window_path
            )
            if win_rows:
                img = torch.cat([img, windows])
                texts = torch.cat([texts, tok(win_texts)])
                names = np.array([captions[i] for i in idx] + win_texts)
                same = torch.from_numpy(names[:, None] == names[None, :]).to(device)
        else:
            img = model.encode_image(pixels)
        img = F.normalize(img, dim=-1)
        txt = F.normalize(model.encode_text(texts.to(device)), dim=-1)
        loss = contrastive_loss(img, txt, model.logit_scale.exp(), same)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        row = {
            "step": step + 1,
            "loss": round(loss.item(), 4),
            "seconds": round(time.time() - t0, 1),
            "logit_scale": round(model.logit_scale.exp().item(), 2),
        }
        last = step + 1 == cfg.steps
        if (step + 1) % cfg.eval_every == 0 or last:
            save_weights(model, out)
            if eval_fn is not None:
                row.update(eval_fn(out))
            log(" ".join(f"{k}={v}" for k, v in row.items()))
        if (step + 1) % 10 == 0 or last:
            rows.append(row)
    _write_log(out / "train_log.csv", rows)
    write_checksums(out)
    return out


def save_weights(model: torch.nn.Module, out: Path) -> None:
    """Save the state dict as fp16 safetensors (half the size; loaded back as fp32)."""
    from safetensors.torch import save_file

    state = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    tmp = out / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(out / WEIGHTS_FILE)


def _write_log(path: Path, rows: list[dict]) -> None:
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k != "step", k))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def write_checksums(
    folder: Path, names: tuple[str, ...] = (WEIGHTS_FILE, BPE_FILE, "open_clip_config.json")
) -> None:
    """Write ``SHA256SUMS`` (sha256sum format) for the files that define the model."""
    lines = [f"{sha256(folder / n)}  {n}" for n in names]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
