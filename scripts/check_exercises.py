"""Run every exercise with its folded answer pasted in; each verdict must say "Correct".

    python scripts/check_exercises.py [NAME ...]        # make exercises

For each notebook with exercises (``clipwsss.experiments.layout.METHOD_NOTEBOOKS``, or the
names given), a copy is made in which the ``answer = None`` line of every exercise cell is
replaced by the code of the answer folded under it (the ```` ```python ```` block inside
``<details>``), the copy is executed by ``nbk.run_notebook`` (papermill) on the toy profile
in a scratch folder, and the printed verdict of every exercise cell is read back. The
committed notebooks are not touched. Exit status 1 if any verdict is not "Correct" (each is
listed). About 10 CPU minutes for all of them.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ANSWER = re.compile(r"```python\n(.*?)```", re.S)


def solved_copy(nb) -> list[int]:
    """Paste each folded answer into its exercise cell (in place); the cells' indices."""
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "nbk.exercise(" not in cell.source:
            continue
        folded = next(
            c.source
            for c in nb.cells[i + 1 :]
            if c.cell_type == "markdown" and "<details>" in c.source
        )
        code = ANSWER.search(folded).group(1)
        lines = cell.source.splitlines()
        at = next(k for k, line in enumerate(lines) if line.startswith("answer = None"))
        cell.source = "\n".join([*lines[:at], code.rstrip(), *lines[at + 1 :]])
        cells.append(i)
    return cells


def verdicts(nb, cells: list[int]) -> list[str]:
    out = []
    for i in cells:
        text = "".join(o.get("text", "") for o in nb.cells[i].outputs if o.output_type == "stream")
        out.append(text.strip().splitlines()[-1] if text.strip() else "(no output)")
    return out


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.layout import METHOD_NOTEBOOKS
    from clipwsss.experiments.notebooks import run_notebook

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=list(METHOD_NOTEBOOKS))
    args = p.parse_args(argv)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names:
            nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
            cells = solved_copy(nb)
            src, dst = Path(tmp) / f"{name}.ipynb", Path(tmp) / f"{name}.out.ipynb"
            nbformat.write(nb, src)
            run_notebook(src, dst)
            for n, verdict in enumerate(verdicts(nbformat.read(dst, as_version=4), cells), 1):
                ok = verdict.startswith("Correct")
                failed += not ok
                print(f"{name} exercise {n}: {verdict}")
    print(f"{'all answers correct' if not failed else f'{failed} answer(s) not correct'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
