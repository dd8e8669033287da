"""Re-execute the committed notebooks in place with their default (toy) parameters.

    python scripts/execute_notebooks.py [NAME ...]

The stored outputs are what `pytest --nbval-lax` compares in CI. papermill's timing metadata
is stripped so that a re-run changes only what really changed; cell tags are kept.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def strip_timing(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.notebooks import run_notebook

    names = set(argv if argv is not None else sys.argv[1:])
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if names and nb.stem not in names and nb.name not in names:
            continue
        t0 = time.time()
        run_notebook(nb, nb)  # no parameters: no injected cell, the defaults run
        strip_timing(nb)
        print(f"{nb.name}: {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
