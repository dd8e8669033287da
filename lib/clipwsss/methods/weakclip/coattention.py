"""Co-attention matching: text updated from pixels, pixels updated from text.

Paper: WeakCLIP Section 3.4, Eq. (3)-(4):
    t_p* = CrossAttn(t_p, f_p) * alpha + t_p,   f_p* = CrossAttn(f_p, t_p) * beta + f_p,
    lambda' = Match(t_p*, f_p*)  (cosine similarity, (K, H, W)).
Official code: ``models.py:ContextDecoder`` L798-871 (DenseCLIP's decoder with a second,
"anti" stack), ``weakclip.py:after_extract_feat`` L232-279.

[paper≠code] The official loops call ``layer(text, visual)`` on the stack *input* for every
layer, so only the last of the 3 layers of each stack reaches the output; the other 4 layers
(4 x 1,051,904 parameters at width 256) never get a gradient. ``chain=True`` feeds each layer
the previous output, as the paper intends. The code's alpha/beta are the 512-vectors
``gamma`` / ``beta`` (init 0.1, the "learnable temperature" ablation).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class CrossAttention(nn.Module):
    """Multi-head attention with bias-free q/k/v and a biased output projection (DenseCLIP).

    Shapes:
        q: (B, Nq, C); kv: (B, Nk, C); returns (B, Nq, C).
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, q: Tensor, kv: Tensor) -> Tensor:
        split = lambda x: x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(
            split(self.q_proj(q)), split(self.k_proj(kv)), split(self.v_proj(kv))
        )
        return self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))


class DecoderLayer(nn.Module):
    """Pre-LN transformer decoder layer: self-attention, cross-attention, GELU MLP x4.

    1,051,904 parameters at width 256.

    Shapes:
        x: (B, N, C) queries; memory: (B, M, C); returns (B, N, C).
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = CrossAttention(dim, heads, dropout)
        self.cross_attn = CrossAttention(dim, heads, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Tensor) -> Tensor:
        q = self.norm1(x)
        x = x + self.self_attn(q, q)
        x = x + self.cross_attn(self.norm2(x), memory)
        return x + self.dropout(self.mlp(self.norm3(x)))


def run_stack(layers: nn.ModuleList, x: Tensor, memory: Tensor, *, chain: bool) -> Tensor:
    """Apply a stack of decoder layers, chained (paper) or each on ``x`` (official bug).

    Shapes:
        x: (B, N, C); memory: (B, M, C); returns (B, N, C).
    """
    out = x
    for layer in layers:
        out = layer(out if chain else x, memory)  # official: text_diff = layer(text, visual)
    return out


class CoAttention(nn.Module):
    """Two stacks of decoder layers giving the text and pixel updates (Delta t, Delta f).

    Projections: visual LN-Linear-LN (E -> C), text LN-Linear (E -> C), one LN-Linear
    (C -> E) per stack. 6,840,832 parameters for E = 512, C = 256, 3 + 3 layers.

    Shapes:
        text: (B, K, E); visual: (B, 1 + hw, E) [class token; patches];
        returns (B, K, E) and (B, 1 + hw, E).

    Reference: WeakCLIP Section 3.4, Eq. (3); ``models.py:ContextDecoder``.
    """

    def __init__(
        self, embed: int, *, width: int, heads: int, layers: int, dropout: float, chain: bool
    ) -> None:
        super().__init__()
        self.chain = chain
        self.memory_proj = nn.Sequential(
            nn.LayerNorm(embed), nn.Linear(embed, width), nn.LayerNorm(width)
        )
        self.text_proj = nn.Sequential(nn.LayerNorm(embed), nn.Linear(embed, width))
        self.decoder = nn.ModuleList(DecoderLayer(width, heads, dropout) for _ in range(layers))
        self.anti_decoder = nn.ModuleList(
            DecoderLayer(width, heads, dropout) for _ in range(layers)
        )
        self.out_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, embed))
        self.anti_out_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, embed))
        self.apply(_init_weights)

    def forward(self, text: Tensor, visual: Tensor) -> tuple[Tensor, Tensor]:
        v, t = self.memory_proj(visual), self.text_proj(text)
        text_diff = run_stack(self.decoder, t, v, chain=self.chain)
        visual_diff = run_stack(self.anti_decoder, v, t, chain=self.chain)
        return self.out_proj(text_diff), self.anti_out_proj(visual_diff)


def _init_weights(m: nn.Module) -> None:
    """DenseCLIP ``ContextDecoder._init_weights``: trunc-normal(0.02) Linear, zero bias."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
