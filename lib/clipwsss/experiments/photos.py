"""CLIP-ES on real photos (notebook 21, ``make demo-photos``): the photos, the weights, figures.

The photos ship with scikit-image (no download). Everything here needs real CLIP weights to
mean anything: :func:`load_photo_clip` refuses to run without them and says what to download,
and :func:`recognised` tells a notebook when the weights it got do not know the photos'
classes (random or wrong weights), so that it can say its figures are meaningless.

Paper: CLIP-ES Fig. 1 (GradCAM vs Softmax-GradCAM) and Fig. 5 (MHSA vs CAA).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from clipwsss.clip.dense import dense_forward, preprocess
from clipwsss.clip.loading import PRETRAINED_ENV, ClipModel, WeightsNotFoundError, load_clip
from clipwsss.clip.loading import resolve_device as _resolve_device
from clipwsss.clip.text import class_text_features
from clipwsss.data import colorize
from clipwsss.experiments.figures import class_legend
from clipwsss.vocab import CLIP_ES_TEMPLATE, ClassVocabulary

# Notebooks that need real CLIP weights: no toy batch, no nbval re-execution in CI.
REAL_WEIGHTS_NOTEBOOKS = frozenset({"21_real_photos"})
# The file the CLIP-ES README links (OpenAI's CLIP repository, clip/clip.py _MODELS).
VIT_B16_URL = (
    "https://openaipublic.azureedge.net/clip/models/"
    "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt"
)


def _stereo_left() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]  # (left, right, disparity)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


@dataclass(frozen=True)
class DemoPhoto:
    """A photo bundled with scikit-image (no download) and the VOC classes it shows.

    Attributes:
        name: file stem of the figure.
        load: returns the (H, W, 3) uint8 RGB photo.
        classes: VOC class names present in the photo (its image-level labels).
    """

    name: str
    load: Callable[[], np.ndarray]
    classes: tuple[str, ...]


PHOTOS: dict[str, DemoPhoto] = {
    p.name: p
    for p in (
        DemoPhoto("chelsea", _skimage("chelsea"), ("cat",)),  # Stefan's cat Chelsea, 451x300
        DemoPhoto("astronaut", _skimage("astronaut"), ("person",)),  # Eileen Collins, 512x512
        DemoPhoto("motorcycle", _stereo_left, ("motorbike",)),  # Middlebury stereo, 741x500
    )
}


def load_photo(photo: DemoPhoto, vocab: ClassVocabulary) -> tuple[np.ndarray, list[int]]:
    """The photo as (H, W, 3) uint8 RGB and its 0-based class ids in ``vocab``."""
    image = np.ascontiguousarray(photo.load())
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{photo.name}: expected an RGB uint8 photo, got {image.shape}")
    return image, [vocab.index(c) for c in photo.classes]


def download_help(model_name: str, pretrained: str, cause: BaseException) -> str:
    """What to download and how to pass it, for a notebook user (papermill or Jupyter)."""
    return (
        f"No CLIP weights for {model_name!r} (pretrained={pretrained!r}): {cause}\n\n"
        "This notebook needs real CLIP weights; nothing below runs without them.\n"
        "  1. Download OpenAI's ViT-B/16 file linked from the CLIP-ES README:\n"
        f"       {VIT_B16_URL}\n"
        "     and put it anywhere, e.g. ~/.cache/clip/ViT-B-16.pt.\n"
        "  2. Pass its path as the notebook's `pretrained` parameter:\n"
        "       papermill notebooks/21_real_photos.ipynb out.ipynb "
        "-p pretrained ~/.cache/clip/ViT-B-16.pt\n"
        "     (in Jupyter: edit the parameters cell), or set the environment variable\n"
        f"     {PRETRAINED_ENV}=/path/to/ViT-B-16.pt and pass `-p pretrained env`.\n"
        "  With network access the default pretrained='openai' lets open_clip download and\n"
        "  cache the same weights. Random weights are never substituted."
    )


def load_photo_clip(
    pretrained: str, model_name: str = "ViT-B-16", device: str = "auto"
) -> ClipModel:
    """:func:`~clipwsss.clip.loading.load_clip` with a notebook user's message when it fails.

    Args:
        pretrained: a checkpoint file, ``"openai"`` (open_clip's cache or download) or
            ``"env"`` (the path in ``$CLIPWSSS_PRETRAINED``). Never ``None``: no random init.
        model_name: the open_clip model name.
        device: "auto", "cpu" or "cuda".

    Raises:
        WeightsNotFoundError: the weights could not be loaded; the message says what to
            download, where to put it and how to pass it.
    """
    if not pretrained:
        raise WeightsNotFoundError(
            download_help(model_name, str(pretrained), ValueError("pretrained is empty"))
        )
    try:
        return load_clip(model_name, pretrained, device=_resolve_device(device))
    except WeightsNotFoundError as err:
        cause = err.__cause__ or ValueError(f"${PRETRAINED_ENV} is not set")
        raise WeightsNotFoundError(download_help(model_name, pretrained, cause)) from None


@torch.no_grad()
def zero_shot_top1(
    clip: ClipModel, vocab: ClassVocabulary, image: np.ndarray, template: str = CLIP_ES_TEMPLATE
) -> int:
    """The class of ``vocab`` whose text embedding is closest to the image's (0-based id).

    The image embedding is the model's pooled output at the CLIP-ES input size, as
    :func:`clipwsss.experiments.zeroshot.zero_shot_scores` computes it.
    """
    text = class_text_features(clip, vocab, template=template)
    pixels = preprocess(image, patch_size=clip.patch_size, mean=clip.mean, std=clip.std)[None]
    with torch.enable_grad():  # dense_forward builds the last block's graph
        emb = dense_forward(clip, pixels.to(clip.device)).image_embedding.detach()
    return int((F.normalize(emb, dim=-1) @ text.T)[0].argmax())


def recognised(
    clip: ClipModel, vocab: ClassVocabulary, photos: Mapping[str, tuple[np.ndarray, Sequence[int]]]
) -> dict[str, bool]:
    """Per photo: is CLIP's zero-shot best class one of its labels? Real ViT-B/16 weights
    recognise all three scikit-image photos; random weights hit a label by chance (1/20)."""
    return {
        name: zero_shot_top1(clip, vocab, image) in set(labels)
        for name, (image, labels) in photos.items()
    }


def _finish(fig: Figure, title: str, warning: str | None) -> Figure:
    fig.suptitle(
        f"{warning}\n{title}" if warning else title,
        fontsize=10,
        color="red" if warning else "black",
    )
    return fig


def cam_figure(
    image: np.ndarray,
    panels: Mapping[str, torch.Tensor],
    class_names: Sequence[str],
    *,
    title: str,
    warning: str | None = None,
) -> Figure:
    """One row per class, one column per CAM variant; every panel names its class.

    Args:
        image: (H, W, 3) uint8 RGB.
        panels: variant name -> (K, H, W) CAMs at image size in [0, 1].
        class_names: the K class names (row order).
        title: figure title.
        warning: written in red above the title (random or unrecognising weights).
    """
    k, n = len(class_names), len(panels)
    h, w = image.shape[:2]
    fig = Figure(figsize=(2.8 * (n + 1), k * 2.8 * h / w + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(k, n + 1, squeeze=False)
    for i, name in enumerate(class_names):
        axes[i, 0].imshow(image)
        axes[i, 0].set_title(f"image ({name})", fontsize=8)
        for j, (variant, cams) in enumerate(panels.items(), start=1):
            axes[i, j].imshow(image)
            axes[i, j].imshow(
                cams[i].float().cpu().numpy(), cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0
            )
            axes[i, j].set_title(f"{name}: {variant}", fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    return _finish(fig, title, warning)


def mask_figure(
    image: np.ndarray,
    masks: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    *,
    title: str,
    warning: str | None = None,
) -> Figure:
    """The photo and label maps side by side, with a legend of every class colour shown.

    Args:
        image: (H, W, 3) uint8 RGB.
        masks: panel title -> (H, W) label map (0 background, c + 1 class c, 255 ignored).
        class_names: the dataset's class names, background excluded (id c -> name c).
        title: figure title.
        warning: written in red above the title.
    """
    h, w = image.shape[:2]
    fig = Figure(figsize=(2.8 * (len(masks) + 1), 2.8 * h / w + 1.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(masks) + 1, squeeze=False)[0]
    axes[0].imshow(image)
    axes[0].set_title("image", fontsize=8)
    for ax, (name, label) in zip(axes[1:], masks.items(), strict=True):
        ax.imshow(colorize(label))
        ax.set_title(name, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    class_legend(
        fig, list(masks.values()), class_names, ncol=99, fontsize=8, loc="outside lower center"
    )
    return _finish(fig, title, warning)
