"""Structure of the committed notebooks (nbval re-executes them separately) and the runner."""

import json
from pathlib import Path

import nbformat
import pytest

from clipwsss.experiments.notebooks import notebook_parameters, run_notebook, save_metrics

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = {"profile", "data_root", "split", "limit", "seed", "results_dir"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    tags = [set(c.metadata.get("tags", [])) for c in nb.cells]
    assert sum("parameters" in t for t in tags) == 1, "exactly one cell tagged 'parameters'"
    assert not any("injected-parameters" in t for t in tags), "papermill output committed"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    params = notebook_parameters(path)
    assert REQUIRED <= set(params), f"missing parameters {REQUIRED - set(params)}"
    assert params["profile"]["default"].strip("'\"") == "toy"
    checked = [c for c in nb.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, "no # NBVAL_CHECK_OUTPUT cell"
    assert all(c.outputs for c in checked), "committed without the toy outputs"


def _tiny_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    cell = nbformat.v4.new_code_cell('profile = "toy"  # which profile')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(profile)")]
    nbformat.write(nb, path)


def test_runner_refuses_unknown_parameter_names(tmp_path):
    _tiny_notebook(tmp_path / "t.ipynb")
    assert set(notebook_parameters(tmp_path / "t.ipynb")) == {"profile"}
    with pytest.raises(ValueError, match="no parameter"):
        run_notebook(tmp_path / "t.ipynb", tmp_path / "out.ipynb", {"profil": "voc12"})
    assert not (tmp_path / "out.ipynb").exists()


def test_save_metrics_writes_json_or_nothing(tmp_path):
    assert save_metrics("", "nb", {"a": 1.0}, profile="toy") is None
    path = save_metrics(str(tmp_path), "nb", {"t2_caa": 12.5}, profile="toy")
    assert json.loads(path.read_text())["metrics"] == {"t2_caa": 12.5}
