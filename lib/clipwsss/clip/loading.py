"""Loading CLIP through open_clip: checkpoints, the environment variable, weight fingerprints.

All file and network I/O of the CLIP layer lives here; ``clip/dense.py`` is pure tensors.

Paper: CLIP-ES Section 4.1 (ViT-B/16 from OpenAI's CLIP); supplementary A (RN50).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from clipwsss.clip.checkpoint import (
    Activation,
    is_torchscript_archive,
    load_local_clip,
    uses_quick_gelu,
)

# CLIP normalisation (the official code and open_clip's OPENAI_DATASET_MEAN/STD).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

PRETRAINED_ENV = "CLIPWSSS_PRETRAINED"
MODEL_CONFIG_DIR = Path(__file__).parents[1] / "model_configs"  # tiny test models, registered below


def resolve_device(name: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a CUDA device is present, else ``"cpu"``; others checked.

    Raises:
        ValueError: an unknown device name, or a CUDA device asked for without one.
    """
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device {name!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}, but no CUDA device is available; use auto or cpu")
    return name


class WeightsNotFoundError(RuntimeError):
    """Raised when CLIP weights cannot be loaded; the message says how to provide them."""


@dataclass(frozen=True)
class ClipModel:
    """A loaded CLIP with what the pipeline needs to know about it.

    Attributes:
        model: the open_clip ``CLIP`` module (eval mode, frozen).
        tokenizer: open_clip tokenizer for this model.
        name: model name (e.g. ``"ViT-B-16"``).
        pretrained: where the weights came from (tag, path, or ``None`` for random init).
        patch_size: input stride of the dense grid (16 for ViT-B/16, 32 for RN50).
        mean: per-channel normalisation mean.
        std: per-channel normalisation std.
        fingerprint: ``weights_fingerprint`` of the loaded weights: run folders record it, so
            a resumed run refuses to mix CAMs of a retrained or replaced checkpoint.
            ``"random-init"`` for ``pretrained=None``.
        quick_gelu: the MLPs use QuickGELU (OpenAI CLIP) rather than ``nn.GELU``.
        load_note: for a local checkpoint, which activation was chosen, why, and how to
            override it (``clipwsss.clip.checkpoint.load_local_clip``); empty otherwise.
    """

    model: nn.Module
    tokenizer: object
    name: str
    pretrained: str | None
    patch_size: int
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    fingerprint: str = ""
    quick_gelu: bool = False
    load_note: str = ""

    @property
    def is_vit(self) -> bool:
        return hasattr(self.model.visual, "transformer")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def weights_fingerprint(model: nn.Module) -> str:
    """First 16 hex digits of the SHA-256 of every state-dict tensor (names, shapes, bytes).

    Depends only on the weights, not on the file or path they came from (about 1 s for a
    ViT-B/16 on a CPU).
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(t.view(torch.uint8).numpy() if t.numel() else b"")
    return digest.hexdigest()[:16]


def _weights_help(model_name: str, pretrained: str | None, cause: BaseException | None) -> str:
    return (
        f"Could not load CLIP weights for {model_name!r} (pretrained={pretrained!r})"
        + (f": {type(cause).__name__}: {cause}" if cause else "")
        + ".\nProvide them in one of these ways:\n"
        "  1. a local checkpoint file: the OpenAI 'ViT-B-16.pt' linked from the CLIP-ES README\n"
        '     (or an open_clip checkpoint). In a notebook, set pretrained = "/path/ViT-B-16.pt"\n'
        "     in its parameters cell, or run it with papermill:\n"
        "       papermill notebooks/NN_name.ipynb out.ipynb -p profile voc12 \\\n"
        "         -p pretrained /path/ViT-B-16.pt -p data_root /path/VOC2012\n"
        "     (scripts/run_notebooks.py takes the same -p pretrained PATH). On the command line:\n"
        "     --pretrained /path/ViT-B-16.pt. Anywhere: pretrained='env' reads the file from\n"
        f"     the environment variable {PRETRAINED_ENV} (set it before starting Jupyter);\n"
        "  2. with network access, pretrained='openai' (open_clip downloads and caches them);\n"
        "  3. an open_clip model folder via model name 'local-dir:/path/to/folder'.\n"
        "Random weights are never substituted."
    )


_is_torchscript_archive = is_torchscript_archive  # now in clip/checkpoint.py


def _local_tokenizer_kwargs(model_name: str) -> dict:
    """For ``local-dir:`` folders, resolve a relative ``bpe_path`` against the folder.

    open_clip reads ``text_cfg.tokenizer_kwargs`` verbatim, so a relative vocabulary path
    would be taken relative to the working directory.
    """
    if not model_name.startswith("local-dir:"):
        return {}
    folder = Path(model_name[len("local-dir:") :]).expanduser()
    config = json.loads((folder / "open_clip_config.json").read_text())
    kwargs = config.get("model_cfg", {}).get("text_cfg", {}).get("tokenizer_kwargs") or {}
    bpe = kwargs.get("bpe_path")
    if bpe and not Path(bpe).is_absolute():
        return {"bpe_path": str(folder / bpe)}
    return {}


def _patch_size(visual: nn.Module) -> int:
    if hasattr(visual, "conv1") and hasattr(visual, "transformer"):
        return int(visual.conv1.kernel_size[0])
    return 32  # ModifiedResNet: stem /4, then layer2-4 each /2


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded for model")


@contextmanager
def _without_random_init_warning() -> Iterator[None]:
    """Silence open_clip's "No pretrained weights loaded" while a caller builds the random
    model it asked for (``pretrained=None``); every other log record passes."""
    drop = _DropRandomInitWarning()
    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def load_clip(
    model_name: str = "ViT-B-16",
    pretrained: str | os.PathLike | None = "openai",
    *,
    device: str | torch.device = "cpu",
    activation: Activation = "auto",
) -> ClipModel:
    """Load a frozen CLIP through open_clip, in fp32.

    Args:
        model_name: an open_clip model name ("ViT-B-16", "RN50", ...) or
            ``"local-dir:/path"`` (an open_clip folder with ``open_clip_config.json``).
        pretrained: ``"openai"`` (or another open_clip tag), a local checkpoint file (an
            OpenAI TorchScript ``*.pt``, loaded with QuickGELU, or an open_clip state dict),
            or ``None`` for random initialisation (tests and benchmarks only). The value
            ``"env"`` reads the path from ``$CLIPWSSS_PRETRAINED``.
        device: where to put the model.
        activation: for a local checkpoint file: "auto" (TorchScript and plain state dicts:
            QuickGELU; open_clip training checkpoints: their config's), "quick_gelu" or
            "gelu" (see ``clipwsss.clip.checkpoint``). ``ClipModel.load_note`` says what was
            chosen.

    Returns:
        The loaded model with its tokenizer and geometry.

    Raises:
        WeightsNotFoundError: if weights were asked for and could not be loaded.
    """
    import open_clip

    open_clip.add_model_config(MODEL_CONFIG_DIR)
    if pretrained == "env":
        pretrained = os.environ.get(PRETRAINED_ENV)
        if not pretrained:
            raise WeightsNotFoundError(_weights_help(model_name, "env", None))
    source = None if pretrained is None else str(pretrained)
    note = ""
    if model_name.startswith("local-dir:") and source not in (None, "openai"):
        raise ValueError(  # never silently ignored
            f"pretrained={source!r} with {model_name!r}: a local-dir: folder loads its own "
            "weights; pass pretrained=None"
        )
    try:
        if model_name.startswith("local-dir:"):
            model = open_clip.create_model(model_name)
            source = model_name
        elif source is None:
            with _without_random_init_warning():
                model = open_clip.create_model(model_name, pretrained=None)
        elif Path(source).suffix in {".pt", ".pth", ".bin", ".safetensors"} or os.sep in source:
            path = Path(source).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"checkpoint file not found: {path}")
            local = load_local_clip(path, model_name, activation=activation)
            model, note = local.model, local.note
        else:
            model = open_clip.create_model(
                model_name,
                pretrained=source,
                force_quick_gelu=(source == "openai" or activation == "quick_gelu"),
            )
    except WeightsNotFoundError:
        raise
    except Exception as err:  # network, hub, missing or corrupt file: say how to fix it
        raise WeightsNotFoundError(_weights_help(model_name, source, err)) from err
    model = model.float().eval().requires_grad_(False)
    # Random init (pretrained=None, tests and timing only) has no identity worth recording.
    fingerprint = "random-init" if source is None else weights_fingerprint(model)
    model = model.to(device)
    tokenizer = open_clip.get_tokenizer(model_name, **_local_tokenizer_kwargs(model_name))
    return ClipModel(
        model=model,
        tokenizer=tokenizer,
        name=model_name,
        pretrained=source,
        patch_size=_patch_size(model.visual),
        fingerprint=fingerprint,
        quick_gelu=uses_quick_gelu(model),
        load_note=note,
    )
