"""WeCLIP training and inference samples: augmentation, normalisation, label sources.

Official code: ``datasets/voc.py`` and ``datasets/transforms.py`` (random rescale U[0.5, 2.0]
with PIL bilinear, horizontal flip, random crop with 0-padding, then ImageNet normalisation;
no colour jitter). Data-set loops and file reading live here, not in the method modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from clipwsss.clip.loading import CLIP_MEAN, CLIP_STD
from clipwsss.data import SegmentationDataset, labels_from_label_map, load_image, load_label_png
from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD

from .config import Normalisation


def normalise(image: np.ndarray, normalisation: Normalisation = "imagenet") -> Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float, ImageNet (official) or CLIP statistics."""
    mean, std = (
        (IMAGENET_MEAN, IMAGENET_STD) if normalisation == "imagenet" else (CLIP_MEAN, CLIP_STD)
    )
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def random_rescale_flip_crop(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    crop: int = 320,
    scale_range: tuple[float, float] = (0.5, 2.0),
) -> tuple[np.ndarray, np.ndarray]:
    """The official training augmentation of one image.

    Returns:
        The (crop, crop, 3) uint8 crop (0 where padded) and the (crop, crop) bool mask of
        real (not padded) pixels.
    """
    h, w = image.shape[:2]
    s = rng.uniform(*scale_range)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    if rng.random() < 0.5:
        image = image[:, ::-1]
    ph, pw = max(nh, crop), max(nw, crop)
    canvas = np.zeros((ph, pw, 3), np.uint8)
    valid = np.zeros((ph, pw), bool)
    y0, x0 = rng.integers(0, ph - nh + 1), rng.integers(0, pw - nw + 1)
    canvas[y0 : y0 + nh, x0 : x0 + nw], valid[y0 : y0 + nh, x0 : x0 + nw] = image, True
    cy, cx = rng.integers(0, ph - crop + 1), rng.integers(0, pw - crop + 1)
    return canvas[cy : cy + crop, cx : cx + crop], valid[cy : cy + crop, cx : cx + crop]


def image_labels(dataset: SegmentationDataset, index: int, *, from_gt: bool = False) -> tuple:
    """Image-level labels of one sample: the data set's label source (XML, list, file), or
    with ``from_gt=True`` the classes present in its GT PNG (the official code's source)."""
    sample = dataset[index]
    if not from_gt:
        return sample.labels
    if sample.gt_path is None:
        raise FileNotFoundError(f"{sample.image_id}: labels_from_gt=True but it has no GT PNG")
    return labels_from_label_map(load_label_png(sample.gt_path), dataset.n_classes)


class WeClipTrainSet(Dataset):
    """Augmented crops with multi-hot image labels (collate-ready).

    Each item: ``pixels`` (3, crop, crop) normalised, ``labels`` (C-1,) multi-hot float,
    ``valid`` (crop, crop) bool. Images without any label are refused up front (GradCAM
    needs one), with their ids in the message.
    """

    def __init__(
        self,
        dataset: SegmentationDataset,
        *,
        crop: int = 320,
        scale_range: tuple[float, float] = (0.5, 2.0),
        normalisation: Normalisation = "imagenet",
        labels_from_gt: bool = False,
    ) -> None:
        self.dataset, self.crop, self.scale_range = dataset, crop, scale_range
        self.normalisation = normalisation
        self.labels = [
            image_labels(dataset, i, from_gt=labels_from_gt) for i in range(len(dataset))
        ]
        empty = [dataset.ids[i] for i, lab in enumerate(self.labels) if not lab]
        if empty:
            raise ValueError(
                f"{len(empty)} training images have no image-level label "
                f"(e.g. {empty[:3]}); drop them from the split"
            )

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = np.random.default_rng(int(np.random.randint(0, 2**31 - 1)))  # engine-seeded
        image = load_image(self.dataset[index].image_path)
        crop, valid = random_rescale_flip_crop(
            image, rng, crop=self.crop, scale_range=self.scale_range
        )
        hot = torch.zeros(self.dataset.n_classes - 1)
        hot[list(self.labels[index])] = 1.0
        return {
            "pixels": normalise(crop, self.normalisation),
            "labels": hot,
            "valid": torch.from_numpy(np.ascontiguousarray(valid)),
        }


def labels_from_multi_hot(hot: Tensor) -> list[list[int]]:
    """(B, C-1) multi-hot -> per image the ascending 0-based class ids."""
    return [torch.nonzero(row > 0.5).flatten().tolist() for row in hot]


def check_label_sets(labels: Sequence[Sequence[int]], n_fg: int) -> None:
    """Every image needs at least one label, each in [0, n_fg)."""
    for i, lab in enumerate(labels):
        if not lab:
            raise ValueError(f"image {i} of the batch has an empty label set")
        bad = [c for c in lab if not 0 <= int(c) < n_fg]
        if bad:
            raise IndexError(f"image {i}: class ids {bad} outside the vocabulary [0, {n_fg})")
