"""The values that moved most, relative to their tolerance, in a ``make perturb`` run.

    python scripts/perturb_report.py /tmp/clipwsss-perturb.jsonl [--top 15]

Reads the comparisons that ``clipwsss.experiments.checks`` appends to ``$CLIPWSSS_CHECKS_LOG``
(one JSON line each: check, value, stored, now, tolerance, widened) and prints how many values
were compared, how many moved at all, and the largest moves as a share of their tolerance. A
share above 1 is a failed check; close to 1 is a value whose tolerance is too tight for
another CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd


def report(path: Path, top: int = 15) -> pd.DataFrame:
    """One row per compared value, sorted by ``|now - stored| / tolerance`` (largest first)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"{path}: no comparisons logged (was CLIPWSSS_CHECKS_LOG set?)")
    table = pd.DataFrame(rows)
    table["moved"] = (table["now"] - table["stored"]).abs()
    table["share of tolerance"] = [
        (m / t if t > 0 else (math.inf if m > 0 else 0.0))
        for m, t in zip(table.moved, table.tolerance, strict=True)
    ]
    return table.sort_values("share of tolerance", ascending=False).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("log", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    table = report(args.log)
    moved = int((table.moved > 0).sum())
    print(
        f"{len(table)} values compared in {table.check.nunique()} checks; {moved} moved; "
        f"{int((table['share of tolerance'] > 1).sum())} beyond their tolerance"
    )
    cols = ["check", "value", "stored", "now", "moved", "tolerance", "share of tolerance"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table[cols].head(args.top).round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
