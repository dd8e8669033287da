"""Local CLIP checkpoints: file kind, architecture from the tensors, activation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

import clipwsss as cw
from clipwsss.cli.main import main
from clipwsss.clip.checkpoint import (
    choose_activation,
    infer_clip_architecture,
    load_local_clip,
    read_checkpoint,
    uses_quick_gelu,
)

KIT_WEIGHTS = Path(__file__).parent / "fidelity" / "fixture" / "weights" / "ViT-16-small-random.pt"


def _image_embedding(model: torch.nn.Module, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple) else size
    with torch.no_grad():
        return model.encode_image(torch.randn(1, 3, size, size))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # open_clip's loader calls torch.jit.load
def test_kit_state_dict_loads_with_quickgelu_and_its_own_sizes():
    clip = cw.load_clip("ViT-B-16", KIT_WEIGHTS)  # the default model name does not fit
    visual, text = clip.model.visual, clip.model
    assert clip.quick_gelu and uses_quick_gelu(clip.model)
    assert "QuickGELU" in clip.load_note and "--activation gelu" in clip.load_note
    assert visual.conv1.out_channels == 128 and len(visual.transformer.resblocks) == 12
    assert visual.transformer.resblocks[0].attn.num_heads == 2  # width // 64
    assert text.transformer.resblocks[0].attn.num_heads == 1 and text.context_length == 77
    # Same numbers as open_clip's OpenAI loader, which the kit checked bit-identical to the
    # official clip.load(jit=False) on the image tower.
    ref = open_clip.load_openai_model(str(KIT_WEIGHTS), precision="fp32", device="cpu")
    torch.testing.assert_close(_image_embedding(clip.model), _image_embedding(ref), rtol=0, atol=0)
    raw = torch.load(KIT_WEIGHTS, map_location="cpu")
    for key, value in clip.model.state_dict().items():
        assert torch.equal(value, raw[key].float()), key


def test_kit_state_dict_with_gelu_override_differs():
    quick = cw.load_clip("ViT-B-16", KIT_WEIGHTS)
    gelu = cw.load_clip("ViT-B-16", KIT_WEIGHTS, activation="gelu")
    assert not gelu.quick_gelu and "set by the caller" in gelu.load_note
    diff = (_image_embedding(quick.model) - _image_embedding(gelu.model)).abs().max()
    assert diff > 1e-3  # the kit: 0.034 on the image embedding


def test_training_checkpoint_takes_its_config_activation(tiny_vit, tmp_path):
    path = tmp_path / "epoch_1.pt"
    sd = {f"module.{k}": v for k, v in tiny_vit.model.state_dict().items()}
    torch.save({"epoch": 1, "name": "run", "state_dict": sd}, path)
    assert read_checkpoint(path)[0] == "training_checkpoint"
    loaded = load_local_clip(path, "clipwsss-tiny-vit")
    assert not loaded.quick_gelu and "training checkpoint" in loaded.note  # config: nn.GELU
    assert load_local_clip(path, "clipwsss-tiny-vit", activation="quick_gelu").quick_gelu
    # The heads (not in the tensors) come from the fitting named config: 48 / 16 = 3.
    assert loaded.model.visual.transformer.resblocks[0].attn.num_heads == 3


def test_choose_activation_rules():
    assert choose_activation("torchscript", "ViT-B-16") == (
        True,
        choose_activation("torchscript", "ViT-B-16")[1],
    )
    assert choose_activation("state_dict", "ViT-B-16")[0]
    assert not choose_activation("training_checkpoint", "ViT-B-16")[0]
    assert choose_activation("training_checkpoint", "ViT-B-16-quickgelu")[0]
    assert not choose_activation("torchscript", "ViT-B-16", "gelu")[0]
    with pytest.raises(ValueError, match="activation"):
        choose_activation("state_dict", "ViT-B-16", "relu")


def test_cli_says_which_activation_it_chose(tmp_path, make_rect_voc, capsys):
    voc = make_rect_voc(tmp_path / "VOC2012", 1, seed=0).root
    data = ["--dataset", "voc12", "--root", str(voc), "--split", "train", "--quiet"]
    assert (
        main(["cams", *data, "--out", str(tmp_path / "cams"), "--pretrained", str(KIT_WEIGHTS)])
        == 0
    )
    err = capsys.readouterr().err
    assert "QuickGELU assumed" in err and "--activation" in err


@pytest.mark.slow
def test_full_size_vit_b16_quickgelu_state_dict(tmp_path):
    """A plain fp32 state dict of open_clip ViT-B-16-quickgelu (random init) with the default
    model name: QuickGELU, exact weights, the same image and text embeddings."""
    torch.manual_seed(0)
    ref = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None).eval()
    path = tmp_path / "ViT-B-16-quickgelu.pt"
    torch.save(ref.state_dict(), path)
    arch = infer_clip_architecture(read_checkpoint(path)[1])
    assert arch["vision_cfg"] == dict(
        layers=12, width=768, patch_size=16, image_size=224, mlp_ratio=4.0
    )
    assert arch["embed_dim"] == 512 and arch["text_cfg"]["heads"] == 8
    clip = cw.load_clip("ViT-B-16", path)
    assert clip.quick_gelu and clip.model.visual.transformer.resblocks[0].attn.num_heads == 12
    for key, value in ref.state_dict().items():
        assert torch.equal(clip.model.state_dict()[key], value), key
    torch.testing.assert_close(_image_embedding(clip.model), _image_embedding(ref), rtol=0, atol=0)
    tokens = open_clip.tokenize(["a clean origami cat."])
    with torch.no_grad():
        np.testing.assert_array_equal(clip.model.encode_text(tokens), ref.encode_text(tokens))
    # The OpenAI layout proper: every tensor float16 (as the kit's file), loaded exactly.
    half = tmp_path / "ViT-B-16-fp16.pt"
    torch.save({k: v.half() for k, v in ref.state_dict().items()}, half)
    clip16 = cw.load_clip("ViT-B-16", half)
    assert clip16.quick_gelu
    for key, value in ref.state_dict().items():
        assert torch.equal(clip16.model.state_dict()[key], value.half().float()), key
    # The full-size dense forward at a VOC size: grid (24, 32), 12 attention maps.
    es = cw.ClipES(clip, cw.voc_vocabulary())
    out = es(np.zeros((375, 500, 3), np.uint8) + 128, labels=[7])
    assert out.cams.shape == out.refined.shape == (1, 24, 32)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::torch.jit.TracerWarning")
def test_torchscript_archive_loads_with_quickgelu(tmp_path):
    """A TorchScript archive (as OpenAI released them), traced here from the kit's model."""
    clip = cw.load_clip("ViT-B-16", KIT_WEIGHTS)
    pixels = torch.randn(1, 3, 224, 224)
    traced = torch.jit.trace_module(clip.model, {"encode_image": pixels}, check_trace=False)
    path = tmp_path / "ViT-small.pt"
    traced.save(str(path))
    loaded = load_local_clip(path, activation="auto")
    assert loaded.kind == "torchscript" and loaded.quick_gelu and "TorchScript" in loaded.note
    with torch.no_grad():
        assert torch.equal(loaded.model.encode_image(pixels), clip.model.encode_image(pixels))
