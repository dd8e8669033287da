"""CLIP-ES stages 1-2 for one image: Softmax-GradCAM with the text strategies, then CAA.

This module wires the pure pieces together (backbone, text, gradcam, caa) and holds the
cached text embeddings; dataset loops, files and progress bars live in ``pipelines/cams.py``.

Paper: CLIP-ES Sections 3.1-3.3, Tables 2, 6, 8, S1, S2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from clipwsss.cams.caa import attention_affinity, refine_with_affinity
from clipwsss.cams.gradcam import (
    TextSet,
    build_text_setup,
    softmax_gradcam,
    softmax_gradcam_batch,
)
from clipwsss.cams.labels import min_max_normalize, upsample_cams
from clipwsss.clip.dense import (
    DenseOutput,
    Pooling,
    Precision,
    dense_forward,
    padded_grid,
    precision_context,
    preprocess,
)
from clipwsss.clip.loading import ClipModel
from clipwsss.clip.text import background_text_features, class_text_features, synonym_text_features
from clipwsss.methods.base import register_method
from clipwsss.validate import check_box_threshold, check_template
from clipwsss.vocab import CLIP_ES_TEMPLATE, ClassVocabulary, Fusion

Refinement = Literal["caa", "mhsa", "none"]


# lambda of CAA per data set (CLIP-ES supp. C); the default of ClipEsConfig is VOC's.
BOX_THRESHOLD = {"voc12": 0.4, "coco14": 0.7}


@dataclass(frozen=True)
class ClipEsConfig:
    """Every switch of the CLIP-ES CAM stages; defaults reproduce the official code.

    The CLI flags of ``clipwsss cams`` are generated from these fields and their comments
    (``cli/config_flags.py``): a new switch is one field with one comment.
    """

    template: str = CLIP_ES_TEMPLATE  # Section 3.2.1, lowest sharpness on VOC train
    pooling: Pooling = "avg"  # Table S1: avg-token (default) or cls-token
    softmax: bool = True  # Section 3.1 / Table 6: False gives plain logit GradCAM
    # Table 6: False = no background words. With text_set="image" and one label the softmax
    # then has a single entry (score 1, zero gradient): pair it with text_set="dataset".
    use_background: bool = field(default=True, metadata={"flag": "background"})
    text_set: TextSet = "image"  # official: the image's classes; "dataset": all classes
    fusion: Fusion = "sentence"  # Table S2: sentence (default), feature or cam level
    refine: Refinement = "caa"  # Table 2: CAA, vanilla MHSA, or none
    box_threshold: float = BOX_THRESHOLD["voc12"]  # CAA box lambda, supp. C: 0.4 VOC, 0.7 COCO
    caa_layers: int = 8  # official: last 8 blocks
    sinkhorn_iters: int = 3  # official: 3 rounds
    caa_power: int = 2  # official: t = 2 (A @ A)
    caa_symmetrize: bool = True  # official: Eq. 6 (D + D^T) / 2; False keeps D (ablation)
    # GradCAM target: the ln_1 output of this ViT block (official: -1, resblocks[-1].ln_1)
    gradcam_block: int = -1
    # official CAA boxes: uint8 CAM, border off-by-one, mask on source pixels only
    official_boxes: bool = field(default=True, metadata={"negations": {"--corrected-boxes": False}})
    # official: the interpolated positional table is cast to float16 on every forward
    # (clip.dense.official_pos_embed); False keeps it in float32
    pos_embed_fp16: bool = field(
        default=True, metadata={"negations": {"--float32-pos-embed": False}}
    )

    def __post_init__(self) -> None:  # refuse values that would give silently wrong CAMs
        check_box_threshold(self.box_threshold)
        check_template(self.template)

    @classmethod
    def for_dataset(cls, name: str, **changes: Any) -> ClipEsConfig:
        """The official settings of a data set ("voc12", "coco14"; others get VOC's)."""
        return cls(**{"box_threshold": BOX_THRESHOLD.get(name, cls.box_threshold), **changes})


@dataclass(frozen=True)
class ImageCams:
    """CAMs of one image.

    Attributes:
        keys: (K,) 0-based class ids, in label order.
        cams: (K, h, w) initial Softmax-GradCAM at patch resolution, in [0, 1].
        refined: (K, h, w) after CAA/MHSA, or None (no refinement, or a ResNet).
        scores: (K,) softmax (or logit) score of each target class (Eq. 3; sharpness).
        grid: (h, w) patch grid.
        attn: (L, T, T) head-averaged attention of every block, T = 1 + h*w (class token
            first), detached; None for a ResNet.
        affinity: (N, N) ``A^t`` of Eq. 6 (N = h*w) the refinement used; None without one
            (``refine="none"`` or a ResNet): ``ClipES.affinity(attn)`` computes it then.
        block_tokens: the residual stream after each ViT block, (T, D) each, detached
            (WeCLIP reads blocks 1-11, WeakCLIP 4/6/8/12); empty for a ResNet.
    """

    keys: Tensor
    cams: Tensor
    refined: Tensor | None
    scores: Tensor
    grid: tuple[int, int]
    attn: Tensor | None = None
    affinity: Tensor | None = None
    block_tokens: tuple[Tensor, ...] = ()


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
        blocks = getattr(getattr(self.clip.model.visual, "transformer", None), "resblocks", ())
        if cfg.refine != "none" and len(blocks) and not 1 <= cfg.caa_layers <= len(blocks):
            raise ValueError(  # before any file is written
                f"caa_layers={cfg.caa_layers} (--caa-layers): the model has {len(blocks)} "
                f"transformer blocks; give a value in [1, {len(blocks)}]"
            )
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
        attn = None if dense.attn is None else dense.attn[0].detach()
        affinity = None
        if attn is not None and self.config.refine != "none":
            affinity = self.affinity(attn)
        return ImageCams(
            keys=torch.as_tensor([int(c) for c in labels]),
            cams=cams,
            refined=self.refine_from_affinity(cams, affinity),
            scores=scores,
            grid=dense.grid,
            attn=attn,
            affinity=affinity,
            block_tokens=tuple(t[0].detach() for t in dense.block_tokens),
        )

    def batch(
        self, images: Sequence[np.ndarray], labels: Sequence[Sequence[int]]
    ) -> list[ImageCams]:
        """CAMs of a batch of same-size images, one :class:`ImageCams` per image.

        The reference for :meth:`batched`: the images run one after another, so results
        equal ``self(image, labels)`` bit for bit (attention and block tokens included).

        Shapes:
            images: B arrays (H, W, 3) uint8 of one size; labels: B label lists.
        """
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} label lists")
        if len({im.shape for im in images}) > 1:
            raise ValueError(f"a batch needs same-size images, got {[im.shape for im in images]}")
        return [self(im, lab) for im, lab in zip(images, labels, strict=True)]

    def batched(
        self,
        images: Sequence[np.ndarray],
        labels: Sequence[Sequence[int]],
        *,
        precision: Precision = "fp32",
    ) -> list[ImageCams]:
        """CAMs of images of one padded patch grid from one forward for all of them.

        :meth:`batch_pixels` after :func:`~clipwsss.clip.dense.preprocess` of each image. In
        fp32 the results equal ``self(image, labels)`` up to float rounding of the batched
        matrix products (the fidelity kit test checks 1e-5); ``attn`` holds only the maps
        CAA reads and ``block_tokens`` is empty.

        Shapes:
            images: B arrays (H_b, W_b, 3) uint8 of one padded grid; labels: B label lists.
        """
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} label lists")
        p = self.clip.patch_size
        grids = {padded_grid(im.shape[:2], p) for im in images}
        if len(grids) > 1:
            raise ValueError(
                "a batch needs same-size images (one padded patch grid), got "
                f"{[im.shape for im in images]}; group them by grid first"
            )
        prep = self.preprocessor()
        pixels = torch.stack([prep(im) for im in images])
        return self.batch_pixels(pixels, labels, precision=precision)

    def preprocessor(self) -> Callable[[np.ndarray], Tensor]:
        """The picklable per-image preprocessing (DataLoader workers run it).

        Shapes: (H, W, 3) uint8 -> (3, H', W') float32, H' and W' multiples of the patch.
        """
        return functools.partial(
            preprocess, patch_size=self.clip.patch_size, mean=self.clip.mean, std=self.clip.std
        )

    def check_labels(self, labels: Sequence[int]) -> None:
        """ValueError for an empty label set, IndexError for an id outside the vocabulary."""
        if len(labels) == 0:
            raise ValueError("empty label set: CLIP-ES needs at least one image-level label")
        bad = [c for c in labels if not 0 <= int(c) < len(self.vocab)]
        if bad:
            raise IndexError(f"unknown class ids {bad}; the vocabulary has {len(self.vocab)}")

    def batch_pixels(
        self,
        pixels: Tensor,
        labels: Sequence[Sequence[int]],
        *,
        precision: Precision = "fp32",
    ) -> list[ImageCams]:
        """Stages 1-3 for a batch of preprocessed images: one dense forward, one batched
        Softmax-GradCAM backward for every class of every image, CAA for the batch.

        Only the attention maps CAA reads (the last ``caa_layers`` blocks) are computed. The
        forward and GradCAM run under ``precision`` (autocast); the affinity, the boxes and
        the refinement run in float32.

        Shapes:
            pixels: (B, 3, H', W'); labels: B lists (K_b,); output: B ImageCams with cams
            (K_b, h, w), attn (caa_layers, T, T).
        """
        if pixels.shape[0] != len(labels):
            raise ValueError(f"{pixels.shape[0]} images but {len(labels)} label lists")
        for lab in labels:
            self.check_labels(lab)
        cfg = self.config
        n_blocks = len(
            getattr(getattr(self.clip.model.visual, "transformer", None), "resblocks", ())
        )
        n_attn = cfg.caa_layers if cfg.refine != "none" else 1
        with precision_context(self.clip.device, precision):
            dense = dense_forward(
                self.clip,
                pixels,
                pooling=cfg.pooling,
                pos_embed_fp16=cfg.pos_embed_fp16,
                gradcam_block=cfg.gradcam_block,
                n_attn=min(n_attn, n_blocks) or None,
                keep_block_tokens=False,
            )
            passes = []
            for j in range(len(self._class_features)):
                texts = [self.text_setup(lab, synonym=j) for lab in labels]
                passes.append(
                    softmax_gradcam_batch(
                        dense,
                        texts,
                        logit_scale=self.logit_scale,
                        softmax=cfg.softmax,
                        retain_graph=j < len(self._class_features) - 1,
                    )
                )
        attn = None if dense.attn is None else dense.attn.detach().float()
        affinity = None
        if attn is not None and cfg.refine != "none":
            affinity = self.affinity_batch(attn)
        out = []
        for i, lab in enumerate(labels):
            cams, scores = self._fuse_passes(
                [p[i][0] for p in passes], [p[i][1] for p in passes], lab
            )
            aff = None if affinity is None else affinity[i]
            out.append(
                ImageCams(
                    keys=torch.as_tensor([int(c) for c in lab]),
                    cams=cams,
                    refined=self.refine_from_affinity(cams, aff),
                    scores=scores,
                    grid=dense.grid,
                    attn=None if attn is None else attn[i],
                    affinity=aff,
                )
            )
        return out

    def affinity_batch(self, attn: Tensor) -> Tensor:
        """:meth:`affinity` for a batch: Eq. 6 and the power of Eq. 7 for B images at once.

        Shapes: attn (B, L, T, T); output (B, N, N), N = T - 1.
        """
        cfg = self.config
        return attention_affinity(
            attn,
            n_layers=cfg.caa_layers,
            n_iters=cfg.sinkhorn_iters,
            power=cfg.caa_power,
            symmetrize=cfg.caa_symmetrize,
        )

    # The stages of __call__, public so that benchmarks and notebooks can time or swap them.

    def forward(self, image: np.ndarray) -> DenseOutput:
        """Stage 1: preprocess (H, W, 3) uint8 RGB and run the dense CLIP forward (one image).

        Shapes:
            image: (H, W, 3) uint8; activation: (1, 1 + h*w, D); attn: (1, L, T, T).
        """
        pixels = preprocess(
            image, patch_size=self.clip.patch_size, mean=self.clip.mean, std=self.clip.std
        )[None]
        cfg = self.config
        return dense_forward(
            self.clip,
            pixels,
            pooling=cfg.pooling,
            pos_embed_fp16=cfg.pos_embed_fp16,
            gradcam_block=cfg.gradcam_block,
        )

    def text_setup(self, labels: Sequence[int], synonym: int = 0):
        """The GradCAM text rows for ``labels`` (targets, other classes, background words),
        from each class's ``synonym``-th text feature (only CAM-level fusion has several).

        Shapes:
            labels: (K,); rows: (R, E) text features.
        """
        feats = self._class_features[synonym]
        return build_text_setup(feats, self._background, labels, text_set=self.config.text_set)

    def gradcam(self, dense: DenseOutput, labels: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Stage 2: Softmax-GradCAM (Eq. 1-4), one batched backward per synonym pass.

        Returns:
            (cams (K, h, w) in [0, 1], scores (K,)).

        Shapes:
            dense.activation: (1, T, D); labels: (K,); cams: (K, h, w); scores: (K,).
        """
        cfg = self.config
        all_cams, all_scores = [], []
        for j in range(len(self._class_features)):
            text = self.text_setup(labels, synonym=j)
            last = j == len(self._class_features) - 1
            cams, scores = softmax_gradcam(
                dense,
                text,
                logit_scale=self.logit_scale,
                softmax=cfg.softmax,
                retain_graph=not last,
                return_scores=True,
            )
            all_cams.append(cams)
            all_scores.append(scores)
        return self._fuse_passes(all_cams, all_scores, labels)

    def _fuse_passes(
        self, all_cams: list[Tensor], all_scores: list[Tensor], labels: Sequence[int]
    ) -> tuple[Tensor, Tensor]:
        """One image's CAMs from its synonym passes (one pass: as is).

        Shapes: all_cams S x (K, h, w); all_scores S x (K,); output (K, h, w), (K,).
        """
        if len(all_cams) == 1:
            return all_cams[0], all_scores[0]
        # CAM-level fusion (Table S2): mean of each class's own synonyms' CAMs.
        n_syn = self._n_synonyms[torch.as_tensor([int(c) for c in labels])]
        stacked = torch.stack(all_cams)  # (S, K, h, w)
        valid = (torch.arange(len(all_cams))[:, None] < n_syn[None]).to(stacked.dtype)
        fused = (stacked * valid[..., None, None]).sum(0) / n_syn[:, None, None]
        scores = (torch.stack(all_scores) * valid).sum(0) / n_syn
        return min_max_normalize(fused), scores

    def affinity(self, attn: Tensor) -> Tensor:
        """Eq. 6 and the power of Eq. 7 with this config: ``A^t``, once per image.

        Shapes: attn (L, T, T) (or (1, L, T, T)); output (N, N), N = T - 1.
        """
        cfg = self.config
        attn = attn[0] if attn.ndim == 4 else attn
        return attention_affinity(
            attn,
            n_layers=cfg.caa_layers,
            n_iters=cfg.sinkhorn_iters,
            power=cfg.caa_power,
            symmetrize=cfg.caa_symmetrize,
        )

    def refine_from_affinity(self, cams: Tensor, affinity: Tensor | None) -> Tensor | None:
        """Stage 3 with a given affinity: CAA, MHSA or nothing (``config.refine``, Eq. 7).

        Returns None for ``refine="none"`` or without an affinity (a ResNet).

        Shapes: cams (K, h, w); affinity (N, N); output (K, h, w).
        """
        cfg = self.config
        if cfg.refine not in ("caa", "mhsa", "none"):
            raise ValueError(f"refine must be 'caa', 'mhsa' or 'none', got {cfg.refine!r}")
        if cfg.refine == "none" or affinity is None:
            return None
        return refine_with_affinity(
            cams,
            affinity,
            mode=cfg.refine,
            threshold=cfg.box_threshold,
            official=cfg.official_boxes,
        )

    def refine(self, cams: Tensor, attn: Tensor | None) -> Tensor | None:
        """Stage 3: CAA (Eq. 6-7), MHSA or nothing (``config.refine``); None without attention.

        Shapes: cams (K, h, w); attn (1, L, T, T) or (L, T, T); output (K, h, w).
        """
        if self.config.refine == "none" or attn is None:
            return self.refine_from_affinity(cams, None)
        return self.refine_from_affinity(cams, self.affinity(attn))

    # The CamMethod interface (methods/base.py) the pipelines use.

    @property
    def min_image_size(self) -> int:
        """Smallest image side: one patch."""
        return self.clip.patch_size

    @property
    def n_classes(self) -> int:
        """Foreground classes of the vocabulary."""
        return len(self.vocab)

    def run_record(self) -> dict[str, Any]:
        """Model, weights, vocabulary and every switch, for a CAM folder's ``run.json``."""
        return {
            "model": self.clip.name,
            "pretrained": self.clip.pretrained,
            "weights": self.clip.fingerprint,
            # the activation is not part of the weights fingerprint
            "activation": "quick_gelu" if self.clip.quick_gelu else "gelu",
            "config": asdict(self.config),
            "classes": list(self.vocab.names),
            "sentences": list(self.vocab.sentences),
            "background": list(self.vocab.background),
        }

    @staticmethod
    def upsample(cams: Tensor, size: tuple[int, int]) -> Tensor:
        """Patch-resolution CAMs -> the original image size (bilinear, as cv2.resize).

        Shapes:
            cams: (K, h, w); output: (K, H, W).
        """
        return upsample_cams(cams, size)


register_method("clip-es", config=ClipEsConfig)(ClipES)
