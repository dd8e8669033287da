"""One WeakCLIP training step and its parameter groups (the engine task is in ``task.py``).

Official code: ``tools/train.py`` and the configs' ``optimizer`` / ``paramwise_cfg``:
AdamW lr 1e-4, weight decay 3e-5, ``custom_keys = {'backbone': lr_mult 0, 'text_encoder':
lr_mult 0}``; prompts, gamma, beta, co-attention, neck and head train at the base lr.

[paper≠code] mmcv matches custom keys by substring and the adapter lives at
``backbone.fpn1..4``, so it gets lr_mult 0 (``WeakClipConfig.adapter_lr_mult``). mmcv's cosine
schedule anneals every group to the *absolute* ``min_lr`` 1e-6, so in the official run the
lr-0 groups (CLIP and adapter) drift up to 1e-6; the shared engine scales every group by the
same factor, so here an lr_mult 0 group stays exactly at its initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .losses import LossConfig, LossTerms, weakclip_loss
from .model import WeakCLIP


@dataclass(frozen=True)
class GroupSpec:
    """Trainable parameters sharing one lr multiplier.

    Attributes:
        name: group name for logs.
        params: the parameters.
        lr_mult: multiplier of the base lr.
    """

    name: str
    params: list[nn.Parameter]
    lr_mult: float


def param_groups(model: WeakCLIP) -> list[GroupSpec]:
    """The adapter at ``config.adapter_lr_mult`` (official 0), everything else trainable at 1
    (no adapter group when ``use_adapter`` is off).

    The frozen CLIP towers are not in any group (``requires_grad`` False).
    """
    adapter_params = [] if model.adapter is None else list(model.adapter.parameters())
    adapter = {id(p) for p in adapter_params}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in adapter]
    groups = [GroupSpec("decoder", rest, 1.0)]
    if model.adapter is not None:  # use_adapter False: no adapter group
        adapter_params = [p for p in adapter_params if p.requires_grad]
        groups.append(GroupSpec("adapter", adapter_params, model.config.adapter_lr_mult))
    return groups


def training_step(
    model: WeakCLIP, batch: dict, loss_config: LossConfig, *, mean: tuple, std: tuple
) -> LossTerms:
    """Forward one batch and compute the WeakCLIP loss (the caller runs backward/step).

    Args:
        model: the network (training mode).
        batch: ``{"pixels": (B, 3, H, W), "seeds": (B, H, W)}`` on the model's device.
        loss_config: loss switches.
        mean, std: the input normalisation (for the boundary CRF's image).

    Returns:
        The loss terms; ``.total`` is the scalar to minimise.

    Reference: WeakCLIP Section 3.6; official ``heads.py``.
    """
    out = model(batch["pixels"])
    return weakclip_loss(
        out.logits,
        out.scores,
        batch["pixels"],
        batch["seeds"],
        loss_config,
        mean=mean,
        std=std,
        temperature=model.config.aux_temperature,
    )
