"""Input statistics and the ignore label, defined once, and the preprocessing models own.

Every trained model (WeCLIP, WeakCLIP, DeepLab) carries its input statistics as
``pixel_mean`` / ``pixel_std`` buffers and turns a photo into its network input with
``model.preprocess(image)``, as segment-anything's ``Sam`` does; the predict pipeline never
passes statistics around. The buffers are not saved in checkpoints (``persistent=False``):
they come from the model's recipe when it is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision / mmseg (123.675, 116.28, 103.53) / 255
IMAGENET_STD = (0.229, 0.224, 0.225)  # (58.395, 57.12, 57.375) / 255
IGNORE = 255  # label value of pixels no loss or score reads


class PixelStats:
    """Mixin for an ``nn.Module``: ``pixel_mean`` / ``pixel_std`` buffers and ``preprocess``.

    Two input conventions: ``"rgb"`` (photo / 255, minus mean, divided by std: CLIP, WeCLIP,
    WeakCLIP, torchvision) and ``"bgr"`` (deeplab-pytorch: BGR on 0-255 minus the Caffe mean,
    computed in float64 and stored as float32, no std).
    """

    def set_pixel_stats(
        self,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        *,
        order: str = "rgb",
    ) -> None:
        """(Re)register the statistics (float64 buffers, not saved in checkpoints)."""
        if order not in ("rgb", "bgr"):
            raise ValueError(f"order={order!r}; choose 'rgb' or 'bgr'")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 values, std > 0; got {mean}, {std}")
        self.pixel_order = order
        for name, value in (("pixel_mean", mean), ("pixel_std", std)):
            if name in self._buffers:  # type: ignore[attr-defined]
                del self._buffers[name]  # type: ignore[attr-defined]
            self.register_buffer(  # type: ignore[attr-defined]
                name, torch.tensor(value, dtype=torch.float64), persistent=False
            )

    def preprocess(self, image: np.ndarray) -> Tensor:
        """The network input of one photo, on the model's device.

        Shapes:
            image: (H, W, 3) uint8 RGB; returns (3, H, W) float32.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
        mean = self.pixel_mean.cpu()[:, None, None]
        if self.pixel_order == "bgr":
            bgr = torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).permute(2, 0, 1)
            x = (bgr.float().double() - mean).float()
        else:
            x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
            std = self.pixel_std.cpu()[:, None, None]
            x = (x - mean.float()) / std.float()
        return x.to(self.pixel_mean.device)
