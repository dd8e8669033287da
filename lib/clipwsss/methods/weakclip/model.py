"""WeakCLIP: frozen CLIP + learnable prompts, pyramid adapter, co-attention, text-guided decoder.

Paper: WeakCLIP (Zhu et al., IJCV 2025), Section 3, Fig. 2; efficiency table (21.2M
trainable of 171.5M). Official code: ``weakclip/weakclip.py``, ``weakclip/models.py``.

Forward (one batch of normalised images, B x 3 x H x W, K classes incl. background):

1. frozen tower -> four block maps (B, D, H/p, W/p), class embedding g (B, E) and pixel
   embeddings f_p (B, E, H/p, W/p);
2. learnable prompts -> text features t_p (K, E);
3. co-attention (Eq. 3): t_p* = t_p + gamma * Dt, [g; f_p]* = [g; f_p] + beta * Df;
4. score map lambda' = cos(f_p*, t_p*) (B, K, H/p, W/p) (Eq. 4);
5. pyramid adapter (1/4 ... 1/32 for p = 16), each level concatenated with lambda' resized,
   FPN neck, Semantic-FPN head -> P (B, K, 4H/p, 4W/p) (Eq. 5).

Component ablation (``WeakClipConfig``): ``use_coattention=False`` skips step 3 (lambda' =
cos(f_p, t_p)); ``use_adapter=False`` replaces step 5's adapter by a parameter-free resize of
the block maps (:func:`~clipwsss.methods.weakclip.vision.resize_pyramid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from clipwsss.clip.loading import ClipModel
from clipwsss.data.pixels import IMAGENET_MEAN, IMAGENET_STD, PixelStats

from .coattention import CoAttention
from .config import WeakClipConfig
from .decoder import FPNNeck, SemanticFPNHead, resize_scores
from .prompts import LearnablePrompts, tokenize_names
from .vision import DenseClipVisual, PyramidAdapter, resize_pyramid, visual_features


@dataclass(frozen=True)
class WeakClipOutput:
    """Outputs of one WeakCLIP forward.

    Attributes:
        logits: (B, K, H/4, W/4) segmentation logits P (for p = 16).
        scores: (B, K, H/p, W/p) co-attention matching map lambda' (cosine, in [-1, 1]).
    """

    logits: Tensor
    scores: Tensor


class WeakCLIP(PixelStats, nn.Module):
    """The WeakCLIP network around a loaded, frozen open_clip ViT.

    Frozen CLIP modules are registered (shared with ``clip``) so that parameter counts match
    the official model; only the WeakCLIP parts require gradients.

    Shapes:
        forward(pixels): (B, 3, H, W), H and W multiples of the patch size -> WeakClipOutput.

    Reference: WeakCLIP Section 3, Fig. 2.
    """

    def __init__(
        self,
        clip: ClipModel,
        class_names: Sequence[str],
        config: WeakClipConfig,
        *,
        pixel_mean: Sequence[float] = IMAGENET_MEAN,  # the recipe's input statistics
        pixel_std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.set_pixel_stats(pixel_mean, pixel_std)  # preprocess(); not in checkpoints
        if not clip.is_vit:
            raise ValueError("WeakCLIP needs a ViT CLIP (the adapter reads ViT block tokens)")
        self.config = config
        self.class_names = tuple(class_names)
        model = clip.model
        self.visual = DenseClipVisual(
            model.visual,
            input_resolution=config.input_resolution,
            double_class=config.double_class_embedding,
            drop_path=config.drop_path,
            drop_path_per_token=config.drop_path_per_token,
        )
        name_ids = tokenize_names(clip.tokenizer, class_names, context=config.name_context)
        self.text_encoder = LearnablePrompts(model, name_ids, n_prompts=config.n_prompts)
        self.visual.requires_grad_(False)
        for name in ("token_embedding", "transformer", "ln_final", "text_projection"):
            getattr(self.text_encoder, name).requires_grad_(False)
        width, embed, k = self.visual.width, model.text_projection.shape[1], len(class_names)
        self.adapter = PyramidAdapter(width) if config.use_adapter else None
        self.coattention, self.gamma, self.beta = None, None, None
        if config.use_coattention:
            self.coattention = CoAttention(
                embed,
                width=config.coattn_width,
                heads=config.coattn_heads,
                layers=config.coattn_layers,
                dropout=config.coattn_dropout,
                chain=config.chain_coattention,
            )
            self.gamma = nn.Parameter(torch.full((embed,), config.residual_init))
            self.beta = nn.Parameter(torch.full((embed,), config.residual_init))
        self.neck = FPNNeck(width + k, config.neck_channels, mmseg_init=config.init_weights)
        self.head = SemanticFPNHead(
            config.neck_channels,
            config.head_channels,
            k,
            config.head_dropout,
            mmseg_init=config.init_weights,
        )

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def train(self, mode: bool = True) -> WeakCLIP:
        super().train(mode)
        self.visual.train(mode)  # frozen tower: eval mode but for its stochastic depth
        self.text_encoder.transformer.eval()
        return self

    def match(self, feats, text: Tensor) -> Tensor:
        """Co-attention matching (Eq. 3-4): the score map lambda' (Eq. 4 only when
        ``use_coattention`` is off).

        Shapes:
            text: (K, E) t_p; returns (B, K, h, w).
        """
        b, e, h, w = feats.pixel_embedding.shape
        visual = torch.cat(
            [feats.global_embedding[:, None], feats.pixel_embedding.flatten(2).transpose(1, 2)], 1
        )  # (B, 1 + hw, E): [class token; patches]
        text = text[None].expand(b, -1, -1)
        if self.coattention is not None:  # use_coattention False: t_p and f_p unchanged
            text_diff, visual_diff = self.coattention(text, visual)
            text = text + self.gamma * text_diff  # Eq. 3: t_p* = t_p + alpha * CrossAttn(t_p, f_p)
            visual = visual + self.beta * visual_diff  # f_p* = f_p + beta * CrossAttn(f_p, t_p)
        pixels = F.normalize(visual[:, 1:], dim=-1)
        return torch.einsum("bnc,bkc->bkn", pixels, F.normalize(text, dim=-1)).reshape(b, -1, h, w)

    def forward(self, pixels: Tensor) -> WeakClipOutput:
        feats = visual_features(self.visual, pixels, self.config.feature_blocks)
        scores = self.match(feats, self.text_encoder())
        maps = feats.maps
        pyramid = self.adapter(maps) if self.adapter is not None else resize_pyramid(maps)
        sized = resize_scores(scores, [p.shape[-2:] for p in pyramid])
        fused = tuple(torch.cat([p, s], dim=1) for p, s in zip(pyramid, sized, strict=True))
        return WeakClipOutput(logits=self.head(self.neck(fused)), scores=scores)


def build_weakclip(
    clip: ClipModel,
    class_names: Sequence[str],
    config: WeakClipConfig | None = None,
    *,
    pixel_mean: Sequence[float] = IMAGENET_MEAN,
    pixel_std: Sequence[float] = IMAGENET_STD,
) -> WeakCLIP:
    """WeakCLIP on a loaded CLIP; ``class_names`` include "background" (index 0).

    Args:
        clip: a ViT CLIP from :func:`clipwsss.clip.loading.load_clip`.
        class_names: the K class texts, background first (official dataset CLASSES).
        config: architecture switches (default: faithful to the official code).
        pixel_mean, pixel_std: the input statistics of ``preprocess`` (the recipe's).

    Returns:
        The model in training mode.
    """
    model = WeakCLIP(
        clip, class_names, config or WeakClipConfig(), pixel_mean=pixel_mean, pixel_std=pixel_std
    )
    return model.train()


@dataclass(frozen=True)
class ParameterCounts:
    """Parameter counts of a WeakCLIP model (WeakCLIP efficiency table: 21.2M / 171.5M).

    Attributes:
        trainable: parameters with ``requires_grad`` (official 21,240,853).
        total: all parameters incl. the frozen CLIP towers (official 171,464,725).
        by_part: trainable parameters per top-level module.
    """

    trainable: int
    total: int
    by_part: dict[str, int]


def parameter_counts(model: nn.Module) -> ParameterCounts:
    """Count parameters once each (shared CLIP parameters are not counted twice)."""
    unique = {id(p): (n, p) for n, p in model.named_parameters()}.values()
    by_part: dict[str, int] = {}
    for name, p in unique:
        if p.requires_grad:
            part = name.split(".")[0]
            by_part[part] = by_part.get(part, 0) + p.numel()
    return ParameterCounts(
        trainable=sum(p.numel() for _, p in unique if p.requires_grad),
        total=sum(p.numel() for _, p in unique),
        by_part=by_part,
    )
