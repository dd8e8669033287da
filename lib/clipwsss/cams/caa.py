"""Class-aware attention-based affinity (CAA): CLIP-ES Section 3.3, Eq. 6-7, Table 2.

The attention maps of the CLIP image encoder are turned into a symmetric, (nearly) doubly
stochastic affinity ``A`` (Eq. 6). Each class CAM is then propagated with ``A^t``, restricted
by box masks from thresholding that class's CAM (Eq. 7).

Paper, Eq. 6:  A = (D + D^T) / 2,  D = Sinkhorn(W_attn)
Paper, Eq. 7:  M_c^aff = B_c ⊙ A^t · vec(M_c)

Our commentary, from the official code (``generate_cams_voc12.py`` and ``utils.py``):

* The attention is the head-averaged map of the last 8 of the 12 blocks, cls token dropped.
* Sinkhorn is 3 rounds of (column-normalise, then row-normalise); ``t = 2`` (one ``T @ T``).
* [paper≠code] The box mask ``B_c`` multiplies the *columns* of ``A^t`` (source pixels), not
  the output: targets outside the box still receive mass. ``mask_targets=True`` gives the
  reading "output restricted to the boxes".
* The refined CAM is min-max normalised per class at patch resolution (the caller resizes).
* The official code recomputes Sinkhorn once per class; here it runs once per image.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from clipwsss.cams.labels import min_max_normalize

Box = tuple[int, int, int, int]


def sinkhorn(attn: Tensor, *, n_iters: int = 3) -> Tensor:
    """Alternate column and row normalisation towards a doubly stochastic matrix (Eq. 6).

    Each round first divides every column by its sum (``dim=0``), then every row by its sum
    (``dim=1``), the official order. After the last round rows sum to exactly 1 and columns
    only approximately.

    Args:
        attn: Non-negative attention (affinity) matrix.
        n_iters: Rounds of (column, row) normalisation.
            # CLIP-ES generate_cams_voc12.py: 1 round + ``range(2)`` = 3

    Returns:
        The normalised matrix, same dtype as ``attn``.

    Shapes:
        attn: (N, N) or a batch (..., N, N); output: the same.

    Reference: CLIP-ES Eq. 6; Sinkhorn (1964).
    """
    if attn.ndim < 2 or attn.shape[-2] != attn.shape[-1]:
        raise ValueError(f"attn must be square (N, N), got {tuple(attn.shape)}")
    d = attn
    for _ in range(n_iters):
        d = d / d.sum(dim=-2, keepdim=True)  # columns sum to 1
        d = d / d.sum(dim=-1, keepdim=True)  # rows sum to 1
    return d


def attention_affinity(
    attn_maps: Tensor,
    *,
    n_layers: int = 8,  # CLIP-ES generate_cams_voc12.py: ``[-8:]`` = blocks 5-12 of ViT-B/16
    n_iters: int = 3,  # CLIP-ES: 3 Sinkhorn rounds
    power: int = 2,  # CLIP-ES: one ``T @ T``, i.e. t = 2 in Eq. 7 (the paper leaves t open)
    symmetrize: bool = True,  # CLIP-ES Eq. 6: (D + D^T) / 2; False keeps D (ablation)
) -> Tensor:
    """Affinity ``A^t`` from the attention maps of every block (Eq. 6 and the power of Eq. 7).

    Steps: keep the last ``n_layers`` maps, drop the cls row and column, average over layers,
    Sinkhorn, symmetrise, raise to ``power``. Computed in float32 (the official code averages
    the fp16 maps in fp16 and casts to float32 afterwards, a rounding-level difference).

    Args:
        attn_maps: Head-averaged attention of every block, cls token at index 0, rows are
            queries (softmax over keys), as returned by ``nn.MultiheadAttention``.
        n_layers: How many of the last blocks to average.
        n_iters: Sinkhorn rounds.
        power: Matrix power ``t`` (``power=1`` gives the symmetrised ``A`` itself).
        symmetrize: Average ``D`` with its transpose (Eq. 6); False is the ablation without
            it (``n_iters=0`` is the one without Sinkhorn).

    Returns:
        The float32 affinity ``A^t``; symmetric when ``symmetrize``.

    Shapes:
        attn_maps: (L, 1 + N, 1 + N) with N = h * w patches, or a batch (B, L, 1 + N, 1 + N)
        (one affinity per image, all at once); output: (N, N) or (B, N, N).

    Reference: CLIP-ES Section 3.3, Eq. 6-7.
    """
    if attn_maps.ndim not in (3, 4) or attn_maps.shape[-2] != attn_maps.shape[-1]:
        raise ValueError(f"attn_maps must be (L, 1+N, 1+N), got {tuple(attn_maps.shape)}")
    if not 1 <= n_layers <= attn_maps.shape[-3]:
        raise ValueError(f"n_layers={n_layers} not in [1, L={attn_maps.shape[-3]}]")
    if power < 1:
        raise ValueError(f"power must be >= 1, got {power}")
    attn = attn_maps[..., -n_layers:, 1:, 1:].float().mean(dim=-3)
    return symmetric_affinity(attn, n_iters=n_iters, power=power, symmetrize=symmetrize)


def symmetric_affinity(
    attn: Tensor, *, n_iters: int = 3, power: int = 2, symmetrize: bool = True
) -> Tensor:
    """Sinkhorn, symmetrise, matrix power: Eq. 6 and the power of Eq. 7 on one matrix.

    The part of :func:`attention_affinity` after the layer average; WeCLIP's RFM applies it
    to its own refined attention. ``n_iters=0`` skips Sinkhorn and ``symmetrize=False`` the
    transpose average (the ablations of notebook 19; the defaults are the official ones).

    Shapes:
        attn: (N, N) non-negative, or a batch (..., N, N); output: the same, float32,
        symmetric.

    Reference: CLIP-ES Eq. 6-7; WeCLIP Section 3.3 (RFM).
    """
    if power < 1:
        raise ValueError(f"power must be >= 1, got {power}")
    d = sinkhorn(attn.float(), n_iters=n_iters)
    a = (d + d.mT) / 2 if symmetrize else d  # Eq. 6: A = (D + D^T) / 2
    return torch.linalg.matrix_power(a, power)  # Eq. 7: A^t


def cam_boxes(
    cam: Tensor,
    *,
    threshold: float = 0.4,  # CLIP-ES supp. C (lambda): 0.4 for VOC, 0.7 for COCO
    official: bool = True,
) -> list[Box]:
    """Bounding boxes of the regions where a CAM exceeds ``threshold * max`` (Section 3.3).

    Boxes are half-open ``(x0, y0, x1, y1)``: they cover rows ``y0 .. y1-1`` and columns
    ``x0 .. x1-1``, exactly the official ``mask[y0:y1, x0:x1]`` fill.

    * ``official=True`` (``utils.py:scoremap2bbox``): the CAM is quantised to uint8
      (``cam * 255``, truncated), binarised with ``> int(threshold * max)`` (cv2
      THRESH_BINARY), and every contour of ``cv2.findContours(RETR_TREE,
      CHAIN_APPROX_SIMPLE)`` gives a box. [paper≠code] The right/bottom end is clipped to
      ``W - 1`` / ``H - 1`` while the fill is exclusive, so a box touching the right or
      bottom border loses its last column or row. No region gives no box (the official
      code returns a ``[0, 0, 0, 0]`` box that fills nothing).
    * ``official=False``: the float CAM is binarised with ``> threshold * max`` and each
      8-connected component gives its full bounding box, border pixels included.

    Args:
        cam: One class CAM with values in [0, 1] (values outside are clipped).
        threshold: lambda, relative to the CAM's maximum.
        official: Reproduce the official quantisation and border clipping.

    Returns:
        A list of boxes, possibly empty.

    Shapes:
        cam: (h, w).

    Reference: CLIP-ES Section 3.3 (box mask B_c) and supplementary C (lambda).
    """
    if cam.ndim != 2:
        raise ValueError(f"cam must be (h, w), got {tuple(cam.shape)}")
    h, w = cam.shape
    cam_np = cam.detach().float().clamp(0, 1).cpu().numpy()
    if official:
        quant = (cam_np * 255).astype(np.uint8)  # truncation: a max of 0.999... gives 254
        binary = quant > int(threshold * quant.max())  # == cv2.threshold THRESH_BINARY
        contours = cv2.findContours(
            binary.astype(np.uint8) * 255, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE
        )[-2]  # [-2]: contours, whatever the OpenCV major version
        boxes = []
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            boxes.append((x, y, min(x + bw, w - 1), min(y + bh, h - 1)))  # border quirk
        return boxes
    binary = cam_np > threshold * cam_np.max()
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    boxes = []
    for x, y, bw, bh, _area in stats[1:].tolist():  # row 0 is the background component
        boxes.append((x, y, x + bw, y + bh))
    return boxes


def box_mask(
    cam: Tensor,
    *,
    threshold: float = 0.4,  # CLIP-ES supp. C (lambda): 0.4 for VOC, 0.7 for COCO
    official: bool = True,
) -> Tensor:
    """Union of the boxes of :func:`cam_boxes` as a boolean mask ``B_c`` (Eq. 7).

    Args:
        cam: One class CAM with values in [0, 1].
        threshold: lambda, relative to the CAM's maximum.
        official: Reproduce the official quantisation and border off-by-one.

    Returns:
        Boolean mask, True inside any box; all False when the CAM has no region.

    Shapes:
        cam: (h, w); output: (h, w) bool, on ``cam``'s device.

    Reference: CLIP-ES Section 3.3, Eq. 7.
    """
    mask = torch.zeros(cam.shape, dtype=torch.bool, device=cam.device)
    for x0, y0, x1, y1 in cam_boxes(cam, threshold=threshold, official=official):
        mask[y0:y1, x0:x1] = True
    return mask


def box_masks(
    cams: Tensor,
    *,
    threshold: float = 0.4,  # CLIP-ES supp. C (lambda): 0.4 for VOC, 0.7 for COCO
    official: bool = True,
) -> Tensor:
    """:func:`box_mask` for every class of an image.

    Args:
        cams: Class CAMs with values in [0, 1].
        threshold: lambda, relative to each CAM's own maximum.
        official: Reproduce the official quantisation and border off-by-one.

    Returns:
        Boolean box masks.

    Shapes:
        cams: (K, h, w); output: (K, h, w) bool.

    Reference: CLIP-ES Section 3.3, Eq. 7.
    """
    if cams.ndim != 3:
        raise ValueError(f"cams must be (K, h, w), got {tuple(cams.shape)}")
    if cams.shape[0] == 0:
        return torch.zeros(cams.shape, dtype=torch.bool, device=cams.device)
    return torch.stack([box_mask(c, threshold=threshold, official=official) for c in cams])


def refine_cams(
    cams: Tensor,
    affinity: Tensor,
    box_masks: Tensor | None,
    *,
    mask_targets: bool = False,  # official: False (the mask only selects source pixels)
    normalize: bool = True,  # official: min-max per class after refinement
) -> Tensor:
    """Propagate every class CAM with the affinity inside its box mask (Eq. 7).

    Official (``mask_targets=False``): ``refined_c = (A ⊙ 1 B_c^T) vec(M_c)``; the (1, N)
    mask broadcasts over the *columns* of ``A``, so it equals ``A (B_c ⊙ vec(M_c))``: only
    source pixels inside the boxes contribute, but every target pixel receives mass.
    ``mask_targets=True`` also multiplies the output by ``B_c``, so the refined CAM is
    exactly zero outside the boxes (the paper's ``B_c ⊙ A^t vec(M_c)`` read literally).
    ``box_masks=None`` is vanilla attention refinement without boxes ("MHSA", Table 2;
    that ablation is not in the official code, so which attention it used is our reading).

    Args:
        cams: Class CAMs at patch resolution, values in [0, 1].
        affinity: ``A^t`` from :func:`attention_affinity`, N = h * w, row-major pixels.
        box_masks: Boolean box masks from :func:`box_masks`, or None for no boxes.
        mask_targets: Zero the output outside the boxes (corrected reading).
        normalize: Min-max normalise each refined class (:func:`min_max_normalize`).

    Returns:
        Refined float32 CAMs.

    Shapes:
        cams: (K, h, w); affinity: (N, N); box_masks: (K, h, w); output: (K, h, w).

    Reference: CLIP-ES Section 3.3, Eq. 7; Table 2 (MHSA vs CAA).
    """
    k, h, w = cams.shape
    n = h * w
    if affinity.shape != (n, n):
        raise ValueError(f"affinity must be ({n}, {n}) for {h}x{w} CAMs, got {affinity.shape}")
    if box_masks is not None and box_masks.shape != cams.shape:
        raise ValueError(f"box_masks {tuple(box_masks.shape)} != cams {tuple(cams.shape)}")
    src = cams.float().reshape(k, n)
    if box_masks is not None:
        src = src * box_masks.reshape(k, n)  # B_c on the columns of A == on the sources
    # All classes in one matmul: refined_c = A @ src_c  <=>  refined = src @ A^T.
    refined = src @ affinity.float().T
    if box_masks is not None and mask_targets:
        refined = refined * box_masks.reshape(k, n)  # B_c on the targets (output)
    refined = refined.reshape(k, h, w)
    if normalize:
        refined = min_max_normalize(refined)
        if box_masks is not None and mask_targets:
            refined = refined * box_masks  # keep exact zeros even if the minimum is > 0
    return refined


def refine_with_affinity(
    cams: Tensor,
    affinity: Tensor,
    *,
    mode: str = "caa",  # Table 2: "caa" (box masks) or "mhsa" (vanilla attention, no boxes)
    threshold: float = 0.4,  # CLIP-ES supp. C (lambda): 0.4 for VOC, 0.7 for COCO
    official: bool = True,
) -> Tensor:
    """CAA (box masks at ``threshold``, Eq. 7) or vanilla MHSA refinement with a given affinity.

    The one refinement step: :class:`~clipwsss.methods.clip_es.ClipES`, the sweeps and the
    timings call it with the affinity of :func:`attention_affinity`.

    Args:
        cams: Class CAMs at patch resolution, values in [0, 1].
        affinity: ``A^t`` over the patches.
        mode: "caa" or "mhsa".
        threshold: Box threshold lambda (only for "caa").
        official: Official boxes (uint8 CAM, border off-by-one, mask on the source pixels);
            False: float-CAM boxes and output masked to the boxes.

    Returns:
        Refined CAMs in [0, 1), float32.

    Shapes:
        cams: (K, h, w); affinity: (N, N), N = h * w; output: (K, h, w).

    Reference: CLIP-ES Section 3.3, Eq. 7; Table 2 (MHSA vs CAA).
    """
    if mode not in ("caa", "mhsa"):
        raise ValueError(f"mode must be 'caa' or 'mhsa', got {mode!r}")
    masks = box_masks(cams, threshold=threshold, official=official) if mode == "caa" else None
    return refine_cams(cams, affinity, masks, mask_targets=not official)


def caa_refine(
    cams: Tensor,
    attn_maps: Tensor,
    *,
    threshold: float = 0.4,  # CLIP-ES supp. C (lambda): 0.4 for VOC, 0.7 for COCO
    n_layers: int = 8,  # CLIP-ES: last 8 blocks
    n_iters: int = 3,  # CLIP-ES: 3 Sinkhorn rounds
    power: int = 2,  # CLIP-ES: t = 2
    official: bool = True,
) -> Tensor:
    """Full CAA for one image: affinity, box masks, refinement and normalisation.

    ``official=False`` switches both deviations at once: float-CAM connected-component
    boxes without the border off-by-one, and output masked to the boxes.

    Args:
        cams: Class CAMs at patch resolution, values in [0, 1].
        attn_maps: Head-averaged attention of every block, cls token at index 0.
        threshold: Box threshold lambda.
        n_layers: How many of the last blocks to average.
        n_iters: Sinkhorn rounds.
        power: Matrix power t.
        official: Reproduce the official code.

    Returns:
        Refined CAMs in [0, 1), float32.

    Shapes:
        cams: (K, h, w); attn_maps: (L, 1 + h*w, 1 + h*w); output: (K, h, w).

    Reference: CLIP-ES Section 3.3, Eq. 6-7.
    """
    affinity = attention_affinity(attn_maps, n_layers=n_layers, n_iters=n_iters, power=power)
    return refine_with_affinity(cams, affinity, threshold=threshold, official=official)
