"""Text-guided decoder: FPN neck and Semantic-FPN head on [adapter maps, score maps].

Paper: WeakCLIP Section 3.5, Eq. (5): P = Decoder_g({f_i'}, {lambda_i'}). Official code:
``weakclip.py`` L269-276 (score map resized with ``align_corners=True`` and concatenated to
each adapter map), mmseg ``FPN`` neck and ``FPNHeadDGCN`` (Semantic FPN, Kirillov et al.
2019). The prediction P is at the resolution of the finest level (1/4 of the input).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class FPNNeck(nn.Module):
    """mmseg FPN: lateral 1x1 convs, top-down nearest upsample-and-add, 3x3 output convs.

    3,169,280 parameters for four inputs of 768 + 21 channels and 256 outputs. Init: mmcv
    ``ConvModule`` Kaiming normal (fan-out, ReLU gain), zero bias, as constructed (the official
    run); ``mmseg_init`` applies the FPN's ``init_cfg`` instead (Xavier uniform, zero bias).

    Shapes:
        forward(feats): four (B, C_in, h_i, w_i), finest first -> four (B, C, h_i, w_i).
    """

    def __init__(
        self, in_channels: int, channels: int, levels: int = 4, *, mmseg_init: bool = False
    ) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(in_channels, channels, 1) for _ in range(levels))
        self.fpn = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(levels))
        for conv in [*self.lateral, *self.fpn]:
            if mmseg_init:  # FPN init_cfg: Xavier uniform
                nn.init.xavier_uniform_(conv.weight)
            else:
                convmodule_init(conv)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        lat = [conv(x) for conv, x in zip(self.lateral, feats, strict=True)]
        for i in range(len(lat) - 1, 0, -1):  # top-down path
            lat[i - 1] = lat[i - 1] + F.interpolate(
                lat[i], size=lat[i - 1].shape[-2:], mode="nearest"
            )
        return tuple(conv(x) for conv, x in zip(self.fpn, lat, strict=True))


def convmodule_init(conv: nn.Conv2d) -> None:
    """mmcv ``ConvModule``'s own init at construction: Kaiming normal, fan-out, ReLU gain."""
    nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_out", nonlinearity="relu")


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """mmcv ``ConvModule`` 3x3 with BN (official SyncBN) and ReLU; the conv has no bias."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    convmodule_init(conv)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())


class SemanticFPNHead(nn.Module):
    """Semantic-FPN head: per level, {1, 1, 2, 3} conv-BN-ReLU blocks with x2 upsamples, sum,
    dropout, 1x1 classifier. 4,137,749 parameters at 256 channels and K = 21. The classifier
    keeps PyTorch's default init, non-zero bias included (the official run never calls
    ``init_weights()``); ``mmseg_init`` gives it mmseg's Normal(0.01) and a zero bias.

    Shapes:
        forward(feats): four (B, C_in, h_i, w_i) at strides s, 2s, 4s, 8s -> (B, K, h_0, w_0).

    Reference: WeakCLIP Section 3.5 (C.B.R. blocks); mmseg ``FPNHead``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        n_classes: int,
        dropout: float,
        *,
        mmseg_init: bool = False,
    ) -> None:
        super().__init__()
        self.scale_heads = nn.ModuleList()
        for level in range(4):
            blocks: list[nn.Module] = []
            for j in range(max(1, level)):  # head_length = max(1, log2(stride_i / stride_0))
                blocks.append(conv_bn_relu(in_channels if j == 0 else channels, channels))
                if level > 0:
                    blocks.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            self.scale_heads.append(nn.Sequential(*blocks))
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, n_classes, 1)
        if mmseg_init:  # BaseDecodeHead init_cfg
            nn.init.normal_(self.conv_seg.weight, std=0.01)
            nn.init.zeros_(self.conv_seg.bias)

    def forward(self, feats: tuple[Tensor, ...]) -> Tensor:
        out = self.scale_heads[0](feats[0])
        for head, x in zip(self.scale_heads[1:], feats[1:], strict=True):
            out = out + F.interpolate(
                head(x), size=out.shape[-2:], mode="bilinear", align_corners=False
            )
        return self.conv_seg(self.dropout(out))


def resize_scores(scores: Tensor, sizes: list[tuple[int, int]]) -> list[Tensor]:
    """The score map lambda' resized to each pyramid level (bilinear, ``align_corners=True``).

    Shapes:
        scores: (B, K, h, w); returns one (B, K, h_i, w_i) per size.
    """
    return [F.interpolate(scores, size=s, mode="bilinear", align_corners=True) for s in sizes]
