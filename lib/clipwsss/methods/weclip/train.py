"""One WeCLIP training step and the toy model settings (recipes and the engine task:
``clipwsss.train.tasks.weclip``).

Paper: WeCLIP Section 4.1 (implementation details); official ``configs/voc_attn_reg.yaml``,
``coco_attn_reg.yaml``, ``scripts/dist_clip_voc.py``, ``utils/optimizer.py``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import WeClipConfig
from .losses import WeClipLoss, weclip_loss
from .samples import check_label_sets, labels_from_multi_hot

# The official VOC run switches CAA -> RFM at training iteration 9145 of 30000.
OFFICIAL_RFM_FRACTION = 9145 / 30000


def toy_config(**overrides) -> WeClipConfig:
    """WeCLIP on the shipped micro-CLIP (4 blocks, 10 toy classes): decoder on blocks 1-3,
    CAA on the last 3 maps (as the toy CLIP-ES profile), RFM on the last 2 (6 of 12 scaled),
    RFM switch at the same fraction of the run as the official VOC run (9145 / 30000 of the
    run's actual iterations, ``rfm_start_fraction``)."""
    values = dict(
        n_classes=11,
        caa_layers=3,
        rfm_layers=2,
        rfm_start_fraction=OFFICIAL_RFM_FRACTION,
        count_val_forwards=False,
    )
    values.update(overrides)
    return WeClipConfig(**values)


# A decoder smaller than the frozen micro-CLIP (2,046,721 parameters), as ViT-B/16's 6 M
# decoder is beside its 150 M CLIP: width 64, 4 heads, the official 3 layers (200,267
# parameters; toy_config's width 256 gives 2,865,419).
TOY_SMALL_DECODER = {"embed_dim": 64, "decoder_heads": 4, "decoder_layers": 3}


def toy_small_config(**overrides) -> WeClipConfig:
    """``toy_config`` with the small decoder (``TOY_SMALL_DECODER``); an extra toy option."""
    return toy_config(**{**TOY_SMALL_DECODER, **overrides})


def training_step(
    model: nn.Module, batch: dict[str, Tensor], *, step: int, iterations: int | None = None
) -> WeClipLoss:
    """Forward, online pseudo labels and the loss of one batch (no optimizer step).

    ``batch``: ``pixels`` (B, 3, H, W), ``labels`` (B, C-1) multi-hot, optional ``valid``
    (B, H, W) bool (real, not padded, pixels). The optimizer step decides CAA vs RFM
    (``WeClipConfig.rfm_switch_iteration``; official ``iter_num``). With
    ``config.ignore_padding`` the padded pixels are ignored (255) in both losses.

    Args:
        step: the 1-based optimizer step this batch belongs to (the engine's, passed to
            ``TrainTask.loss``: every micro-batch of a step gets the same).
        iterations: the run's length, needed with ``config.rfm_start_fraction``.

    Returns:
        The loss terms; ``total`` is differentiable w.r.t. the decoder.

    Shapes:
        pixels (B, 3, H, W) -> logits (B, C, H/16, W/16) inside; every loss term is 0-d.

    Reference: WeCLIP Section 3.4; scripts/dist_clip_voc.py.
    """
    inner = getattr(model, "module", model)  # DistributedDataParallel wraps the module
    cfg = inner.config
    labels = labels_from_multi_hot(batch["labels"])
    check_label_sets(labels, cfg.n_classes - 1)
    use_rfm = step >= cfg.rfm_switch_iteration(iterations)
    out = model(batch["pixels"])
    pseudo = inner.pseudo_labels(batch["pixels"], out, labels, use_rfm=use_rfm)
    if cfg.ignore_padding and "valid" in batch:
        pseudo = torch.where(batch["valid"].bool(), pseudo, torch.full_like(pseudo, 255))
    return weclip_loss(
        out.decoder.logits,
        out.decoder.affinity,
        pseudo,
        aff_weight=cfg.aff_weight,
        radius=cfg.aff_radius,
        aff_target=cfg.aff_target,
    )
