"""Dense CLIP forward on any image size: preprocessing, per-block tokens, attention maps and
the pooled image embedding (everything the CAM, CAA and pooling stages read).

Paper: CLIP-ES Section 4.1 ("The feature map used to generate CAM is the one before the last
self-attention layer"; "We replace the class token with the average of remaining tokens").
Supplementary A / Table S1 (RN50, cls-token vs avg-token).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from clipwsss.clip.attention import self_attention
from clipwsss.clip.loading import CLIP_MEAN, CLIP_STD, ClipModel
from clipwsss.perturb import perturb

Pooling = Literal["avg", "cls"]
Precision = Literal["fp32", "bf16", "fp16"]


def precision_context(device: torch.device | str, precision: Precision = "fp32"):
    """The autocast context of a precision: fp32 (none), bf16 (CUDA or CPU), fp16 (CUDA).

    Raises:
        ValueError: an unknown precision, or fp16 off CUDA (CPU float16 kernels are slow and
            partly missing).
    """
    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision not in ("bf16", "fp16"):
        raise ValueError(f"precision must be fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision fp16 needs a CUDA device (got {device}); use bf16 or fp32")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def padded_grid(size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """The patch grid of an (H, W) image after :func:`preprocess`: (ceil(H/p), ceil(W/p))."""
    return math.ceil(size[0] / patch_size), math.ceil(size[1] / patch_size)


def preprocess(
    image: np.ndarray, *, patch_size: int, mean: tuple = CLIP_MEAN, std: tuple = CLIP_STD
) -> Tensor:
    """Resize like the official CLIP-ES code and normalise.

    Bicubic resize of each side up to the next multiple of ``patch_size`` (no crop, single
    scale), then CLIP normalisation. ``generate_cams_voc12.py`` does the same with PIL.

    Args:
        image: (H, W, 3) uint8 RGB.

    Returns:
        (3, H', W') float tensor, H' = ceil(H / p) * p, W' = ceil(W / p) * p.

    Raises:
        ValueError: for a non-RGB array or an image smaller than one patch.

    Shapes:
        image: (H, W, 3) uint8; output: (3, H', W') float32.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) uint8 RGB image, got shape {image.shape} dtype {image.dtype};"
            " use clipwsss.data.load_image to convert grayscale/RGBA/16-bit files"
        )
    h, w = image.shape[:2]
    if h < patch_size or w < patch_size:
        raise ValueError(f"image of {w}x{h} pixels is smaller than one {patch_size}px patch")
    new_h, new_w = math.ceil(h / patch_size) * patch_size, math.ceil(w / patch_size) * patch_size
    pil = Image.fromarray(image)
    if (new_h, new_w) != (h, w):
        pil = pil.resize((new_w, new_h), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1)
    m = torch.tensor(mean).view(3, 1, 1)
    s = torch.tensor(std).view(3, 1, 1)
    return (x - m) / s


def interpolate_pos_embed(pos_embed: Tensor, grid: tuple[int, int]) -> Tensor:
    """Resize a ViT positional table to a new patch grid (bilinear, as the official code).

    Args:
        pos_embed: (1 + g*g, D) learned table; row 0 is the class position (kept as is).
        grid: target (h, w) patch grid.

    Returns:
        (1 + h*w, D). The identity when ``grid`` is the native (g, g).

    Shapes:
        pos_embed: (1 + g*g, D); output: (1 + h*w, D).
    """
    cls_pos, patch_pos = pos_embed[:1], pos_embed[1:]
    g = int(round(math.sqrt(patch_pos.shape[0])))
    if g * g != patch_pos.shape[0]:
        raise ValueError(f"positional table of {patch_pos.shape[0]} patches is not square")
    if (g, g) == tuple(grid):
        return pos_embed
    table = patch_pos.reshape(1, g, g, -1).permute(0, 3, 1, 2)
    table = F.interpolate(table, size=grid, mode="bilinear", align_corners=False)
    return torch.cat([cls_pos, table.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1)])


def official_pos_embed(pos_embed: Tensor, grid: tuple[int, int]) -> Tensor:
    """The positional table as the official CLIP-ES forward adds it: bilinear, then float16.

    The official ``upsample_pos_emb`` interpolates the patch table in float32 and casts the
    result (class row included) to float16 on every forward, before it is added to the
    float32 tokens; on the CLIP-ES fidelity kit dropping that cast moves the CAMs by up to
    1.8e-3. Also done on the native grid (the cast is not an identity for float32 weights).

    Shapes:
        pos_embed: (1 + g*g, D); returns (1 + h*w, D) in ``pos_embed``'s dtype, every value
        a float16 number.
    """
    return interpolate_pos_embed(pos_embed, grid).half().to(pos_embed.dtype)


@dataclass(frozen=True)
class DenseOutput:
    """What one forward of the image tower gives the CAM, CAA and pooling stages.

    Attributes:
        activation: (B, T, D) GradCAM target, a leaf that requires grad. ViT: the output of
            the target block's ``ln_1``, by default the last block's (T = 1 + h*w, class
            token first). RN50: the output of ``layer4`` as tokens (T = h*w).
        attn: (B, L, T, T) head-averaged attention of every block (ViT), or ``None`` (RN50).
        image_embedding: (B, E) unnormalised image embedding, differentiable w.r.t.
            ``activation``.
        grid: (h, w) patch grid.
        n_prefix_tokens: tokens before the patch tokens in ``activation`` (1 for ViT, 0 RN).
        last_block_input: (B, T, D) residual stream entering the target ViT block, by default
            the last (lets the official per-class loop re-run that block), or ``None`` (RN50).
        block_tokens: the residual stream after each ViT block, ``block_tokens[i]`` of shape
            (B, T, D) after block i + 1 (class token first). Blocks 1..L-1 are detached; the
            last one is differentiable w.r.t. ``activation``. Empty for RN50. WeCLIP's decoder
            reads blocks 1-11, WeakCLIP's adapter blocks 4/6/8/12.
    """

    activation: Tensor
    attn: Tensor | None
    image_embedding: Tensor
    grid: tuple[int, int]
    n_prefix_tokens: int
    last_block_input: Tensor | None = None
    block_tokens: tuple[Tensor, ...] = ()

    @property
    def patch_activation(self) -> Tensor:
        """(B, h*w, D) activation of the patch tokens (class token dropped)."""
        return self.activation[:, self.n_prefix_tokens :]


def block_with_attn(
    block: nn.Module, x: Tensor, *, out_proj_fp16: bool = False
) -> tuple[Tensor, Tensor]:
    """One open_clip ``ResidualAttentionBlock`` that also returns head-averaged attention.

    ``out_proj_fp16``: the official WeCLIP float16 out-projection (``clip.attention``).

    Shapes:
        x: (B, T, D) residual stream in; returns (B, T, D) out and (B, T, T) attention.
    """
    a = block.ln_1(x)
    out, attn = self_attention(block.attn, a, out_proj_fp16=out_proj_fp16, need_weights=True)
    x = x + block.ls_1(out)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x, attn


def block_fused(
    block: nn.Module, x: Tensor, normed: Tensor, *, out_proj_fp16: bool = False
) -> Tensor:
    """One block from its LayerNorm'd input, through the fused attention kernel (no map).

    Used for the differentiable blocks (the GradCAM target block and those after it): its
    backward is cheaper than the explicit path. ``out_proj_fp16``: the official WeCLIP
    float16 out-projection (explicit attention, ``clip.attention``); its backward is float16
    there too.

    Shapes:
        x, normed: (B, T, D) residual stream and ``ln_1(x)``; returns (B, T, D).
    """
    x = x + block.ls_1(self_attention(block.attn, normed, out_proj_fp16=out_proj_fp16)[0])
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def attention_map(block: nn.Module, normed: Tensor) -> Tensor:
    """Head-averaged softmax(QK^T / sqrt(d)) of one block, without computing values.

    Shapes:
        normed: (B, T, D) ``ln_1`` output; returns (B, T, T).
    """
    attn = block.attn
    d, heads = normed.shape[-1], attn.num_heads
    w_q, w_k, _ = attn.in_proj_weight.split(d)
    b_q, b_k, _ = attn.in_proj_bias.split(d)
    q = F.linear(normed, w_q, b_q).unflatten(-1, (heads, d // heads)).transpose(1, 2)
    k = F.linear(normed, w_k, b_k).unflatten(-1, (heads, d // heads)).transpose(1, 2)
    weights = (q @ k.transpose(-1, -2) * (d // heads) ** -0.5).softmax(dim=-1)
    return weights.mean(dim=1)


def pool_tokens(visual: nn.Module, tokens: Tensor, pooling: Pooling) -> Tensor:
    """CLIP-ES pooling: ``ln_post`` on all tokens, then patch mean (avg) or class token.

    Shapes:
        tokens: (B, T, D); output: (B, E) (after the projection).
    """
    tokens = visual.ln_post(tokens)
    pooled = tokens[:, 1:].mean(dim=1) if pooling == "avg" else tokens[:, 0]
    return pooled @ visual.proj


def vit_tokens(
    visual: nn.Module, pixels: Tensor, *, pos_embed_fp16: bool = False
) -> tuple[Tensor, tuple[int, int]]:
    """Patch tokens plus the class token, with the positional table, through ``ln_pre``.

    Shapes:
        pixels: (B, 3, H, W), H and W multiples of the patch size; returns the (B, 1 + h*w, D)
        residual stream entering block 1 and the (h, w) patch grid.
    """
    patch = visual.conv1.kernel_size[0]
    grid = (pixels.shape[-2] // patch, pixels.shape[-1] // patch)
    x = visual.conv1(pixels).flatten(2).transpose(1, 2)  # (B, h*w, D)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    pos = (official_pos_embed if pos_embed_fp16 else interpolate_pos_embed)(
        visual.positional_embedding, grid
    )
    tokens = visual.ln_pre(torch.cat([cls, x], dim=1) + pos)
    return perturb(tokens, "image features"), grid  # identity unless CLIPWSSS_PERTURB is set


def target_block_index(gradcam_block: int, n_blocks: int) -> int:
    """``gradcam_block`` (a Python index, -1 = last) as 0..n_blocks-1; ValueError outside."""
    if not -n_blocks <= gradcam_block < n_blocks:
        raise ValueError(f"gradcam_block={gradcam_block} not in [-{n_blocks}, {n_blocks - 1}]")
    return gradcam_block % n_blocks


def vit_dense_forward(
    visual: nn.Module,
    pixels: Tensor,
    *,
    pooling: Pooling = "avg",
    pos_embed_fp16: bool = False,
    gradcam_block: int = -1,  # official: resblocks[-1].ln_1 (CLIP-ES generate_cams L239)
    n_attn: int | None = None,
    keep_block_tokens: bool = True,
    out_proj_fp16: bool = False,
) -> DenseOutput:
    """Run an open_clip ``VisionTransformer`` at any input size.

    The blocks before the target block run without gradient (explicit attention, maps kept).
    The target block's ``ln_1`` output is the GradCAM activation (official target:
    ``resblocks[-1].ln_1``); from it on every block runs with gradient through the fused
    attention kernel (cheaper backward), its map computed apart without gradient.

    Args:
        visual: ``model.visual`` of an open_clip ViT.
        pixels: (B, 3, H, W) normalised images, H and W multiples of the patch size.
        pooling: "avg" (mean of patch tokens after ``ln_post``, CLIP-ES default) or "cls".
        pos_embed_fp16: round the interpolated positional table to float16
            (:func:`official_pos_embed`, the official CLIP-ES forward); False keeps float32.
        gradcam_block: the target block (Python index, -1 = the last block, the official
            target). An earlier one is the target-layer ablation of notebook 19;
            ``last_block_input`` is then the stream entering that block.
        n_attn: keep the attention maps of the last ``n_attn`` blocks only (CAA reads the
            last 8); the blocks before them and before the target block run through the
            fused kernel without a map. None: every block's map (the default).
        keep_block_tokens: False drops the per-block streams (``block_tokens`` then holds
            only the last block's output), for batches whose callers never read them.
        out_proj_fp16: every block's attention out-projection in float16, forward and
            backward (``clip.attention``, the official WeCLIP numerics); False: float32.

    Returns:
        DenseOutput with L attention maps (``n_attn`` with ``n_attn``).

    Shapes:
        pixels: (B, 3, H, W); activation: (B, 1 + h*w, D); attn: (B, L, T, T);
        block_tokens: L tensors (B, T, D); image_embedding: (B, E).
    """
    if pooling not in ("avg", "cls"):
        raise ValueError(f"pooling must be 'avg' or 'cls', got {pooling!r}")
    if getattr(visual, "attn_pool", None) is not None:
        raise NotImplementedError("ViTs with attentional pooling are not supported")
    blocks = visual.transformer.resblocks
    target = target_block_index(gradcam_block, len(blocks))
    if n_attn is not None and not 1 <= n_attn <= len(blocks):
        raise ValueError(f"n_attn={n_attn} not in [1, {len(blocks)}]")
    first_map = 0 if n_attn is None else len(blocks) - n_attn  # blocks before: no map
    attns, streams = [], []
    with torch.no_grad():
        x, grid = vit_tokens(visual, pixels, pos_embed_fp16=pos_embed_fp16)
        for i, block in enumerate(blocks[:target]):
            if i >= first_map:
                x, attn = block_with_attn(block, x, out_proj_fp16=out_proj_fp16)
                attns.append(attn)
            else:
                x = block_fused(block, x, block.ln_1(x), out_proj_fp16=out_proj_fp16)
            if keep_block_tokens:
                streams.append(x)
        entering = x
        activation = blocks[target].ln_1(x).detach().requires_grad_(True)
    with torch.enable_grad():
        for i, block in enumerate(blocks[target:]):
            normed = activation if i == 0 else block.ln_1(x)
            if target + i >= first_map:
                with torch.no_grad():
                    attns.append(attention_map(block, normed))
            x = block_fused(block, x, normed, out_proj_fp16=out_proj_fp16)
            if keep_block_tokens:
                streams.append(x)
        embedding = pool_tokens(visual, x, pooling)
    return DenseOutput(
        activation=activation,
        attn=torch.stack(attns, dim=1),
        image_embedding=embedding,
        grid=grid,
        n_prefix_tokens=1,
        last_block_input=entering,
        block_tokens=(*[t.detach() for t in streams[:-1]], x) if keep_block_tokens else (x,),
    )


def _attnpool_any_size(pool: nn.Module, x: Tensor) -> Tensor:
    """open_clip ``AttentionPool2d`` with its positional table interpolated to the grid.

    Shapes:
        x: (B, C, h, w) -> (B, E).
    """
    b, c, h, w = x.shape
    x = x.flatten(2).permute(2, 0, 1)  # (h*w, B, C)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + interpolate_pos_embed(pool.positional_embedding, (h, w))[:, None, :].to(x.dtype)
    out, _ = F.multi_head_attention_forward(
        query=x[:1],
        key=x,
        value=x,
        embed_dim_to_check=c,
        num_heads=pool.num_heads,
        q_proj_weight=pool.q_proj.weight,
        k_proj_weight=pool.k_proj.weight,
        v_proj_weight=pool.v_proj.weight,
        in_proj_weight=None,
        in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
        bias_k=None,
        bias_v=None,
        add_zero_attn=False,
        dropout_p=0.0,
        out_proj_weight=pool.c_proj.weight,
        out_proj_bias=pool.c_proj.bias,
        use_separate_proj_weight=True,
        training=False,
        need_weights=False,
    )
    return out[0]


def resnet_dense_forward(visual: nn.Module, pixels: Tensor) -> DenseOutput:
    """Run an open_clip ``ModifiedResNet`` (RN50, ...) at any input size.

    Standard GradCAM target: the output of the last stage (``layer4``), as in Table S1.

    Args:
        visual: ``model.visual`` of an open_clip ResNet.
        pixels: (B, 3, H, W) normalised images.

    Returns:
        DenseOutput with ``attn=None`` and T = h*w tokens of width 2048 (RN50).

    Shapes:
        pixels: (B, 3, H, W); activation: (B, h*w, C); image_embedding: (B, E).
    """
    with torch.no_grad():
        x = visual.stem(pixels)
        x = visual.layer3(visual.layer2(visual.layer1(x)))
        feat = visual.layer4(x)
    b, c, h, w = feat.shape
    activation = feat.flatten(2).transpose(1, 2).detach().requires_grad_(True)  # (B, h*w, C)
    with torch.enable_grad():
        fmap = activation.transpose(1, 2).reshape(b, c, h, w)
        embedding = _attnpool_any_size(visual.attnpool, fmap)
    return DenseOutput(
        activation=activation, attn=None, image_embedding=embedding, grid=(h, w), n_prefix_tokens=0
    )


def dense_forward(
    clip: ClipModel,
    pixels: Tensor,
    *,
    pooling: Pooling = "avg",
    pos_embed_fp16: bool = False,
    gradcam_block: int = -1,  # official: the last block's ln_1
    n_attn: int | None = None,
    keep_block_tokens: bool = True,
) -> DenseOutput:
    """Dispatch to the ViT or ResNet dense forward. ``pixels``: (B, 3, H, W).

    ``pos_embed_fp16`` (ViT only): the official CLIP-ES float16 positional table
    (:func:`official_pos_embed`). ``gradcam_block`` (ViT only): the block whose ``ln_1`` is
    the GradCAM target. ``n_attn``, ``keep_block_tokens`` (ViT only): as in
    :func:`vit_dense_forward` (maps of the last ``n_attn`` blocks; drop the block streams).

    Shapes:
        pixels: (B, 3, H, W); see :class:`DenseOutput` for the outputs.
    """
    pixels = pixels.to(clip.device)
    if clip.is_vit:
        return vit_dense_forward(
            clip.model.visual,
            pixels,
            pooling=pooling,
            pos_embed_fp16=pos_embed_fp16,
            gradcam_block=gradcam_block,
            n_attn=n_attn,
            keep_block_tokens=keep_block_tokens,
        )
    if gradcam_block != -1:
        raise ValueError("gradcam_block is a ViT option; a ResNet's target is layer4")
    return resnet_dense_forward(clip.model.visual, pixels)


@torch.no_grad()
def vit_forward_floor(visual: nn.Module, pixels: Tensor) -> Tensor:
    """Plain no-grad forward of the image tower at any size (no attention maps kept).

    The benchmark's floor: what any method must at least spend on one image.

    Shapes:
        pixels: (B, 3, H, W) -> (B, E) class-token embedding.
    """
    x = visual.transformer(vit_tokens(visual, pixels)[0])
    return visual.ln_post(x[:, 0]) @ visual.proj
