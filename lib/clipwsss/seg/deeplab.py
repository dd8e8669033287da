"""DeepLabV2: a dilated ResNet (output stride 8) and the ASPP classifier (CLIP-ES Sec. 4.1).

Chen et al., *DeepLab* (TPAMI 2017), Sec. 3.1 / Fig. 7: ASPP-L = four parallel 3x3
convolutions with dilation 6, 12, 18, 24 on the last feature map, each predicting the class
scores, *summed*. The backbone is torchvision's ResNet with the strides of its last two
stages replaced by dilation 2 and 4 (``replace_stride_with_dilation=[False, True, True]``).

Our commentary: the original DeepLabV2 uses the Caffe ResNet-101 (stride in the first 1x1
convolution of a stage, BN statistics frozen, MSRA ImageNet weights); torchvision's ResNet
("v1.5") strides in the 3x3 convolution. We keep torchvision's weights and layout (the
brief's choice) and freeze BN like deeplab-pytorch (``freeze_bn``), so the ImageNet-init
numbers can differ a little from the paper's Caffe backbone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import resnet

from clipwsss.clip.loading import WeightsNotFoundError

BACKBONES = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048}
INITS = ("imagenet", "coco", "file", "random")


@dataclass(frozen=True)
class DeepLabConfig:
    """DeepLabV2 architecture and initialisation."""

    n_classes: int = 21  # background included (21 VOC, 81 COCO, 11 toy)
    backbone: str = "resnet101"  # CLIP-ES Sec. 4.1: ResNet-101; resnet18/34 for the toy
    aspp_rates: tuple[int, ...] = (6, 12, 18, 24)  # DeepLab TPAMI 2017, ASPP-L
    init: str = "imagenet"  # imagenet | coco | file | random (random needs allow_random)
    weights: str | None = None  # local file: ImageNet ResNet (imagenet/file) or COCO DeepLab
    freeze_bn: bool = True  # deeplab-pytorch: BN in eval mode, its affine not trained
    head_std: float = 0.01  # deeplab-pytorch: ASPP weights ~ N(0, 0.01), bias 0

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone={self.backbone!r}; choose one of {list(BACKBONES)}")
        if self.init not in INITS:
            raise ValueError(f"init={self.init!r}; choose one of {INITS}")
        if self.init in ("coco", "file") and not self.weights:
            raise ValueError(f"init={self.init!r} needs weights=<local file>")


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling of DeepLabV2: parallel dilated 3x3 convs, summed.

    Shapes:
        input: (B, C_in, h, w); output: (B, n_classes, h, w).

    Reference: Chen et al., TPAMI 2017, Sec. 3.3, Fig. 7 (ASPP-L, rates 6/12/18/24).
    """

    def __init__(self, in_channels: int, n_classes: int, rates=(6, 12, 18, 24), std=0.01):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, n_classes, 3, padding=r, dilation=r, bias=True) for r in rates
        )
        for conv in self.branches:
            nn.init.normal_(conv.weight, 0.0, std)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return sum(branch(x) for branch in self.branches)  # the branches' scores are summed


def _dilate_basic_layer(layer: nn.Sequential, dilation: int) -> None:
    """Turn a BasicBlock stage (ResNet-18/34) from stride 2 into dilation ``dilation``.

    torchvision only dilates Bottleneck stages; for BasicBlocks we set the strides to 1
    and dilate every 3x3 conv (the first block by half, as torchvision does for Bottleneck).
    """
    for i, block in enumerate(layer):
        for conv in (block.conv1, block.conv2):
            d = max(1, dilation // 2) if (i == 0 and conv is block.conv1) else dilation
            conv.stride, conv.dilation, conv.padding = (1, 1), (d, d), (d, d)
        if block.downsample is not None:
            block.downsample[0].stride = (1, 1)


def dilated_resnet(name: str) -> nn.Module:
    """A torchvision ResNet with output stride 8 (layer3 dilation 2, layer4 dilation 4).

    Shapes:
        input: (B, 3, H, W); output of ``features``: (B, C, ceil(H/8), ceil(W/8)).
    """
    if name in ("resnet50", "resnet101"):
        return getattr(resnet, name)(weights=None, replace_stride_with_dilation=[False, True, True])
    net = getattr(resnet, name)(weights=None)
    _dilate_basic_layer(net.layer3, 2)
    _dilate_basic_layer(net.layer4, 4)
    return net


class DeepLabV2(nn.Module):
    """Dilated ResNet + ASPP; logits at 1/8 of the input (upsample them for the labels).

    Shapes:
        image: (B, 3, H, W) normalised; output: (B, n_classes, ceil(H/8), ceil(W/8)).

    Reference: CLIP-ES Sec. 4.1 and supplementary E; DeepLab TPAMI 2017.
    """

    def __init__(self, config: DeepLabConfig) -> None:
        super().__init__()
        self.config = config
        net = dilated_resnet(config.backbone)
        net.fc = nn.Identity()
        self.backbone = net
        self.aspp = ASPP(
            BACKBONES[config.backbone], config.n_classes, config.aspp_rates, config.head_std
        )

    def features(self, image: Tensor) -> Tensor:
        b = self.backbone
        x = b.maxpool(b.relu(b.bn1(b.conv1(image))))
        return b.layer4(b.layer3(b.layer2(b.layer1(x))))

    def forward(self, image: Tensor) -> Tensor:
        return self.aspp(self.features(image))

    def train(self, mode: bool = True) -> DeepLabV2:
        super().train(mode)
        if self.config.freeze_bn:  # deeplab-pytorch: BN statistics stay the pretrained ones
            for m in self.backbone.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.aspp.parameters())

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.backbone.parameters() if p.requires_grad]


RANDOM_WARNING = (
    "DeepLabV2 with RANDOM backbone weights (init='random'): fine for tests, timing and the "
    "toy world, meaningless for VOC/COCO numbers"
)


def _read_state(path: str | Path) -> dict[str, Tensor]:
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"DeepLab weights file {path} not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return {k.removeprefix("module."): v for k, v in state.items()}


def _torchvision_imagenet(name: str) -> dict[str, Tensor]:
    weights = getattr(resnet, f"ResNet{name[6:]}_Weights").IMAGENET1K_V1
    try:  # torch hub cache first, else a download
        return weights.get_state_dict(progress=False)
    except Exception as err:  # offline, proxy, disk: say how to provide the file
        raise WeightsNotFoundError(
            f"could not load torchvision's ImageNet {name} weights ({err}). Download "
            f"{weights.url} elsewhere and pass it as weights=<file> (CLI --weights FILE), "
            "or put it in the torch hub cache ($TORCH_HOME/hub/checkpoints)"
        ) from err


def load_weights(model: DeepLabV2, state: dict[str, Tensor]) -> list[str]:
    """Load a torchvision-ResNet or a DeepLabV2 state_dict; returns the keys left at init.

    The backbone must match exactly; an ASPP head of another class count (e.g. a
    COCO-pretrained DeepLab for VOC) is skipped and keeps its random init.
    """
    if any(k.startswith("backbone.") for k in state):
        backbone = {k[9:]: v for k, v in state.items() if k.startswith("backbone.")}
        head = {k[5:]: v for k, v in state.items() if k.startswith("aspp.")}
    else:
        backbone, head = state, {}
    backbone = {k: v for k, v in backbone.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = model.backbone.load_state_dict(backbone, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"weights do not fit a {model.config.backbone}: {err}") from None
    if missing or unexpected:
        raise ValueError(
            f"weights do not fit a {model.config.backbone}: missing {missing[:4]}..., "
            f"unexpected {unexpected[:4]}... (expected torchvision ResNet key names)"
        )
    own = model.aspp.state_dict()
    if head and all(k in own and own[k].shape == v.shape for k, v in head.items()):
        model.aspp.load_state_dict(head)
        return []
    return [f"aspp.{k}" for k in own]


def build_deeplab(config: DeepLabConfig, *, allow_random: bool = False) -> DeepLabV2:
    """DeepLabV2 with the initialisation ``config.init`` asks for; never a silent random init.

    imagenet: torchvision ImageNet weights (``config.weights`` = a local copy, else the
    torch hub cache or a download); coco / file: a local DeepLab or ResNet state_dict (the
    paper's 73.8 row starts from a COCO-pretrained DeepLab); random: only with
    ``allow_random=True``, and with a warning.

    Raises:
        WeightsNotFoundError: the weights cannot be found or loaded.
        ValueError: init='random' without ``allow_random``, or weights of another shape.
    """
    model = DeepLabV2(config)
    if config.init == "random":
        if not allow_random:
            raise ValueError("init='random' needs allow_random=True (CLI: --allow-random-weights)")
        warnings.warn(RANDOM_WARNING, stacklevel=2)
    else:
        if config.weights:
            state = _read_state(config.weights)
        else:
            state = _torchvision_imagenet(config.backbone)
        load_weights(model, state)
    if config.freeze_bn:
        for m in model.backbone.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
    return model
