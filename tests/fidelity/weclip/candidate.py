"""Write clipwsss's WeCLIP outputs on the fidelity kit's fixture as the kit's CAND folder.

    python tests/fidelity/weclip/candidate.py fp32 --fp32-out-proj   # the float32 option
    python tests/fidelity/weclip/candidate.py official               # the default numerics

runs the public entry points at their defaults (``WeClip`` with ``WeClipConfig()``,
``training_step`` at optimizer step 1 (CAA) and at the first RFM step, ``tta_scores``
with ``InferenceConfig()``), copies the intermediate tensors out with thin wrappers around
the project's own functions (none changes a value), writes them in the layout of the kit's
README ("What your implementation must write") and prints ``compare.py``'s per-tensor report
against the named reference. Exit status 0 = PASS. ``tests/test_fidelity_weclip.py`` does the
same under pytest.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

KIT = Path(__file__).resolve().parent
FIXTURE = KIT.parent / "fixture"  # the CLIP-ES kit's fixture, shared
WEIGHTS = FIXTURE / "weights" / "ViT-16-small-random.pt"
TRAIN_IDS = ("2099_000001", "2099_000002")
EVAL_IDS = ("2099_000001", "2099_000003")
CROP = 320


def compare_main():
    """``main`` of the kit's compare.py (a script, not a module of the package)."""
    spec = importlib.util.spec_from_file_location("weclip_compare", KIT / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def training_batch() -> torch.Tensor:
    """The kit's training batch, rebuilt from the fixture JPEGs (kit README, "The fixture").

    Centred 320 crops, RGB 0-255 normalised per channel in numpy float32; checked bit for bit
    against the sha256 of the kit's ``inputs/inputs.npy`` (kept in ``inputs.json``).

    Shapes:
        returns (2, 3, 320, 320) float32.
    """
    from clipwsss.data import load_image

    meta = json.loads((KIT / "inputs.json").read_text())
    mean = np.array((123.675, 116.28, 103.53), np.float32)
    std = np.array((58.395, 57.12, 57.375), np.float32)
    crops = []
    for image_id in TRAIN_IDS:
        image = load_image(FIXTURE / "JPEGImages" / f"{image_id}.jpg").astype(np.float32)
        y, x = meta["crop_top_left"][image_id]
        crop = (image[y : y + CROP, x : x + CROP] - mean) / std
        crops.append(crop.transpose(2, 0, 1))
    batch = np.ascontiguousarray(np.stack(crops), dtype=np.float32)
    digest = hashlib.sha256(batch.tobytes()).hexdigest()
    if digest != meta["inputs_sha256"]:
        raise AssertionError(f"rebuilt training batch differs from the kit's ({digest})")
    return torch.from_numpy(batch)


def build_model(config=None):
    """``WeClip`` on the fixture's small random CLIP with the kit's decoder init."""
    from clipwsss.clip.loading import load_clip
    from clipwsss.methods.weclip.model import WeClip
    from clipwsss.vocab import voc_vocabulary

    model = WeClip(load_clip("ViT-B-16", WEIGHTS), voc_vocabulary(), config)
    state = np.load(KIT / "decoder_init.npz")
    model.decoder.load_state_dict({k.removeprefix("decoder."): torch.from_numpy(state[k]).float()
                                   for k in state.files})  # fmt: skip
    return model


def _save(out: Path, name: str, value) -> None:
    path = out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, torch.Tensor):
        value = value.detach().float().numpy() if value.is_floating_point() else value.numpy()
    np.save(path, np.asarray(value))


@contextlib.contextmanager
def _patched(module, name: str, wrapper_of):
    original = getattr(module, name)
    setattr(module, name, wrapper_of(original))
    try:
        yield
    finally:
        setattr(module, name, original)


def _record(store: list, fn, keep=lambda args, kwargs, out: out):
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        store.append(keep(args, kwargs, out))
        return out

    return wrapper


def write_training(model, batch: dict, out: Path, *, step: int) -> dict:
    """One public ``training_step`` + backward, its intermediates written under ``out``."""
    import clipwsss.cams.caa as caa
    import clipwsss.methods.weclip.losses as losses
    import clipwsss.methods.weclip.model as model_mod
    import clipwsss.methods.weclip.pseudo as pseudo
    import clipwsss.methods.weclip.rfm as rfm
    from clipwsss.methods.weclip.train import training_step

    rec = {k: [] for k in ("layers", "fused", "dec", "cams", "sym", "keep", "refined", "par",
                           "pseudo", "aff")}  # fmt: skip
    hooks = [
        model.decoder.register_forward_pre_hook(lambda m, a: rec["layers"].append(a[0])),
        model.decoder.fuse.register_forward_hook(lambda m, a, o: rec["fused"].append(o)),
        model.decoder.register_forward_hook(lambda m, a, o: rec["dec"].append(o)),
    ]
    patches = [
        (model_mod, "batch_gradcam", lambda f: _record(rec["cams"], f)),
        (caa, "symmetric_affinity", lambda f: _record(rec["sym"], f,
                                                      lambda a, k, o: (a[0], o))),
        (rfm, "symmetric_affinity", lambda f: _record(rec["sym"], f,
                                                      lambda a, k, o: (a[0], o))),
        (rfm, "select_attention", lambda f: _record(rec["keep"], f, lambda a, k, o: o[0])),
        (model_mod, "refined_cams", lambda f: _record(rec["refined"], f)),
        (pseudo, "par_refine", lambda f: _record(rec["par"], f, lambda a, k, o: (a[1], o))),
        (losses, "affinity_targets", lambda f: _record(rec["aff"], f)),
    ]  # fmt: skip
    real_pseudo = model.pseudo_labels
    model.pseudo_labels = _record(rec["pseudo"], real_pseudo)
    model.zero_grad(set_to_none=True)
    try:
        with contextlib.ExitStack() as stack:
            for module, name, wrap in patches:
                stack.enter_context(_patched(module, name, wrap))
            loss = training_step(model, batch, step=step)
            loss.total.backward()
    finally:
        del model.pseudo_labels
        for h in hooks:
            h.remove()
    layers = torch.stack(rec["layers"][0])  # (11, B, N, C)
    n_blocks, b, n, c = layers.shape
    grid = int(round(n**0.5))
    _save(out, "decoder_input.npy", layers.transpose(2, 3).reshape(n_blocks, b, c, grid, grid))
    _save(out, "F.npy", rec["fused"][0])
    _save(out, "A_f.npy", rec["dec"][0].affinity)
    _save(out, "seg_logits.npy", rec["dec"][0].logits)
    keys = batch["keys"]
    for i, cams in enumerate(rec["cams"][0]):
        _save(out, f"img{i}_keys.npy", np.array(keys[i]))
        _save(out, f"img{i}_gradcam.npy", cams)
        affinity, trans = rec["sym"][i]
        _save(out, f"img{i}_affinity.npy", affinity)
        _save(out, f"img{i}_trans_mat.npy", trans)
        if rec["keep"]:
            _save(out, f"img{i}_rfm_keep.npy", rec["keep"][i].long())
        _save(out, f"img{i}_cam_refined.npy", rec["refined"][i])
        par_in, par_out = rec["par"][i]
        _save(out, f"img{i}_par_input.npy", par_in[0])
        _save(out, f"img{i}_par_output.npy", par_out[0])
    _save(out, "pseudo_label.npy", rec["pseudo"][0].to(torch.uint8))
    _save(out, "aff_label.npy", rec["aff"][0])
    (out / "losses.json").write_text(json.dumps(
        {k: float(getattr(loss, k).detach()) for k in ("seg", "aff", "total")}))  # fmt: skip
    grads = {f"decoder.{k}": p.grad.numpy() for k, p in model.decoder.named_parameters()}
    np.savez(out / "decoder_grads.npz", **grads)
    return {"use_rfm": bool(rec["keep"])}


def image_keys(image_id: str) -> list[int]:
    """The image's class ids from its GT PNG, ascending (the official label source)."""
    from clipwsss.data import labels_from_label_map, load_label_png

    gt = load_label_png(FIXTURE / "SegmentationClassAug" / f"{image_id}.png")
    return sorted(labels_from_label_map(gt, 21))


def write_eval(model, out: Path) -> None:
    """The public ``tta_scores`` at WeCLIP's defaults on the kit's two evaluation images,
    and the GradCAM of the scale-1 input (``pseudo_labels`` with the RFM, as in evaluation)."""
    import clipwsss.methods.weclip.model as model_mod
    from clipwsss.data import load_image
    from clipwsss.methods.weclip.infer import InferenceConfig
    from clipwsss.methods.weclip.samples import normalise
    from clipwsss.pipelines.tta import tta_scores, weclip_tta

    for image_id in EVAL_IDS:
        calls = []
        hook = model.register_forward_hook(lambda m, a, o: calls.append((a[0], o)))
        try:
            pixels = normalise(load_image(FIXTURE / "JPEGImages" / f"{image_id}.jpg"))[None]
            logits = tta_scores(model, pixels, weclip_tta(InferenceConfig()))[0]
        finally:
            hook.remove()
        folder = out / "eval" / image_id
        for scale, (x, o) in zip(("s1", "s0.75"), calls, strict=True):
            _save(folder, f"{scale}_input.npy", x[:1])
            _save(folder, f"{scale}_logits.npy", o.decoder.logits)
        _save(folder, "msc_logits_up.npy", logits[None])
        _save(folder, "msc_preds.npy", logits.argmax(dim=0).to(torch.uint8))
        x1, cams = calls[0][0][:1], []
        with torch.no_grad(), _patched(model_mod, "batch_gradcam",
                                       lambda f: _record(cams, f)):  # fmt: skip
            model.pseudo_labels(x1, model(x1), [image_keys(image_id)], use_rfm=True)
        _save(folder, "val_gradcam.npy", cams[0][0])


def write_candidate(out: Path, config=None) -> Path:
    """The whole CAND folder for ``config`` (None: ``WeClipConfig()``, the defaults)."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build_model(config)
    fg, bg = model.text_features()
    _save(out, "text_fg.npy", fg)
    _save(out, "text_bg.npy", bg)
    keys = [image_keys(i) for i in TRAIN_IDS]
    hot = torch.zeros(len(TRAIN_IDS), 20)
    for i, k in enumerate(keys):
        hot[i, k] = 1.0
    batch = {"pixels": training_batch(), "labels": hot, "keys": keys}
    model.train()
    model.decoder.fuse.dropout.eval()  # the kit's runs keep Dropout2d off
    rfm_step = model.config.rfm_switch_iteration()
    for run, step, rfm in (("train_iter1", 1, False), ("train_iter15001", rfm_step, True)):
        info = write_training(model, batch, out / run, step=step)
        if info["use_rfm"] != rfm:
            raise AssertionError(f"step {step}: RFM {info['use_rfm']}, expected {rfm}")
    model.eval()
    write_eval(model, out)
    return out


def check_rows(ref: str, cand: Path) -> list[tuple[str, str, str]]:
    """compare.py's verdict per checked tensor: (status, name, its text), in pipeline order."""
    spec = importlib.util.spec_from_file_location("weclip_compare", KIT / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checker = module.Checker(str(KIT / ref), str(cand), 10.0, 4.0)
    checker.run()
    return [(st, e["name"], text) for st, e, text in checker.rows if st != "skip"]


def markdown_table(rows: list[tuple[str, str, str]]) -> str:
    """The per-tensor table of docs/weclip.md: tensor, result, compare.py's max|d| and tol."""
    lines = ["| tensor | result | max abs diff, tolerance (compare.py) |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {st} | {' '.join(text.split()).replace('|', chr(92) + '|')} |"
              for st, name, text in rows]  # fmt: skip
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref", choices=("official", "fp32"), help="the kit reference to check")
    ap.add_argument("--fp32-out-proj", action="store_true",
                    help="WeClipConfig(out_proj_fp16=False): the float32 option")
    ap.add_argument("--float32-pos-embed", action="store_true",
                    help="WeClipConfig(pos_embed_fp16=False): a non-official variant")
    ap.add_argument("--out", type=Path, default=None, help="keep CAND here (default: temp)")
    ap.add_argument("--markdown", action="store_true", help="also print the per-tensor table")
    a = ap.parse_args(argv)
    from clipwsss.methods.weclip.config import WeClipConfig

    config = WeClipConfig(out_proj_fp16=not a.fp32_out_proj,
                          pos_embed_fp16=not a.float32_pos_embed)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        cand = write_candidate(a.out or Path(tmp) / "cand", config)
        status = compare_main()([str(KIT / a.ref), str(cand)])
        if a.markdown:
            print(markdown_table(check_rows(a.ref, cand)))
        return status


if __name__ == "__main__":
    sys.exit(main())
