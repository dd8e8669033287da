"""clipwsss: readable, tested reproductions of CLIP-based weakly supervised segmentation.

Layers, bottom to top (imports only go down; see ``docs/architecture.md``):

1. ``clip/`` (loading, dense forward, text), ``vocab``, ``data/``, ``io/``, ``metrics``
2. ``cams/``: GradCAM, CAA, dCRF, CGL, sharpness, ``labels`` (pure functions over tensors)
3. ``methods/``: CAM methods behind one small protocol (``methods.base``), e.g. CLIP-ES
4. ``pipelines/``: data-set loops writing CAM files and pseudo masks, and evaluation
5. ``experiments/`` (what the notebooks run) and ``cli/``

No module of the package imports this file: it only gathers the public names for
``import clipwsss as cw``.
"""

from clipwsss._version import __version__
from clipwsss.cams.caa import attention_affinity, box_masks, refine_cams
from clipwsss.cams.crf import crf_posterior
from clipwsss.cams.labels import (
    apply_confidence,
    cams_to_label,
    min_max_normalize,
    posterior_to_label,
    upsample_cams,
)
from clipwsss.cams.sharpness import sharpness
from clipwsss.clip.dense import DenseOutput, dense_forward, preprocess
from clipwsss.clip.loading import ClipModel, WeightsNotFoundError, load_clip
from clipwsss.clip.text import class_text_features, encode_texts
from clipwsss.methods.clip_es import ClipES, ClipEsConfig, ImageCams
from clipwsss.vocab import (
    CLIP_ES_TEMPLATE,
    COCO_BACKGROUND,
    VOC_BACKGROUND,
    ClassVocabulary,
    coco_vocabulary,
    load_vocabulary,
    make_vocabulary,
    voc_vocabulary,
)

__all__ = [
    "CLIP_ES_TEMPLATE",
    "COCO_BACKGROUND",
    "VOC_BACKGROUND",
    "ClassVocabulary",
    "ClipES",
    "ClipEsConfig",
    "ClipModel",
    "DenseOutput",
    "ImageCams",
    "WeightsNotFoundError",
    "__version__",
    "apply_confidence",
    "attention_affinity",
    "box_masks",
    "cams_to_label",
    "class_text_features",
    "coco_vocabulary",
    "crf_posterior",
    "dense_forward",
    "encode_texts",
    "load_clip",
    "load_vocabulary",
    "make_vocabulary",
    "min_max_normalize",
    "posterior_to_label",
    "preprocess",
    "refine_cams",
    "sharpness",
    "upsample_cams",
    "voc_vocabulary",
]
