"""Figures people look at: image | initial CAM | refined CAM | pseudo-mask | ground truth.

Runner layer (reads the files a run wrote); matplotlib with the Agg backend when saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clipwsss.data import SegmentationDataset, colorize, load_image, load_label_png
from clipwsss.io.camfiles import load_cams


def class_legend(
    fig,
    label_maps: Sequence[np.ndarray],
    class_names: Sequence[str],
    *,
    ncol: int = 6,
    fontsize: int = 7,
    loc: str = "lower center",
):
    """A legend of every class colour present in ``label_maps`` (the palette of
    ``clipwsss.data.colorize``), drawn below the figure's panels.

    Args:
        fig: the matplotlib Figure.
        label_maps: (H, W) label maps (0 background, c + 1 class c, 255 ignored).
        class_names: the dataset's class names, background excluded (id c + 1 -> name c).
        ncol: at most this many entries per legend row.
        loc: the legend's place ("outside lower center" under a constrained layout).

    Returns:
        The Legend.
    """
    from matplotlib.patches import Patch

    shown = sorted(set().union(*(np.unique(m).tolist() for m in label_maps)))
    names = {0: "background", 255: "ignored", **{c + 1: n for c, n in enumerate(class_names)}}
    colours = colorize(np.asarray([shown], dtype=np.uint8))[0] / 255.0
    handles = [
        Patch(facecolor=tuple(col), edgecolor="black", label=names[v])
        for v, col in zip(shown, colours, strict=True)
    ]
    return fig.legend(handles=handles, loc=loc, ncol=min(ncol, len(handles)), fontsize=fontsize)


def _heat(image: np.ndarray, cams: np.ndarray) -> np.ndarray:
    """Max over classes of the CAMs, as a jet heat map over the image. cams: (K, H, W)."""
    import matplotlib

    heat = cams.max(axis=0) if len(cams) else np.zeros(image.shape[:2])
    rgb = matplotlib.colormaps["jet"](np.clip(heat, 0, 1))[..., :3]
    return (0.5 * image / 255.0 + 0.5 * rgb).clip(0, 1)


def stage_figure(
    dataset: SegmentationDataset,
    run_dir: str | Path,
    image_ids: Sequence[str],
    *,
    title: str = "",
):
    """One row per image: image, initial CAM, refined CAM, pseudo-mask, ground truth; each
    CAM panel names its classes, and a legend below names the mask colours.

    Args:
        dataset: the split the run covered.
        run_dir: a folder holding ``cams/`` and ``masks/`` from ``stages.run_stages``.
        image_ids: which images to show.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    run = Path(run_dir)
    cols = ["image", "initial CAM", "refined CAM (CAA)", "pseudo-mask (255 white)", "ground truth"]
    fig, axes = plt.subplots(len(image_ids), 5, figsize=(12, 2.5 * len(image_ids)), squeeze=False)
    shown = []
    for row, image_id in enumerate(image_ids):
        sample = dataset.sample(image_id)
        image = load_image(sample.image_path)
        cams = load_cams(run / "cams" / f"{image_id}.npy")
        names = ", ".join(dataset.class_names[k] for k in cams.keys)
        mask = load_label_png(run / "masks" / f"{image_id}.png")
        gt = load_label_png(sample.gt_path) if sample.gt_path else None
        shown += [mask] + ([gt] if gt is not None else [])
        panels = [
            image / 255.0,
            _heat(image, cams.get("highres").astype(np.float32)),
            _heat(image, cams.get("attn_highres").astype(np.float32)),
            colorize(mask),
            colorize(gt) if gt is not None else np.zeros_like(image),
        ]
        for col, panel in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            # every CAM panel names its classes (the heat map is their max)
            label = f"{cols[col]}: {names}" if col in (1, 2) else cols[col]
            if row == 0 or col in (1, 2):
                ax.set_title(label, fontsize=8)
        axes[row, 0].set_ylabel(f"{image_id}\n{names}", fontsize=8)
    class_legend(fig, shown, dataset.class_names)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
