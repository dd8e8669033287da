"""The small interface a trainable method implements for ``clipwsss.train.train``.

Subclass ``TrainTask`` and implement ``build_model``, ``train_dataset`` and ``loss``; the
other methods have working defaults. The engine passes ``loss`` the optimizer step (1-based)
and the run's length, so a method whose loss changes during a run (WeCLIP's CAA -> RFM
switch) keeps no step counter of its own. Data sets return one sample per index (any structure
``collate`` understands); augmentation may use ``random`` / ``numpy.random`` / ``torch``
freely: the engine seeds them per sample (``SeededDataset``), which keeps resumed runs exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from torch.utils.data.dataloader import default_collate


@dataclass
class ParamGroup:
    """Parameters that share an lr multiplier (e.g. DeepLab's 10x head) and weight decay."""

    params: list[nn.Parameter]
    lr_mult: float = 1.0  # lr of this group = config.lr * schedule * lr_mult
    weight_decay: float | None = None  # None = config.weight_decay
    name: str = ""  # shown in logs
    extra: dict[str, Any] = field(default_factory=dict)  # other optimizer group options


class TrainTask:
    """What one method supplies to the shared training loop."""

    def build_model(self) -> nn.Module:
        """A fresh model (random or pretrained init). Called once per run, after seeding."""
        raise NotImplementedError

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        """Parameter groups with lr multipliers; default: all trainable parameters, x1."""
        return [ParamGroup([p for p in model.parameters() if p.requires_grad], name="all")]

    def train_dataset(self) -> Dataset:
        """The training samples (``len`` > 0)."""
        raise NotImplementedError

    def collate(self, samples: list[Any]) -> Any:
        """Stack samples into a batch; default ``torch.utils.data.default_collate``.

        Shapes:
            Per-sample tensors (...) become batch tensors (B, ...).
        """
        return default_collate(samples)

    def loss(
        self, model: nn.Module, batch: Any, step: int, iterations: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss to minimise and a dict of floats to log (batch already on device).

        Args:
            model: the model being trained (possibly wrapped by DistributedDataParallel).
            batch: one micro-batch from ``collate``.
            step: the optimizer step this micro-batch belongs to (1-based; every micro-batch
                of a step gets the same).
            iterations: the run's length in optimizer steps.

        Shapes:
            The loss is a 0-d tensor.
        """
        raise NotImplementedError

    def frozen_keys(self, model: nn.Module) -> set[str]:
        """State-dict keys of frozen weights the task rebuilds from a named source (recorded in
        ``config()``), left out of checkpoints and the final weights; default: none."""
        return set()

    def evaluate(self, model: nn.Module) -> dict[str, float] | None:
        """Optional evaluation (main process, ``model.eval()`` and no_grad already set)."""
        return None

    def config(self) -> dict[str, Any]:
        """The task's own settings, saved beside the checkpoint (JSON-ready).

        A resumed run must have the same settings; give paths in ``paths`` instead.
        """
        return {}

    def paths(self) -> dict[str, Any]:
        """Input folders and files, recorded in ``config.json`` but never compared on resume
        (a moved data set or a run reached by another spelling of its path still resumes)."""
        return {}

    def check_inputs(self) -> None:
        """Check every input before anything is written (default: nothing to check).

        Raise a ``ValueError`` (or ``FileNotFoundError``) that names the file at fault.
        """
