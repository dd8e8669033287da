"""Per-run logs: ``log.jsonl`` (every row: train and eval) and ``log.csv`` / ``eval.csv``
(one column per key of the first row). Resuming truncates rows past the checkpoint step, so
a resumed run's log equals an uninterrupted run's.

Appends are crash-safe: each row is one ``write`` of a whole line; a write that fails (a full
disk) is cut back to the previous end of the file, and a torn last line that a crash left
behind anyway is dropped on resume with a warning that names the file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class LogFileError(ValueError):
    """A log file holds a damaged row that is not its last line (the message names it)."""


@contextlib.contextmanager
def naming_the_file(path: Path) -> Iterator[None]:
    """Re-raise an ``OSError`` that names no file (a failed ``write``) with ``path`` in it."""
    try:
        yield
    except OSError as err:
        if err.filename is not None or err.errno is None:
            raise
        raise type(err)(err.errno, err.strerror, str(path)) from err


def append_line(path: Path, text: str) -> None:
    """Append ``text`` (one line with its newline) to ``path``; all of it or nothing."""
    data = text.encode("utf-8")
    with naming_the_file(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            end = os.fstat(fd).st_size
            try:
                done = 0
                while done < len(data):
                    done += os.write(fd, data[done:])
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, end)  # no torn line left behind
                raise
        finally:
            os.close(fd)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``log.jsonl``; a torn last line is dropped with a warning.

    Raises:
        LogFileError: a row other than the last is not a JSON object (file and line named).
    """
    lines = path.read_bytes().split(b"\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "step" not in row or "kind" not in row:
                raise ValueError("not a log row (a JSON object with kind and step)")
        except ValueError as err:
            if any(rest.strip() for rest in lines[number:]):
                raise LogFileError(
                    f"{path}:{number}: damaged log row ({err}); only a torn last line is "
                    "dropped on resume: delete this line, or rerun with --resume false"
                ) from None
            warnings.warn(
                f"{path}:{number}: dropped a torn last line ({len(line)} bytes, a write that "
                "did not finish)",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        rows.append(row)
    return rows


def _csv_line(fields: list[str], row: dict[str, Any] | None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    if row is None:
        writer.writeheader()
    else:
        writer.writerow(row)
    return out.getvalue()


class RunLog:
    """Appends log rows to ``run_dir``; only the main process writes."""

    def __init__(self, run_dir: Path, *, resume_step: int, enabled: bool = True) -> None:
        self.run_dir, self.enabled = run_dir, enabled
        self.rows: list[dict[str, Any]] = []
        self._fields: dict[str, list[str]] = {}
        if not enabled:
            return
        path = run_dir / "log.jsonl"
        if path.exists():
            self.rows = [r for r in read_log(path) if r["step"] <= resume_step]
        self._rewrite()

    def _rewrite(self) -> None:
        """Write the kept rows afresh (each file replaced atomically)."""
        files = {"log.jsonl": "".join(json.dumps(r) + "\n" for r in self.rows)}
        for kind, name in (("train", "log.csv"), ("eval", "eval.csv")):
            rows = [r for r in self.rows if r["kind"] == kind]
            if rows:
                self._fields[name] = list(rows[0])
                files[name] = _csv_line(self._fields[name], None) + "".join(
                    _csv_line(self._fields[name], r) for r in rows
                )
        for name in ("log.csv", "eval.csv"):
            if name not in files:
                (self.run_dir / name).unlink(missing_ok=True)
        for name, text in files.items():
            tmp = self.run_dir / (name + ".tmp")
            with naming_the_file(tmp):
                tmp.write_text(text)
            os.replace(tmp, self.run_dir / name)

    def write(self, kind: str, step: int, values: dict[str, Any]) -> dict[str, Any]:
        """Append one row (``kind`` = "train" or "eval") and return it."""
        row = {"kind": kind, "step": step, **values}
        if self.enabled:
            append_line(self.run_dir / "log.jsonl", json.dumps(row) + "\n")
            name = "log.csv" if kind == "train" else "eval.csv"
            if name not in self._fields:
                self._fields[name] = list(row)
                append_line(self.run_dir / name, _csv_line(self._fields[name], None))
            append_line(self.run_dir / name, _csv_line(self._fields[name], row))
        self.rows.append(row)
        return row
