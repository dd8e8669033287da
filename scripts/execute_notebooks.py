"""Re-execute the committed notebooks in place with their default (toy) parameters.

    python scripts/execute_notebooks.py [--check] [NAME ...]

The stored outputs are what `pytest --nbval-lax` compares in CI. papermill's timing metadata
is stripped so that a re-run changes only what really changed; cell tags are kept. The values
that the `# NBVAL_CHECK_OUTPUT` cells compare are stored in notebooks/checks/NN_*.json
(clipwsss.experiments.checks) by this re-execution; with --check they are only compared.

The same run writes each notebook's metrics to results/toy/NN.json and a copy of the executed
notebook to results/toy/NN.ipynb (``$CLIPWSSS_RESULTS_DIR``), so a number shown in a committed
notebook and the one the claim ledger (11) reads are one measurement even where it is a timing;
11 runs last, after the files it reads.

The learning-path tables of notebooks/README.md and docs/notebooks.md are rendered again
afterwards (scripts/notebook_index.py), so their run times follow the new headers.
"""

from __future__ import annotations

import os
import re
import shutil
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


def header_run_time(path: Path) -> None:
    """Write the wall time of the provenance cell into the header's "about N s" (rounded to
    5 s), so the header never promises another run time than the committed run's."""
    nb = nbformat.read(path, as_version=4)
    text = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for o in nb.cells[-1].get("outputs", [])
    )
    wall = re.search(r"wall time\s+([\d.]+) s", text)
    if wall is None:
        raise SystemExit(f"{path.name}: no wall time in the last (provenance) cell")
    seconds = max(5, 5 * round(float(wall.group(1)) / 5))
    header = nb.cells[0]
    new, n = re.subn(r"about \d+ s\b", f"about {seconds} s", header.source)
    if n != 1:
        raise SystemExit(f"{path.name}: the header needs exactly one 'about N s' (found {n})")
    header.source = new
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.checks import RECORD_ENV
    from clipwsss.experiments.notebooks import RESULTS_ENV, run_notebook
    from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

    args = list(argv if argv is not None else sys.argv[1:])
    results = ROOT / "results" / "toy"
    check_only = "--check" in args
    if check_only:
        args.remove("--check")
        os.environ.pop(RECORD_ENV, None)
        os.environ.pop(RESULTS_ENV, None)
    else:
        os.environ[RECORD_ENV] = "1"  # the kernels inherit it: store the checked values
        os.environ[RESULTS_ENV] = str(results)  # and write the metrics the ledger reads
    names = set(args)
    notebooks = [
        nb
        for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if (not names or nb.stem in names or nb.name in names)
        and nb.stem not in REAL_WEIGHTS_NOTEBOOKS
    ]
    notebooks.sort(key=lambda nb: nb.stem == "11_claim_ledger")  # the ledger reads the others
    for nb in notebooks:
        t0 = time.time()
        run_notebook(nb, nb)  # no parameters: no injected cell, the defaults run
        strip_timing(nb)
        header_run_time(nb)
        if not check_only:
            shutil.copyfile(nb, results / nb.name)
        print(f"{nb.name}: {time.time() - t0:.0f}s", flush=True)
    from clipwsss.experiments.course import render_pages  # run times follow the new headers

    for path, text in render_pages(ROOT).items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
