"""Every numbered notebook runs on the voc12 profile: a small VOC-layout folder and random CLIP
weights read from a local file (the small CLIP of the CLIP-ES fidelity kit), as a user with
``-p profile voc12 -p pretrained /path/ViT-B-16.pt -p data_root /path/VOC2012`` runs them.

The notebooks' own code runs unchanged, with their parameters injected by papermill; only the
sizes are made tiny (steps, images, prompts). The notebooks that read the tables of trained
runs (12, 14, 17) are pointed at the committed toy tables through their path parameters. All
notebooks execute in one kernel, whose namespace is reset between them (the interpreter and
its imports are shared, which keeps this test at about a minute of CPU per ten notebooks).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import numpy as np

from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
# Every profile notebook; the real-photo one takes CLIP weights, not a profile, and has its own
# test (tests/test_real_photos_notebook.py).
NOTEBOOKS = [
    p
    for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if p.stem not in REAL_WEIGHTS_NOTEBOOKS
]
WEIGHTS = ROOT / "tests" / "fidelity" / "fixture" / "weights" / "ViT-16-small-random.pt"
PAIRS = [
    ("boat", "person"),
    ("train", "bird"),
    ("aeroplane", "chair"),
    ("cat", "dog"),
    ("tvmonitor", "person"),
    ("boat", "bird"),
]  # the classes the notebooks detail
# Notebooks that read the tables of trained runs instead of scoring CLIP themselves.
TABLE_READERS = {"11_claim_ledger", "12_deeplab_cgl", "14_weclip_ablations", "17_three_methods"}


def write_small_voc(root: Path, size: tuple[int, int] = (64, 96), seed: int = 0) -> None:
    """A VOC2012-layout folder of six noise images with two class rectangles each.

    Shapes: images (H, W, 3) = ``size``.
    """
    from clipwsss.data import VOC_CLASSES, write_split, write_voc_sample

    h, w = size
    rng = np.random.default_rng(seed)
    ids = []
    boxes = [
        (h // 8, 5 * h // 8, w // 10, w // 2),
        (h // 2, 15 * h // 16, 9 * w // 16, 15 * w // 16),
    ]  # (y0, y1, x0, x1)
    for i, names in enumerate(PAIRS):
        image = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        label = np.zeros((h, w), np.uint8)
        for (y0, y1, x0, x1), name in zip(boxes, names, strict=True):
            image[y0:y1, x0:x1] = rng.integers(60, 255, 3)
            label[y0:y1, x0:x1] = VOC_CLASSES.index(name) + 1
        write_voc_sample(root, f"2099_{i:06d}", image, label)
        ids.append(f"2099_{i:06d}")
    write_split(root, "train", ids)
    write_split(root, "val", ids)


def tiny_parameters(tmp: Path) -> dict[str, dict]:
    """Per notebook, the parameters that make its run small (names as in its parameters cell)."""
    toy = ROOT / "results" / "toy"
    (tmp / "results").mkdir(exist_ok=True)
    (tmp / "results" / "voc12").symlink_to(toy, target_is_directory=True)
    return {
        "01": {"n_figure_images": 1, "workers": 1},
        "03": {"resnet_model": ""},  # no ResNet weights offline
        "04": {"n_prompts": 3},
        "06": {"scales": [], "n_figure": 1},
        "07": {"lambdas": "[0.2, 0.4]", "mus": "[0.9, 0.95]"},  # as a user types them
        "08": {"workers": 1, "n_figure": 1},
        "09": {"n_images": 2, "vit_images": 1, "crf_workers": 1},
        "10": {"crf_workers": 1},
        "12": {"tables_dir": str(toy / "deeplab")},
        "13": {"n_steps": 2, "batch_size": 2, "n_figure": 1},
        "14": {"ablations_json": str(toy / "weclip" / "ablations.json")},
        "15": {"iterations": 2, "batch_size": 2, "count_vitb16": False, "limit": 0},
        "16": {"prompt_counts": [2, 4]},
        "17": {"results_root": str(tmp / "results"), "time_models": False},
        "18": {"background_sizes": [1, 4]},
        "20": {"n_worst": 2},
    }


def _reading(nb) -> str:
    cells = nb.cells
    i = next(
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.strip() == "## Reading"
    )
    return "".join(o.get("data", {}).get("text/markdown", "") for o in cells[i + 1].outputs)


def run_in_one_kernel(paths: list[Path], parameters: dict[str, dict]) -> tuple[dict, dict]:
    """Execute each notebook with its injected ``parameters[path.stem]`` in one kernel.

    Returns:
        (executed notebooks by stem, error text by stem for those that raised).
    """
    import papermill
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(ROOT / "notebooks"))
    done, errors = {}, {}
    try:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            nb.metadata["papermill"] = {}  # where papermill records the parameters
            nb = papermill.parameterize.parameterize_notebook(
                nb, parameters[path.stem], kernel_name="python3", language="python"
            )
            reset = nbformat.v4.new_code_cell(
                "%reset -f\nimport clipwsss.experiments.notebooks as _nbk\n"
                "_nbk._WEIGHTS_NOTE = ''\nimport matplotlib.pyplot as _plt\n_plt.close('all')"
            )
            nb.cells.insert(0, reset)
            client = NotebookClient(
                nb,
                km=km,
                timeout=600,
                allow_errors=False,
                resources={"metadata": {"path": str(ROOT / "notebooks")}},
            )
            try:
                client.execute()
                done[path.stem] = nb
            except Exception as err:  # every notebook's failure, not only the first
                errors[path.stem] = f"{type(err).__name__}: {str(err)[-1500:]}"
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    return done, errors


def test_every_notebook_runs_on_voc12_with_weights_from_a_file(tmp_path):
    data, out = tmp_path / "VOC2012", tmp_path / "out"
    write_small_voc(data)
    tiny = tiny_parameters(tmp_path)
    base = {
        "profile": "voc12",
        "data_root": str(data),
        "pretrained": str(WEIGHTS),
        "results_dir": str(out),
    }
    t0 = time.time()
    done, errors = run_in_one_kernel(
        NOTEBOOKS, {p.stem: {**base, **tiny.get(p.name[:2], {})} for p in NOTEBOOKS}
    )
    print(f"{len(NOTEBOOKS)} notebooks in {time.time() - t0:.0f} s")
    failures = [f"{stem}: {text}" for stem, text in errors.items()]
    for stem, nb in done.items():
        metrics = out / f"{stem}.json"
        if not metrics.is_file():
            failures.append(f"{stem}: no {metrics.name}")
            continue
        written = json.loads(metrics.read_text())
        if written["profile"] != "voc12" or not written["metrics"]:
            failures.append(f"{stem}: metrics {written}")
        text = _reading(nb)
        if stem not in TABLE_READERS and not text.startswith("**Not results.**"):
            failures.append(
                f"{stem}: the reading does not say the weights are random: {text[:200]}"
            )
        if "FAIL:" in json.dumps([c.get("outputs", []) for c in nb.cells]):
            failures.append(f"{stem}: a check against the stored toy values fired on voc12")
    assert not failures, "\n\n".join(failures)
