"""Tests for clipwsss.methods.base: the CamMethod protocol, the registry, and that the data-set
loops take any registered method (not only CLIP-ES)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pytest
import torch

import clipwsss as cw
from clipwsss.cams.labels import upsample_cams
from clipwsss.io.camfiles import load_cams, read_run_record
from clipwsss.methods.base import (
    CamMethod,
    build_method,
    method_entry,
    register_method,
    registered_methods,
)
from clipwsss.pipelines.cams import generate_cams
from clipwsss.pipelines.evaluate import evaluate
from clipwsss.pipelines.masks import generate_masks


@dataclass(frozen=True)
class LeftHalfConfig:
    value: float = 0.9  # CAM value on the left half of the image


@dataclass(frozen=True)
class _Cams:
    keys: torch.Tensor
    cams: torch.Tensor
    refined: torch.Tensor | None


@dataclass
class LeftHalfCams:
    """A method that is not CLIP-ES: every class gets the left half of the image."""

    n_classes: int
    config: LeftHalfConfig
    min_image_size: int = 4

    def __call__(self, image, labels):
        h, w = image.shape[0] // 4, image.shape[1] // 4
        cams = torch.zeros(len(labels), h, w)
        cams[:, :, : w // 2] = self.config.value
        return _Cams(torch.as_tensor(list(labels)), cams, None)

    def batch(self, images, labels):
        return [self(im, lab) for im, lab in zip(images, labels, strict=True)]

    upsample = staticmethod(upsample_cams)

    def run_record(self):
        return {"model": "left-half", "config": asdict(self.config)}


@register_method("test-left-half", config=LeftHalfConfig)
def _build(clip, vocab, config):
    return LeftHalfCams(len(vocab), config)


def test_clip_es_is_registered_and_is_a_cam_method(tiny_vit):
    assert "clip-es" in registered_methods() and "test-left-half" in registered_methods()
    assert method_entry("clip-es").config is cw.ClipEsConfig
    es = build_method("clip-es", tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))
    assert isinstance(es, cw.ClipES) and isinstance(es, CamMethod)
    assert es.n_classes == 20 and es.min_image_size == 16
    record = es.run_record()
    assert record["model"] == tiny_vit.name and record["config"]["caa_layers"] == 2


def test_registry_errors(tiny_vit):
    with pytest.raises(KeyError, match="clip-es"):
        method_entry("no-such-method")
    with pytest.raises(TypeError, match="ClipEsConfig"):
        build_method("clip-es", tiny_vit, cw.voc_vocabulary(), LeftHalfConfig())
    with pytest.raises(ValueError, match="already registered"):
        register_method("clip-es", config=cw.ClipEsConfig)(lambda clip, vocab, config: None)


def test_the_pipelines_take_any_registered_method(tmp_path, make_rect_voc):
    voc = make_rect_voc(tmp_path / "VOC2012", 3)
    method = build_method("test-left-half", None, cw.voc_vocabulary())
    assert isinstance(method, CamMethod)
    report = generate_cams(method, voc, tmp_path / "cams", progress=False)
    assert report.done == 3
    record = read_run_record(tmp_path / "cams")
    assert record["model"] == "left-half" and record["config"] == {"value": 0.9}
    sample = voc.sample(voc.ids[0])
    cams = load_cams(tmp_path / "cams" / f"{voc.ids[0]}.npy")
    h, w = cams.get("attn_highres").shape[1:]
    assert list(cams.keys) == list(sample.labels)
    assert np.allclose(cams.get("attn_highres")[:, :, : w // 2 - 4], 0.9, atol=1e-3)
    assert np.allclose(cams.get("attn_highres")[:, :, w // 2 + 4 :], 0.0, atol=1e-3)
    generate_masks(voc, tmp_path / "cams", tmp_path / "masks", progress=False)
    result = evaluate(voc, tmp_path / "masks", progress=False)
    assert 0 <= result.scores.miou <= 1 and result.n_images == 3
