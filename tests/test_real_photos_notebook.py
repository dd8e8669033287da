"""Notebook 21 (CLIP-ES Fig. 1 and Fig. 5 on real photos) as a user runs it, with papermill.

It is committed unexecuted and left out of nbval (notebooks/conftest.py): the repository has
no real CLIP weights, so nbval could only replay the "no weights" stop. Here it runs twice:
without weights (offline, empty caches) it must stop in its first code cell with what to
download and how to pass it, and nothing after that cell runs; with the random small CLIP of
the CLIP-ES fidelity kit (a local OpenAI-layout file, the real loading path) it must run to
the end, draw its figures, write its metrics and say that its figures are meaningless.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from clipwsss.clip.loading import PRETRAINED_ENV
from clipwsss.experiments.notebooks import notebook_parameters, run_notebook
from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS, VIT_B16_URL, mask_figure

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "21_real_photos.ipynb"
WEIGHTS = ROOT / "tests" / "fidelity" / "fixture" / "weights" / "ViT-16-small-random.pt"


def _offline(monkeypatch, tmp_path) -> None:
    """No weights anywhere: empty caches, hub offline, proxies that refuse connections (the
    kernel papermill starts inherits this environment)."""
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(PRETRAINED_ENV, raising=False)


def _texts(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts += [out.get("text", ""), out.get("evalue", "")]
        parts += [str(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def test_committed_unexecuted_and_not_in_the_toy_batches():
    assert NOTEBOOK.stem in REAL_WEIGHTS_NOTEBOOKS
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    params = notebook_parameters(NOTEBOOK)
    assert params["pretrained"]["default"].strip("'\"") == "openai"
    assert {"pretrained", "model", "device", "photos", "results_dir"} <= set(params)


@pytest.mark.slow  # about 20 s: a kernel start and the imports
def test_without_weights_it_stops_in_the_first_cell_with_what_to_download(tmp_path, monkeypatch):
    import papermill

    _offline(monkeypatch, tmp_path)
    out = tmp_path / "out.ipynb"
    results = tmp_path / "results"
    with pytest.raises(papermill.PapermillExecutionError) as err:  # default: "openai"
        run_notebook(NOTEBOOK, out, {"results_dir": str(results), "device": "cpu"})
    assert err.value.ename == "SystemExit"
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    first = next(
        i
        for i, c in enumerate(cells)
        if "parameters" not in c.metadata.get("tags", [])
        and "injected-parameters" not in c.metadata.get("tags", [])
    )
    message = _texts(cells[first])
    for needed in (
        VIT_B16_URL,
        "ViT-B-16.pt",
        "-p pretrained",
        PRETRAINED_ENV,
        "pretrained env",
        "nothing below runs",
    ):
        assert needed in message, needed
    assert "Traceback" not in message  # the message, not a stack of frames
    assert all(c.get("execution_count") is None for c in cells[first + 1 :])  # nothing else ran
    assert not results.exists()


@pytest.mark.slow  # about 30 s on 2 busy cores: one photo through the small 12-block CLIP
def test_random_weights_run_to_the_end_and_say_the_figures_are_meaningless(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    out = tmp_path / "out.ipynb"
    params = {
        "pretrained": str(WEIGHTS),
        "device": "cpu",
        "photos": ["chelsea"],
        "results_dir": str(tmp_path),
    }
    run_notebook(NOTEBOOK, out, params)
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    assert all(c.get("execution_count") is not None for c in cells)
    text = "\n".join(_texts(c) for c in cells)
    assert "RANDOM OR WRONG WEIGHTS" in text and "meaningless" in text
    assert "recognise 0 of the 1 photos" in text
    # the photo, Fig. 1, Fig. 5 and the mask figure
    pngs = sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))
    assert pngs == 4
    metrics = json.loads((tmp_path / "real_photos.json").read_text())["metrics"]
    assert metrics["recognised chelsea"] == 0.0
    for key in (
        "chelsea cat GradCAM (logit) score",
        "chelsea dog Softmax-GradCAM score",
        "chelsea cat + CAA + dCRF, conf >= 0.95 pixel share",
    ):
        assert key in metrics
    assert 0.0 < metrics["chelsea cat Softmax-GradCAM score"] < 1.0  # a softmax probability
    assert metrics["chelsea cat GradCAM (logit) score"] > 1.0  # a logit (tau = 100)


def test_mask_figure_has_a_legend_of_the_classes_shown():
    import numpy as np

    image = np.zeros((20, 30, 3), np.uint8)
    label = np.zeros((20, 30), np.uint8)
    label[:5], label[-2:] = 8, 255  # cat (VOC id 7), ignored
    fig = mask_figure(
        image, {"pseudo mask": label}, [f"c{i}" for i in range(7)] + ["cat"], title="t", warning="W"
    )
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert names == ["background", "cat", "ignored"]
    assert fig._suptitle.get_text().startswith("W")


@pytest.mark.parametrize("pretrained", ["env", ""])
def test_load_photo_clip_says_what_to_download(pretrained, monkeypatch):
    import clipwsss as cw
    from clipwsss.experiments.photos import load_photo_clip

    monkeypatch.delenv(PRETRAINED_ENV, raising=False)
    with pytest.raises(cw.WeightsNotFoundError) as err:
        load_photo_clip(pretrained, device="cpu")
    text = str(err.value)
    assert VIT_B16_URL in text and "-p pretrained" in text and PRETRAINED_ENV in text
    assert "never substituted" in text
