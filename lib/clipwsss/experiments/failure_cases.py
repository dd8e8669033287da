"""The bad cases of CLIP-ES Fig. 4 (occlusion, small objects), measured on the toy world.

Runner layer for notebook 20: per-image mIoU from the per-image confusion matrices of
:func:`clipwsss.experiments.notebooks.score_cams`, per-image object statistics from the toy
world's exact scenes (re-sampled from their seeds), a rank correlation with a bootstrap
interval, and the figure of the worst images (image, GT, CAM, pseudo-mask).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from clipwsss.experiments.notebooks import Setup
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE
from clipwsss.metrics import percentile_interval


def image_mious(hists: np.ndarray) -> np.ndarray:
    """mIoU (%) of each image over the classes in its GT or its prediction (background too).

    Shapes:
        hists: (N, n, n) confusion matrices (rows GT, columns prediction); returns (N,).
    """
    hists = np.asarray(hists, dtype=np.float64)
    tp = np.diagonal(hists, axis1=1, axis2=2)
    union = hists.sum(2) + hists.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    return 100 * np.nanmean(iou, axis=1)


def toy_object_stats(
    ids: Sequence[str], *, seed: int = 0, image_size: int = TOY_IMAGE_SIZE
) -> pd.DataFrame:
    """Exact per-image object statistics of toy scenes, re-sampled from their seeds.

    ``generate_toy_voc`` draws image ``i`` of a split from ``default_rng([seed, split, i])``
    (split 0 train, 1 val), so the scene, with its instance map, comes back exactly.

    Returns:
        Rows: ids; columns "objects" (visible instances), "smallest object (%)" (visible
        area of the smallest instance, % of the image), "occluded share (%)" (the largest
        share of an instance's bounding box covered by other instances: occlusion and
        overlap), "classes".
    """
    from clipwsss.toy.world import sample_scene

    rows = {}
    for image_id in ids:
        split, index = image_id.split("_")[-2:]
        code = {"train": 0, "val": 1}[split]
        scene = sample_scene(np.random.default_rng([seed, code, int(index)]), image_size=image_size)
        inst, area = scene.instances, scene.label.size
        shares = []
        for k, o in enumerate(scene.objects):
            x0, y0, x1, y1 = o.box
            box = inst[y0 : y1 + 1, x0 : x1 + 1]
            others = (box > 0) & (box != k + 1)
            shares.append(100 * others.mean())
        rows[image_id] = {
            "objects": len(scene.objects),
            "smallest object (%)": 100 * min(o.area for o in scene.objects) / area,
            "occluded share (%)": max(shares),
            "classes": len(scene.labels),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def rank_correlation(
    x: np.ndarray, y: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Spearman's rho of ``x`` and ``y`` with its 95% image-bootstrap percentile interval.

    Shapes:
        x, y: (N,); returns (rho, low, high).
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        boot.append(spearmanr(x[i], y[i])[0])
    low, high = percentile_interval(np.nan_to_num(np.asarray(boot)), 0.95)
    return float(spearmanr(x, y)[0]), float(low), float(high)


def failure_figure(setup: Setup, ids: Sequence[str], mious: Sequence[float]):
    """One row per image: the image, its GT, the max over the image's classes of its refined
    CAM (titled with those classes) and the pseudo-mask (arg-max with background (1 - max)),
    labelled with the image's mIoU; a legend of every class colour shown.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    from clipwsss.cams.labels import cams_to_label
    from clipwsss.data import colorize, load_image, load_label_png
    from clipwsss.experiments.figures import class_legend

    es = setup.clip_es()
    names = list(setup.dataset.class_names)
    fig, axes = plt.subplots(len(ids), 4, figsize=(8, 2.3 * len(ids) + 0.5), squeeze=False)
    label_maps = []
    for r, (image_id, miou) in enumerate(zip(ids, mious, strict=True)):
        sample = setup.dataset.sample(image_id)
        image, gt = load_image(sample.image_path), load_label_png(sample.gt_path)
        out = es(image, sample.labels)
        cams = es.upsample(out.refined if out.refined is not None else out.cams, gt.shape)
        mask = cams_to_label(cams, out.keys).cpu().numpy()
        label_maps += [gt, mask]
        panels = [image, colorize(gt), cams.max(0).values.cpu().numpy(), colorize(mask)]
        classes = ", ".join(names[c] for c in sample.labels)
        titles = ["image", "GT", f"CAM: {classes}", "pseudo-mask"]
        for c, (panel, name) in enumerate(zip(panels, titles, strict=True)):
            ax = axes[r, c]
            ax.imshow(panel, cmap="jet" if c == 2 else None, vmin=0, vmax=1 if c == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 or c == 2:  # the CAM panel names its classes in every row
                ax.set_title(name if c != 2 else f"{name} (max)", fontsize=8)
        axes[r, 0].set_ylabel(f"{image_id}\nmIoU {miou:.0f}%", fontsize=8)
    fig.tight_layout(rect=(0, 0.5 / (2.3 * len(ids) + 0.5), 1, 1))
    class_legend(fig, label_maps, names)
    return fig
