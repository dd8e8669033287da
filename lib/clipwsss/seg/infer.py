"""DeepLab inference: multi-scale + flip averaging, optional dense CRF, PNG export, mIoU.

CLIP-ES supplementary E: "For testing, we adopt a multi-scale strategy and dense CRF to
post-process with default hyper-parameters in [3]" ([3] = DeepLab; the values in
``CRF_DEFAULTS``). The test scale set is not given. deeplab-pytorch's ``main.py test`` (the
VOC/COCO recipes' ``InferConfig``) runs the MSC network once at the original size (its max
over scales 1, 0.5 and 0.75 is inside the model), upsamples, softmax, argmax; ``main.py crf``
gives the CRF the mean-subtracted BGR image cast to uint8 (wrapped), like CLIP-ES's CRF.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from clipwsss.cams.crf import crf_image, dense_crf
from clipwsss.data import SegmentationDataset, load_image, load_label_png, save_label_png
from clipwsss.metrics import confusion_matrix, seg_scores
from clipwsss.validate import check_choice

from .data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NORMALIZATIONS,
    check_positive_tuple,
    preprocess,
)

CRF_IMAGES = ("wrapped", "bgr", "rgb")  # InferConfig.crf_image

# deeplab-pytorch configs/*.yaml CRF block (DeepLab's defaults): ITER_MAX 10, POS_W 3,
# POS_XY_STD 1, BI_W 4, BI_XY_STD 67, BI_RGB_STD 3 (the same values CLIP-ES's CRF uses).
CRF_DEFAULTS = {
    "n_iters": 10,
    "gaussian_sxy": 1,
    "gaussian_compat": 3,
    "bilateral_sxy": 67,
    "bilateral_srgb": 3,
    "bilateral_compat": 4,
}


@dataclass(frozen=True)
class InferConfig:
    """Test-time switches."""

    scales: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5)  # ours: the training scales
    flip: bool = True  # average with the horizontally flipped image
    crf: bool = False  # dense CRF on the averaged probabilities (CLIP-ES supp. E: on)
    crf_params: dict = field(default_factory=lambda: dict(CRF_DEFAULTS))
    crf_image: str = "wrapped"  # main.py crf: BGR - mean cast to uint8 | bgr (demo.py) | rgb
    normalization: str = "caffe"  # caffe (deeplab-pytorch) | torchvision (mean, std below)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        check_positive_tuple("scales", self.scales)
        check_positive_tuple("std", self.std)
        check_choice("normalization", self.normalization, NORMALIZATIONS)
        check_choice("crf_image", self.crf_image, CRF_IMAGES)


@torch.no_grad()
def predict_probs(model: nn.Module, image: np.ndarray, config: InferConfig = InferConfig()):
    """Class probabilities averaged over scales (and flips), at the image size.

    Shapes:
        image: (H, W, 3) uint8 RGB; output: (C, H, W) float32 on the model's device.
    """
    device = next(model.parameters()).device
    x = preprocess(image, config.normalization, config.mean, config.std)[None].to(device)
    h, w = image.shape[:2]
    total = None
    for s in config.scales:
        size = (max(1, int(h * s + 0.5)), max(1, int(w * s + 0.5)))
        xs = x if size == (h, w) else F.interpolate(x, size, mode="bilinear", align_corners=False)
        batch = torch.cat([xs, xs.flip(-1)]) if config.flip else xs
        logits = F.interpolate(model(batch), size=(h, w), mode="bilinear", align_corners=False)
        probs = logits.float().softmax(dim=1)
        if config.flip:
            probs = torch.stack([probs[0], probs[1].flip(-1)])
        total = probs.sum(0) if total is None else total + probs.sum(0)
    return total / (len(config.scales) * (2 if config.flip else 1))


def crf_input(image: np.ndarray, kind: str = "wrapped") -> np.ndarray:
    """The colour image the CRF's bilateral kernel compares (the permutohedral lattice is not
    symmetric in the channel order, so BGR and RGB give slightly different posteriors).

    ``wrapped``: deeplab-pytorch ``main.py crf`` (BGR minus the Caffe mean, cast to uint8,
    negative values wrap; :func:`clipwsss.cams.crf.crf_image`); ``bgr``: its ``demo.py``
    (the uint8 image as ``cv2.imread`` gives it); ``rgb``: the photo as loaded.

    Shapes:
        image: (H, W, 3) uint8 RGB; output: (H, W, 3) uint8, C-contiguous.
    """
    if kind == "wrapped":
        return crf_image(np.ascontiguousarray(image), official=True)
    if kind == "bgr":
        return np.ascontiguousarray(image[..., ::-1])
    if kind == "rgb":
        return np.ascontiguousarray(image)
    raise ValueError(f"crf_image={kind!r}; choose 'wrapped', 'bgr' or 'rgb'")


def predict_label(model: nn.Module, image: np.ndarray, config: InferConfig = InferConfig()):
    """The predicted label map (argmax, after the CRF if ``config.crf``).

    Shapes:
        image: (H, W, 3) uint8; output: (H, W) uint8 class ids.
    """
    probs = predict_probs(model, image, config)
    if config.crf:
        rgb = crf_input(image, config.crf_image)
        q = dense_crf(rgb, probs.cpu().numpy(), **config.crf_params)
        return q.argmax(0).astype(np.uint8)
    return probs.argmax(0).cpu().numpy().astype(np.uint8)


def voc_test_dir(out_dir: str | Path) -> Path:
    """Where the PASCAL VOC evaluation server wants the test PNGs (comp6: own training data)."""
    return Path(out_dir) / "results" / "VOC2012" / "Segmentation" / "comp6_test_cls"


def predict_dataset(
    model: nn.Module,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    config: InferConfig = InferConfig(),
    *,
    voc_test_layout: bool = False,
    progress: bool = True,
) -> int:
    """Write one palette PNG per image (VOC format: pixel value = class id); resumable.

    Images whose PNG exists are skipped (each PNG is written atomically). With
    ``voc_test_layout`` the files go under ``results/VOC2012/Segmentation/comp6_test_cls``
    (tar that ``results`` folder for the evaluation server).

    Returns:
        The number of PNGs written by this call.
    """
    folder = voc_test_dir(out_dir) if voc_test_layout else Path(out_dir)
    if len(dataset) == 0:
        raise ValueError(f"the split of {dataset!r} is empty: nothing to predict")
    model.eval()
    written = 0
    for sample in tqdm(dataset, total=len(dataset), disable=not progress, desc="predict"):
        path = folder / f"{sample.image_id}.png"
        if path.exists():
            continue
        save_label_png(path, predict_label(model, load_image(sample.image_path), config))
        written += 1
    return written


def image_confusions(
    model: nn.Module,
    dataset: SegmentationDataset,
    n_classes: int,
    config: InferConfig = InferConfig(),
    *,
    ids: Iterable[str] | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Per-image confusion matrices of the model's predictions against the GT.

    Returns:
        (N, n_classes, n_classes) int64, images in ``dataset`` order (or ``ids`` order);
        sum over axis 0 and call ``clipwsss.metrics.seg_scores`` for the split mIoU, or
        feed it to ``bootstrap_mious``.
    """
    model.eval()
    hists = []
    for image_id in tqdm(list(ids or dataset.ids), disable=not progress, desc="eval"):
        sample = dataset.sample(image_id)
        if sample.gt_path is None:
            raise ValueError(f"image {image_id} has no ground-truth mask to score against")
        pred = predict_label(model, load_image(sample.image_path), config)
        hists.append(confusion_matrix(pred, load_label_png(sample.gt_path), n_classes))
    return np.stack(hists)


def evaluate_segmenter(model, dataset, n_classes, config=InferConfig()) -> dict[str, float]:
    """mIoU (fraction), pixel accuracy and per-class IoU of the model on ``dataset``."""
    scores = seg_scores(image_confusions(model, dataset, n_classes, config).sum(0))
    return {"miou": scores.miou, "pixel_acc": scores.pixel_acc}


__all__ = [
    "CRF_DEFAULTS",
    "InferConfig",
    "crf_input",
    "evaluate_segmenter",
    "image_confusions",
    "predict_dataset",
    "predict_label",
    "predict_probs",
    "voc_test_dir",
]
