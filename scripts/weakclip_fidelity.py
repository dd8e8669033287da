"""Run WeakCLIP on the fidelity kit and check it against the official code's outputs.

    python scripts/weakclip_fidelity.py [--kit tests/fidelity/weakclip] [--out DIR] [--markdown]

The kit (``tests/fidelity/weakclip``, see its README) holds two training images with seeds,
two inference images, a small random CLIP, the initial WeakCLIP head weights and what the
official code computes from them. This script builds WeakCLIP with the default (faithful)
configuration at the kit's widths, loads the head weights, switches dropout and drop path off
(as the reference run did; BN stays in training mode), runs one training step
(``training_step``), the boundary-loss pieces (``seed_probs``, ``resize_seeds``,
``crf_images``, ``crf_inputs``, ``crf_targets``) and inference (``tta_scores``), writes the
candidate folder and runs the kit's ``compare.py``. Exit status 0 iff every check passes;
``--markdown`` prints the per-check table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

KIT = Path(__file__).resolve().parent.parent / "tests" / "fidelity" / "weakclip"
#: The kit's widths; everything else is the default (official VOC) configuration.
KIT_WIDTHS = dict(coattn_width=32, coattn_heads=4, neck_channels=32, head_channels=32)
BLOCK_FILES = ("block04", "block06", "block08", "block12")


def kit_pixels(kit: Path, name: str, pad_rows: int = 0) -> torch.Tensor:
    """A kit image normalised as the kit states ((v - mean) / std in float32, 0-255 units),
    the bottom ``pad_rows`` rows set to 0. Shapes: returns (3, H, W)."""
    meta = json.loads((kit / "inputs" / "inputs.json").read_text())["normalisation"]
    v = np.asarray(Image.open(kit / "inputs" / name).convert("RGB"), dtype=np.float32)
    x = (v - np.asarray(meta["mean"], np.float32)) / np.asarray(meta["std"], np.float32)
    x = np.ascontiguousarray(x.transpose(2, 0, 1))
    if pad_rows:
        x[:, -pad_rows:] = 0
    return torch.from_numpy(x)


def train_batch(kit: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The kit's normalised training batch and seeds; the batch's sha256 is checked.

    Shapes:
        returns (2, 3, 512, 512) float32 and (2, 512, 512) int64 (255 = no seed).
    """
    info = json.loads((kit / "inputs" / "inputs.json").read_text())["train"]
    pairs = zip(info["images"], info["pad_rows"], strict=True)
    pixels = torch.stack([kit_pixels(kit, name, pad) for name, pad in pairs])
    digest = hashlib.sha256(pixels.numpy().tobytes()).hexdigest()
    if digest != info["normalised_sha256"]:
        raise ValueError(f"normalised training batch sha256 {digest} != the kit's")
    seeds = torch.stack(
        [
            torch.from_numpy(np.asarray(Image.open(kit / "inputs" / n), dtype=np.int64))
            for n in info["seeds"]
        ]
    )
    return pixels, seeds


def build_kit_model(kit: Path, **overrides):
    """WeakCLIP at the default configuration and the kit's widths, with the kit's CLIP and
    initial head weights, in training mode with dropout and drop path off."""
    from clipwsss.clip.loading import load_clip
    from clipwsss.methods.weakclip import build_weakclip, faithful
    from clipwsss.methods.weakclip.vision import DropPath

    names = json.loads((kit / "inputs" / "inputs.json").read_text())["class_names"]
    clip = load_clip("ViT-B-16", kit / "weights" / "clip_vit16_w64.pt")
    model = build_weakclip(clip, names, faithful(**{**KIT_WIDTHS, **overrides}))
    head = np.load(kit / "weights" / "weakclip_head_init.npz")
    state = {k: torch.from_numpy(head[k]) for k in head.files}
    missing = set(state) - set(model.state_dict())
    if missing:
        raise KeyError(f"kit weights without a model entry: {sorted(missing)[:3]}")
    model.load_state_dict(state, strict=False)
    for m in model.modules():  # the reference ran with its 49 dropout / drop-path modules off
        if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d, DropPath)):
            m.eval()
    return model, [k for k in head.files if k in dict(model.named_parameters())]


def _train_step(model, pixels, seeds, loss_config, recipe) -> dict:
    """One training step with hooks on the intermediate modules; returns every train tensor
    of the kit plus the loss terms (after backward)."""
    from clipwsss.methods.weakclip.losses import (
        crf_images,
        crf_inputs,
        crf_targets,
        resize_seeds,
        seed_probs,
    )
    from clipwsss.methods.weakclip.train import training_step

    seen: dict = {}

    def keep(name):
        return lambda module, args, out: seen.__setitem__(name, (args, out))

    hooks = [
        getattr(model, n).register_forward_hook(keep(n))
        for n in ("adapter", "coattention", "neck", "head")
    ]
    hooks.append(model.register_forward_hook(keep("model")))
    model.zero_grad(set_to_none=True)
    terms = training_step(
        model,
        {"pixels": pixels, "seeds": seeds},
        loss_config,
        mean=recipe.data.mean,
        std=recipe.data.std,
    )
    terms.total.backward()
    for h in hooks:
        h.remove()
    out = {}
    maps, pyramid = seen["adapter"][0][0], seen["adapter"][1]
    for name, t in zip(BLOCK_FILES, maps, strict=True):
        out[name] = t
    for i, t in enumerate(pyramid, 1):
        out[f"adapter{i}"] = t
    text, visual = seen["coattention"][0]
    out["coattn_dt"], out["coattn_df"] = seen["coattention"][1]
    b, g = pixels.shape[0], maps[0].shape[-2:]
    out["global_embedding"] = visual[:, 0]
    out["pixel_embedding"] = visual[:, 1:].transpose(1, 2).reshape(b, -1, *g)
    for i, t in enumerate(seen["neck"][1], 1):
        out[f"neck{i}"] = t
    logits = seen["head"][1]
    out["logits"] = logits
    out["score_map"] = seen["model"][1].scores
    size = loss_config.loss_size
    probs = seed_probs(logits, size)
    out["probs64"] = probs
    out["seed_cues"] = resize_seeds(seeds, size).to(torch.uint8)
    images = crf_images(pixels, size, recipe.data.mean, recipe.data.std)
    out["crf_image"] = images
    clamped = crf_inputs(probs, loss_config.crf_min_prob)
    out["crf_unary"] = -np.log(np.clip(clamped, 1e-5, 1.0))  # pydensecrf unary_from_softmax
    out["crf_q"] = crf_targets(
        images, probs, dict(loss_config.crf), min_prob=loss_config.crf_min_prob
    )
    out["losses"] = {
        "seed": terms.seed.item(),
        "boundary": terms.boundary.item(),
        "aux_weighted": loss_config.aux_weight * terms.aux.item(),
        "total": terms.total.item(),
    }
    return out


def _save(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, dict):
        path.with_suffix(".json").write_text(json.dumps(value))
        return
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    np.save(path.with_suffix(".npy"), value)


PARTS = ("train", "infer", "sharp")


def write_candidate(kit: Path, out: Path, *, loss=None, parts=PARTS, **model_overrides) -> Path:
    """Write the kit's candidate folder from the project's code.

    Args:
        kit: the kit folder.
        out: the candidate folder (created).
        loss: a :class:`LossConfig` (default: the voc12 recipe's, i.e. the official one).
        parts: which runs to write: "train" (the train step), "infer" (the four softmaxes),
            "sharp" (the confident-head train step).
        model_overrides: :class:`WeakClipConfig` fields on top of the default and kit widths.

    Returns:
        ``out``.
    """
    from clipwsss.pipelines.tta import tta_scores, weakclip_tta
    from clipwsss.train.tasks.weakclip_recipes import get_recipe

    recipe = get_recipe("voc12")
    loss_config = loss or recipe.loss
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads((kit / "inputs" / "inputs.json").read_text())
    pixels, seeds = train_batch(kit)
    if "train" in parts:
        model, param_keys = build_kit_model(kit, **model_overrides)
        step = _train_step(model, pixels, seeds, loss_config, recipe)
        named = dict(model.named_parameters())
        grads = {k: named[k].grad.numpy() for k in param_keys if named[k].grad is not None}
        np.savez(out / "grads.npz", **grads)
        bn = {
            k: v.numpy()
            for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var"))
        }
        np.savez(out / "bn_after_step.npz", **bn)
        extra = {
            "token_ids": model.text_encoder.name_ids,
            "text_features": model.text_encoder().detach(),
            "visual_pos_embed": model.visual.positional_embedding.detach(),
        }
        for name, value in {**extra, **step}.items():
            if name != "crf_unary":
                _save(out / name, value)
    if "infer" in parts:
        model, _ = build_kit_model(kit, **model_overrides)  # the initial BN statistics
        for name, spec in info["inference"].items():
            x = kit_pixels(kit, spec["image"])
            digest = hashlib.sha256(x[None].numpy().tobytes()).hexdigest()
            if digest != spec["normalised_sha256"]:
                raise ValueError(f"normalised {name} sha256 {digest} != the kit's")
            # the image as it is: one scale (ratio 1), the default windows, no CRF
            config = weakclip_tta(
                replace(
                    recipe.tta, short_side=min(x.shape[-2:]), scales=(1.0,), flip=False, crf=False
                )
            )
            model.eval()
            _save(out / f"infer_{name}_noflip", tta_scores(model, x[None], config)[0])
            flipped = tta_scores(model, x.flip(-1)[None], config)[0].flip(-1)
            _save(out / f"infer_{name}_flip", flipped)
    if "sharp" in parts:  # the same train step with conv_seg weight and bias x 4
        model, _ = build_kit_model(kit, **model_overrides)
        with torch.no_grad():
            model.head.conv_seg.weight.mul_(4)
            model.head.conv_seg.bias.mul_(4)
        sharp = _train_step(model, pixels, seeds, loss_config, recipe)
        for name in ("losses", "crf_unary", "crf_q"):
            _save(out / "sharp" / name, sharp[name])
    return out


def drop_path_effect(kit: Path, seeds=(0, 1, 2)) -> list[dict]:
    """The train step's logits and losses with the default drop path active (one draw per
    seed) against the kit's deterministic step: the size of what the check leaves out."""
    from clipwsss.methods.weakclip.vision import DropPath
    from clipwsss.train.tasks.weakclip_recipes import get_recipe

    recipe = get_recipe("voc12")
    pixels, seeds_ = train_batch(kit)
    model, _ = build_kit_model(kit)
    base = _train_step(model, pixels, seeds_, recipe.loss, recipe)
    rows = []
    for seed in seeds:
        model, _ = build_kit_model(kit)
        for m in model.modules():
            if isinstance(m, DropPath):
                m.train()
        torch.manual_seed(seed)
        step = _train_step(model, pixels, seeds_, recipe.loss, recipe)
        diff = (step["logits"] - base["logits"]).abs().max().item()
        rows.append({"draw": seed, "max |logits - off|": diff, **step["losses"]})
    rows.append({"draw": "off", "max |logits - off|": 0.0, **base["losses"]})
    return rows


def compare(kit: Path, cand: Path, *only: str) -> tuple[int, str]:
    """Run the kit's compare.py; returns (exit status, its report)."""
    spec = importlib.util.spec_from_file_location("weakclip_compare", kit / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = [str(kit / "reference"), str(cand)] + (["--only", ",".join(only)] if only else [])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = module.main(args)
    return status, buf.getvalue()


def markdown(report: str) -> str:
    """compare.py's per-check lines as a Markdown table."""
    rows = ["| check | verdict | measured |", "| --- | --- | --- |"]
    for line in report.splitlines():
        verdict, _, rest = line.partition("  ")
        if verdict in ("PASS", "FAIL"):
            name, _, text = rest.strip().partition(" ")
            measured = text.strip().replace("|", "\\|")
            rows.append(f"| `{name}` | {verdict} | {measured} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kit", type=Path, default=KIT)
    ap.add_argument("--out", type=Path, help="candidate folder (default: a temporary one)")
    ap.add_argument("--markdown", action="store_true", help="print the per-check table")
    ap.add_argument(
        "--drop-path-effect",
        action="store_true",
        help="instead: logits and losses with the default drop path on vs off",
    )
    a = ap.parse_args(argv)
    if a.drop_path_effect:
        for row in drop_path_effect(a.kit):
            print(
                "  ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                )
            )
        return 0
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        cand = write_candidate(a.kit, a.out or Path(tmp) / "cand")
        status, report = compare(a.kit, cand)
    print(markdown(report) if a.markdown else report)
    if a.markdown:
        print("\n" + report.strip().splitlines()[-2 if "failed:" not in report else -3])
    return status


if __name__ == "__main__":
    sys.exit(main())
