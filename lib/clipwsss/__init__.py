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

from __future__ import annotations

import importlib
from typing import Any

from clipwsss._version import __version__

# Public name -> its module: imported on first use, so `clipwsss --help` (and any module of
# the package) does not pay for torch and open_clip through this file.
_LAZY = {
    "attention_affinity": "clipwsss.cams.caa",
    "box_masks": "clipwsss.cams.caa",
    "refine_cams": "clipwsss.cams.caa",
    "crf_posterior": "clipwsss.cams.crf",
    "apply_confidence": "clipwsss.cams.labels",
    "cams_to_label": "clipwsss.cams.labels",
    "min_max_normalize": "clipwsss.cams.labels",
    "posterior_to_label": "clipwsss.cams.labels",
    "upsample_cams": "clipwsss.cams.labels",
    "sharpness": "clipwsss.cams.sharpness",
    "DenseOutput": "clipwsss.clip.dense",
    "dense_forward": "clipwsss.clip.dense",
    "preprocess": "clipwsss.clip.dense",
    "ClipModel": "clipwsss.clip.loading",
    "WeightsNotFoundError": "clipwsss.clip.loading",
    "load_clip": "clipwsss.clip.loading",
    "class_text_features": "clipwsss.clip.text",
    "encode_texts": "clipwsss.clip.text",
    "ClipES": "clipwsss.methods.clip_es",
    "ClipEsConfig": "clipwsss.methods.clip_es",
    "ImageCams": "clipwsss.methods.clip_es",
    "CLIP_ES_TEMPLATE": "clipwsss.vocab",
    "COCO_BACKGROUND": "clipwsss.vocab",
    "VOC_BACKGROUND": "clipwsss.vocab",
    "ClassVocabulary": "clipwsss.vocab",
    "coco_vocabulary": "clipwsss.vocab",
    "load_vocabulary": "clipwsss.vocab",
    "make_vocabulary": "clipwsss.vocab",
    "voc_vocabulary": "clipwsss.vocab",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'clipwsss' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
