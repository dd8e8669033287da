"""Per-run logs: ``log.jsonl`` (every row: train and eval) and ``log.csv`` / ``eval.csv``
(one column per key of the first row). Resuming truncates rows past the checkpoint step, so
a resumed run's log equals an uninterrupted run's."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


class RunLog:
    """Appends log rows to ``run_dir``; only the main process writes."""

    def __init__(self, run_dir: Path, *, resume_step: int, enabled: bool = True) -> None:
        self.run_dir, self.enabled = run_dir, enabled
        self.rows: list[dict[str, Any]] = []
        if not enabled:
            return
        path = run_dir / "log.jsonl"
        if path.exists():
            old = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            self.rows = [r for r in old if r["step"] <= resume_step]
        self._rewrite()

    def _rewrite(self) -> None:
        lines = "".join(json.dumps(r) + "\n" for r in self.rows)
        (self.run_dir / "log.jsonl").write_text(lines)
        for kind in ("train", "eval"):
            rows = [r for r in self.rows if r["kind"] == kind]
            path = self.run_dir / ("log.csv" if kind == "train" else "eval.csv")
            path.unlink(missing_ok=True)
            for row in rows:
                self._append_csv(path, row)

    @staticmethod
    def _append_csv(path: Path, row: dict[str, Any]) -> None:
        new = not path.exists()
        if new:
            fields = list(row)
        else:
            with path.open(newline="") as fh:
                fields = next(csv.reader(fh))
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def write(self, kind: str, step: int, values: dict[str, Any]) -> dict[str, Any]:
        """Append one row (``kind`` = "train" or "eval") and return it."""
        row = {"kind": kind, "step": step, **values}
        self.rows.append(row)
        if self.enabled:
            with (self.run_dir / "log.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            name = "log.csv" if kind == "train" else "eval.csv"
            self._append_csv(self.run_dir / name, row)
        return row
