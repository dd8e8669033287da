"""One WeCLIP training step and the official recipes (the loop is ``clipwsss.train``).

Paper: WeCLIP Section 4.1 (implementation details); official ``configs/voc_attn_reg.yaml``,
``coco_attn_reg.yaml``, ``scripts/dist_clip_voc.py``, ``utils/optimizer.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import WeClipConfig
from .losses import WeClipLoss, weclip_loss
from .samples import check_label_sets, labels_from_multi_hot


@dataclass(frozen=True)
class Recipe:
    """A named training recipe: the engine settings WeCLIP's official configs use."""

    iterations: int  # VOC 30k, COCO 80k
    batch_size: int = 4  # configs: samples_per_gpu 4 on one GPU
    crop: int = 320  # configs: crop_size 320
    lr: float = 2e-3  # decoder lr: config 2e-4 x 10 (its param group), i.e. 2e-3 effective
    weight_decay: float = 0.01  # PolyWarmupAdamW weight_decay
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_iters: int = 50  # warmup_iter 50
    warmup_ratio: float = 1e-6  # warmup_ratio 1e-6
    power: float = 1.0  # poly power 1.0
    seed: int = 1  # official seed


RECIPES = {
    "voc12": Recipe(iterations=30000),
    "coco14": Recipe(iterations=80000),
    # The shipped micro-CLIP (4 blocks, 8 px patches) on the 96 px toy world.
    "toy": Recipe(iterations=300, crop=96, warmup_iters=10, seed=0),
}


# The official VOC run switches CAA -> RFM at training iteration 9145 of 30000.
OFFICIAL_RFM_FRACTION = 9145 / 30000


def toy_config(**overrides) -> WeClipConfig:
    """WeCLIP on the shipped micro-CLIP (4 blocks, 10 toy classes): decoder on blocks 1-3,
    CAA on the last 3 maps (as the toy CLIP-ES profile), RFM on the last 2 (6 of 12 scaled),
    RFM switch at the same fraction of the run as the official VOC run (9145 / 30000 of the
    run's actual iterations, ``rfm_start_fraction``)."""
    values = dict(n_classes=11, caa_layers=3, rfm_layers=2,
                  rfm_start_fraction=OFFICIAL_RFM_FRACTION, count_val_forwards=False)  # fmt: skip
    values.update(overrides)
    return WeClipConfig(**values)


# A decoder smaller than the frozen micro-CLIP (2,046,721 parameters), as ViT-B/16's 6 M
# decoder is beside its 150 M CLIP: width 64, 4 heads, the official 3 layers (200,267
# parameters; toy_config's width 256 gives 2,865,419).
TOY_SMALL_DECODER = {"embed_dim": 64, "decoder_heads": 4, "decoder_layers": 3}


def toy_small_config(**overrides) -> WeClipConfig:
    """``toy_config`` with the small decoder (``TOY_SMALL_DECODER``); an extra toy option."""
    return toy_config(**{**TOY_SMALL_DECODER, **overrides})


def training_step(model: nn.Module, batch: dict[str, Tensor], *, step: int | None = None,
                  iterations: int | None = None) -> WeClipLoss:  # fmt: skip
    """Forward, online pseudo labels and the loss of one batch (no optimizer step).

    ``batch``: ``pixels`` (B, 3, H, W), ``labels`` (B, C-1) multi-hot, optional ``valid``
    (B, H, W) bool (real, not padded, pixels). The model's step counter decides CAA vs RFM
    (``WeClipConfig.rfm_switch_iteration``). With ``config.ignore_padding`` the padded pixels
    are ignored (255) in both losses.

    Args:
        step: the 1-based optimizer step this batch belongs to (the engine's, passed by
            ``WeClipTask``: every micro-batch of a step gets the same); the counter is set to
            it. None: the counter advances by one (one call = one optimizer step).
        iterations: the run's length, needed with ``config.rfm_start_fraction``.

    Returns:
        The loss terms; ``total`` is differentiable w.r.t. the decoder.

    Reference: WeCLIP Section 3.4; scripts/dist_clip_voc.py.
    """
    inner = getattr(model, "module", model)  # DistributedDataParallel wraps the module
    cfg = inner.config
    labels = labels_from_multi_hot(batch["labels"])
    check_label_sets(labels, cfg.n_classes - 1)
    if step is None:
        inner.step_count += 1
    else:
        inner.step_count.fill_(step)
    use_rfm = int(inner.step_count) >= cfg.rfm_switch_iteration(iterations)
    out = model(batch["pixels"])
    pseudo = inner.pseudo_labels(batch["pixels"], out, labels, use_rfm=use_rfm)
    if cfg.ignore_padding and "valid" in batch:
        pseudo = torch.where(batch["valid"].bool(), pseudo, torch.full_like(pseudo, 255))
    return weclip_loss(out.decoder.logits, out.decoder.affinity, pseudo,
                       aff_weight=cfg.aff_weight, radius=cfg.aff_radius,
                       aff_target=cfg.aff_target)  # fmt: skip
