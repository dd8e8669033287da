"""Local CLIP checkpoints: what kind of file it is, its architecture, and its activation.

OpenAI's CLIP was trained with QuickGELU (``x * sigmoid(1.702 x)``); open_clip's plain configs
(``ViT-B-16``) build ``nn.GELU``. Loading OpenAI weights with ``nn.GELU`` is silently wrong
(on the CLIP-ES fidelity kit: image embedding off by 0.034, CAMs by up to 0.16). The file
often tells which one is meant:

* an OpenAI TorchScript archive (``ViT-B-16.pt`` as released): QuickGELU;
* an open_clip training checkpoint (``{"epoch", "state_dict", ...}``): the activation of the
  open_clip model config it was trained with (``model_name``);
* a plain state dict in the CLIP key layout (what ``torch.save(model.state_dict())`` gives
  after the official ``clip.load(..., jit=False)``, or after open_clip) does not record it:
  QuickGELU is assumed (OpenAI weights, what CLIP-ES uses) and the note says how to override.

For the CLIP key layout the architecture is read from the tensors' shapes, as OpenAI's
``clip.model.build_model`` does (widths, block counts, heads = width // 64, patch size, grid,
context length, vocabulary, embedding size), so any ViT or ResNet CLIP in that layout loads,
not only the sizes of a named config. Weights keep their precision (float16 values are
loaded into a float32 model exactly; open_clip's ``build_model_from_openai_state_dict``
would round float32 weights to float16).

Paper: CLIP (Radford et al., ICML 2021), Section 2.4 / the released code's ``QuickGELU``.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

Activation = Literal["auto", "quick_gelu", "gelu"]
ACTIVATIONS: tuple[str, ...] = ("auto", "quick_gelu", "gelu")
CheckpointKind = Literal["torchscript", "state_dict", "training_checkpoint"]
OVERRIDE_HINT = "override with --activation quick_gelu|gelu (Python: load_clip(activation=...))"


@dataclass(frozen=True)
class LocalClip:
    """A CLIP built from a local file, with what was decided while loading it.

    Attributes:
        model: the open_clip ``CLIP`` module, float32, eval mode.
        kind: "torchscript", "state_dict" or "training_checkpoint".
        quick_gelu: whether the MLPs use QuickGELU (else ``nn.GELU``).
        note: one line for the user: the file kind, the activation chosen and why, and how to
            override it.
    """

    model: nn.Module
    kind: CheckpointKind
    quick_gelu: bool
    note: str


def is_torchscript_archive(path: Path) -> bool:
    """OpenAI's released ``*.pt`` files are TorchScript archives (they contain constants.pkl)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith("constants.pkl") for name in zf.namelist())


def read_checkpoint(path: Path) -> tuple[CheckpointKind, dict[str, Tensor]]:
    """The kind of a local checkpoint file and its state dict (``module.`` prefixes dropped).

    Raises:
        ValueError: the file holds no tensor dictionary.
    """
    if is_torchscript_archive(path):
        with warnings.catch_warnings():  # torch.jit.load is deprecated; the files exist
            warnings.simplefilter("ignore", FutureWarning)
            archive = torch.jit.load(str(path), map_location="cpu")
        return "torchscript", dict(archive.state_dict())
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return "state_dict", load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    kind: CheckpointKind = "state_dict"
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        kind, obj = "training_checkpoint", obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path} holds no state dict (a dict of tensors)")
    return kind, {re.sub(r"^module\.", "", k): v for k, v in obj.items()}


def is_clip_layout(state_dict: dict[str, Tensor]) -> bool:
    """True for the OpenAI CLIP key layout (also open_clip's ``CLIP`` with its own towers)."""
    need = (
        "visual.conv1.weight",
        "token_embedding.weight",
        "positional_embedding",
        "text_projection",
        "ln_final.weight",
    )
    return all(k in state_dict for k in need)


def _n_blocks(state_dict: dict[str, Tensor], prefix: str) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    return len({m.group(1) for k in state_dict if (m := pattern.match(k))})


def infer_clip_architecture(state_dict: dict[str, Tensor]) -> dict:
    """open_clip ``CLIP`` keyword arguments read from a CLIP-layout state dict.

    Follows OpenAI's ``build_model``: heads = width // 64 in both towers (open_clip's default
    ``head_width`` of 64), ViT grid from the positional table, ResNet output grid from the
    attention-pool table (input = 32 x grid). The MLP ratio is read from the first block.

    Returns:
        ``{"embed_dim": int, "vision_cfg": dict, "text_cfg": dict}``.
    """
    sd = state_dict
    text_width = sd["ln_final.weight"].shape[0]
    text_cfg = dict(
        context_length=sd["positional_embedding"].shape[0],
        vocab_size=sd["token_embedding.weight"].shape[0],
        width=text_width,
        heads=text_width // 64,
        layers=_n_blocks(sd, "transformer.resblocks"),
        mlp_ratio=sd["transformer.resblocks.0.mlp.c_fc.weight"].shape[0] / text_width,
    )
    if "visual.proj" in sd:  # ViT
        width, patch = sd["visual.conv1.weight"].shape[0], sd["visual.conv1.weight"].shape[-1]
        grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
        vision_cfg = dict(
            layers=_n_blocks(sd, "visual.transformer.resblocks"),
            width=width,
            patch_size=patch,
            image_size=patch * grid,
            mlp_ratio=sd["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0] / width,
        )
    else:  # ModifiedResNet
        grid = round((sd["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
        vision_cfg = dict(
            layers=tuple(_n_blocks(sd, f"visual.layer{i}") for i in range(1, 5)),
            width=sd["visual.layer1.0.conv1.weight"].shape[0],
            image_size=32 * grid,
        )
    return {
        "embed_dim": sd["text_projection"].shape[1],
        "vision_cfg": vision_cfg,
        "text_cfg": text_cfg,
    }


# Entries that are not weights: OpenAI's TorchScript metadata, and the causal text mask that
# a traced open_clip model stores (open_clip rebuilds it).
_TS_ONLY = ("input_resolution", "context_length", "vocab_size", "attn_mask")


def _named_config_clip(
    model_name: str, state_dict: dict[str, Tensor], quick_gelu: bool
) -> nn.Module | None:
    """The open_clip config ``model_name`` with these weights, or None if they do not fit.

    Only the number of attention heads is not in the tensors: a config whose every shape
    fits supplies it (e.g. a test model with 16-wide heads); otherwise width // 64 is used.
    """
    import open_clip
    from open_clip.model import CLIP

    cfg = open_clip.get_model_config(model_name)
    if not cfg or "custom_text" in cfg or "hf_model_name" in cfg.get("text_cfg", {}):
        return None
    model = CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=quick_gelu)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError:  # other sizes: infer them from the tensors instead
        return None
    return model


def build_clip_from_state_dict(
    state_dict: dict[str, Tensor], *, quick_gelu: bool, model_name: str | None = None
) -> nn.Module:
    """A float32 open_clip ``CLIP`` with these exact weights and the file's architecture.

    The architecture is ``model_name``'s config when every tensor fits it, else the one
    :func:`infer_clip_architecture` reads from the tensors.

    Raises:
        RuntimeError: the tensors do not fit the inferred architecture (strict loading).
    """
    from open_clip.model import CLIP

    state_dict = {k: v for k, v in state_dict.items() if k not in _TS_ONLY}
    model = _named_config_clip(model_name, state_dict, quick_gelu) if model_name else None
    if model is None:
        arch = infer_clip_architecture(state_dict)
        model = CLIP(arch["embed_dim"], arch["vision_cfg"], arch["text_cfg"], quick_gelu=quick_gelu)
        model.load_state_dict(state_dict, strict=True)
    return model.float()


def config_quick_gelu(model_name: str) -> bool:
    """``quick_gelu`` of an open_clip model config (False when the name has none)."""
    import open_clip

    return bool((open_clip.get_model_config(model_name) or {}).get("quick_gelu", False))


def choose_activation(
    kind: CheckpointKind, model_name: str, activation: Activation = "auto"
) -> tuple[bool, str]:
    """(quick_gelu, reason) for a checkpoint of this kind; see the module docstring."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if activation != "auto":
        return activation == "quick_gelu", "set by the caller"
    if kind == "torchscript":
        return True, "an OpenAI TorchScript archive: QuickGELU, as OpenAI trained it"
    if kind == "training_checkpoint":
        quick = config_quick_gelu(model_name)
        name = "QuickGELU" if quick else "nn.GELU"
        return quick, f"an open_clip training checkpoint: {name}, from model config {model_name}"
    return True, (
        "a plain state dict does not record its activation: QuickGELU assumed (OpenAI CLIP); "
        "weights trained with nn.GELU (e.g. LAION open_clip ones) need --activation gelu"
    )


def describe(model: nn.Module) -> str:
    """Short architecture summary, e.g. ``ViT width 768, 12 blocks, patch 16, grid 14``."""
    v = model.visual
    if hasattr(v, "transformer"):
        g = v.positional_embedding.shape[0] - 1
        return (
            f"ViT width {v.conv1.out_channels}, {len(v.transformer.resblocks)} blocks, "
            f"patch {v.conv1.kernel_size[0]}, grid {round(g**0.5)}"
        )
    return f"ResNet width {v.layer1[0].conv1.in_channels}"


def load_local_clip(
    path: str | Path, model_name: str = "ViT-B-16", *, activation: Activation = "auto"
) -> LocalClip:
    """Build a CLIP from a local checkpoint file, choosing the activation as documented above.

    CLIP-layout files (TorchScript or state dict) get the architecture inferred from their
    tensors; other open_clip layouts go through ``open_clip.create_model(model_name, ...)``.

    Args:
        path: TorchScript archive, state dict (``.pt``/``.pth``/``.bin``/``.safetensors``) or
            open_clip training checkpoint.
        model_name: the open_clip config for non-CLIP layouts and training checkpoints.
        activation: "auto" (decide from the file), "quick_gelu" or "gelu".

    Returns:
        The model (float32, CPU) with the decision and a note for the user.
    """
    import open_clip

    path = Path(path)
    kind, state_dict = read_checkpoint(path)
    quick_gelu, reason = choose_activation(kind, model_name, activation)
    if is_clip_layout(state_dict):
        model = build_clip_from_state_dict(state_dict, quick_gelu=quick_gelu, model_name=model_name)
        arch = f"architecture from the weights' shapes ({describe(model)})"
    else:
        if quick_gelu != config_quick_gelu(model_name) and not quick_gelu:
            raise ValueError(f"model config {model_name} uses QuickGELU; pick a GELU config")
        model = open_clip.create_model(
            model_name, pretrained=str(path), force_quick_gelu=quick_gelu
        )
        arch = f"architecture of model config {model_name}"
    name = "QuickGELU" if quick_gelu else "nn.GELU"
    note = f"{path.name}: {name} ({reason}); {arch}; {OVERRIDE_HINT}"
    return LocalClip(model=model.float().eval(), kind=kind, quick_gelu=quick_gelu, note=note)


def uses_quick_gelu(model: nn.Module) -> bool:
    """True when any module of ``model`` is open_clip's ``QuickGELU``."""
    from open_clip.transformer import QuickGELU

    return any(isinstance(m, QuickGELU) for m in model.modules())
