"""Notebook parameters as a batch user passes them: one check, lists as strings, clear errors;
scripts/run_notebooks.py writes to a scratch folder unless told to refresh results."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

from clipwsss.clip.loading import WeightsNotFoundError, load_clip
from clipwsss.experiments.parameters import coerce, parameter_defaults, validate_parameters
from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _notebook(folder: Path, source: str) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, folder / "99_t.ipynb")
    return "99_t"


def test_values_take_the_type_of_their_default():
    assert coerce("lambdas", "[0.2, 0.4]", [0.0, 0.5]) == [0.2, 0.4]  # papermill -p, as typed
    assert coerce("lambdas", [0, 1], [0.0]) == [0.0, 1.0]  # ints in a float list
    assert coerce("lambdas", 0.4, [0.0]) == [0.4]  # -p lambdas 0.4: a list of one
    assert coerce("classes", "boat, car", []) == ["boat", "car"]
    assert coerce("limit", "5", 0) == 5 and coerce("limit", 5.0, 0) == 5
    assert coerce("threshold", 1, 0.95) == 1.0
    assert coerce("vit_b16", "false", True) is False
    assert coerce("customised", "{'person': 'a,b'}", {"x": "y"}) == {"person": "a,b"}
    with pytest.raises(ValueError, match="limit must be an integer, got 'abc'"):
        coerce("limit", "abc", 0)
    with pytest.raises(ValueError, match=r"lambdas\[1\] must be a number"):
        coerce("lambdas", "[0.2, 'x']", [0.0])
    with pytest.raises(ValueError, match="split must be a string"):
        coerce("split", 3, "")


def test_validate_converts_in_place_and_names_every_bad_value(tmp_path):
    name = _notebook(
        tmp_path,
        'profile = "toy"\nlambdas = [0.0, 0.4]\nlimit = 0\n'
        'pretrained = ""\nfree = object()  # not a literal: not checked',
    )
    assert set(parameter_defaults(name, folder=tmp_path)) == {
        "profile",
        "lambdas",
        "limit",
        "pretrained",
    }
    ns = {"profile": "voc12", "lambdas": "[0.2, 0.4]", "limit": 3, "pretrained": "/w.pt"}
    validate_parameters(name, ns, folder=tmp_path)
    assert ns["lambdas"] == [0.2, 0.4]
    bad = {"profile": "pascal", "lambdas": "[0.2, 1.5]", "limit": -1, "pretrained": ""}
    with pytest.raises(ValueError) as err:
        validate_parameters(name, bad, folder=tmp_path)
    text = str(err.value)
    assert "99_t: invalid parameter(s)" in text
    assert "profile='pascal'" in text and "lambdas=[0.2, 1.5]" in text and "limit=-1" in text
    assert bad["lambdas"] == "[0.2, 1.5]"  # nothing half-converted on failure of that value
    with pytest.raises(ValueError, match="toy profile runs the shipped micro-CLIP"):
        validate_parameters(name, {"profile": "toy", "pretrained": "/w.pt"}, folder=tmp_path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_validates_its_parameters_and_takes_pretrained(path):
    """Each numbered notebook calls the shared check first, and its own defaults pass it."""
    cells = nbformat.read(path, as_version=4).cells
    i = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert f'nbk.validate_parameters("{path.stem}", globals())' in cells[i + 1].source
    defaults = parameter_defaults(path.stem)
    # empty: the profile's weights; the real-photo notebook has no profile and asks for OpenAI's
    assert defaults["pretrained"] == ("openai" if path.stem in REAL_WEIGHTS_NOTEBOOKS else "")
    namespace = dict(defaults)
    validate_parameters(path.stem, namespace)
    assert namespace == defaults
    if "nbk.setup(" in cells[i + 1].source:
        assert "pretrained=pretrained" in cells[i + 1].source


def test_missing_weights_say_what_works_from_a_notebook(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        load_clip("ViT-B-16", str(tmp_path / "ViT-B-16.pt"))
    text = str(err.value)
    assert "-p pretrained /path/ViT-B-16.pt" in text and "parameters cell" in text
    assert "CLIPWSSS_PRETRAINED" in text


def _run_notebooks_script():
    spec = importlib.util.spec_from_file_location(
        "run_notebooks", ROOT / "scripts" / "run_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_notebooks_writes_to_scratch_unless_told_to_refresh(monkeypatch):
    import clipwsss.experiments.notebooks as nbk

    script = _run_notebooks_script()
    calls = []
    monkeypatch.setattr(nbk, "run_notebook", lambda nb, out, params: calls.append((out, params)))
    script.main(["--nb", "07_lambda_mu_sweeps", "-p", "lambdas", "[0.2, 0.4]"])
    out, params = calls[-1]
    assert out == script.SCRATCH / "toy" / "07_lambda_mu_sweeps.ipynb"
    assert params["lambdas"] == [0.2, 0.4] and params["results_dir"] == str(out.parent)
    script.main(["--profile", "voc12", "--nb", "06_caa_vs_mhsa", "--refresh-results"])
    assert calls[-1][0] == ROOT / "results" / "voc12" / "06_caa_vs_mhsa.ipynb"
    with pytest.raises(SystemExit):
        script.main(["--nb", "07_lambda_mu_sweeps", "--refresh-results"])  # toy: execute_notebooks
    assert len(calls) == 2
