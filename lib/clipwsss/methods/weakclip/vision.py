"""The frozen CLIP image tower as WeakCLIP sees it, and the pyramid adapter.

Paper: WeakCLIP Section 3.3 ("Pyramid Adapter"): four ViT feature maps become a pyramid at
1/4, 1/8, 1/16 and 1/32 of the input. Official code: ``models.py:CLIPVisionTransformer``
L469-607 (DenseCLIP's tower with an adapter ``fpn1..4``).

The tower runs through the shared :func:`clipwsss.clip.dense.vit_dense_forward`. Two official
details are handled by :class:`DenseClipVisual`, a thin view of open_clip's ``visual`` that
the shared forward accepts:

* the positional table is resized once to the training grid (512 / 16 = 32: 1025 rows) with
  :func:`clipwsss.clip.dense.interpolate_pos_embed`, as the official weights loader does, and
  interpolated again to other grids in every forward (multi-scale inference);
* ``double_class_embedding`` (DenseCLIP quirk): the official tower adds ``class_embedding``
  both as the class token and to its positional row, so the class token is
  2 * class_embedding + pos_0. The view returns 2 * class_embedding to the shared forward.

* stochastic depth (``WeakClipConfig.drop_path``, official 0.1): rates linspace(0, 0.1, L)
  on both residual branches of every block, active in training mode only. The official
  blocks run sequence-first, so timm's "per sample" mask falls on token positions, each
  shared by the batch (:class:`DropPath`).

Not reproduced: the official tower stays trainable at lr <= 1e-6 (see ``train.py``); here
its weights are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from clipwsss.clip.dense import interpolate_pos_embed, vit_dense_forward


class DropPath(nn.Module):
    """Stochastic depth on a batch-first residual branch (timm ``drop_path``).

    In training mode each mask entry keeps the branch with probability 1 - p, scaled by
    1 / (1 - p). ``per_token`` draws one entry per token position, shared by the batch (what
    timm's per-sample draw does on the official (L, B, D) tensors); otherwise one per image.

    Shapes:
        forward(x): (B, T, D) -> (B, T, D).
    """

    def __init__(self, p: float, *, per_token: bool) -> None:
        super().__init__()
        self.p, self.per_token = p, per_token

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (1, x.shape[1], 1) if self.per_token else (x.shape[0], 1, 1)
        mask = (keep + torch.rand(shape, dtype=x.dtype, device=x.device)).floor_()
        return x.div(keep) * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, per_token={self.per_token}"


class _DropPathBlock(nn.Module):
    """An open_clip block's modules (shared) with :class:`DropPath` as both residual scales,
    in the attribute names :func:`vit_dense_forward` reads."""

    def __init__(self, block: nn.Module, drop: DropPath) -> None:
        super().__init__()
        if not (isinstance(block.ls_1, nn.Identity) and isinstance(block.ls_2, nn.Identity)):
            raise ValueError("drop path is not supported on a tower with LayerScale")
        self.ln_1, self.attn, self.ln_2, self.mlp = block.ln_1, block.attn, block.ln_2, block.mlp
        self.ls_1 = self.ls_2 = drop


class _Blocks(nn.Module):
    """A ``transformer`` exposing ``resblocks`` (what :func:`vit_dense_forward` iterates)."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(blocks)


def drop_path_rates(rate: float, n_blocks: int) -> list[float]:
    """Official stochastic-depth decay rule: ``torch.linspace(0, rate, n_blocks)``."""
    return [x.item() for x in torch.linspace(0, rate, n_blocks)]


class DenseClipVisual(nn.Module):
    """open_clip ``VisionTransformer`` modules with a resized positional table (frozen).

    Exposes what :func:`vit_dense_forward` reads: ``conv1``, ``class_embedding``,
    ``positional_embedding``, ``ln_pre``, ``transformer``, ``ln_post``, ``proj``.

    Shapes:
        positional_embedding: (1 + g*g, D) with g = input_resolution / patch.
    """

    attn_pool = None

    def __init__(
        self,
        visual: nn.Module,
        *,
        input_resolution: int,
        double_class: bool,
        drop_path: float = 0.0,
        drop_path_per_token: bool = True,
    ) -> None:
        super().__init__()
        patch = visual.conv1.kernel_size[0]
        if input_resolution % patch:
            raise ValueError(f"input_resolution {input_resolution} is not a multiple of {patch}")
        g = input_resolution // patch
        self.conv1, self.ln_pre = visual.conv1, visual.ln_pre
        self.ln_post, self.proj = visual.ln_post, visual.proj
        self.transformer = visual.transformer
        if drop_path > 0:  # the shared open_clip blocks stay untouched
            blocks = visual.transformer.resblocks
            rates = drop_path_rates(drop_path, len(blocks))
            self.transformer = _Blocks(
                [
                    _DropPathBlock(b, DropPath(r, per_token=drop_path_per_token)) if r > 0 else b
                    for b, r in zip(blocks, rates, strict=True)
                ]
            )
        self.cls_token = visual.class_embedding  # shared Parameter, frozen
        table = interpolate_pos_embed(visual.positional_embedding.detach(), (g, g))
        self.positional_embedding = nn.Parameter(table.clone(), requires_grad=False)
        self.double_class = double_class

    def train(self, mode: bool = True) -> DenseClipVisual:
        """The frozen tower stays in eval mode; only its :class:`DropPath` modules follow
        ``mode`` (the official tower trains with stochastic depth)."""
        super().train(False)
        for m in self.modules():
            if isinstance(m, DropPath):
                m.train(mode)
        return self

    @property
    def class_embedding(self) -> Tensor:
        # models.py L573 + L577: class token = class_embedding + (pos_0 + class_embedding)
        return self.cls_token * 2 if self.double_class else self.cls_token

    @property
    def width(self) -> int:
        return self.conv1.out_channels

    @property
    def patch_size(self) -> int:
        return self.conv1.kernel_size[0]


@dataclass(frozen=True)
class VisualFeatures:
    """What the frozen tower gives WeakCLIP for a batch.

    Attributes:
        maps: four (B, D, h, w) patch-token maps of the feature blocks (detached).
        global_embedding: (B, E) class token after ``ln_post`` and ``proj``.
        pixel_embedding: (B, E, h, w) patch tokens after ``ln_post`` and ``proj`` (f_p).
    """

    maps: tuple[Tensor, ...]
    global_embedding: Tensor
    pixel_embedding: Tensor


@torch.no_grad()
def visual_features(
    visual: DenseClipVisual, pixels: Tensor, blocks: tuple[int, ...]
) -> VisualFeatures:
    """Block features and projected embeddings of the frozen tower (no gradients).

    Args:
        visual: the tower view.
        pixels: normalised images, H and W multiples of the patch size.
        blocks: 1-based block indices of the four adapter inputs.

    Returns:
        The features (official ``CLIPVisionTransformer.forward`` outputs).

    Shapes:
        pixels: (B, 3, H, W); maps: (B, D, H/p, W/p); pixel_embedding: (B, E, H/p, W/p).

    Reference: WeakCLIP Section 3.3; DenseCLIP ``CLIPVisionTransformer``.
    """
    out = vit_dense_forward(visual, pixels)
    h, w = out.grid
    n_blocks = len(out.block_tokens)
    if not all(1 <= b <= n_blocks for b in blocks):
        raise ValueError(f"feature_blocks {blocks} outside 1..{n_blocks} of this CLIP")
    maps = tuple(
        out.block_tokens[b - 1][:, 1:].transpose(1, 2).reshape(pixels.shape[0], -1, h, w).detach()
        for b in blocks
    )
    tokens = visual.ln_post(out.block_tokens[-1].detach()) @ visual.proj  # (B, 1 + hw, E)
    pixel = tokens[:, 1:].transpose(1, 2).reshape(pixels.shape[0], -1, h, w)
    return VisualFeatures(maps=maps, global_embedding=tokens[:, 0], pixel_embedding=pixel)


class PyramidAdapter(nn.Module):
    """Four ViT maps at stride p -> a pyramid at strides p/4, p/2, p, 2p (official fpn1..4).

    fpn1 = GN, ConvT 2x2/2, BN, GELU, ConvT 2x2/2; fpn2 = GN, ConvT 2x2/2; fpn3 = GN;
    fpn4 = GN, MaxPool 2. All keep D channels (768: 7,087,872 parameters). GN has 1 group.
    BN stands for the official SyncBN (``accelerate`` can convert it for multi-GPU runs).

    Shapes:
        forward(maps): four (B, D, h, w) -> (B, D, 4h, 4w), (B, D, 2h, 2w), (B, D, h, w),
        (B, D, h/2, w/2).

    Reference: WeakCLIP Section 3.3, Fig. 2; ``models.py`` L520-545.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        gn = lambda: nn.GroupNorm(1, width)  # noqa: E731
        up = lambda: nn.ConvTranspose2d(width, width, kernel_size=2, stride=2)  # noqa: E731
        self.fpn1 = nn.Sequential(gn(), up(), nn.BatchNorm2d(width), nn.GELU(), up())
        self.fpn2 = nn.Sequential(gn(), up())
        self.fpn3 = nn.Sequential(gn())
        self.fpn4 = nn.Sequential(gn(), nn.MaxPool2d(kernel_size=2, stride=2))

    def forward(self, maps: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        layers = (self.fpn1, self.fpn2, self.fpn3, self.fpn4)
        return tuple(layer(x) for layer, x in zip(layers, maps, strict=True))


def resize_pyramid(maps: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The adapter switched off (``WeakClipConfig.use_adapter`` False): the four block maps
    at the strides of :class:`PyramidAdapter`'s outputs, without learned layers.

    Bilinear x4 and x2 (``align_corners=False``) stand for fpn1 and fpn2's transposed
    convolutions, the third map stays as it is, the fourth is max-pooled 2 x 2 as in fpn4.

    Shapes:
        maps: four (B, D, h, w) -> (B, D, 4h, 4w), (B, D, 2h, 2w), (B, D, h, w), (B, D, h/2, w/2).
    """
    first, second, third, fourth = maps
    return (
        F.interpolate(first, scale_factor=4, mode="bilinear", align_corners=False),
        F.interpolate(second, scale_factor=2, mode="bilinear", align_corners=False),
        third,
        F.max_pool2d(fourth, kernel_size=2, stride=2),
    )
