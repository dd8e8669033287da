"""Self-attention with the float16 output projection of WeCLIP's official CLIP copy.

Official code: WeCLIP's ``clip/myAtt.py`` (image and text towers) and its decoder's copy of
it compute queries, keys, values, the scaled scores and the softmax in float32, then cast the
concatenated head outputs, the out-projection weight and its bias to float16 and project in
float16, on every device (an explicit ``.half()``, on CPU too). The float16 result is added to
the float32 residual stream. Gradients flow back through the same float16 product, so a small
GradCAM gradient can flush to zero there (the WeCLIP fidelity kit records one such image).

``out_proj_fp16=False`` is the plain float32 attention of ``nn.MultiheadAttention``.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


def self_attention(
    attn: nn.MultiheadAttention,
    x: Tensor,
    *,
    out_proj_fp16: bool = False,
    need_weights: bool = False,
    attn_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Batch-first self-attention of ``attn`` on ``x``, optionally with the float16 out-proj.

    Args:
        attn: a batch-first ``nn.MultiheadAttention`` with packed in-projection weights.
        x: the (LayerNorm'd) tokens.
        out_proj_fp16: round the head outputs, the out-projection weight and bias to float16
            and project in float16 (the official WeCLIP numerics); the output is then float16.
        need_weights: also return the head-averaged attention weights.
        attn_mask: additive float mask (e.g. the text tower's causal mask), or None.

    Shapes:
        x: (B, T, D); returns (B, T, D) and (B, T, T) weights (or None).
    """
    if not out_proj_fp16:
        return attn(
            x, x, x, need_weights=need_weights, attn_mask=attn_mask, average_attn_weights=True
        )
    b, t, d = x.shape
    heads = attn.num_heads
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (z.reshape(b, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
    scores = (q / math.sqrt(d // heads)) @ k.transpose(-2, -1)  # (B, H, T, T)
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = scores.softmax(dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, t, d)
    out = F.linear(out.half(), attn.out_proj.weight.half(), attn.out_proj.bias.half())
    return out, (weights.sum(dim=1) / heads if need_weights else None)


def residual_block(
    block: nn.Module, x: Tensor, *, out_proj_fp16: bool = False, attn_mask: Tensor | None = None
) -> Tensor:
    """One pre-LN open_clip ``ResidualAttentionBlock`` through :func:`self_attention`.

    Shapes:
        x: (B, T, D) float32 residual stream; returns (B, T, D) float32.
    """
    normed = block.ln_1(x)
    out, _ = self_attention(block.attn, normed, out_proj_fp16=out_proj_fp16, attn_mask=attn_mask)
    x = x + block.ls_1(out)
    return x + block.ls_2(block.mlp(block.ln_2(x)))
