"""Training samples for DeepLab: an image, its pseudo-mask PNG and (optionally) a stored
confidence map, with paired random scale, crop and flip (CLIP-ES supplementary E).

Masks are the ``clipwsss masks`` PNGs (0 = background, k + 1 = class k, 255 = ignore).
Confidence maps, if given, are ``<id>.npy`` float arrays (H, W) in [0, 1] (written by
``clipwsss.pipelines.masks.generate_masks(..., labels_dir=, conf_dir=)``), so mu can be swept
at training time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from clipwsss.data import SegmentationDataset, load_image, load_label_png
from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD
from clipwsss.validate import check_choice, check_range

CAFFE_MEAN_BGR = (104.008, 116.669, 122.675)  # deeplab-pytorch configs: B, G, R on 0-255
NORMALIZATIONS = ("caffe", "torchvision")
RESIZES = ("official", "round")  # AugmentConfig.resize


class MaskDataError(ValueError):
    """A pseudo-mask or confidence map that cannot be used (the message names the file)."""


@dataclass(frozen=True)
class AugmentConfig:
    """Paired augmentation of image, mask and confidence."""

    crop: int = 321  # CLIP-ES supp. E: 321 (VOC), 481 (COCO)
    scales: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5)  # supp. E (VOC); COCO up to 2.0
    flip: bool = True  # horizontal flip with probability 0.5 (deeplab-pytorch)
    normalization: str = "caffe"  # caffe: BGR minus CAFFE_MEAN_BGR; torchvision: mean/std
    resize: str = "official"  # official: int(h*s), labels nearest-exact; round: +0.5, nearest
    mean: tuple[float, float, float] = IMAGENET_MEAN  # torchvision normalisation only
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        check_range("crop", self.crop, low=1)
        check_positive_tuple("scales", self.scales)
        check_positive_tuple("std", self.std)
        check_choice("normalization", self.normalization, NORMALIZATIONS)
        check_choice("resize", self.resize, RESIZES)


def check_positive_tuple(name: str, values: tuple[float, ...]) -> None:
    """At least one value, each finite and > 0 (scales, stds); the message names the flag."""
    if len(values) == 0:
        raise ValueError(f"{name} (--{name.replace('_', '-')}) needs at least one value")
    for value in values:
        check_range(name, value, above=0)


def normalize(image: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> Tensor:
    """uint8 RGB (H, W, 3) -> normalised float (3, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def caffe_normalize(image: np.ndarray) -> Tensor:
    """deeplab-pytorch's input: BGR, 0-255, minus ``CAFFE_MEAN_BGR``, no std.

    As there, float32 pixels minus a float64 mean are computed in float64 and stored as
    float32 (bit-equal to ``cv2.imread(...).astype(np.float32) - mean``).

    Shapes:
        image: (H, W, 3) uint8 RGB; output: (3, H, W) float32, channels B, G, R.
    """
    bgr = torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).permute(2, 0, 1)
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=torch.float64)[:, None, None]
    return (bgr.float().double() - mean).float()


def preprocess(
    image: np.ndarray, normalization: str = "caffe", mean=IMAGENET_MEAN, std=IMAGENET_STD
) -> Tensor:
    """The network input of ``normalization`` (:func:`caffe_normalize` or :func:`normalize`).

    Shapes:
        image: (H, W, 3) uint8 RGB; output: (3, H, W) float32.
    """
    if normalization == "caffe":
        return caffe_normalize(image)
    if normalization == "torchvision":
        return normalize(image, mean, std)
    raise ValueError(f"normalization={normalization!r}; choose one of {NORMALIZATIONS}")


def check_label(label: np.ndarray, size: tuple[int, int], n_classes: int, path: Path) -> None:
    """Refuse a mask of the wrong size or with a class id outside [0, n_classes) and 255."""
    if label.shape != size:
        raise MaskDataError(
            f"mask {path} is {label.shape[1]}x{label.shape[0]} (WxH) but its "
            f"image is {size[1]}x{size[0]}"
        )
    values = np.unique(label)
    bad = values[(values >= n_classes) & (values != 255)]
    if bad.size:
        raise MaskDataError(
            f"mask {path} has class ids {bad.tolist()} outside [0, {n_classes}) and 255"
        )


def random_scale_crop_flip(image: Tensor, label: Tensor, conf: Tensor | None, aug):
    """Random scale from ``aug.scales``, pad to the crop (image 0 = the mean after
    normalising, label 255, conf 0; deeplab-pytorch pads with the mean colour before its
    float32 subtraction, about 3e-6 from 0), random crop, random horizontal flip; uses the global
    ``random`` RNG (the training engine seeds it per sample).

    Shapes:
        image: (3, H, W); label: (H, W) int64; conf: (H, W) or None; outputs at (crop, crop).
    """
    s = random.choice(aug.scales)
    h, w = label.shape
    if aug.resize == "official":  # deeplab-pytorch: int() sizes, PIL NEAREST (pixel centres)
        size, mode = (max(1, int(h * s)), max(1, int(w * s))), "nearest-exact"
    elif aug.resize == "round":
        size, mode = (max(1, int(h * s + 0.5)), max(1, int(w * s + 0.5))), "nearest"
    else:
        raise ValueError(f"resize={aug.resize!r}; choose 'official' or 'round'")
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    label = F.interpolate(label[None, None].float(), size=size, mode=mode)[0, 0].long()
    if conf is not None:
        conf = F.interpolate(conf[None, None], size=size, mode=mode)[0, 0]
    ph, pw = max(aug.crop - size[0], 0), max(aug.crop - size[1], 0)
    image = F.pad(image, (0, pw, 0, ph), value=0.0)
    label = F.pad(label, (0, pw, 0, ph), value=255)
    conf = None if conf is None else F.pad(conf, (0, pw, 0, ph), value=0.0)
    y = random.randint(0, label.shape[0] - aug.crop)
    x = random.randint(0, label.shape[1] - aug.crop)
    crop = np.s_[..., y : y + aug.crop, x : x + aug.crop]
    image, label = image[crop], label[crop]
    conf = None if conf is None else conf[crop]
    if aug.flip and random.random() < 0.5:
        image, label = image.flip(-1), label.flip(-1)
        conf = None if conf is None else conf.flip(-1)
    return image, label, conf


class PseudoMaskDataset(Dataset):
    """Images of ``dataset`` with their pseudo-masks from ``masks_dir`` (one PNG per id).

    Args:
        dataset: The split (its ids and image paths; no GT needed).
        masks_dir: Folder of ``<id>.png`` pseudo-masks.
        n_classes: Classes including background.
        augment: Paired augmentation; ``None`` returns the full image unaugmented.
        conf_dir: Optional folder of ``<id>.npy`` confidence maps.

    Raises:
        MaskDataError: an empty split, or masks / confidence maps missing for listed ids.
    """

    def __init__(
        self,
        dataset: SegmentationDataset,
        masks_dir,
        *,
        n_classes: int,
        augment: AugmentConfig | None = AugmentConfig(),
        conf_dir=None,
    ) -> None:
        self.dataset, self.n_classes, self.augment = dataset, n_classes, augment
        self.masks_dir = Path(masks_dir)
        self.conf_dir = None if conf_dir is None else Path(conf_dir)
        self.ids = list(dataset.ids)
        if not self.ids:
            raise MaskDataError(f"the split of {dataset!r} is empty: nothing to train on")
        _require_files(self.masks_dir, self.ids, ".png", "pseudo-mask")
        if self.conf_dir is not None:
            _require_files(self.conf_dir, self.ids, ".npy", "confidence map")

    def __len__(self) -> int:
        return len(self.ids)

    def _conf(self, image_id: str, size: tuple[int, int]) -> Tensor | None:
        if self.conf_dir is None:
            return None
        path = self.conf_dir / f"{image_id}.npy"
        conf = np.load(path).astype(np.float32)
        if conf.shape != size:
            raise MaskDataError(f"confidence map {path} is {conf.shape}, its image {size}")
        return torch.from_numpy(conf)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        image_id = self.ids[index]
        image = load_image(self.dataset.sample(image_id).image_path)
        path = self.masks_dir / f"{image_id}.png"
        label = load_label_png(path)
        check_label(label, image.shape[:2], self.n_classes, path)
        conf = self._conf(image_id, image.shape[:2])
        aug = self.augment or AugmentConfig()
        x = preprocess(image, aug.normalization, aug.mean, aug.std)
        y = torch.from_numpy(label.astype(np.int64))
        if self.augment is not None:
            x, y, conf = random_scale_crop_flip(x, y, conf, self.augment)
        out = {"image": x, "label": y}
        if conf is not None:
            out["conf"] = conf
        return out


def _require_files(folder: Path, ids: list[str], suffix: str, what: str) -> None:
    if not folder.is_dir():
        raise MaskDataError(f"{what} folder {folder} does not exist")
    missing = [i for i in ids if not (folder / f"{i}{suffix}").is_file()]
    if missing:
        raise MaskDataError(
            f"{len(missing)} of {len(ids)} listed images have no {what} in "
            f"{folder}, e.g. {missing[0]}{suffix}"
        )


def check_pseudo_masks(data: PseudoMaskDataset) -> int:
    """Read every mask once (size against the image header, class ids) before training.

    Returns:
        The number of masks checked. Raises ``MaskDataError`` at the first bad one.
    """
    for image_id in data.ids:
        path = data.masks_dir / f"{image_id}.png"
        with Image.open(data.dataset.sample(image_id).image_path) as img:
            w, h = img.size
        check_label(load_label_png(path), (h, w), data.n_classes, path)
    return len(data.ids)
