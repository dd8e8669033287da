"""What the CLIP-based tasks share: the frozen CLIP and class vocabulary a ``ClipSpec`` names."""

from __future__ import annotations

from pathlib import Path

import torch

from clipwsss.clip.loading import ClipModel, load_clip
from clipwsss.train.recipe import ClipSpec
from clipwsss.vocab import ClassVocabulary, coco_vocabulary, voc_vocabulary

# The shipped micro-CLIP, as the toy profile names it (experiments.profiles, a layer above).
TOY_CLIP = f"local-dir:{Path(__file__).resolve().parents[2] / 'assets' / 'toy_clip'}"


def clip_name(spec: ClipSpec) -> str:
    """The open_clip name of ``spec.model`` ("toy": the shipped micro-CLIP's folder)."""
    return TOY_CLIP if spec.model == "toy" else spec.model


def load_spec_clip(spec: ClipSpec, *, keep_rng: bool = False) -> ClipModel:
    """The frozen CLIP of ``spec``; ``keep_rng``: leave torch's global RNG where it was (a
    model built after the engine seeds gets the same init as one whose CLIP was loaded
    before)."""
    if not keep_rng:
        return load_clip(clip_name(spec), spec.pretrained)
    with torch.random.fork_rng():
        return load_clip(clip_name(spec), spec.pretrained)


def spec_vocabulary(spec: ClipSpec) -> ClassVocabulary:
    """The class vocabulary ``spec.classes`` names (VOC, COCO or the toy world's)."""
    if spec.classes == "toy":
        from clipwsss.toy.evaluate import toy_vocabulary

        return toy_vocabulary()
    return coco_vocabulary() if spec.classes == "coco14" else voc_vocabulary()
