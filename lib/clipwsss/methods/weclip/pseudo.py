"""WeCLIP's online pseudo labels: CLIP-ES CAMs of a batch, CAA or RFM, PAR, argmax.

Paper: WeCLIP Section 3.3 and supplementary Section 1 (initial CAM as CLIP-ES).
Official code: ``clip/clip_tool.py:perform_single_voc_cam``, ``generate_cam_label`` and
``WeCLIP_model/model_attn_aff_voc.py:forward``.

Our commentary: the official code runs one GradCAM forward/backward of block 12 per class
and image; here every class of every image of the batch comes from one batched backward
(``torch.autograd.grad(..., is_grads_batched=True)``), which gives the same gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from clipwsss.cams.caa import attention_affinity, box_masks, refine_cams
from clipwsss.cams.gradcam import TextSetup, gradcam_from_grads, target_scores
from clipwsss.cams.labels import upsample_cams
from clipwsss.clip.dense import DenseOutput, block_fused, pool_tokens

from .config import WeClipConfig
from .par import par_refine
from .rfm import rfm_affinity


def gradcam_inputs(
    visual: nn.Module, dense: DenseOutput, target: str, *, out_proj_fp16: bool = False
) -> tuple[Tensor, Tensor]:
    """The GradCAM activation and the image embedding that depends on it.

    "ln_1": block 12's ln_1 output (``dense.activation``, the official and CLIP-ES target).
    "block_output": the raw block-11 residual stream; block 12 is re-run from it (with the
    float16 out-projection when ``out_proj_fp16``, as the dense forward).

    Shapes:
        returns activation (B, T, D) and embedding (B, E).
    """
    if target == "ln_1":
        return dense.activation, dense.image_embedding
    if target != "block_output":
        raise ValueError(f"gradcam target must be 'ln_1' or 'block_output', got {target!r}")
    last = visual.transformer.resblocks[-1]
    x = dense.last_block_input.detach().requires_grad_(True)
    with torch.enable_grad():
        tokens = block_fused(last, x, last.ln_1(x), out_proj_fp16=out_proj_fp16)
        emb = pool_tokens(visual, tokens, "avg")
    return x, emb


def batch_gradcam(
    activation: Tensor,
    embedding: Tensor,
    texts: Sequence[TextSetup],
    *,
    grid: tuple[int, int],
    logit_scale: float,
) -> list[Tensor]:
    """Softmax-GradCAM (CLIP-ES Eq. 1-4) of every target of every image, one backward.

    Args:
        activation: GradCAM target tokens, class token first, requires grad.
        embedding: image embeddings computed from ``activation``.
        texts: per image, the text rows (its classes, then the background words).
        grid: patch grid (h, w).
        logit_scale: softmax temperature (CLIP's logit_scale.exp()).

    Returns:
        Per image, (K_i, h, w) CAMs in [0, 1] at patch resolution.

    Shapes:
        activation: (B, 1 + h*w, D); embedding: (B, E).

    Reference: WeCLIP supp. Eq. 1-4; CLIP-ES Section 3.1.
    """
    if len(texts) != activation.shape[0]:
        raise ValueError(f"{len(texts)} text sets for {activation.shape[0]} images")
    scores = torch.cat(
        [
            target_scores(embedding[i : i + 1], t, logit_scale=logit_scale)
            for i, t in enumerate(texts)
        ]
    )
    eye = torch.eye(scores.shape[0], dtype=scores.dtype, device=scores.device)
    (grads,) = torch.autograd.grad(scores, activation, grad_outputs=eye, is_grads_batched=True)
    cams, start = [], 0
    for i, t in enumerate(texts):
        k = t.targets.shape[0]
        rows = grads[start : start + k, i, 1:]  # (K_i, N, D)
        cams.append(gradcam_from_grads(activation[i, 1:].detach(), rows, grid))
        start += k
    return cams


def refined_cams(
    cams: Tensor, attn_maps: Tensor, affinity: Tensor | None, config: WeClipConfig
) -> Tensor:
    """CAA (before the RFM switch, ``affinity=None``) or RFM refinement of one image's CAMs.

    Box masks from the initial CAMs (official uint8 boxes, lambda ``box_threshold``), the
    mask on the source pixels, min-max per class (``scale_cam_image``).

    Shapes:
        cams: (K, h, w); attn_maps: (L, 1 + h*w, 1 + h*w); affinity: (h*w, h*w) or None;
        returns (K, h, w) in [0, 1).

    Reference: WeCLIP Section 3.3; CLIP-ES Eq. 6-7.
    """
    cfg = config
    if affinity is None:
        n_layers = min(cfg.caa_layers, attn_maps.shape[0])
        trans = attention_affinity(
            attn_maps, n_layers=n_layers, n_iters=cfg.sinkhorn_iters, power=cfg.affinity_power
        )
    else:
        n_layers = min(cfg.rfm_layers, attn_maps.shape[0])
        trans = rfm_affinity(
            attn_maps,
            affinity,
            n_layers=n_layers,
            n_iters=cfg.sinkhorn_iters,
            power=cfg.affinity_power,
            selection=cfg.rfm_selection,
        )
    masks = box_masks(cams, threshold=cfg.box_threshold, official=True)
    return refine_cams(cams, trans, masks)


def label_from_cams(
    image: Tensor, cams: Tensor, keys: Sequence[int], config: WeClipConfig
) -> Tensor:
    """Pseudo label of one crop: resize, bg = (1 - max)^k, PAR on the image, argmax.

    Args:
        image: the crop as the model sees it (official: ImageNet-normalised).
        cams: refined CAMs at patch resolution, in [0, 1].
        keys: 0-based class id of each CAM.

    Returns:
        (H, W) long label map: 0 = background, k + 1 = class k (no ignore, as official).

    Shapes:
        image: (3, H, W); cams: (K, h, w).

    Reference: WeCLIP Section 3.3; model_attn_aff_voc.py (``_refine_cams``).
    """
    cfg = config
    cams = upsample_cams(cams, tuple(image.shape[-2:])).clamp(0, 1)
    bg = (1 - cams.max(dim=0, keepdim=True).values) ** cfg.bg_exponent
    scores = torch.cat([bg, cams])[None]
    refined = par_refine(
        image[None],
        scores,
        n_iters=cfg.par_iters,
        dilations=cfg.par_dilations,
        w1=cfg.par_w1,
        w2=cfg.par_w2,
    )
    lut = torch.tensor([0] + [int(k) + 1 for k in keys], device=image.device)
    return lut[refined[0].argmax(dim=0)]
