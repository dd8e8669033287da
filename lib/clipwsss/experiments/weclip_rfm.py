"""WeCLIP's RFM beside plain CAA: the two online pseudo labels of one image, and a figure.

Paper: WeCLIP Section 3.3 (the RFM refines CLIP-ES's CAA with the decoder's affinity A_f).
The labels come from ``WeClip.pseudo_labels`` with ``use_rfm`` False (CAA on the frozen
CLIP's attention) and True (RFM: the attention filtered and weighted by this model's A_f),
so they are exactly what a training step at that point of the run would use.

Experiment layer: needs torch, matplotlib for the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from clipwsss.data import SegmentationDataset, colorize, load_image, load_label_png
from clipwsss.experiments.figures import class_legend


def caa_rfm_labels(
    model: torch.nn.Module, image: np.ndarray, labels: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The CAA and the RFM pseudo label of one whole image (no crop, no flip).

    Args:
        model: a ``WeClip`` (its decoder gives A_f; dropout off in eval mode).
        image: RGB uint8.
        labels: the image's 0-based class ids (at least one).

    Returns:
        (CAA label, RFM label), each (H, W) int64, 0 = background, k + 1 = class k.

    Shapes:
        image: (H, W, 3); returns two (H, W).
    """
    if len(labels) == 0:
        raise ValueError("an image without image-level labels has no pseudo label")
    was_training = model.training
    model.eval()
    try:
        pixels = model.preprocess(image)[None]  # the model's input statistics, on its device
        # One forward per label: GradCAM differentiates through the forward's graph once.
        caa, rfm = (
            model.pseudo_labels(pixels, model(pixels), [list(labels)], use_rfm=flag)[0]
            for flag in (False, True)
        )
    finally:
        model.train(was_training)
    return caa.cpu().numpy(), rfm.cpu().numpy()


def rfm_label_figure(
    model: torch.nn.Module,
    dataset: SegmentationDataset,
    image_ids: Sequence[str],
    *,
    title: str = "",
):
    """One row per image: image, ground truth, CAA pseudo label, RFM pseudo label, changed.

    The last panel marks in white the pixels whose label the RFM changed, green where the
    change agrees with the ground truth and red where it disagrees (on GT-labelled pixels).
    The classes present are named at the left of each row; every label panel uses the VOC
    palette of ``clipwsss.data.colorize`` (a legend of the present classes is drawn).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    cols = ["image", "ground truth", "CAA label", "RFM label", "RFM changed (green: to GT)"]
    fig, axes = plt.subplots(len(image_ids), 5, figsize=(11, 2.3 * len(image_ids)), squeeze=False)
    shown: list[np.ndarray] = []
    for row, image_id in enumerate(image_ids):
        sample = dataset.sample(image_id)
        image = load_image(sample.image_path)
        gt = load_label_png(sample.gt_path)
        caa, rfm = caa_rfm_labels(model, image, sample.labels)
        shown += [gt, caa, rfm]  # the ground truth brings its ignored border band
        changed = np.zeros((*caa.shape, 3))
        moved = caa != rfm
        valid = gt != 255
        changed[moved] = 1.0
        changed[moved & valid & (rfm == gt)] = (0.0, 0.8, 0.0)
        changed[moved & valid & (rfm != gt)] = (0.9, 0.0, 0.0)
        panels = [image, colorize(gt), colorize(caa), colorize(rfm), changed]
        for col, panel in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(cols[col], fontsize=8)
        names = ", ".join(dataset.class_names[k] for k in sample.labels)
        axes[row, 0].set_ylabel(f"{image_id}\n{names}", fontsize=7)
    class_legend(fig, shown, dataset.class_names)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
