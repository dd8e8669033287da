"""WeakCLIP losses: balanced seed loss, CRF boundary loss, auxiliary score-map CE.

Paper: WeakCLIP Section 3.6, Eq. (6)-(7) ("WSSS loss = seeding loss + boundary loss").
Official code: ``heads.py`` L186-261 and ``dgcnutils.py`` (DSRG/SEC-style losses at
``feature_size`` 64), ``identity_head`` (the auxiliary CE).

* [paper≠code] Seed loss: the paper normalises once by sum_k |M_k|; the code normalises
  background and foreground seeds separately ("balanced") and sums the two.
* Boundary loss: KL(Q || P) with Q = dense CRF of P on the image at 64 x 64; the code clips the
  ratio Q / P to [0.05, 20]. ``dgcn_crf_operation`` clamps P at 1e-4 before the CRF unary
  (without renormalising), zooms the *normalised* image with ``scipy.ndimage.zoom(order=1)``
  (a corner-aligned grid), de-normalises it in float32 and casts it to uint8 by truncation,
  then clamps Q at 1e-4 and renormalises it in float64.
* The auxiliary CE on the score map (lambda' / 0.07, weight 0.4) is not in the paper. mmseg
  0.19 takes it per pixel and averages over *all* pixels, ignored ones counting 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from clipwsss.cams.crf import dense_crf
from clipwsss.data.pixels import IGNORE
from clipwsss.validate import check_range


@dataclass(frozen=True)
class LossConfig:
    """Which losses run, and their official constants.

    Attributes:
        seed: balanced seed loss on the seed masks.
        boundary: CRF boundary loss.
        aux: auxiliary CE on the score map.
        aux_weight: weight of the auxiliary CE (official 0.4).
        loss_size: side of the map the seed and boundary losses use (official 64).
        balanced: separate background / foreground normalisation (official) or the paper's
            single normalisation by all seed pixels.
        ratio_clip: clip range of Q / P in the boundary loss.
        crf_min_prob: the CRF unary's probabilities are clamped below at this value, without
            renormalising (official 1e-4; 0 hands P over as it is).
        aux_labelled_mean: average the auxiliary CE over the labelled pixels only (mmseg
            >= 0.20 ``avg_non_ignore``); official False averages over all pixels, ignored
            ones counting 0, so the aux weight shrinks with the share of ignored pixels.
        crf: dense-CRF settings of the boundary loss (10 iterations; Gaussian sxy 3 / compat
            3; bilateral sxy 80 / srgb 13 / compat 10).
    """

    seed: bool = field(default=True, metadata={"flag": "seed_loss"})  # --no-seed-loss: off
    boundary: bool = field(default=True, metadata={"flag": "boundary_loss"})
    aux: bool = field(default=True, metadata={"flag": "aux_loss"})
    aux_weight: float = 0.4  # identity_head loss_weight
    loss_size: int = 64  # feature_size
    balanced: bool = True  # dgcn_cal_seeding_loss
    ratio_clip: tuple[float, float] = (0.05, 20.0)  # dgcnutils: clip(Q / P, 0.05, 20)
    crf_min_prob: float = 1e-4  # dgcn_crf_operation: probs[probs < 0.0001] = 0.0001
    aux_labelled_mean: bool = False  # mmseg 0.19: reduction='none', then .mean()
    crf: tuple[tuple[str, float], ...] = (
        ("n_iters", 10),
        ("gaussian_sxy", 3),
        ("gaussian_compat", 3),
        ("bilateral_sxy", 80),
        ("bilateral_srgb", 13),
        ("bilateral_compat", 10),
    )

    def __post_init__(self) -> None:
        check_range("aux_weight", self.aux_weight, low=0)
        check_range("loss_size", self.loss_size, low=1)
        check_range("crf_min_prob", self.crf_min_prob, low=0, below=1)
        low, high = self.ratio_clip
        check_range("ratio_clip", low, above=0)
        check_range("ratio_clip", high, low=low)
        for name, value in self.crf:
            check_range(f"crf {name}", value, above=0)


def seed_probs(logits: Tensor, size: int) -> Tensor:
    """softmax(P) at ``size`` x ``size`` plus 1e-7, renormalised (official).

    Shapes:
        logits: (B, K, h, w); returns (B, K, size, size).
    """
    p = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
    p = p.softmax(dim=1) + 1e-7
    return p / p.sum(dim=1, keepdim=True)


def resize_seeds(seeds: Tensor, size: int) -> Tensor:
    """Nearest-neighbour resize of seed label maps (255 kept as ignore).

    Shapes:
        seeds: (B, H, W) int; returns (B, size, size) int64.
    """
    out = F.interpolate(seeds[:, None].float(), size=(size, size), mode="nearest")
    return out[:, 0].long()


def seed_loss(probs: Tensor, seeds: Tensor, *, balanced: bool = True) -> Tensor:
    """Seed loss, Eq. (6): -log P_{u,k} over seed pixels u of class k, batch mean.

    balanced (official): -sum_bg log p_0 / |bg| - sum_fg log p_k / |fg| per image; an empty
    set contributes 0. Otherwise the paper's -sum_k sum_{u in M_k} log p_k / sum_k |M_k|.

    Args:
        probs: class probabilities (rows sum to 1).
        seeds: seed labels, 0 = background, 255 = no seed.

    Shapes:
        probs: (B, K, h, w); seeds: (B, h, w); returns a scalar.

    Reference: WeakCLIP Eq. (6); ``dgcn_cal_seeding_loss``.
    """
    k = probs.shape[1]
    valid = seeds != IGNORE
    if (seeds[valid] >= k).any() or (seeds[valid] < 0).any():
        raise ValueError(f"seed ids must be in [0, {k}) or {IGNORE}")
    target = torch.where(valid, seeds, 0)
    logp = torch.log(probs).gather(1, target[:, None])[:, 0] * valid  # (B, h, w)
    if not balanced:
        return (-logp.sum(dim=(1, 2)) / valid.sum(dim=(1, 2)).clamp(min=1)).mean()
    bg, fg = valid & (seeds == 0), valid & (seeds > 0)
    loss_bg = -(logp * bg).sum(dim=(1, 2)) / bg.sum(dim=(1, 2)).clamp(min=1)
    loss_fg = -(logp * fg).sum(dim=(1, 2)) / fg.sum(dim=(1, 2)).clamp(min=1)
    return (loss_bg + loss_fg).mean()


def crf_inputs(probs: Tensor, min_prob: float = 1e-4) -> np.ndarray:
    """The probabilities handed to the boundary CRF: a float32 NumPy copy clamped below at
    ``min_prob``, not renormalised (official ``probs[probs < 0.0001] = 0.0001``).

    Shapes:
        probs: (B, K, h, w); returns (B, K, h, w) float32.
    """
    return np.maximum(probs.detach().float().cpu().numpy(), np.float32(min_prob))


def crf_targets(images: np.ndarray, probs: Tensor, crf: dict, *, min_prob: float = 1e-4) -> Tensor:
    """Dense-CRF posteriors Q of the probabilities (official ``dgcn_crf_operation``).

    P is clamped below at ``min_prob`` (float32, not renormalised) before the unary; Q is
    clamped at 1e-4 and renormalised over classes in float64, and exp(log Q) is the float32
    target.

    Args:
        images: uint8 RGB images at the probabilities' size (:func:`crf_images`).
        probs: class probabilities (any device; the CRF runs on the CPU).
        crf: keyword arguments of :func:`clipwsss.cams.crf.dense_crf`.
        min_prob: clamp of P before the unary (official 1e-4; 0: none).

    Shapes:
        images: (B, h, w, 3); probs: (B, K, h, w); returns (B, K, h, w) on probs' device.
    """
    p = crf_inputs(probs, min_prob)
    q = np.stack(
        [dense_crf(np.ascontiguousarray(im), pr, **crf) for im, pr in zip(images, p, strict=True)]
    ).astype(np.float64)
    q = np.maximum(q, 1e-4)
    q = np.exp(np.log(q / q.sum(axis=1, keepdims=True)))
    return torch.from_numpy(q).to(probs.device, probs.dtype)


def boundary_loss(
    probs: Tensor, q: Tensor, *, ratio_clip: tuple[float, float] = (0.05, 20.0)
) -> Tensor:
    """Boundary loss, Eq. (7): mean_u sum_k Q log(clip(Q / P)), i.e. KL(Q || P), clipped.

    Q is a constant target (no gradient); where the ratio is clipped the gradient is 0.

    Shapes:
        probs, q: (B, K, h, w); returns a scalar.

    Reference: WeakCLIP Eq. (7); ``dgcnutils`` constrain loss.
    """
    ratio = (q / probs).clamp(*ratio_clip)
    return (q * torch.log(ratio)).sum(dim=1).mean()


def aux_loss(
    scores: Tensor, seeds: Tensor, *, temperature: float = 0.07, labelled_mean: bool = False
) -> Tensor:
    """Auxiliary CE of the score map lambda' / tau upsampled to the seed size (ignore 255).

    Args:
        scores: the score map lambda'.
        seeds: seed labels at input size, 255 = ignored.
        temperature: tau.
        labelled_mean: average over the labelled pixels only; official False averages the
            per-pixel CE over all pixels, an ignored pixel counting 0 (mmseg 0.19).

    Shapes:
        scores: (B, K, h, w); seeds: (B, H, W); returns a scalar.

    Reference: official ``identity_head`` (not in the paper); mmseg 0.19 ``cross_entropy``.
    """
    logits = F.interpolate(
        scores / temperature, size=seeds.shape[-2:], mode="bilinear", align_corners=False
    )
    if labelled_mean:
        return F.cross_entropy(logits, seeds.long(), ignore_index=IGNORE)
    return F.cross_entropy(logits, seeds.long(), ignore_index=IGNORE, reduction="none").mean()


def crf_images(pixels: Tensor, size: int, mean: tuple, std: tuple) -> np.ndarray:
    """The image the boundary CRF sees (official ``dgcn_crf_operation``).

    The normalised input is resized with ``scipy.ndimage.zoom(order=1)``, whose grid is
    corner-aligned (output pixel i samples input i * (H - 1) / (size - 1), as
    ``align_corners=True``), de-normalised in float32 in 0-255 units and cast to uint8 by
    truncation (values outside [0, 255] clipped first).

    Args:
        pixels: normalised images.
        size: side of the output.
        mean, std: the normalisation, in [0, 1] units.

    Shapes:
        pixels: (B, 3, H, W); returns (B, size, size, 3) uint8.
    """
    x = pixels.detach().float().cpu().numpy()
    h, w = x.shape[-2:]
    x = ndimage.zoom(x, (1.0, 1.0, size / h, size / w), order=1).transpose(0, 2, 3, 1)
    std_ = (np.asarray(std, dtype=np.float64) * 255).astype(np.float32)
    mean_ = (np.asarray(mean, dtype=np.float64) * 255).astype(np.float32)
    x = x * std_ + mean_  # float32, as the official img_norm_cfg arrays
    return np.ascontiguousarray(np.clip(x, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class LossTerms:
    """The WeakCLIP loss and its parts (each 0 when switched off).

    Attributes:
        total: seed + boundary + aux_weight * aux.
        seed: balanced seed loss.
        boundary: CRF boundary loss.
        aux: auxiliary score-map CE (unweighted).
    """

    total: Tensor
    seed: Tensor
    boundary: Tensor
    aux: Tensor


def weakclip_loss(
    logits: Tensor,
    scores: Tensor,
    pixels: Tensor,
    seeds: Tensor,
    config: LossConfig,
    *,
    mean: tuple,
    std: tuple,
    temperature: float = 0.07,
) -> LossTerms:
    """Total WeakCLIP loss: seed + boundary + 0.4 * aux (official ``heads.py``).

    Args:
        logits: segmentation logits P.
        scores: score map lambda'.
        pixels: the normalised input (for the CRF image).
        seeds: seed labels at input size, 255 = no seed.
        config: switches and constants.
        mean, std: the input normalisation, in [0, 1] units.
        temperature: tau of the auxiliary CE.

    Shapes:
        logits: (B, K, h, w); scores: (B, K, h', w'); pixels: (B, 3, H, W); seeds: (B, H, W).

    Reference: WeakCLIP Eq. (6)-(7); official ``heads.py`` L186-261.
    """
    zero = logits.sum() * 0.0
    seed = boundary = aux = zero
    if config.seed or config.boundary:
        probs = seed_probs(logits, config.loss_size)
        if config.seed:
            small = resize_seeds(seeds, config.loss_size)
            seed = seed_loss(probs, small, balanced=config.balanced)
        if config.boundary:
            images = crf_images(pixels, config.loss_size, mean, std)
            q = crf_targets(images, probs, dict(config.crf), min_prob=config.crf_min_prob)
            boundary = boundary_loss(probs, q, ratio_clip=config.ratio_clip)
    if config.aux:
        aux = aux_loss(
            scores, seeds, temperature=temperature, labelled_mean=config.aux_labelled_mean
        )
    total = seed + boundary + config.aux_weight * aux
    return LossTerms(total=total, seed=seed, boundary=boundary, aux=aux)
