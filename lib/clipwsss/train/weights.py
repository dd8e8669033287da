"""What a run keeps of its model: the trained entries, in safetensors.

A task may name frozen weights it rebuilds from a named source (``TrainTask.frozen_keys``:
WeakCLIP's CLIP towers, built from the CLIP that ``config.json`` names with its weight
fingerprint); checkpoints and the final ``model.safetensors`` leave them out and record which
(``frozen`` in the file's metadata), so loading checks that exactly those are absent.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

FROZEN = "frozen"  # metadata key: the JSON list of the state_dict keys left out


def trained_state(model: nn.Module, frozen: Collection[str] = ()) -> dict[str, Tensor]:
    """``model.state_dict()`` without the ``frozen`` keys (a DDP ``module.`` prefix ignored).

    Shapes:
        Each entry keeps the shape of the model's parameter or buffer.
    """
    return {k: v for k, v in model.state_dict().items() if k.removeprefix("module.") not in frozen}


def save_weights(path: str | Path, model: nn.Module, frozen: Collection[str] = ()) -> None:
    """Write the trained state of ``model`` to ``path`` (safetensors; tensors copied to the
    CPU, so tied entries are stored once each).

    Shapes:
        Each stored tensor has its parameter's or buffer's shape.
    """
    state = {
        k: v.detach().cpu().clone().contiguous() for k, v in trained_state(model, frozen).items()
    }
    save_file(state, str(path), metadata={FROZEN: json.dumps(sorted(frozen))})


def load_weights(path: str | Path, model: nn.Module) -> nn.Module:
    """Load what :func:`save_weights` wrote (or a full state dict) into ``model``.

    Shapes:
        Each stored tensor must have the shape of the model's entry of that name.

    Raises:
        RuntimeError: an entry of the file that ``model`` lacks, or one of ``model`` that is
            neither in the file nor recorded as frozen (the message names them).
    """
    with safe_open(str(path), framework="pt") as fh:
        frozen = set(json.loads((fh.metadata() or {}).get(FROZEN, "[]")))
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in frozen]
    if missing or unexpected:
        raise RuntimeError(
            f"{path} does not fit the model: missing {missing[:5]}, "
            f"unexpected {list(unexpected)[:5]}"
        )
    return model


__all__ = ["FROZEN", "load_weights", "save_weights", "trained_state"]
