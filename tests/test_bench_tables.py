"""The batched-CAM speeds in README.md and docs/cli.md are those of the committed
benchmarks/results_batch_cpu.md (written by `make bench`, benchmarks/bench_batch.py) and,
for bf16, benchmarks/results_batch_cpu_bf16.md (the same script with --precisions fp32 bf16)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = {  # README row label -> results row label
    "(a) official per-class loop, re-stated": "(a) official loop",
    "(b) one-image path (`ClipES.__call__`)": "(b) one-image path",
    "(c) batched path, batch 1": "(c) batch 1 fp32",
    "(c) batched path, batch 4": "(c) batch 4 fp32",
    "dense CRF, one process": "CRF (1 process)",
}


def _table(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2:
            rows[cells[0]] = cells[1:]
    return rows


def test_readme_and_docs_quote_the_committed_benchmark():
    results = _table((ROOT / "benchmarks" / "results_batch_cpu.md").read_text())
    readme = _table((ROOT / "README.md").read_text())
    for ours, theirs in ROWS.items():
        assert readme[ours][0] == results[theirs][0], ours  # images/s
        assert readme[ours][-1] == results[theirs][-1], ours  # peak RSS
        if not ours.startswith("dense"):
            assert readme[ours][1] == results[theirs][2], ours  # x official
            assert readme[ours][2] == results[theirs][3], ours  # x floor
    docs = " ".join((ROOT / "docs" / "cli.md").read_text().split())
    for theirs in ("(a) official loop", "(b) one-image path", "(c) batch 1 fp32"):
        assert re.search(rf"\b{re.escape(results[theirs][0])}\b", docs), theirs
    bf16 = _table((ROOT / "benchmarks" / "results_batch_cpu_bf16.md").read_text())
    for theirs in ("(c) batch 1 bf16", "(c) batch 1 fp32"):
        assert f" {bf16[theirs][0]} " in docs, theirs
