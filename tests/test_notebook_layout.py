"""Every numbered notebook has the shared shape of clipwsss.experiments.layout (Learn, Measure,
Reading, Takeaways, Exercises in method notebooks, and a collapsed last section holding the
checks, the metrics file and the provenance); the exercise and takeaway helpers work."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from clipwsss.experiments import layout
from clipwsss.experiments import notebooks as nbk

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-2][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_shared_layout(path):
    assert layout.notebook_problems(path) == []


def _nb(*sources: str):
    cells = [
        nbformat.v4.new_code_cell(s[5:])
        if s.startswith("code:")
        else nbformat.v4.new_markdown_cell(s)
        for s in sources
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_layout_finds_what_is_missing_and_accepts_the_full_shape():
    full = [
        "# 99 · x",
        "## Learn",
        "## Measure",
        "## Takeaways",
        "code:nbk.takeaways('a', 'b', 'c')",
        "## Checks, metrics and provenance",
        "code:# NBVAL_CHECK_OUTPUT\nprint(1)",
        "code:nbk.save_metrics('', 'x', {}, profile='toy')",
        "code:nbk.provenance('toy', 0, 0.0)",
    ]
    nb = _nb(*full)
    assert layout.layout_problems(nb, "99_x") == [
        "'## Checks, metrics and provenance' is not collapsed (jp-MarkdownHeadingCollapsed)"
    ]
    layout.collapse_last_section(nb)
    assert layout.layout_problems(nb, "99_x") == []
    assert nb.cells[-1].metadata["jupyter"]["source_hidden"] is True
    assert "no '## Exercises' section" in layout.layout_problems(nb, "06_caa_vs_mhsa")
    early = _nb(*full[:2], "code:# NBVAL_CHECK_OUTPUT\nprint(2)", *full[2:])
    layout.collapse_last_section(early)
    assert any("before" in p for p in layout.layout_problems(early, "99_x"))
    swapped = _nb(full[0], full[2], full[1], *full[3:])
    assert any("out of order" in p for p in layout.layout_problems(swapped, "99_x"))


def test_exercises_need_a_verdict_and_a_folded_answer():
    nb = _nb(
        "## Learn",
        "## Measure",
        "## Takeaways",
        "code:nbk.takeaways('a', 'b', 'c')",
        "## Exercises",
        "### Exercise 1\nq",
        "code:nbk.exercise(None, 1)",
        "<details><summary>Answer</summary>x</details>",
        "### Exercise 2\nq",
        "code:print()",
        "## Checks, metrics and provenance",
        "code:nbk.save_metrics('', 'x', {}, profile='toy')\nnbk.provenance('toy', 0, 0.0)",
    )
    layout.collapse_last_section(nb)
    assert layout.layout_problems(nb, "06_caa_vs_mhsa") == [
        "exercise 2 has no nbk.exercise(...) verdict",
        "exercise 2 has no answer in <details>",
    ]


def test_exercise_verdicts():
    assert nbk.exercise(None, 1.0).startswith("Not attempted")
    assert nbk.exercise(torch.ones(2, 3), np.ones((2, 3))).startswith("Correct")
    assert nbk.exercise(np.ones(3) + 1e-3, np.ones(3)).startswith("Not yet: largest difference")
    assert "shape" in nbk.exercise(np.ones(2), np.ones(3))
    assert nbk.exercise({"cat"}, {"cat"}).startswith("Correct")
    assert nbk.exercise("dog", "cat").startswith("Not yet")


def test_takeaways_are_three_bullets():
    text = nbk.takeaways("one\n  two", "b", "c").data
    assert text.splitlines()[-3:] == ["- one two", "- b", "- c"]
    with pytest.raises(ValueError):
        nbk.takeaways("a", " ", "c")


def _check_exercises_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "check_exercises", ROOT / "scripts" / "check_exercises.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_folded_answer_sets_the_answer_its_cell_checks(path):
    """`make exercises` pastes each folded answer over its cell's `answer = None`; here the
    paste itself: every exercise cell gets its answer's code and keeps its verdict line."""
    nb = nbformat.read(path, as_version=4)
    before = [c.source for c in nb.cells]
    cells = _check_exercises_script().solved_copy(nb)
    assert len(cells) == sum("nbk.exercise(" in s for s in before)
    for i in cells:
        source = nb.cells[i].source
        assert "answer = None" not in source and "answer" in source.split("nbk.exercise(")[0]
        assert source.rstrip().endswith(before[i].rstrip().splitlines()[-1])
        compile(source, f"{path.stem} cell {i}", "exec")
