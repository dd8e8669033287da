"""The shape every numbered notebook shares, so a reader finds the same parts in the same place.

Sections (level-2 headings, in this order):

* ``## Learn``: one to three images and the algorithm written out, checked equal to the
  package's function.
* ``## Measure``: tables and paired intervals on the whole split.
* ``## Reading`` (where the notebook interprets its numbers): rendered by ``nbk.reading`` from a
  template function of :mod:`clipwsss.experiments.readings`, not typed in the notebook.
* ``## Takeaways``: three bullets (``nbk.takeaways``).
* ``## Exercises`` (method notebooks): two or three ``### Exercise`` parts, each with a code
  cell whose verdict comes from ``nbk.exercise`` and an answer folded in ``<details>``.
* ``## Checks, metrics and provenance``: last, rendered collapsed in JupyterLab
  (``jp-MarkdownHeadingCollapsed``); every tolerance check (``NBVAL_CHECK_OUTPUT``), the metrics
  file (``nbk.save_metrics``) and the provenance table sit here.

:func:`layout_problems` lists what a notebook lacks; ``tests/test_notebook_layout.py`` runs it
on every notebook, and :func:`collapse_last_section` sets the metadata.
"""

from __future__ import annotations

import re

import nbformat

LEARN = "Learn"
MEASURE = "Measure"
READING = "Reading"
TAKEAWAYS = "Takeaways"
EXERCISES = "Exercises"
CHECKS = "Checks, metrics and provenance"
ORDER = (LEARN, MEASURE, READING, TAKEAWAYS, EXERCISES, CHECKS)
COLLAPSED = "jp-MarkdownHeadingCollapsed"  # JupyterLab's metadata of a folded heading

# Notebooks that teach one method's step or module: they carry exercises.
METHOD_NOTEBOOKS = (
    "02_softmax_background",
    "03_pooling_backbone",
    "04_sharpness_prompts",
    "05_synonym_fusion",
    "06_caa_vs_mhsa",
    "07_lambda_mu_sweeps",
    "08_crf_pseudo_masks",
    "12_deeplab_cgl",
    "13_weclip_overview",
    "14_weclip_ablations",
    "15_weakclip_overview",
    "16_weakclip_ablations",
    "18_prompt_ablations",
    "19_caa_ablations",
)
LAST_SECTION_MARKS = ("NBVAL_CHECK_OUTPUT", "save_metrics(", "provenance(")


def _sections(nb) -> list[tuple[str, int]]:
    """(level-2 heading text, cell index) in order."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    found.append((line[3:].strip(), i))
    return found


def layout_problems(nb, stem: str) -> list[str]:
    """What ``nb`` (an nbformat notebook named ``stem``) lacks of the shared shape; [] if none."""
    problems = []
    sections = _sections(nb)
    names = [name for name, _ in sections]
    required = [LEARN, MEASURE, TAKEAWAYS, CHECKS]
    if stem in METHOD_NOTEBOOKS:
        required.append(EXERCISES)
    for name in required:
        if name not in names:
            problems.append(f"no '## {name}' section")
    unknown = [n for n in names if n not in ORDER]
    if unknown:
        problems.append(f"level-2 headings outside the shared order: {unknown} (use ###)")
    known = [n for n in names if n in ORDER]
    if known != sorted(known, key=ORDER.index) or len(set(known)) != len(known):
        problems.append(f"sections out of order or repeated: {known}")
    if problems:
        return problems
    start = dict(sections)
    bounds = {name: (i, _next(sections, i, len(nb.cells))) for name, i in sections}

    def cells(name: str):
        lo, hi = bounds[name]
        return nb.cells[lo:hi]

    last = start[CHECKS]
    if not nb.cells[last].metadata.get(COLLAPSED):
        problems.append(f"'## {CHECKS}' is not collapsed ({COLLAPSED})")
    for i, cell in enumerate(nb.cells[:last]):
        if cell.cell_type == "code" and any(m in cell.source for m in LAST_SECTION_MARKS):
            problems.append(f"cell {i} holds a check, metrics or provenance before '## {CHECKS}'")
    tail = "".join(c.source for c in cells(CHECKS) if c.cell_type == "code")
    for mark in ("save_metrics(", "provenance("):
        if mark not in tail:
            problems.append(f"no {mark}...) in '## {CHECKS}'")
    take = cells(TAKEAWAYS)
    if not any(c.cell_type == "code" and "nbk.takeaways(" in c.source for c in take):
        problems.append("the takeaways are not rendered by nbk.takeaways(...)")
    if READING in start:
        for cell in cells(READING):
            if cell.cell_type == "code" and "nbk.reading(" in cell.source:
                if "readings." not in cell.source:
                    problems.append("the reading's template is in the notebook, not in readings")
    if stem in METHOD_NOTEBOOKS:
        problems += _exercise_problems(cells(EXERCISES))
    return problems


def _next(sections: list[tuple[str, int]], index: int, end: int) -> int:
    later = [i for _, i in sections if i > index]
    return later[0] if later else end


def _exercise_problems(cells) -> list[str]:
    starts = [
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and re.search(r"^### Exercise", c.source, re.M)
    ]
    if not 2 <= len(starts) <= 3:
        return [f"{len(starts)} '### Exercise' parts (two or three wanted)"]
    problems = []
    for n, lo in enumerate(starts):
        hi = starts[n + 1] if n + 1 < len(starts) else len(cells)
        part = cells[lo:hi]
        if not any(c.cell_type == "code" and "nbk.exercise(" in c.source for c in part):
            problems.append(f"exercise {n + 1} has no nbk.exercise(...) verdict")
        if not any(c.cell_type == "markdown" and "<details>" in c.source for c in part):
            problems.append(f"exercise {n + 1} has no answer in <details>")
    return problems


def collapse_last_section(nb) -> None:
    """Mark the ``## Checks, metrics and provenance`` heading folded and hide its code."""
    sections = _sections(nb)
    start = dict(sections)[CHECKS]
    nb.cells[start].metadata[COLLAPSED] = True
    for cell in nb.cells[start + 1 :]:
        if cell.cell_type == "code":
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True


def notebook_problems(path) -> list[str]:
    """:func:`layout_problems` of the notebook file at ``path``."""
    from pathlib import Path

    path = Path(path)
    return layout_problems(nbformat.read(path, as_version=4), path.stem)
