"""Render the learning-path tables into notebooks/README.md and docs/notebooks.md.

    python scripts/notebook_index.py           # rewrite the tables between their markers
    python scripts/notebook_index.py --check   # exit 1 if a page differs from the rendering

The index reads each notebook's header run time ("about N s", written by
scripts/execute_notebooks.py); the claims table reads results/toy (clipwsss.experiments.course).
Run it after re-executing a notebook or refreshing results/toy.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.course import render_pages

    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for path, text in render_pages(ROOT).items():
        if path.read_text() != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(text)
    verb = "differ from the rendering" if check else "rewritten"
    print(f"{', '.join(map(str, stale))}: {verb}" if stale else "up to date")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
