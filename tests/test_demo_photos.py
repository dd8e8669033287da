"""Tests for scripts/demo_photos.py: everything up to the real weights (the photos and their
labels, the missing-weights exit path) and the figure path with the tiny random model."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import clipwsss as cw
from clipwsss.clip.loading import PRETRAINED_ENV

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "demo_photos.py"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo_photos", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo_photos"] = module  # dataclasses resolve annotations through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("demo_photos", None)


def test_photos_load_with_voc_labels(demo):
    vocab = cw.voc_vocabulary()
    expected = {"chelsea": [7], "astronaut": [14], "motorcycle": [13]}  # cat, person, motorbike
    assert set(demo.PHOTOS) == set(expected)
    for name, labels in expected.items():
        image, got = demo.load_photo(demo.PHOTOS[name], vocab)
        assert got == labels
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
        assert min(image.shape[:2]) >= 300 and image.std() > 20  # a real photo, not blank


def test_resolve_pretrained(demo, monkeypatch):
    monkeypatch.delenv(PRETRAINED_ENV, raising=False)
    assert demo.resolve_pretrained(None) == "openai"
    monkeypatch.setenv(PRETRAINED_ENV, "/w/ViT-B-16.pt")
    assert demo.resolve_pretrained(None) == "/w/ViT-B-16.pt"
    assert demo.resolve_pretrained("openai") == "openai"  # the flag wins over the variable


def test_missing_checkpoint_exits_2_with_the_message(demo, tmp_path, capsys):
    missing = tmp_path / "ViT-B-16.pt"
    code = demo.main(["--pretrained", str(missing), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert PRETRAINED_ENV in err and "--pretrained" in err and str(missing) in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_from_env_exits_2(demo, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "from_env.pt"
    monkeypatch.setenv(PRETRAINED_ENV, str(missing))
    assert demo.main(["--out", str(tmp_path / "out")]) == 2
    assert str(missing) in capsys.readouterr().err


def test_script_exits_2_without_traceback(tmp_path):
    # As a user runs it: a fresh process, offline, no weights. (The default "openai" download
    # failing offline is covered by test_backbone; a missing file avoids building ViT-B-16.)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    env[PRETRAINED_ENV] = str(tmp_path / "ViT-B-16.pt")
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "out"), "--device", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "error: Could not load CLIP weights for 'ViT-B-16'" in out.stderr
    assert PRETRAINED_ENV in out.stderr and "Random weights are never substituted" in out.stderr
    assert not (tmp_path / "out").exists()


def test_random_weights_writes_marked_figures(demo, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["--model", "clipwsss-tiny-vit", "--allow-random-weights", "--caa-layers", "2"]
    code = demo.main([*argv, "--out", str(out), "--device", "cpu", "--photos", "chelsea"])
    captured = capsys.readouterr()
    assert code == 0
    assert demo.RANDOM_WARNING in captured.err
    png = out / "chelsea.png"
    assert png.is_file() and str(png) in captured.out
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 400 and img.height > 200
        pixels = np.asarray(img.convert("RGB"))
    assert (pixels[..., 0].astype(int) - pixels[..., 2] > 100).any()  # red warning text, jet
    assert sorted(p.name for p in out.iterdir()) == ["chelsea.png"]  # no temporary files left


def test_render_figure_titles(demo):
    image = np.zeros((40, 60, 3), np.uint8)
    cams = torch.rand(2, 40, 60)
    fig = demo.render_figure(
        image, cams, None, ["cat", "dog"], torch.tensor([0.3, 0.1]), title="t", warning="W!"
    )
    axes = fig.get_axes()
    assert len(axes) == 6
    assert all(ax.get_title().startswith("W!") for ax in axes)
    assert fig._suptitle.get_text().startswith("W!")
    assert "no CAA" in axes[2].get_title()
    clean = demo.render_figure(image, cams, cams, ["cat", "dog"], torch.ones(2), title="t")
    assert not any("W!" in ax.get_title() for ax in clean.get_axes())
    assert "cat: CAA-refined" in clean.get_axes()[2].get_title()
