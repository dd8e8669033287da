"""WeakCLIP's training data: images with seed masks from any pseudo-mask PNG folder.

Pipeline layer (file I/O and augmentation), not a method module. Seeds are the project's
pseudo-mask PNGs (``<seed_dir>/<image_id>.png``, class ids 0 = background, k + 1 = class k,
255 = no seed): CLIP-ES masks from ``clipwsss masks`` by default, WeCLIP's or MCTformer's
(the paper's setting, ``SegmentationClassAugPseudoMaskMCT``) when you have them.

Augmentation follows the official mmseg pipeline in a reduced form: random rescale (short side
``crop_size`` x U(0.5, 2.0)), random crop (image padded with 0, seeds with 255), horizontal
flip, normalisation. Not reproduced: ``cat_max_ratio`` 0.75 crop retries and
``PhotoMetricDistortion``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from clipwsss.data import SegmentationDataset, load_image, load_label_png
from clipwsss.data.pixels import IGNORE


class BadSeedError(ValueError):
    """A seed mask that does not fit its image or holds an unknown class id."""


def check_seed(seed: np.ndarray, *, shape: tuple[int, int], n_classes: int, path: Path) -> None:
    """Refuse a seed mask of the wrong size or with class ids outside [0, K) and 255.

    Shapes:
        seed: (H, W) uint8; shape: the image's (H, W).

    Raises:
        BadSeedError: with the file, the problem and what was expected.
    """
    if seed.shape != tuple(shape):
        raise BadSeedError(
            f"seed mask {path} is {seed.shape[1]}x{seed.shape[0]} pixels but its image is "
            f"{shape[1]}x{shape[0]}; seeds must be pseudo masks at image resolution"
        )
    bad = np.setdiff1d(np.unique(seed), [*range(n_classes), IGNORE])
    if bad.size:
        raise BadSeedError(
            f"seed mask {path} holds class ids {bad.tolist()} outside 0..{n_classes - 1} "
            f"(and {IGNORE} = no seed); is it a mask of another data set?"
        )


def load_seed(path: str | Path, *, shape: tuple[int, int], n_classes: int) -> np.ndarray:
    """Read and check one seed PNG (:func:`check_seed`). Returns (H, W) uint8."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"seed mask not found: {path} (make pseudo masks first, e.g. `clipwsss masks`)"
        )
    seed = load_label_png(path)
    check_seed(seed, shape=shape, n_classes=n_classes, path=path)
    return seed


def normalise(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """uint8 RGB -> normalised float tensor. Shapes: (H, W, 3) -> (3, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def augment(
    pixels: Tensor, seed: Tensor, *, crop: int, scale_range: tuple[float, float], rng
) -> tuple[Tensor, Tensor]:
    """Random rescale, crop (pad 0 / 255) and flip of an image and its seeds.

    Shapes:
        pixels: (3, H, W); seed: (H, W) int64; returns (3, crop, crop), (crop, crop).
    """
    h, w = seed.shape
    ratio = crop * rng.uniform(*scale_range) / min(h, w)
    size = (max(1, round(h * ratio)), max(1, round(w * ratio)))
    pixels = F.interpolate(pixels[None], size=size, mode="bilinear", align_corners=False)[0]
    seed = F.interpolate(seed[None, None].float(), size=size, mode="nearest")[0, 0].long()
    ph, pw = max(0, crop - size[0]), max(0, crop - size[1])
    pixels = F.pad(pixels, (0, pw, 0, ph), value=0.0)
    seed = F.pad(seed, (0, pw, 0, ph), value=IGNORE)
    top = int(rng.integers(0, seed.shape[0] - crop + 1))
    left = int(rng.integers(0, seed.shape[1] - crop + 1))
    window = np.s_[top : top + crop, left : left + crop]
    pixels, seed = pixels[(slice(None), *window)], seed[window]
    if rng.random() < 0.5:
        pixels, seed = pixels.flip(-1), seed.flip(-1)
    return pixels.contiguous(), seed.contiguous()


class SeedDataset(Dataset):
    """Training samples: augmented, normalised image crops with their seed masks.

    Each item is ``{"pixels": (3, c, c) float, "seeds": (c, c) int64, "index": int}``.
    Augmentation draws from ``numpy.random`` (the training engine seeds it per sample).
    """

    def __init__(
        self,
        dataset: SegmentationDataset,
        seed_dir: str | Path,
        *,
        crop_size: int,
        scale_range: tuple[float, float],
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        self.dataset, self.seed_dir = dataset, Path(seed_dir)
        if not self.seed_dir.is_dir():
            raise FileNotFoundError(f"seed folder not found: {self.seed_dir}")
        self.crop_size, self.scale_range = crop_size, scale_range
        self.mean, self.std = tuple(mean), tuple(std)
        self.n_classes = dataset.n_classes

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        image = load_image(sample.image_path)
        seed = load_seed(
            self.seed_dir / f"{sample.image_id}.png",
            shape=image.shape[:2],
            n_classes=self.n_classes,
        )
        rng = np.random.default_rng(np.random.randint(0, 2**31))
        pixels, seeds = augment(
            normalise(image, self.mean, self.std),
            torch.from_numpy(seed.astype(np.int64)),
            crop=self.crop_size,
            scale_range=self.scale_range,
            rng=rng,
        )
        return {"pixels": pixels, "seeds": seeds, "index": index}
