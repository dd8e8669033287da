"""DeepLabV2: a dilated ResNet (output stride 8) and the ASPP classifier (CLIP-ES Sec. 4.1).

Chen et al., *DeepLab* (TPAMI 2017), Sec. 3.1 / Fig. 7: ASPP-L = four parallel 3x3
convolutions with dilation 6, 12, 18, 24 on the last feature map, each predicting the class
scores, *summed*.

Two networks (``DeepLabConfig.arch``):

* ``"caffe"`` (default): deeplab-pytorch's DeepLabV2 with its MSC wrapper
  (:mod:`clipwsss.seg.caffe`), the code behind CLIP-ES's final numbers, which loads that
  code's released ``.pth`` files by their own key names (:func:`load_deeplab_pytorch`);
* ``"torchvision"``: torchvision's ResNet with the strides of its last two stages replaced
  by dilation 2 and 4 (``replace_stride_with_dilation=[False, True, True]``), single scale,
  initialised from torchvision's ImageNet weights. Our option: torchvision strides in the
  3x3 convolution ("v1.5"), its first dilated block keeps the previous rate and its stem
  pool rounds down, so it computes another function than the Caffe ResNet even with the
  same weights (docs/deeplab.md measures how far).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import resnet

from clipwsss.clip.loading import WeightsNotFoundError
from clipwsss.data.pixels import PixelStats
from clipwsss.validate import check_range

from .caffe import CAFFE_BLOCKS, MSC, CaffeDeepLabV2
from .data import CAFFE_MEAN_BGR

BACKBONES = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048}
INITS = ("imagenet", "coco", "file", "random")
ARCHS = ("caffe", "torchvision")


@dataclass(frozen=True)
class DeepLabConfig:
    """DeepLabV2 architecture and initialisation."""

    n_classes: int = 21  # background included (21 VOC, 81 COCO, 11 toy)
    arch: str = "caffe"  # caffe: deeplab-pytorch's ResNet + MSC; torchvision: ours, 1 scale
    backbone: str = "resnet101"  # CLIP-ES Sec. 4.1: ResNet-101; resnet18/34 for the toy
    blocks: tuple[int, ...] | None = None  # caffe blocks per stage; None: the backbone's
    msc_scales: tuple[float, ...] = (0.5, 0.75)  # caffe: MSC input scales beside 1.0
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
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}; choose one of {ARCHS}")
        check_range("n_classes", self.n_classes, low=1)
        check_range("head_std", self.head_std, above=0)
        for scale in self.msc_scales:  # may be empty: one scale
            check_range("msc_scales", scale, above=0)
        for name in ("aspp_rates", "blocks"):
            for value in getattr(self, name) or ():
                check_range(name, value, low=1)
        if self.arch == "torchvision" and self.blocks is not None:
            raise ValueError("blocks=... sets the Caffe network's depth (arch='caffe')")
        if self.arch == "caffe" and self.blocks is None and self.backbone not in CAFFE_BLOCKS:
            raise ValueError(
                f"arch='caffe' builds {list(CAFFE_BLOCKS)} (or set blocks=...); "
                f"backbone={self.backbone!r} needs arch='torchvision'"
            )


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


class DeepLabV2(PixelStats, nn.Module):
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
        self.set_pixel_stats()  # torchvision ImageNet statistics; recipes: set_normalization

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


class CaffeDeepLab(PixelStats, MSC):
    """``DeepLabConfig(arch="caffe")``: deeplab-pytorch's ``MSC(DeepLabV2(...))``, whose
    ``state_dict`` keys are those of its released checkpoints (``base.layer1.conv1.conv.weight``
    ... ``base.aspp.c3.bias``).

    Shapes:
        image: (B, 3, H, W) BGR minus the Caffe mean. Training: four logits [1.0, each MSC
        scale, max] (:class:`clipwsss.seg.caffe.MSC`); eval: the max-fused (B, C, h, w).
    """

    def __init__(self, config: DeepLabConfig) -> None:
        blocks = config.blocks or CAFFE_BLOCKS[config.backbone]
        base = CaffeDeepLabV2(config.n_classes, blocks, config.aspp_rates, config.head_std)
        super().__init__(base, config.msc_scales)
        self.config = config
        self.set_pixel_stats(CAFFE_MEAN_BGR, (1.0, 1.0, 1.0), order="bgr")  # deeplab-pytorch

    @property
    def aspp(self) -> nn.Module:
        return self.base.aspp

    def train(self, mode: bool = True) -> CaffeDeepLab:
        super().train(mode)
        if self.config.freeze_bn:  # deeplab-pytorch freeze_bn(): running statistics only
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.aspp.parameters())

    def backbone_parameters(self) -> list[nn.Parameter]:
        head = {id(p) for p in self.aspp.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in head]


def deeplab_network(config: DeepLabConfig) -> DeepLabV2 | CaffeDeepLab:
    """The untrained network of ``config.arch`` (constructor init; no weights loaded)."""
    return CaffeDeepLab(config) if config.arch == "caffe" else DeepLabV2(config)


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


def load_deeplab_pytorch(model: CaffeDeepLab, state: dict[str, Tensor]) -> list[str]:
    """Load a deeplab-pytorch file by its own key names; returns the keys left at init.

    Takes the released MSC checkpoints (``base.`` + DeepLabV2 keys, e.g.
    ``deeplabv2_resnet101_msc-vocaug-20000.pth``) and the COCO init
    ``deeplabv1_resnet101-coco.pth`` (no prefix, no ASPP, a DeepLabV1 ``fc`` classifier,
    float64 BN statistics). ``module.`` / ``base.`` prefixes are stripped, ``fc.*`` is
    dropped, float16/float64 tensors are cast to the model's dtype and a missing
    ``num_batches_tracked`` is accepted. The whole ASPP may be missing (it keeps its
    N(0, 0.01) init) or have another class count (skipped likewise). deeplab-pytorch's
    trainer loads the init with ``strict=False``, so a file with other names would load
    nothing and train from random weights without a word; here every other unmatched key or
    shape is an error.

    Raises:
        ValueError: a key of the network is missing from the file, the file has keys the
            network lacks, or a backbone shape differs (the message says how many matched).
    """
    own = model.base.state_dict()
    theirs = {}
    for key, value in state.items():
        key = key.removeprefix("module.").removeprefix("base.")
        if not key.startswith("fc."):  # DeepLabV1's COCO classifier: not part of DeepLabV2
            theirs[key] = value
    matched = [k for k in own if k in theirs]
    unexpected = [k for k in theirs if k not in own]
    missing = [k for k in own if k not in theirs and not k.endswith("num_batches_tracked")]
    head = [k for k in own if k.startswith("aspp.")]
    head_missing = all(k in missing for k in head)
    if head_missing:
        missing = [k for k in missing if not k.startswith("aspp.")]
    if unexpected or missing:
        hint = ""
        if any(k.startswith(("layer1.0.", "conv1.", "backbone.")) for k in theirs):
            hint = " (these are torchvision ResNet names: use DeepLabConfig(arch='torchvision'))"
        raise ValueError(
            f"weights are not a deeplab-pytorch DeepLabV2 of this size: {len(matched)} of "
            f"{len(own)} keys matched; missing {missing[:3]}{'...' if len(missing) > 3 else ''}"
            f", unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}{hint}"
        )
    bad = [k for k in matched if tuple(theirs[k].shape) != tuple(own[k].shape)]
    head_other = bool(bad) and all(k in head for k in bad)  # another class count
    if bad and not head_other:
        raise ValueError(
            f"weights do not fit: {len(bad)} shapes differ, e.g. {bad[0]} "
            f"{tuple(theirs[bad[0]].shape)} vs {tuple(own[bad[0]].shape)}"
        )
    skip = set(head) if head_missing or head_other else set()
    load = {k: theirs[k].to(own[k].dtype) for k in matched if k not in skip}
    for k in own:
        if k.endswith("num_batches_tracked") and k not in load:
            load[k] = own[k]
    result = model.base.load_state_dict(load, strict=False)
    left = sorted(set(result.missing_keys))
    if left != sorted(skip):  # pragma: no cover - guarded by the checks above
        raise RuntimeError(f"keys left at init: {left}")
    return [f"base.{k}" for k in sorted(skip)]


def build_deeplab(config: DeepLabConfig, *, allow_random: bool = False) -> nn.Module:
    """DeepLabV2 with the initialisation ``config.init`` asks for; never a silent random init.

    ``arch="caffe"`` (default): ``config.weights`` is a deeplab-pytorch file, read by
    :func:`load_deeplab_pytorch` (coco: ``deeplabv1_resnet101-coco.pth``, the init of
    CLIP-ES's 73.8 row; file: e.g. a trained ``deeplabv2_resnet101_msc-*.pth``; imagenet: a
    Caffe-layout ImageNet ResNet, which nothing downloads). ``arch="torchvision"``: imagenet
    takes torchvision's ImageNet weights (``config.weights`` = a local copy, else the torch
    hub cache or a download); coco / file: a state_dict in torchvision names. random: only
    with ``allow_random=True``, and with a warning.

    Raises:
        WeightsNotFoundError: the weights cannot be found or loaded.
        ValueError: init='random' without ``allow_random``, or weights of another layout.
    """
    model = deeplab_network(config)
    if config.init == "random":
        if not allow_random:
            raise ValueError("init='random' needs allow_random=True (CLI: --allow-random-weights)")
        warnings.warn(RANDOM_WARNING, stacklevel=2)
    elif config.arch == "caffe":
        if not config.weights:
            raise WeightsNotFoundError(
                "arch='caffe' (deeplab-pytorch's DeepLabV2) has no downloadable ImageNet "
                "weights: pass weights=<file> in deeplab-pytorch's layout (CLI --weights; "
                "COCO init: --init coco --weights deeplabv1_resnet101-coco.pth), or use "
                "arch='torchvision' (CLI --arch torchvision) for torchvision's ImageNet ResNet"
            )
        left = load_deeplab_pytorch(model, _read_state(config.weights))
        if left and config.init == "file":  # coco / imagenet files never hold a VOC head
            warnings.warn(
                f"{config.weights}: {len(left)} ASPP tensors keep their random "
                "init (none in the file, or another class count)",
                stacklevel=2,
            )
    else:
        if config.weights:
            state = _read_state(config.weights)
        else:
            state = _torchvision_imagenet(config.backbone)
        load_weights(model, state)
    if config.freeze_bn:  # deeplab-pytorch: BN weights and biases are in no optimizer group
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.requires_grad_(False)
                m.bias.requires_grad_(False)
    return model
