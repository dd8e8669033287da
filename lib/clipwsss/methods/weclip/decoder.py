"""WeCLIP's trainable decoder: per-layer MLP fuse, 3-layer transformer, 1/16 classifier.

Paper: WeCLIP Section 3.2 (decoder on frozen CLIP features) and Eq. for the affinity
A_f = sigmoid(F^T F) (Section 3.3, used by the RFM and the affinity loss). Official code:
``WeCLIP_model/segformer_head.py`` (fuse), ``Decoder/TransDecoder.py`` (transformer).

The official decoder's attention rounds its output projection through float16 on every
device, forward and backward (``clipwsss.clip.attention``); ``out_proj_fp16=True`` (the
default of ``WeClipConfig``) reproduces it, False runs it in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from open_clip.transformer import QuickGELU, ResidualAttentionBlock
from torch import Tensor, nn

from clipwsss.clip.attention import residual_block


@dataclass(frozen=True)
class DecoderOutput:
    """What one decoder forward gives the losses and the RFM.

    Attributes:
        logits: (B, C, h, w) segmentation logits at 1/16 (the patch grid).
        fused: (B, D, h, w) fused features F (after Dropout2d, before the transformer).
        affinity: (B, h*w, h*w) A_f = sigmoid(F^T F), values in (0, 1).
    """

    logits: Tensor
    fused: Tensor
    affinity: Tensor


class TokenMLP(nn.Module):
    """Linear(in -> D), ReLU, Linear(D -> D) on every patch token (segformer_head.MLP)."""

    def __init__(self, in_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, embed_dim)
        self.proj_2 = nn.Linear(embed_dim, embed_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        """Shapes: tokens (B, N, in) -> (B, N, D)."""
        return self.proj_2(torch.relu(self.proj(tokens)))


class FuseHead(nn.Module):
    """One MLP per input block, concatenation, 1x1 conv to D, Dropout2d (segformer_head.py)."""

    def __init__(self, n_layers: int, in_dim: int, embed_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.mlps = nn.ModuleList(TokenMLP(in_dim, embed_dim) for _ in range(n_layers))
        self.fuse = nn.Conv2d(embed_dim * n_layers, embed_dim, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, layers: Sequence[Tensor], grid: tuple[int, int]) -> Tensor:
        """Fuse the patch tokens of every selected block.

        Shapes:
            layers: L tensors (B, h*w, in) (class token already dropped); returns F
            (B, D, h, w).
        """
        if len(layers) != len(self.mlps):
            raise ValueError(f"expected {len(self.mlps)} layers, got {len(layers)}")
        b = layers[0].shape[0]
        pairs = zip(self.mlps, layers, strict=True)
        maps = [mlp(x).transpose(1, 2).reshape(b, -1, *grid) for mlp, x in pairs]
        return self.dropout(self.fuse(torch.cat(maps, dim=1)))


class TransformerDecoder(nn.Module):
    """CLIP-style pre-LN blocks (MHA, QuickGELU MLP x4) without positions, then a 1x1 conv.

    ``Decoder/TransDecoder.py:DecoderTransformer``; open_clip's ``ResidualAttentionBlock`` is
    the same block (ln_1, attn, ln_2, mlp c_fc/gelu/c_proj).
    """

    def __init__(
        self,
        width: int = 256,
        layers: int = 3,
        heads: int = 8,
        n_classes: int = 21,
        out_proj_fp16: bool = False,
    ):
        super().__init__()
        self.out_proj_fp16 = out_proj_fp16
        self.blocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, act_layer=QuickGELU, batch_first=True)
            for _ in range(layers)
        )
        self.classifier = nn.Conv2d(width, n_classes, kernel_size=1)

    def forward(self, fused: Tensor) -> Tensor:
        """Shapes: fused (B, D, h, w) -> logits (B, C, h, w)."""
        b, d, h, w = fused.shape
        x = fused.flatten(2).transpose(1, 2)  # (B, h*w, D)
        for block in self.blocks:
            x = residual_block(block, x, out_proj_fp16=self.out_proj_fp16)
        return self.classifier(x.transpose(1, 2).reshape(b, d, h, w))


def feature_affinity(fused: Tensor) -> Tensor:
    """A_f = sigmoid(F^T F) over the patch grid (WeCLIP Section 3.3; model L134-137).

    Shapes:
        fused: (B, D, h, w) -> (B, h*w, h*w), symmetric, values in (0, 1).
    """
    flat = fused.flatten(2)  # (B, D, N)
    return torch.sigmoid(flat.transpose(1, 2) @ flat)


class WeClipDecoder(nn.Module):
    """Fuse head + transformer decoder; the only trainable part of WeCLIP.

    Args:
        n_layers: number of frozen CLIP blocks fed in (11 officially).
        in_dim: CLIP width (768 for ViT-B/16; read from the weights, never hard-coded).
        embed_dim, dropout, decoder_layers, decoder_heads, n_classes, out_proj_fp16: see
            ``WeClipConfig``.
    """

    def __init__(
        self,
        n_layers: int,
        in_dim: int,
        *,
        embed_dim: int = 256,
        dropout: float = 0.1,
        decoder_layers: int = 3,
        decoder_heads: int = 8,
        n_classes: int = 21,
        out_proj_fp16: bool = False,
    ):
        super().__init__()
        self.fuse = FuseHead(n_layers, in_dim, embed_dim, dropout)
        self.transformer = TransformerDecoder(
            embed_dim, decoder_layers, decoder_heads, n_classes, out_proj_fp16
        )

    def forward(self, layers: Sequence[Tensor], grid: tuple[int, int]) -> DecoderOutput:
        """Shapes: layers L x (B, h*w, in) -> DecoderOutput (logits (B, C, h, w), ...)."""
        fused = self.fuse(layers, grid)
        return DecoderOutput(
            logits=self.transformer(fused), fused=fused, affinity=feature_affinity(fused)
        )
