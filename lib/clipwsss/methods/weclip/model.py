"""WeCLIP: frozen CLIP + trainable decoder, with its online pseudo labels.

Paper: WeCLIP (Zhang et al., CVPR 2024), Sections 3.1-3.4. Official code:
``WeCLIP_model/model_attn_aff_voc.py``.

The frozen CLIP is not a registered submodule: ``parameters()``, ``state_dict()`` and the
optimizer see only the decoder (5,985,045 parameters on VOC). The official model leaves both
CLIP towers' ``resblocks.11.*`` with requires_grad=True for its GradCAM hooks (16,225,301 by
requires_grad) although only the decoder is optimised; here GradCAM differentiates w.r.t.
an activation, so CLIP stays fully frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from clipwsss.cams.gradcam import build_text_setup
from clipwsss.clip.dense import DenseOutput, vit_dense_forward
from clipwsss.clip.loading import CLIP_MEAN, CLIP_STD, ClipModel
from clipwsss.clip.text import background_text_features, class_text_features
from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD, PixelStats
from clipwsss.vocab import CLIP_ES_TEMPLATE, ClassVocabulary

from .config import WeClipConfig
from .decoder import DecoderOutput, WeClipDecoder
from .pseudo import batch_gradcam, gradcam_inputs, label_from_cams, refined_cams


def _drop_step_count(state_dict, prefix, *args) -> None:
    """Load hook: forget the step counter older checkpoints hold (the engine passes the step)."""
    state_dict.pop(prefix + "step_count", None)


@dataclass(frozen=True)
class WeClipForward:
    """One forward: the frozen CLIP's dense output and the decoder's output."""

    dense: DenseOutput
    decoder: DecoderOutput


class WeClip(PixelStats, nn.Module):
    """WeCLIP on a frozen open_clip ViT.

    Args:
        clip: a loaded, frozen ViT CLIP (``clipwsss.clip.loading.load_clip``).
        vocab: class names, synonyms and background words (CLIP-ES prompts).
        config: model and pseudo-label switches.

    Example:
        >>> model = WeClip(load_clip("ViT-B-16", "openai"), voc_vocabulary())  # doctest: +SKIP
        >>> out = model(pixels)  # (B, 3, 320, 320) -> logits (B, 21, 20, 20)  # doctest: +SKIP
    """

    def __init__(
        self, clip: ClipModel, vocab: ClassVocabulary, config: WeClipConfig | None = None
    ) -> None:
        super().__init__()
        config = WeClipConfig() if config is None else config
        if not clip.is_vit:
            raise ValueError("WeCLIP needs a ViT CLIP (it reads the blocks' residual streams)")
        if len(vocab) + 1 != config.n_classes:
            raise ValueError(
                f"vocabulary has {len(vocab)} classes but config.n_classes = "
                f"{config.n_classes} (background included)"
            )
        self.clip, self.vocab, self.config = clip, vocab, config
        visual = clip.model.visual
        n_blocks = len(visual.transformer.resblocks)
        self.block_ids = list(config.blocks(n_blocks))
        width = visual.conv1.out_channels  # read from the weights: 768 for ViT-B/16
        self.decoder = WeClipDecoder(
            len(self.block_ids),
            width,
            embed_dim=config.embed_dim,
            dropout=config.dropout,
            decoder_layers=config.decoder_layers,
            decoder_heads=config.decoder_heads,
            n_classes=config.n_classes,
            out_proj_fp16=config.out_proj_fp16,
        )
        # Checkpoints written while the model kept its own step counter hold "step_count";
        # the step now comes from the engine, so the entry is dropped when they are loaded.
        self._register_load_state_dict_pre_hook(_drop_step_count)
        # the input statistics of config.normalisation (official: ImageNet); preprocess()
        clip_stats = config.normalisation == "clip"
        self.set_pixel_stats(
            CLIP_MEAN if clip_stats else IMAGENET_MEAN, CLIP_STD if clip_stats else IMAGENET_STD
        )
        self._text: tuple[Tensor, Tensor] | None = None  # encoded on first use
        self.logit_scale = float(clip.model.logit_scale.exp())

    def text_features(self) -> tuple[Tensor, Tensor]:
        """(C-1, E) class and (M, E) background embeddings, "a clean origami {}." (cached).

        With ``config.out_proj_fp16`` the text tower's attention out-projections run in
        float16, as the official text tower."""
        device = self.clip.device
        if self._text is None or self._text[0].device != device:
            fp16 = self.config.out_proj_fp16
            with torch.no_grad():
                fg = class_text_features(
                    self.clip, self.vocab, template=CLIP_ES_TEMPLATE, out_proj_fp16=fp16
                )
                bg = background_text_features(
                    self.clip, self.vocab, template=CLIP_ES_TEMPLATE, out_proj_fp16=fp16
                )
            self._text = (fg, bg)
        return self._text

    def _apply(self, fn, recurse=True):  # keep the frozen CLIP on the decoder's device
        super()._apply(fn, recurse)
        self.clip.model._apply(fn)
        return self

    def forward(self, pixels: Tensor) -> WeClipForward:
        """Frozen CLIP dense forward, then the decoder on the selected blocks.

        The official numerics by default: the float16 positional table
        (``config.pos_embed_fp16``) and float16 attention out-projections
        (``config.out_proj_fp16``).

        Shapes:
            pixels: (B, 3, H, W) normalised; the patch convolution drops a remainder of H or W
            that is not a multiple of the patch size (as the official code).
        """
        cfg = self.config
        dense = vit_dense_forward(
            self.clip.model.visual,
            pixels,
            pos_embed_fp16=cfg.pos_embed_fp16,
            out_proj_fp16=cfg.out_proj_fp16,
        )
        layers = [dense.block_tokens[i][:, 1:].detach() for i in self.block_ids]
        return WeClipForward(dense=dense, decoder=self.decoder(layers, dense.grid))

    def pseudo_labels(
        self, pixels: Tensor, out: WeClipForward, labels: Sequence[Sequence[int]], *, use_rfm: bool
    ) -> Tensor:
        """Online pseudo labels of a batch (WeCLIP Section 3.3).

        Args:
            pixels: the batch as fed to ``forward``.
            out: its ``forward`` output.
            labels: per image, its 0-based class ids (at least one each).
            use_rfm: RFM (after the switch, and always at validation) or plain CAA.

        Returns:
            (B, H, W) long labels, 0 = background.
        """
        if len(labels) != pixels.shape[0]:
            raise ValueError(f"{len(labels)} label sets for a batch of {pixels.shape[0]}")
        fg, bg = self.text_features()
        texts = [build_text_setup(fg, bg, list(lab)) for lab in labels]
        with torch.enable_grad():  # GradCAM needs gradients even under no_grad (validation)
            act, emb = gradcam_inputs(
                self.clip.model.visual,
                out.dense,
                self.config.gradcam_target,
                out_proj_fp16=self.config.out_proj_fp16,
            )
            cams = batch_gradcam(act, emb, texts, grid=out.dense.grid, logit_scale=self.logit_scale)
        result = []
        for i, lab in enumerate(labels):
            aff = out.decoder.affinity[i].detach() if use_rfm else None
            ref = refined_cams(cams[i], out.dense.attn[i], aff, self.config)
            with torch.no_grad():
                result.append(label_from_cams(pixels[i], ref, lab, self.config))
        return torch.stack(result)

    def trainable_parameters(self) -> int:
        """Number of parameters the optimizer updates (the decoder's)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
