"""Test-time augmentation of every trained method: scales, flip, windows, averaging, CRF.

One implementation; the per-paper semantics are fields of :class:`TtaConfig`, and
:data:`TTA_PRESETS` holds each method's official test (the converters ``*_tta`` turn the
inference config a run recorded into it):

* **WeCLIP** (``test_msc_flip_voc.py``): the long side to 512 (sides truncated), the other
  scales made from that image with ``scale_factor``; [x, flip(x)] as one batch; logits
  resized to the scale-1 logit grid, averaged there and upsampled once; CRF on the softmax.
* **WeakCLIP** (mmseg ``aug_test``, ``mode='slide'``): the short side to 512 x ratio
  (``round``), 512 / 341 sliding windows run as they are, every view's softmax averaged at
  the image size; CRF over the classes present in the argmax (``tools/make_crf.py``).
* **DeepLab** (deeplab-pytorch ``main.py test``): scales of the image (``int(x + 0.5)``),
  [x, flip(x)] as one batch, softmax averaged at the image size; CRF on every class.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from clipwsss.cams.crf import CrfParams, crf_image, dense_crf
from clipwsss.methods.weakclip.infer import InferenceConfig as WeakClipInference
from clipwsss.methods.weclip.infer import InferenceConfig as WeClipInference
from clipwsss.seg.infer import InferConfig

ScaleBase = Literal["image", "long_side", "short_side"]
Rounding = Literal["floor", "round", "half_up"]


@dataclass(frozen=True)
class TtaConfig:
    """Test-time switches; the defaults are DeepLab's test (see :data:`TTA_PRESETS`)."""

    scales: tuple[float, ...] = (1.0,)  # image ratios of the multi-scale test
    flip: bool = True  # also average the horizontally flipped image
    # what a scale multiplies: the input size, or `side` on the long (WeCLIP) / short side
    scale_base: ScaleBase = "image"
    side: int = 512  # target of the long or short side (scale_base)
    # a scaled side's length: WeCLIP int(), mmseg round() (half to even), DeepLab int(x + .5)
    rounding: Rounding = "half_up"
    # WeCLIP: scales other than 1 resize the scale-1 image by scale_factor, not the input
    from_base: bool = False
    average: Literal["probs", "logits"] = "probs"  # what is averaged over the views
    # where views meet: at the image size, or WeCLIP's scale-1 logit grid (upsampled once)
    merge_grid: Literal["image", "scale1_logits"] = "image"
    window: int | None = None  # sliding-window crop (mmseg slide mode); None: whole image
    stride: int = 341  # sliding-window stride
    crf: bool = False  # dense CRF on the averaged probabilities
    crf_params: CrfParams = field(default_factory=CrfParams)  # kernels and iterations
    crf_classes: Literal["all", "present"] = "all"  # WeakCLIP: only classes in the argmax
    # bilateral image: the photo, deeplab-pytorch main.py crf's wrapped BGR - mean, or BGR
    crf_image: Literal["rgb", "wrapped", "bgr"] = "rgb"

    def __post_init__(self) -> None:
        if not self.scales or any(not 0 < s < float("inf") for s in self.scales):
            raise ValueError(f"scales must be positive numbers, got {self.scales}")
        if self.merge_grid == "scale1_logits" and 1.0 not in self.scales:
            raise ValueError(
                f"the scales must include 1.0 (its logit grid is where they are "
                f"averaged), got {self.scales}"
            )
        if self.merge_grid == "scale1_logits" and self.average != "logits":
            raise ValueError("merge_grid='scale1_logits' averages logits (average='logits')")
        if self.window is not None and (self.window < 1 or self.stride < 1):
            raise ValueError(f"window {self.window} and stride {self.stride} must be >= 1")
        if self.side < 1:
            raise ValueError(f"side must be >= 1, got {self.side}")


def _config(cls: type, given: Any) -> Any:
    """``given`` as a ``cls`` instance (a run's config.json holds a dict, lists for tuples)."""
    if isinstance(given, cls):
        return given
    names = {f.name for f in fields(cls)}
    return cls(
        **{
            k: tuple(map(tuple, v))
            if k == "crf_params" and isinstance(v, list)
            else tuple(v)
            if isinstance(v, list)
            else v
            for k, v in dict(given).items()
            if k in names
        }
    )


def weclip_tta(inference: WeClipInference | dict) -> TtaConfig:
    """WeCLIP's ``InferenceConfig`` (or the dict a run recorded) as a :class:`TtaConfig`."""
    c = _config(WeClipInference, inference)
    crf = CrfParams(
        c.crf_iters,
        c.crf_gaussian_sxy,
        c.crf_gaussian_compat,
        c.crf_bilateral_sxy,
        c.crf_bilateral_srgb,
        c.crf_bilateral_compat,
    )
    return TtaConfig(
        scales=tuple(c.scales),
        flip=c.flip,
        scale_base="image" if c.long_side is None else "long_side",
        side=c.long_side or 512,
        rounding="floor",
        from_base=True,
        average="logits",
        merge_grid="scale1_logits",
        crf=c.crf,
        crf_params=crf,
    )


def weakclip_tta(inference: WeakClipInference | dict) -> TtaConfig:
    """WeakCLIP's ``InferenceConfig`` (or the dict a run recorded) as a :class:`TtaConfig`."""
    c = _config(WeakClipInference, inference)
    return TtaConfig(
        scales=tuple(c.scales),
        flip=c.flip,
        scale_base="short_side",
        side=c.short_side,
        rounding="round",
        window=c.crop,
        stride=c.stride,
        crf=c.crf,
        crf_params=CrfParams(**dict(c.crf_params)),
        crf_classes="present",
    )


def deeplab_tta(infer: InferConfig | dict) -> TtaConfig:
    """DeepLab's ``InferConfig`` (or the dict a run recorded) as a :class:`TtaConfig` (its
    normalisation belongs to the model: ``clipwsss.seg.set_normalization``)."""
    c = _config(InferConfig, infer)
    return TtaConfig(
        scales=tuple(c.scales),
        flip=c.flip,
        crf=c.crf,
        crf_params=CrfParams(**c.crf_params),
        crf_image=c.crf_image,
    )


# Each method's official test (DeepLab: the scales and flip of InferConfig's defaults).
TTA_PRESETS: dict[str, TtaConfig] = {
    "weclip": weclip_tta(WeClipInference()),
    "weakclip": weakclip_tta(WeakClipInference()),
    "deeplab": deeplab_tta(InferConfig()),
}


# --------------------------------------------------------------------------- the forward


def network_logits(model: nn.Module, x: Tensor) -> Tensor:
    """The segmentation logits of a trained model's forward (a tensor, ``.logits`` or WeCLIP's
    ``.decoder.logits``).

    Shapes:
        x: (B, 3, H, W); returns (B, K, h, w) at the network's output stride.
    """
    out = model(x)
    if isinstance(out, Tensor):
        return out
    decoder = getattr(out, "decoder", None)
    return decoder.logits if decoder is not None else out.logits


def window_logits(model: nn.Module, x: Tensor) -> Tensor:
    """Logits of one window at the window's size, the window run as it is (mmseg
    ``encode_decode``): a side that is not a multiple of the patch is not padded (the patch
    convolution floors the token grid), and the logits are resized bilinearly to the window.

    Shapes:
        x: (B, 3, H, W); returns (B, K, H, W).
    """
    h, w = x.shape[-2:]
    patch = getattr(getattr(model, "visual", None), "patch_size", 1)
    if h < patch or w < patch:
        raise ValueError(f"window {h}x{w} is smaller than one {patch}x{patch} patch")
    logits = network_logits(model, x)
    return F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)


def slide_logits(model: nn.Module, x: Tensor, *, crop: int, stride: int) -> Tensor:
    """mmseg sliding-window inference: overlapping windows, logits averaged where they meet.

    Shapes:
        x: (B, 3, H, W); returns (B, K, H, W).
    """
    h, w = x.shape[-2:]
    if h <= crop and w <= crop:
        return window_logits(model, x)
    out, count = None, x.new_zeros(1, 1, h, w)
    for top in range(0, max(h - crop, 0) + stride, stride):
        for left in range(0, max(w - crop, 0) + stride, stride):
            y0, x0 = max(min(top, h - crop), 0), max(min(left, w - crop), 0)
            y1, x1 = min(y0 + crop, h), min(x0 + crop, w)
            part = window_logits(model, x[..., y0:y1, x0:x1])
            if out is None:
                out = x.new_zeros(x.shape[0], part.shape[1], h, w)
            out[..., y0:y1, x0:x1] += part
            count[..., y0:y1, x0:x1] += 1
    return out / count


def _side(value: float, rounding: Rounding) -> int:
    if rounding == "floor":
        return max(1, int(value))
    if rounding == "round":
        return max(1, round(value))
    return max(1, int(value + 0.5))


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x  # bilinear at the same size is the identity
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def scale_inputs(pixels: Tensor, config: TtaConfig) -> list[Tensor]:
    """The network input of every scale, in ``config.scales`` order.

    Shapes:
        pixels: (B, 3, H, W); returns one (B, 3, h_s, w_s) tensor per scale.
    """
    h, w = pixels.shape[-2:]

    def size(scale: float) -> tuple[int, int]:
        if config.scale_base == "image":
            ratio = scale
        else:
            ref = max(h, w) if config.scale_base == "long_side" else min(h, w)
            ratio = config.side * scale / ref
        return _side(h * ratio, config.rounding), _side(w * ratio, config.rounding)

    if not config.from_base:
        return [_resize(pixels, size(s)) for s in config.scales]
    x1 = pixels if config.scale_base == "image" else _resize(pixels, size(1.0))
    return [
        x1 if s == 1.0 else F.interpolate(x1, scale_factor=s, mode="bilinear", align_corners=False)
        for s in config.scales
    ]


def _views(
    model: nn.Module, x: Tensor, config: TtaConfig, size: tuple[int, int] | None
) -> list[Tensor]:
    """Logits (or with ``average="probs"`` probabilities) of x and its flip, flip undone,
    resized to ``size`` (None: as they come).

    Without windows [x, flip(x)] run as one batch, are resized (and softmaxed), then the flip
    is undone (WeCLIP, deeplab-pytorch); with windows each view runs alone and its flip is
    undone before the resize and the softmax (mmseg ``aug_test``): the same maps up to
    rounding, kept in each one's order so the numbers stay the official code's.

    Shapes: x (B, 3, h, w); returns [(B, K, *size)] per view.
    """
    b = x.shape[0]
    if config.window is None:
        logits = network_logits(model, torch.cat([x, x.flip(-1)]) if config.flip else x)
        logits = logits if size is None else _resize(logits, size)
        if config.average == "probs":
            logits = logits.float().softmax(dim=1)
        return [logits[:b], logits[b:].flip(-1)] if config.flip else [logits]
    views = []
    for flipped in (False, True) if config.flip else (False,):
        logits = slide_logits(
            model, x.flip(-1) if flipped else x, crop=config.window, stride=config.stride
        )
        logits = logits.flip(-1) if flipped else logits
        logits = logits if size is None else _resize(logits, size)
        views.append(logits.float().softmax(dim=1) if config.average == "probs" else logits)
    return views


@torch.no_grad()
def tta_scores(model: nn.Module, pixels: Tensor, config: TtaConfig) -> Tensor:
    """Averaged logits (``average="logits"``) or probabilities over scales and flips.

    Args:
        model: a trained segmenter in eval mode.
        pixels: preprocessed images of one size (``model.preprocess``).
        config: the test-time switches.

    Shapes:
        pixels: (B, 3, H, W); returns (B, K, H, W).
    """
    size = tuple(pixels.shape[-2:])
    inputs = scale_inputs(pixels, config)
    if config.merge_grid == "scale1_logits":  # WeCLIP: scale 1 first, its logit grid
        order = sorted(range(len(inputs)), key=lambda i: config.scales[i] != 1.0)
        grid, per_scale = None, []
        for i in order:
            views = _views(model, inputs[i], config, grid)
            grid = grid or tuple(views[0].shape[-2:])
            per_scale.append((views[0] + views[1]) / 2 if config.flip else views[0])
        mean = torch.stack(per_scale).mean(dim=0)
        return F.interpolate(mean, size=size, mode="bilinear", align_corners=False)
    total, n = None, 0
    for x in inputs:
        views = _views(model, x, config, size)
        if config.window is None:  # the batched pair, summed together (deeplab-pytorch)
            part = views[0] + views[1] if config.flip else views[0]
            total = part if total is None else total + part
        else:  # one view at a time (mmseg aug_test)
            for v in views:
                total = v if total is None else total + v
        n += len(views)
    return total / n


def crf_input(image: np.ndarray, kind: str = "rgb") -> np.ndarray:
    """The colour image the CRF's bilateral kernel compares.

    ``rgb``: the photo; ``wrapped``: deeplab-pytorch ``main.py crf`` (BGR minus the Caffe
    mean cast to uint8, negative values wrap; :func:`clipwsss.cams.crf.crf_image`); ``bgr``:
    its ``demo.py`` (the image as ``cv2.imread`` gives it).

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


def scores_to_label(scores: Tensor, image: np.ndarray | None, config: TtaConfig) -> np.ndarray:
    """One image's label map: argmax of the averaged scores, or of the CRF posterior.

    Shapes:
        scores: (K, H, W) from :func:`tta_scores`; image: (H, W, 3) uint8 (CRF only);
        returns (H, W) uint8 class ids.
    """
    if not config.crf:
        return scores.argmax(dim=0).cpu().numpy().astype(np.uint8)
    if image is None or image.shape[:2] != tuple(scores.shape[-2:]):
        raise ValueError("CRF needs the uint8 photo at the scores' size")
    probs = scores.softmax(dim=0) if config.average == "logits" else scores
    rgb = crf_input(image, config.crf_image)
    if config.crf_classes == "present":
        keep = probs.argmax(dim=0).unique()
        q = dense_crf(rgb, probs[keep].float().cpu().numpy(), **config.crf_params.kwargs())
        return keep.cpu().numpy().astype(np.uint8)[q.argmax(axis=0)]
    q = dense_crf(rgb, probs.float().cpu().numpy(), **config.crf_params.kwargs())
    return q.argmax(axis=0).astype(np.uint8)


def predict_labels(
    model: nn.Module, images: list[np.ndarray], config: TtaConfig
) -> list[np.ndarray]:
    """Label maps of same-size photos, run as one batch (``model.preprocess`` makes the input).

    Shapes:
        images: B x (H, W, 3) uint8; returns B x (H, W) uint8.
    """
    pixels = torch.stack([model.preprocess(image) for image in images])
    scores = tta_scores(model, pixels, config)
    return [scores_to_label(s, image, config) for s, image in zip(scores, images, strict=True)]


def predict_label(model: nn.Module, image: np.ndarray, config: TtaConfig) -> np.ndarray:
    """The label map of one photo. Shapes: image (H, W, 3) uint8; returns (H, W) uint8."""
    return predict_labels(model, [image], config)[0]


def without_crf(config: TtaConfig) -> TtaConfig:
    """The same test without the CRF (e.g. quick validation during training)."""
    return replace(config, crf=False)
