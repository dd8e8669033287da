"""Run the DeepLabV2 fidelity kit (tests/fidelity/deeplab) through the project's public API.

    python scripts/deeplab_fidelity.py [--kit tests/fidelity/deeplab] [--out CAND]

Loads the kit's deeplab-pytorch checkpoint with ``build_deeplab`` and the voc12 recipe at its
default settings (only ``blocks=(1, 1, 1, 1)``, the kit's reduced depth, and deeplab-pytorch's
lr 2.5e-4 instead of the CLIP-ES supplementary's 2.5e-5, which the kit was made with), writes
one file per entry of the kit's manifest to CAND (the training forward, labels and loss terms;
one optimizer step of the training engine with its gradients, step and parameter groups; the
schedule; the evaluation with and without the CRF, at the original size and at 513), and
prints the kit's own ``compare.py`` table. Exit status 0 = every entry passes.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim import optimizer as optim_hooks

KIT = Path(__file__).resolve().parents[1] / "tests" / "fidelity" / "deeplab"
WEIGHTS = "fixture/weights/deeplabv2_r1111_msc-random-fp16.pth"
KIT_LR = 2.5e-4  # deeplab-pytorch configs/voc12.yaml, with which the kit was made
KIT_BLOCKS = (1, 1, 1, 1)  # the kit's reduced ResNet depth
GRAD_KEPT = (
    "aspp.c0",
    "aspp.c1",
    "aspp.c2",
    "aspp.c3",
    "layer1.conv1.conv",
    "layer5.block1.conv3x3.conv",
)


def kit_recipe(kit: Path):
    """The voc12 recipe at its defaults on the kit's checkpoint (init ``file``)."""
    from clipwsss.train.tasks.deeplab import get_recipe

    recipe = get_recipe("voc12", init="file", weights=str(kit / WEIGHTS))
    model = dataclasses.replace(recipe.model, blocks=KIT_BLOCKS)
    return dataclasses.replace(
        recipe, model=model, train=dataclasses.replace(recipe.train, lr=KIT_LR)
    )


def demo_resize(image: np.ndarray, long_side: int = 513) -> np.ndarray:
    """deeplab-pytorch ``demo.py``'s input: the uint8 image scaled by long_side / max(H, W)
    with OpenCV's bilinear resize (375 x 500 -> 385 x 513)."""
    import cv2

    scale = long_side / max(image.shape[:2])
    return cv2.resize(image, dsize=None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)


def _save(out: Path, name: str, value) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    np.save(out / f"{name}.npy", np.asarray(value))


def _kit_task(kit: Path, recipe, tmp: Path):
    """DeepLabTask on the kit's two training crops (a custom dataset, augmentation off)."""
    from clipwsss.data import build_dataset
    from clipwsss.train.tasks.deeplab import DeepLabTask

    images = tmp / "images"
    images.mkdir(parents=True)
    for name in ("train_0", "train_1"):
        source = kit / "fixture" / "images" / f"{name}.png"
        (images / f"{name}.png").write_bytes(source.read_bytes())
    (tmp / "labels.txt").write_text("train_0\ntrain_1\n")
    (tmp / "classes.txt").write_text("object\n")
    dataset = build_dataset(
        "custom", images, str(tmp / "labels.txt"), class_list=str(tmp / "classes.txt")
    )
    return DeepLabTask(
        dataclasses.replace(recipe, data=None), dataset, masks_dir=kit / "fixture" / "labels"
    )


def training_outputs(kit: Path, out: Path, recipe, edit: Callable[[nn.Module], None]) -> None:
    """Training forward (MSC outputs, stage features), shrunk labels and loss terms."""
    from clipwsss.data import load_image, load_label_png
    from clipwsss.seg import build_deeplab, preprocess, segmentation_loss
    from clipwsss.seg.losses import resize_target

    model = build_deeplab(recipe.model)
    edit(model)
    model.train()
    logits, labels, terms, feats = (
        [[] for _ in range(4)],
        {},
        [],
        {f"layer{i}": [] for i in range(1, 6)},
    )
    with torch.no_grad():
        for name in ("train_0", "train_1"):
            x = preprocess(load_image(kit / "fixture" / "images" / f"{name}.png"))[None]
            y = torch.from_numpy(load_label_png(kit / "fixture" / "labels" / f"{name}.png"))
            y = y.long()[None]
            outs = model(x)
            row = []
            for i, o in enumerate(outs):
                logits[i].append(o)
                if i < len(outs) - 1:  # the max-fused output uses the scale-1 labels
                    small, _ = resize_target(y, tuple(o.shape[-2:]))
                    labels.setdefault(o.shape[-1], []).append(small)
                row.append(float(segmentation_loss(o, y, kind=recipe.loss.kind, mu=recipe.loss.mu)))
            terms.append(row)
            h = x
            for i in range(1, 6):
                h = getattr(model.base, f"layer{i}")(h)
                feats[f"layer{i}"].append(h)
    for i, scale in enumerate(("1.0", *map(str, recipe.model.msc_scales), "max")):
        _save(out, f"train_logits_{scale}", torch.cat(logits[i]))
    for side, maps in labels.items():
        _save(out, f"train_label_{side}", torch.cat(maps).to(torch.uint8))
    _save(out, "train_loss_terms", np.asarray(terms, dtype=np.float64))
    for key, parts in feats.items():
        _save(out, f"feat.{key}", torch.cat(parts))


def engine_step(kit: Path, out: Path, recipe, edit: Callable[[nn.Module], None]) -> None:
    """One iteration of the training engine (two accumulated mini-batches of one crop):
    the logged loss, gradients before the step, the step and the optimizer's groups."""
    from clipwsss.train import lr_factor, train

    with tempfile.TemporaryDirectory() as tmp:
        task = _kit_task(kit, recipe, Path(tmp))
        built: dict[str, nn.Module] = {}
        build = task.build_model

        def build_model() -> nn.Module:
            built["model"] = model = build()
            edit(model)
            return model

        task.build_model = build_model
        seen: dict = {}

        def pre(optimizer, args, kwargs) -> None:
            names = {id(p): n for n, p in built["model"].named_parameters()}
            seen["groups"] = [
                {
                    "params": [names[id(p)] for p in g["params"]],
                    "lr": g["lr"],
                    "weight_decay": g["weight_decay"],
                    "momentum": g["momentum"],
                }
                for g in optimizer.param_groups
            ]
            grouped = {n for g in seen["groups"] for n in g["params"]}
            seen["groups"].append({"not_in_any_group": sorted(set(names.values()) - grouped)})
            seen["grad"] = {
                n: p.grad.detach().clone()
                for n, p in built["model"].named_parameters()
                if p.grad is not None
            }
            seen["before"] = {n: p.detach().clone() for n, p in built["model"].named_parameters()}

        def post(optimizer, args, kwargs) -> None:
            seen["after"] = {n: p.detach().clone() for n, p in built["model"].named_parameters()}

        config = dataclasses.replace(
            recipe.train,
            iterations=1,
            batch_size=2,
            grad_accum=2,
            run_dir=str(Path(tmp) / "run"),
            log_interval=1,
            progress=False,
            device="cpu",
        )
        hooks = [
            optim_hooks.register_optimizer_step_pre_hook(pre),
            optim_hooks.register_optimizer_step_post_hook(post),
        ]
        try:
            result = train(task, config)
        finally:
            for h in hooks:
                h.remove()
    loss = next(r["loss"] for r in result.history if r["kind"] == "train")
    _save(out, "train_loss", np.float64(loss))
    (out / "optim_groups.json").write_text(json.dumps(seen["groups"], indent=1))
    for name in seen["grad"]:
        if name.removeprefix("base.").rsplit(".", 1)[0] in GRAD_KEPT:
            _save(out, f"grad.{name}", seen["grad"][name])
            delta = seen["after"][name].double() - seen["before"][name].double()
            _save(out, f"step1_delta.{name}", delta)
    mults = [g.lr_mult for g in task.param_groups(build())]
    rows = [
        [recipe.train.lr * m * lr_factor(e, recipe.train) for m in mults]
        for e in range(recipe.train.iterations + 1)
    ]
    _save(out, "lr_schedule", np.asarray(rows, dtype=np.float64))


def evaluation(kit: Path, out: Path, recipe, edit: Callable[[nn.Module], None]) -> None:
    """``main.py test`` / ``crf`` at the original size and ``demo.py`` at 513, with the
    recipe's ``InferConfig`` (the CRF switched on where the official runs it)."""
    from clipwsss.data import load_image
    from clipwsss.pipelines.tta import deeplab_tta, predict_label
    from clipwsss.seg import build_deeplab, preprocess, set_normalization

    model = build_deeplab(recipe.model)
    edit(model)
    model.eval()
    infer = recipe.tta
    set_normalization(model, infer.normalization, infer.mean, infer.std)
    image = load_image(kit / "fixture" / "images" / "test_0.png")
    demo = demo_resize(image)
    crf = dataclasses.replace(deeplab_tta(infer), crf=True)
    with torch.no_grad():
        _save(out, "test_logits", model(preprocess(image)[None]))
        _save(out, "demo513_logits", model(preprocess(demo)[None]))
    _save(out, "test_label", predict_label(model, image, deeplab_tta(infer)))
    _save(out, "test_crf_label", predict_label(model, image, crf))
    _save(out, "demo513_label", predict_label(model, demo, deeplab_tta(infer)))
    demo_crf = dataclasses.replace(crf, crf_image="bgr")  # demo.py: the resized cv2 image
    _save(out, "demo513_crf_label", predict_label(model, demo, demo_crf))


def write_candidate(
    kit: Path,
    out: Path,
    edit: Callable[[nn.Module], None] = lambda m: None,
    parts=("train", "engine", "eval"),
) -> None:
    """Write the kit's CAND folder; ``edit`` changes each freshly loaded model (tests use it
    to re-introduce a deviation and watch the kit fail)."""
    out.mkdir(parents=True, exist_ok=True)
    recipe = kit_recipe(kit)
    torch.manual_seed(0)
    if "train" in parts:
        training_outputs(kit, out, recipe, edit)
    if "engine" in parts:
        engine_step(kit, out, recipe, edit)
    if "eval" in parts:
        evaluation(kit, out, recipe, edit)


def compare(kit: Path, cand: Path, *extra: str) -> int:
    """The kit's ``compare.py`` (unchanged tolerances) on ``cand``; prints its table."""
    spec = importlib.util.spec_from_file_location("deeplab_compare", kit / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(kit / "reference"), str(cand), *extra])


def augmentation_gap(kit: Path, scales=(0.5, 0.75, 1.25, 1.5)) -> list[dict]:
    """The scaling step of our training augmentation against deeplab-pytorch's (OpenCV
    bilinear on the float BGR image before the mean subtraction, PIL NEAREST labels, int()
    sizes) on the kit's three images: max |image difference| and label agreement per scale.
    The random draws (scale, crop, flip) are not compared, only what one draw computes."""
    import cv2
    from PIL import Image

    from clipwsss.data import load_image, load_label_png
    from clipwsss.seg import AugmentConfig, caffe_normalize
    from clipwsss.seg.data import CAFFE_MEAN_BGR, random_scale_crop_flip

    rows = []
    for name in ("train_0", "train_1", "test_0"):
        rgb = load_image(kit / "fixture" / "images" / f"{name}.png")
        label = load_label_png(kit / "fixture" / "labels" / f"{name}.png")
        h, w = label.shape
        for s in scales:
            size = (int(h * s), int(w * s))
            crop = max(size)  # no padding, no crop: the scaled image itself
            aug = AugmentConfig(crop=crop, scales=(s,), flip=False)
            x, y, _ = random_scale_crop_flip(
                caffe_normalize(rgb), torch.from_numpy(label.astype(np.int64)), None, aug
            )
            ref = cv2.resize(
                rgb[..., ::-1].astype(np.float32), size[::-1], interpolation=cv2.INTER_LINEAR
            )
            ref = (ref - np.array(CAFFE_MEAN_BGR)).astype(np.float32).transpose(2, 0, 1)
            ref_y = np.asarray(Image.fromarray(label).resize(size[::-1], Image.NEAREST))
            x, y = x[:, : size[0], : size[1]].numpy(), y[: size[0], : size[1]].numpy()
            rows.append(
                {
                    "image": name,
                    "scale": s,
                    "size": size,
                    "max_abs_image": float(np.abs(x - ref).max()),
                    "label_agreement": float((y == ref_y).mean()),
                }
            )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", type=Path, default=KIT)
    parser.add_argument("--out", type=Path, help="CAND folder (default: a temporary one)")
    parser.add_argument(
        "--augment",
        action="store_true",
        help="only compare the training scaling step with deeplab-pytorch's",
    )
    args = parser.parse_args(argv)
    if args.augment:
        rows = augmentation_gap(args.kit)
        print("| image | scale | size | max abs image difference | label agreement |")
        print("| --- | --- | --- | --- | --- |")
        for r in rows:
            print(
                f"| {r['image']} | {r['scale']} | {r['size'][0]}x{r['size'][1]} | "
                f"{r['max_abs_image']:.2e} | {r['label_agreement']:.6f} |"
            )
        return 0
    if args.out is not None:
        write_candidate(args.kit, args.out)
        return compare(args.kit, args.out)
    with tempfile.TemporaryDirectory() as tmp:
        write_candidate(args.kit, Path(tmp))
        return compare(args.kit, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
