"""CLIP-ES on a few photos that ship with scikit-image: initial CAM and CAA-refined CAM.

For each photo this writes ``<out>/<photo>.png``: the image, the initial Softmax-GradCAM
overlay and the CAA-refined overlay, one row per class (CLIP-ES Sections 3.1-3.3, with the
VOC vocabulary, background set and the "a clean origami {}." prompt).

It needs real CLIP weights. Without them it stops with a message saying how to provide them
(exit code 2); it never substitutes random weights unless asked to with
``--allow-random-weights`` (a debugging aid whose figures say so in every title).

Usage:
    python scripts/demo_photos.py                                 # ViT-B-16, OpenAI weights
    python scripts/demo_photos.py --pretrained /path/to/ViT-B-16.pt
    CLIPWSSS_PRETRAINED=/path/to/ViT-B-16.pt python scripts/demo_photos.py --device cpu
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import clipwsss as cw
from clipwsss.clip.loading import PRETRAINED_ENV
from clipwsss.data import atomic_path
from clipwsss.experiments.photos import PHOTOS, DemoPhoto, load_photo  # noqa: F401

RANDOM_WARNING = "RANDOM WEIGHTS — not a result"


def resolve_pretrained(arg: str | None) -> str:
    """--pretrained if given, else $CLIPWSSS_PRETRAINED if set, else "openai"."""
    if arg:
        return arg
    return os.environ.get(PRETRAINED_ENV) or "openai"


def resolve_device(arg: str) -> str:
    if arg == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return arg


def render_figure(
    image: np.ndarray,
    cams: torch.Tensor,
    refined: torch.Tensor | None,
    class_names: Sequence[str],
    scores: torch.Tensor,
    *,
    title: str,
    warning: str | None = None,
) -> Figure:
    """One row per class: image | initial CAM overlay | CAA-refined CAM overlay.

    Args:
        image: (H, W, 3) uint8 RGB.
        cams: (K, H, W) initial CAMs at image size, in [0, 1].
        refined: (K, H, W) refined CAMs at image size, or None (no CAA, e.g. a ResNet).
        class_names: the K class names.
        scores: (K,) softmax scores.
        title: figure title.
        warning: written in red into the figure title and every panel title.
    """
    k = len(class_names)
    h, w = image.shape[:2]
    fig = Figure(figsize=(3 * 3.2, k * 3.2 * h / w + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(k, 3, squeeze=False)
    prefix = f"{warning}\n" if warning else ""
    for i, name in enumerate(class_names):
        panels = [
            (None, f"{prefix}image"),
            (cams[i], f"{prefix}{name}: initial CAM (s={float(scores[i]):.2f})"),
            (None if refined is None else refined[i], f"{prefix}{name}: CAA-refined"),
        ]
        for j, (cam, text) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(image)
            if cam is not None:
                ax.imshow(cam.numpy(), cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
            elif j == 2:
                text = f"{prefix}{name}: no CAA for this backbone"
            ax.set_title(text, fontsize=8, color="red" if warning else "black")
            ax.set_axis_off()
    fig.suptitle(f"{warning}\n{title}" if warning else title, color="red" if warning else "black")
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write the figure as PNG, atomically (no half-written file on a crash)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ViT-B-16", help="open_clip model name")
    parser.add_argument(
        "--pretrained",
        default=None,
        help=f"weights: an open_clip tag or a checkpoint file (default: ${PRETRAINED_ENV} "
        "if set, else 'openai')",
    )
    parser.add_argument("--out", type=Path, default=Path("results/demo"), help="figure folder")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--photos", nargs="+", choices=sorted(PHOTOS), default=list(PHOTOS))
    parser.add_argument("--caa-layers", type=int, default=8, help="last blocks used by CAA")
    parser.add_argument("--box-threshold", type=float, default=0.4, help="lambda (supp. C)")
    parser.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="debug only: random CLIP weights; every figure is marked as not a result",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    warning = None
    if args.allow_random_weights:
        warning = RANDOM_WARNING
        pretrained = None
        print(f"WARNING: --allow-random-weights: {RANDOM_WARNING}", file=sys.stderr)
    else:
        pretrained = resolve_pretrained(args.pretrained)
    try:
        clip = cw.load_clip(args.model, pretrained, device=device)
    except cw.WeightsNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    vocab = cw.voc_vocabulary()
    config = cw.ClipEsConfig(caa_layers=args.caa_layers, box_threshold=args.box_threshold)
    es = cw.ClipES(clip, vocab, config)
    for name in args.photos:
        photo = PHOTOS[name]
        image, labels = load_photo(photo, vocab)
        out = es(image, labels)
        size = image.shape[:2]
        cams = es.upsample(out.cams, size).cpu()
        refined = None if out.refined is None else es.upsample(out.refined, size).cpu()
        title = f"{name}: CLIP-ES {args.model} ({clip.pretrained or 'random init'})"
        fig = render_figure(
            image, cams, refined, photo.classes, out.scores.cpu(), title=title, warning=warning
        )
        path = save_figure(fig, args.out / f"{name}.png")
        scores = ", ".join(
            f"{c} {float(s):.3f}" for c, s in zip(photo.classes, out.scores, strict=True)
        )
        print(f"{path}  (grid {out.grid[0]}x{out.grid[1]}; scores: {scores})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
