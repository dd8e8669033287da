"""deeplab-pytorch's DeepLabV2: the Caffe-style ResNet, the ASPP and the MSC wrapper.

The network CLIP-ES's final numbers come from (kazuto1011/deeplab-pytorch, the code the
CLIP-ES README points to), rebuilt module for module so that its released ``.pth`` files
load by their own key names (``base.layer2.block1.reduce.conv.weight``, ``base.aspp.c0.bias``;
the COCO init has the same backbone keys without ``base.``). What differs from
torchvision's ResNet (checked tensor by tensor on tests/fidelity/deeplab):

* the stem max pool rounds up (``ceil_mode=True``): 375x500 gives 48x63 logits, not 47x63;
* a stage strides in its first 1x1 convolution (``reduce``) and its shortcut, not in the 3x3;
* every block of a dilated stage has the same dilation (2 in ``layer4``, 4 in ``layer5``);
* BN has eps 1e-5 and momentum 0.001 (Caffe's moving-average fraction 0.999);
* a 1x1 shortcut (conv + BN) in the first block of every stage, ``layer2`` included;
* ASPP: four 3x3 convolutions with bias at rates 6/12/18/24, summed (no BN, no ReLU).

MSC (multi-scale inputs): the network runs on the image and on copies shrunk by 0.5 and
0.75 (bilinear, ``scale_factor``); the small logits are upsampled to the full-scale grid and
the elementwise max of the three is a fourth output. Training returns all four, in the order
[1.0, 0.5, 0.75, max]; eval returns the max.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Blocks per residual stage (layer2 ... layer5 in deeplab-pytorch's names).
CAFFE_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}
BN_EPS, BN_MOMENTUM = 1e-5, 1 - 0.999  # deeplab-pytorch: Caffe's moving_average_fraction


class ConvBn(nn.Sequential):
    """Convolution without bias, BN, optional ReLU (keys ``conv.weight``, ``bn.*``)."""

    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, relu=True) -> None:
        super().__init__()
        self.add_module(
            "conv", nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=False)
        )
        self.add_module("bn", nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM))
        if relu:
            self.add_module("relu", nn.ReLU())


class Bottleneck(nn.Module):
    """1x1 (carries the stride) -> 3x3 (dilated) -> 1x1, plus the shortcut, then ReLU.

    Shapes:
        input: (B, c_in, H, W); output: (B, c_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, c_in, c_out, stride, dilation, projection) -> None:
        super().__init__()
        mid = c_out // 4
        self.reduce = ConvBn(c_in, mid, 1, stride, 0, 1)
        self.conv3x3 = ConvBn(mid, mid, 3, 1, dilation, dilation)
        self.increase = ConvBn(mid, c_out, 1, 1, 0, 1, relu=False)
        self.shortcut = ConvBn(c_in, c_out, 1, stride, 0, 1, relu=False) if projection else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.increase(self.conv3x3(self.reduce(x)))
        return F.relu(h + (x if self.shortcut is None else self.shortcut(x)))


def res_layer(n_blocks: int, c_in: int, c_out: int, stride: int, dilation: int) -> nn.Sequential:
    """One residual stage: ``block1`` (projection shortcut, stride) ... ``block{n}``."""
    layer = nn.Sequential()
    for i in range(n_blocks):
        first = i == 0
        block = Bottleneck(
            c_in if first else c_out, c_out, stride if first else 1, dilation, projection=first
        )
        layer.add_module(f"block{i + 1}", block)
    return layer


class Stem(nn.Sequential):
    """7x7/2 conv + BN + ReLU, then a 3x3/2 max pool that rounds up (``ceil_mode=True``)."""

    def __init__(self, ceil_mode: bool = True) -> None:
        super().__init__()
        self.add_module("conv1", ConvBn(3, 64, 7, 2, 3, 1))
        self.add_module("pool", nn.MaxPool2d(3, 2, 1, ceil_mode=ceil_mode))


class CaffeASPP(nn.Module):
    """DeepLabV2's ASPP in deeplab-pytorch's names (``c0`` ... ``c3``): biased dilated 3x3
    convolutions, weights ~ N(0, std), biases 0, outputs summed.

    Shapes:
        input: (B, C_in, h, w); output: (B, n_classes, h, w).
    """

    def __init__(self, c_in: int, n_classes: int, rates, std: float = 0.01) -> None:
        super().__init__()
        for i, r in enumerate(rates):
            conv = nn.Conv2d(c_in, n_classes, 3, 1, padding=r, dilation=r, bias=True)
            nn.init.normal_(conv.weight, 0.0, std)
            nn.init.constant_(conv.bias, 0.0)
            self.add_module(f"c{i}", conv)

    def forward(self, x: Tensor) -> Tensor:
        return sum(conv(x) for conv in self.children())


class CaffeDeepLabV2(nn.Module):
    """deeplab-pytorch's ``DeepLabV2``: ``layer1`` (stem) ... ``layer5``, then ``aspp``.

    Shapes:
        image: (B, 3, H, W) BGR minus the Caffe mean; output: (B, n_classes, h, w) with
        h = ceil(p / 2), p = ceil((ceil(H / 2) - 1) / 2) + 1 (the ceil-mode pool), so
        321 -> 41 and 375 x 500 -> 48 x 63.
    """

    def __init__(
        self,
        n_classes: int,
        blocks=(3, 4, 23, 3),
        rates=(6, 12, 18, 24),
        head_std: float = 0.01,
        ceil_mode: bool = True,
    ) -> None:
        super().__init__()
        if len(blocks) != 4:
            raise ValueError(f"blocks must give four stages, got {blocks}")
        self.layer1 = Stem(ceil_mode)
        self.layer2 = res_layer(blocks[0], 64, 256, 1, 1)
        self.layer3 = res_layer(blocks[1], 256, 512, 2, 1)
        self.layer4 = res_layer(blocks[2], 512, 1024, 1, 2)
        self.layer5 = res_layer(blocks[3], 1024, 2048, 1, 4)
        self.aspp = CaffeASPP(2048, n_classes, rates, head_std)

    def features(self, image: Tensor) -> Tensor:
        x = self.layer1(image)
        return self.layer5(self.layer4(self.layer3(self.layer2(x))))

    def forward(self, image: Tensor) -> Tensor:
        return self.aspp(self.features(image))


class MSC(nn.Module):
    """Multi-scale inputs with max fusion around ``base`` (deeplab-pytorch's ``MSC``).

    Shapes:
        image: (B, 3, H, W). Training: a list of four logits, [scale 1 (B, C, h, w), each
        of ``scales`` at its own size, their elementwise max at (h, w)]; eval: the max.
    """

    def __init__(self, base: nn.Module, scales=(0.5, 0.75)) -> None:
        super().__init__()
        self.base, self.scales = base, tuple(scales)

    def forward(self, image: Tensor) -> Tensor | list[Tensor]:
        logits = self.base(image)
        size = logits.shape[-2:]
        pyramid = [
            self.base(F.interpolate(image, scale_factor=s, mode="bilinear", align_corners=False))
            for s in self.scales
        ]
        up = [F.interpolate(p, size=size, mode="bilinear", align_corners=False) for p in pyramid]
        fused = torch.max(torch.stack([logits, *up]), dim=0)[0]
        if self.training:
            return [logits, *pyramid, fused]
        return fused


__all__ = [
    "CAFFE_BLOCKS",
    "MSC",
    "Bottleneck",
    "CaffeASPP",
    "CaffeDeepLabV2",
    "ConvBn",
    "Stem",
    "res_layer",
]
