"""clipwsss: readable, tested reproductions of CLIP-based weakly supervised segmentation.

The method modules (``gradcam``, ``caa``, ``crf``, ``cgl``, ``text``, ``sharpness``) are pure
functions over tensors; ``clip_es`` wires them for one image; ``runner`` and ``cli`` loop over
data sets and write files.
"""

from .backbone import ClipModel, WeightsNotFoundError, dense_forward, load_clip, preprocess
from .clip_es import ClipES, ClipEsConfig, ImageCams
from .sharpness import sharpness
from .text import (
    CLIP_ES_TEMPLATE,
    COCO_BACKGROUND,
    VOC_BACKGROUND,
    ClassVocabulary,
    coco_vocabulary,
    load_vocabulary,
    make_vocabulary,
    voc_vocabulary,
)

__version__ = "0.1.0"

__all__ = [
    "CLIP_ES_TEMPLATE",
    "COCO_BACKGROUND",
    "VOC_BACKGROUND",
    "ClassVocabulary",
    "ClipES",
    "ClipEsConfig",
    "ClipModel",
    "ImageCams",
    "WeightsNotFoundError",
    "coco_vocabulary",
    "dense_forward",
    "load_clip",
    "load_vocabulary",
    "make_vocabulary",
    "preprocess",
    "sharpness",
    "voc_vocabulary",
]
