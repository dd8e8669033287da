"""CLIP-ES stages 1-2 for one image: Softmax-GradCAM with the text strategies, then CAA.

This module wires the pure pieces together (backbone, text, gradcam, caa) and holds the
cached text embeddings; dataset loops, files and progress bars live in ``runner.py``.

Paper: CLIP-ES Sections 3.1-3.3, Tables 2, 6, 8, S1, S2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .backbone import ClipModel, DenseOutput, Pooling, dense_forward, preprocess
from .caa import attention_affinity, box_masks, refine_cams
from .gradcam import TextSet, build_text_setup, minmax_per_class, softmax_gradcam, upsample_cams
from .text import (
    CLIP_ES_TEMPLATE,
    ClassVocabulary,
    Fusion,
    background_text_features,
    class_text_features,
    synonym_text_features,
)
from .validate import check_box_threshold, check_template

Refinement = Literal["caa", "mhsa", "none"]


@dataclass(frozen=True)
class ClipEsConfig:
    """Every switch of the CLIP-ES CAM stages; defaults reproduce the official code."""

    template: str = CLIP_ES_TEMPLATE  # Section 3.2.1, lowest sharpness on VOC train
    pooling: Pooling = "avg"  # Table S1: avg-token (default) or cls-token
    softmax: bool = True  # Section 3.1 / Table 6: False gives plain logit GradCAM
    # Table 6: False = no background words. With text_set="image" and one label the softmax
    # then has a single entry (score 1, zero gradient): pair it with text_set="dataset".
    use_background: bool = True
    text_set: TextSet = "image"  # official: the image's classes; "dataset": all classes
    fusion: Fusion = "sentence"  # Table S2: sentence (default), feature or cam level
    refine: Refinement = "caa"  # Table 2: CAA, vanilla MHSA, or none
    box_threshold: float = 0.4  # lambda, supp. C: 0.4 VOC, 0.7 COCO
    caa_layers: int = 8  # official: last 8 blocks
    sinkhorn_iters: int = 3  # official: 3 rounds
    caa_power: int = 2  # official: t = 2 (A @ A)
    official_boxes: bool = True  # uint8 CAM, border off-by-one, mask on source pixels only
    # official: the interpolated positional table is cast to float16 on every forward
    # (``backbone.official_pos_embed``); False keeps it in float32. Issue 12.
    pos_embed_fp16: bool = True

    def __post_init__(self) -> None:  # refuse silently wrong values (issue 12, #5)
        check_box_threshold(self.box_threshold)
        check_template(self.template)


@dataclass(frozen=True)
class ImageCams:
    """CAMs of one image.

    Attributes:
        keys: (K,) 0-based class ids, in label order.
        cams: (K, h, w) initial Softmax-GradCAM at patch resolution, in [0, 1].
        refined: (K, h, w) after CAA/MHSA, or None (no refinement, or a ResNet).
        scores: (K,) softmax (or logit) score of each target class (Eq. 3; sharpness).
        grid: (h, w) patch grid.
    """

    keys: Tensor
    cams: Tensor
    refined: Tensor | None
    scores: Tensor
    grid: tuple[int, int]


@dataclass
class ClipES:
    """Softmax-GradCAM + CAA with a fixed model, vocabulary and configuration.

    Example:
        >>> clip = load_clip("ViT-B-16", "openai")
        >>> es = ClipES(clip, voc_vocabulary())
        >>> out = es(image, labels=[7, 14])          # a cat and a person
        >>> highres = es.upsample(out.refined, image.shape[:2])
    """

    clip: ClipModel
    vocab: ClassVocabulary
    config: ClipEsConfig = field(default_factory=ClipEsConfig)

    def __post_init__(self) -> None:
        cfg = self.config
        vocab = self.vocab if cfg.use_background else self.vocab.with_background(())
        self._background = background_text_features(self.clip, vocab, template=cfg.template)
        if cfg.fusion == "cam":
            per_syn = synonym_text_features(self.clip, vocab, template=cfg.template)
            n = max(f.shape[0] for f in per_syn)
            # Pass j uses each class's j-th synonym (its last one once it has no more).
            self._class_features = [
                torch.stack([f[min(j, f.shape[0] - 1)] for f in per_syn]) for j in range(n)
            ]
            self._n_synonyms = torch.tensor([f.shape[0] for f in per_syn])
        else:
            self._class_features = [
                class_text_features(self.clip, vocab, template=cfg.template, fusion=cfg.fusion)
            ]
        self.logit_scale = float(self.clip.model.logit_scale.exp())

    def __call__(self, image: np.ndarray, labels: Sequence[int]) -> ImageCams:
        """CAMs for one image.

        Args:
            image: (H, W, 3) uint8 RGB.
            labels: its 0-based class ids (at least one).

        Returns:
            ImageCams at patch resolution; ``upsample`` brings them to (H, W).
        """
        if len(labels) == 0:
            raise ValueError("empty label set: CLIP-ES needs at least one image-level label")
        bad = [c for c in labels if not 0 <= int(c) < len(self.vocab)]
        if bad:
            raise IndexError(f"unknown class ids {bad}; the vocabulary has {len(self.vocab)}")
        dense = self.forward(image)
        cams, scores = self.gradcam(dense, labels)
        refined = self.refine(cams, dense.attn)
        keys = torch.as_tensor([int(c) for c in labels])
        return ImageCams(keys=keys, cams=cams, refined=refined, scores=scores, grid=dense.grid)

    # The stages of __call__, public so that benchmarks and notebooks can time or swap them.

    def forward(self, image: np.ndarray) -> DenseOutput:
        """Stage 1: preprocess (H, W, 3) uint8 RGB and run the dense CLIP forward (one image)."""
        pixels = preprocess(image, patch_size=self.clip.patch_size, mean=self.clip.mean,
                            std=self.clip.std)[None]  # fmt: skip
        cfg = self.config
        return dense_forward(self.clip, pixels, pooling=cfg.pooling,
                             pos_embed_fp16=cfg.pos_embed_fp16)  # fmt: skip

    def text_setup(self, labels: Sequence[int], synonym: int = 0):
        """The GradCAM text rows for ``labels`` (targets, other classes, background words),
        from each class's ``synonym``-th text feature (only CAM-level fusion has several)."""
        feats = self._class_features[synonym]
        return build_text_setup(feats, self._background, labels, text_set=self.config.text_set)

    def gradcam(self, dense: DenseOutput, labels: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Stage 2: Softmax-GradCAM (Eq. 1-4), one batched backward per synonym pass.

        Returns:
            (cams (K, h, w) in [0, 1], scores (K,)).
        """
        cfg = self.config
        all_cams, all_scores = [], []
        for j in range(len(self._class_features)):
            text = self.text_setup(labels, synonym=j)
            last = j == len(self._class_features) - 1
            cams, scores = softmax_gradcam(
                dense, text, logit_scale=self.logit_scale, softmax=cfg.softmax,
                retain_graph=not last, return_scores=True,
            )  # fmt: skip
            all_cams.append(cams)
            all_scores.append(scores)
        if len(all_cams) == 1:
            return all_cams[0], all_scores[0]
        # CAM-level fusion (Table S2): mean of each class's own synonyms' CAMs.
        n_syn = self._n_synonyms[torch.as_tensor([int(c) for c in labels])]
        stacked = torch.stack(all_cams)  # (S, K, h, w)
        valid = (torch.arange(len(all_cams))[:, None] < n_syn[None]).to(stacked.dtype)
        fused = (stacked * valid[..., None, None]).sum(0) / n_syn[:, None, None]
        scores = (torch.stack(all_scores) * valid).sum(0) / n_syn
        return minmax_per_class(fused), scores

    def refine(self, cams: Tensor, attn: Tensor | None) -> Tensor | None:
        """Stage 3: CAA (Eq. 6-7), MHSA or nothing (``config.refine``); None without attention.

        Shapes: cams (K, h, w); attn (1, L, T, T); output (K, h, w).
        """
        cfg = self.config
        if cfg.refine == "none" or attn is None:
            return None
        affinity = attention_affinity(
            attn[0], n_layers=cfg.caa_layers, n_iters=cfg.sinkhorn_iters, power=cfg.caa_power
        )  # Eq. 6, once per image for all classes
        masks = None
        if cfg.refine == "caa":
            masks = box_masks(cams, threshold=cfg.box_threshold, official=cfg.official_boxes)
        elif cfg.refine != "mhsa":
            raise ValueError(f"refine must be 'caa', 'mhsa' or 'none', got {cfg.refine!r}")
        return refine_cams(cams, affinity, masks, mask_targets=not cfg.official_boxes)  # Eq. 7

    @staticmethod
    def upsample(cams: Tensor, size: tuple[int, int]) -> Tensor:
        """(K, h, w) patch-resolution CAMs -> (K, H, W) at the original image size."""
        return upsample_cams(cams, size)
