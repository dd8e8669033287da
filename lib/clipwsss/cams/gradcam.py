"""Softmax-GradCAM over [image classes + background words] (CLIP-ES Eq. 1-4, Section 3.1).

All K target classes come from one forward of the last block and one batched backward
(``torch.autograd.grad(..., is_grads_batched=True)``); the official code runs one
forward/backward of the last block per class (``gradcam_per_class_loop`` reproduces that, for
tests and the benchmark).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.cams.labels import min_max_normalize
from clipwsss.clip.dense import DenseOutput, block_fused, pool_tokens
from clipwsss.perturb import perturb

TextSet = Literal["image", "dataset"]


@dataclass(frozen=True)
class TextSetup:
    """The text embeddings that compete in the softmax and which rows are the targets.

    Attributes:
        features: (R, E) L2-normalised rows: foreground rows first, then background words.
        targets: (K,) row index of each target class, in label order.
        n_foreground: number of foreground rows (the rest are background words).
    """

    features: Tensor
    targets: Tensor
    n_foreground: int


def build_text_setup(
    class_features: Tensor,
    background_features: Tensor,
    labels: Sequence[int],
    *,
    text_set: TextSet = "image",
) -> TextSetup:
    """Arrange the text rows as the official code does.

    Args:
        class_features: (C, E) one normalised embedding per dataset class.
        background_features: (M, E) background words; (0, E) for "dataset classes only".
        labels: the image's 0-based class ids (K >= 1), in label order.
        text_set: "image" (official: only the image's K classes, then the background words)
            or "dataset" (all C classes, then the background words; Table 6).

    Raises:
        ValueError: empty or repeated labels; IndexError: a label outside [0, C).

    Shapes:
        class_features: (C, E); background_features: (M, E); labels: (K,);
        rows of the returned setup: (K + ..., E) text features.
    """
    if len(labels) == 0:
        raise ValueError("empty label set: GradCAM needs at least one image-level label")
    if len({int(c) for c in labels}) != len(labels):  # a repeated row would split the softmax
        raise ValueError(f"duplicate class ids in {list(labels)}")
    n_classes = class_features.shape[0]
    bad = [c for c in labels if not 0 <= int(c) < n_classes]
    if bad:
        raise IndexError(f"class ids {bad} outside [0, {n_classes})")
    label_idx = torch.as_tensor([int(c) for c in labels], device=class_features.device)
    if text_set == "image":
        fg = class_features[label_idx]
        targets = torch.arange(len(labels), device=fg.device)
    elif text_set == "dataset":
        fg, targets = class_features, label_idx
    else:
        raise ValueError(f"text_set must be 'image' or 'dataset', got {text_set!r}")
    features = torch.cat([fg, background_features.to(fg)], dim=0)
    return TextSetup(features=features, targets=targets, n_foreground=fg.shape[0])


def target_scores(
    image_embedding: Tensor, text: TextSetup, *, logit_scale: float, softmax: bool = True
) -> Tensor:
    """Eq. 3: softmax over all text rows of the scaled cosine logits, read at the targets.

    Shapes:
        image_embedding: (1, E) unnormalised; returns (K,). With ``softmax=False`` the raw
        logits Y^c of the targets (plain GradCAM, Eq. 1).
    """
    logits = logit_scale * F.normalize(image_embedding, dim=-1) @ text.features.T  # (1, R)
    scores = logits.softmax(dim=-1) if softmax else logits
    return scores[0, text.targets]


def gradcam_from_grads(activation: Tensor, grads: Tensor, grid: tuple[int, int]) -> Tensor:
    """Eq. 1-2: channel weights = spatial mean of the gradient; CAM = ReLU(sum_k w_k A_k).

    Min-max scaled twice, as the official code: its grad-cam helper scales each target
    layer's CAM, then the mean over target layers (one layer here) again, both at patch
    resolution. The second pass matters when the CAM's range is comparable to the 1e-7 eps
    (small gradients: on the fidelity kit one CAM peaks at 0.016 after one pass, 1 after two).

    Shapes:
        activation: (N, D) patch tokens; grads: (K, N, D); returns (K, h, w), min-max scaled.
    """
    weights = grads.mean(dim=1)  # Eq. 1: w_k^c = 1/Z sum_ij dY/dA_ij^k   (K, D)
    cams = F.relu(weights @ activation.T)  # Eq. 2: ReLU(sum_k w_k^c A^k)   (K, N)
    cams = perturb(cams, "cams")  # identity unless CLIPWSSS_PERTURB is set
    return min_max_normalize(min_max_normalize(cams.view(-1, *grid)))  # per layer, then mean


def softmax_gradcam(
    dense: DenseOutput,
    text: TextSetup,
    *,
    logit_scale: float,
    softmax: bool = True,
    retain_graph: bool = False,
    return_scores: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Softmax-GradCAM for all target classes of one image at once (Eq. 1-4).

    Args:
        dense: output of ``dense_forward`` for one image (B = 1).
        text: rows from ``build_text_setup``.
        logit_scale: the softmax temperature, ``model.logit_scale.exp()`` (about 100).
        softmax: False gives plain logit GradCAM (the "w/o softmax" ablation).
        retain_graph: keep the graph for another call on the same ``dense`` (CAM fusion).
        return_scores: also return the (K,) target scores (for sharpness, Eq. 5).

    Returns:
        (K, h, w) CAMs at patch resolution, each min-max scaled to [0, 1]; with
        ``return_scores`` also the (K,) scores.

    Shapes:
        dense.activation: (1, T, D); text features: (R, E); output: (K, h, w)
        (and (K,) scores).
    """
    if dense.activation.shape[0] != 1:
        raise ValueError("softmax_gradcam takes one image (B = 1)")
    scores = target_scores(dense.image_embedding, text, logit_scale=logit_scale, softmax=softmax)
    k = scores.shape[0]
    eye = torch.eye(k, dtype=scores.dtype, device=scores.device)
    # One batched backward: row i of `eye` selects d s_i / d A (Eq. 4 via autograd).
    (grads,) = torch.autograd.grad(
        scores,
        dense.activation,
        grad_outputs=eye,
        is_grads_batched=True,
        retain_graph=retain_graph,
    )
    p = dense.n_prefix_tokens
    cams = gradcam_from_grads(dense.activation[0, p:].detach(), grads[:, 0, p:], dense.grid)
    return (cams, scores.detach()) if return_scores else cams


def softmax_gradcam_batch(
    dense: DenseOutput,
    texts: Sequence[TextSetup],
    *,
    logit_scale: float,
    softmax: bool = True,
    retain_graph: bool = False,
) -> list[tuple[Tensor, Tensor]]:
    """Softmax-GradCAM for every target class of every image of a batch (Eq. 1-4).

    One batched backward for the whole batch: the images do not interact in the forward, so
    the gradient of ``sum_b s_{b,j}`` (the j-th target score of each image, zero where an
    image has fewer targets) with respect to image b's activation is ``d s_{b,j} / d A_b``.
    ``max_b K_b`` backward rows give every CAM, equal to :func:`softmax_gradcam` per image.

    Args:
        dense: output of ``dense_forward`` for B images of one patch grid.
        texts: one text setup per image (its targets and competing rows).
        logit_scale, softmax, retain_graph: as in :func:`softmax_gradcam`.

    Returns:
        Per image: (K_b, h, w) CAMs in [0, 1] and (K_b,) target scores.

    Shapes:
        dense.activation: (B, T, D); texts: B setups; output: B pairs ((K_b, h, w), (K_b,)).
    """
    b = dense.activation.shape[0]
    if len(texts) != b:
        raise ValueError(f"{b} images but {len(texts)} text setups")
    # Under autocast (bf16 / fp16 forward) the scores and CAMs are still float32.
    float32 = torch.autocast(dense.activation.device.type, enabled=False)
    with float32:
        emb = F.normalize(dense.image_embedding.float(), dim=-1)  # (B, E)
        per_image = []
        for i, text in enumerate(texts):
            logits = logit_scale * emb[i : i + 1] @ text.features.float().T  # (1, R_i)
            scores = logits.softmax(dim=-1) if softmax else logits
            per_image.append(scores[0, text.targets])
        k_max = max(s.shape[0] for s in per_image)
        slots = torch.stack([F.pad(s, (0, k_max - s.shape[0])) for s in per_image]).sum(0)
    eye = torch.eye(k_max, dtype=slots.dtype, device=slots.device)
    (grads,) = torch.autograd.grad(
        slots,
        dense.activation,
        grad_outputs=eye,
        is_grads_batched=True,
        retain_graph=retain_graph,
    )  # (K_max, B, T, D)
    p = dense.n_prefix_tokens
    out = []
    with float32:
        for i, scores in enumerate(per_image):
            k = scores.shape[0]
            act = dense.activation[i, p:].detach()
            cams = gradcam_from_grads(act.float(), grads[:k, i, p:].float(), dense.grid)
            out.append((cams, scores.detach()))
    return out


def gradcam_per_class_loop(
    visual: torch.nn.Module,
    dense: DenseOutput,
    text: TextSetup,
    *,
    logit_scale: float,
    softmax: bool = True,
    pooling: str = "avg",
) -> Tensor:
    """The official schedule: one forward and backward of the last ViT block per class.

    Reference for tests and the benchmark; results equal ``softmax_gradcam``.

    Returns:
        (K, h, w) CAMs at patch resolution.

    Shapes:
        dense.activation: (1, T, D); output: (K, h, w).
    """
    if dense.last_block_input is None:
        raise ValueError("the per-class loop needs a ViT dense output")
    last = visual.transformer.resblocks[-1]
    cams = []
    for k in range(text.targets.shape[0]):
        with torch.no_grad():
            act = last.ln_1(dense.last_block_input)
        act = act.detach().requires_grad_(True)
        with torch.enable_grad():
            out = block_fused(last, dense.last_block_input, act)
            emb = pool_tokens(visual, out, pooling)
            score = target_scores(emb, text, logit_scale=logit_scale, softmax=softmax)[k]
            (grad,) = torch.autograd.grad(score, act)
        cams.append(gradcam_from_grads(act[0, 1:].detach(), grad[:, 1:], dense.grid))
    return torch.cat(cams)
