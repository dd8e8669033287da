"""What every data-set loop shares: errors, the run report, shards, progress, failure logs."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from clipwsss.data import AnnotationError, CorruptImageError, SegmentationDataset, UnknownClassError
from clipwsss.io.camfiles import (
    FAILED_LOG,
    UNLABELLED_LOG,
    append_lines,
    forget_failures,
    log_failed,
    log_reason,
)

Confidence = Literal["official", "paper"]

# Fields of run.json that must agree for a resumed run to write into the same folder
# ("precision" is recorded only when it is not fp32, so older fp32 folders still match).
CAMS_COMPARE = (
    "stage",
    "model",
    "pretrained",
    "weights",
    "activation",
    "config",
    "classes",
    "sentences",
    "background",
    "data",
    "precision",
)


def _sha256(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def data_identity(dataset: SegmentationDataset) -> dict[str, Any]:
    """What identifies a run's inputs, for ``run.json``.

    The data-set kind, its folder (resolved), split, the SHA-256 of the split list and of a
    custom labels file, the label source and the class list. A resumed run whose inputs
    differ on any of these is refused, so CAMs of edited labels or of another root with
    colliding ids are never reused as "already there".
    """
    root = getattr(dataset, "root", None) or getattr(dataset, "image_dir", None)
    return {
        "kind": type(dataset).__name__,
        "root": str(Path(root).resolve()) if root is not None else None,
        "split": getattr(dataset, "split", None),
        "split_sha256": _sha256(getattr(dataset, "split_file", None)),
        "labels_sha256": _sha256(getattr(dataset, "labels_file", None)),
        "label_source": getattr(dataset, "label_source", None),
        "classes": list(dataset.class_names),
    }


def check_class_list(run: dict[str, Any] | None, dataset: SegmentationDataset, where: Path) -> None:
    """Refuse a CAM or mask folder made for another class list or order (its class ids would
    name other classes).

    ``run`` is the folder's ``run.json`` (None: no record, e.g. the official code's files).

    Raises:
        ClassListMismatchError: the recorded class list differs from ``dataset.class_names``.
    """
    if not run:
        return
    # the data set's list as recorded (data identity), else the vocabulary's names
    classes = (run.get("data") or {}).get("classes") or run.get("classes")
    if classes is None:
        classes = (run.get("cams_config") or {}).get("classes")
    if classes is not None and list(classes) != list(dataset.class_names):
        raise ClassListMismatchError(
            f"{where} was made for the classes {classes}, but this run's class list "
            f"(--classes) is {list(dataset.class_names)}; class ids would be read as other "
            "classes: give the class list (and order) of that run"
        )


def check_data_identity(folder: Path, dataset: SegmentationDataset, what: str) -> None:
    """Refuse masks or seeds made for another data set than ``dataset``.

    Compares the folder's ``run.json`` data identity (kind, resolved root, class list) with
    the data set's (:func:`data_identity`); a folder without a record (the official code's
    masks, hand-made seeds) is accepted. The split may differ (masks of ``train_aug`` serve
    a ``train`` run).

    Raises:
        DataMismatchError: the record names another data-set kind, root or class list.
    """
    path = Path(folder) / "run.json"
    if not path.is_file():
        return
    try:
        made_for = json.loads(path.read_text(encoding="utf-8")).get("data") or {}
    except (ValueError, AttributeError) as err:
        raise DataMismatchError(f"{path} is not a run record ({err})") from None
    now = data_identity(dataset)
    diff = [k for k in ("kind", "root", "classes") if k in made_for and made_for[k] != now[k]]
    if diff:
        lines = "\n".join(f"  {k}: {made_for[k]!r} (made for) vs {now[k]!r} (now)" for k in diff)
        raise DataMismatchError(
            f"{what} {folder} were made for another data set ({path}):\n{lines}\n"
            "give the same data (--root) as the run that made them, or make them again"
        )


class DataMismatchError(ValueError):
    """Masks or seeds were made for another data set (kind, root or classes)."""


class ClassListMismatchError(ValueError):
    """A CAM or mask folder was made with another class list or order."""


class UnknownLabelError(IndexError):
    """An image-level label is not a class of the vocabulary (the message names the image)."""


class BadImageError(ValueError):
    """An image that cannot be processed although it decodes (e.g. smaller than one patch)."""


def is_bad_input(err: BaseException) -> bool:
    """Errors that ``skip_bad`` may skip: a missing or unreadable input file."""
    if isinstance(err, UnknownClassError):
        return False  # the class list and the data disagree: never skipped
    return isinstance(err, FileNotFoundError | CorruptImageError | AnnotationError | BadImageError)


@dataclass(frozen=True)
class RunReport:
    """What one run of a stage did.

    Attributes:
        done: images whose outputs were written by this run.
        skipped_existing: images whose outputs were already there (resume).
        failed: ``(image id, reason)`` of bad inputs skipped (``skip_bad=True``).
        unlabelled: ids with no image-level label (no output written).
        seconds: wall time of the run.
        out_dir: the output folder.
    """

    done: int
    skipped_existing: int
    failed: tuple[tuple[str, str], ...]
    unlabelled: tuple[str, ...]
    seconds: float
    out_dir: Path

    def summary(self) -> str:
        """One line for logs: counts and speed."""
        rate = self.done / self.seconds if self.seconds > 0 else float("nan")
        return (
            f"{self.done} written, {self.skipped_existing} already there, "
            f"{len(self.failed)} failed, {len(self.unlabelled)} unlabelled "
            f"in {self.seconds:.1f} s ({rate:.2f} img/s) -> {self.out_dir}"
        )


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like i/n (e.g. 0/4), got {text!r}") from None
    return check_shard((i, n))


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """Validate ``(i, n)``: ``n >= 1`` and ``0 <= i < n``."""
    i, n = shard
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: need n >= 1 and 0 <= i < n")
    return i, n


def select_ids(
    ids: Sequence[str], *, shard: tuple[int, int] = (0, 1), limit: int | None = None
) -> list[str]:
    """The ids one run handles: ``ids[i::n]`` of the shard, then the first ``limit``."""
    i, n = check_shard(shard)
    chosen = list(ids)[i::n]
    if limit is not None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        chosen = chosen[:limit]
    return chosen


def progress_bar(items: Iterable, *, total: int, desc: str, enabled: bool) -> Iterator:
    from tqdm.auto import tqdm

    show = enabled and sys.stderr.isatty()
    return iter(tqdm(items, total=total, desc=desc, unit="img", disable=not show))


def log_failure(
    out_dir: Path, failed: list[tuple[str, str]], image_id: str, err: BaseException
) -> None:
    """Record a skipped bad input in the report list and in ``<out>/failed.txt`` at once."""
    failed.append((image_id, log_reason(err)))
    log_failed(out_dir, f"{image_id}\t{failed[-1][1]}")


def labelled_sample(
    dataset: SegmentationDataset,
    image_id: str,
    out_dir: Path,
    failed: list[tuple[str, str]],
    unlabelled: list[str],
    skip_bad: bool,
):
    """The image's sample, or None after logging it as failed (``skip_bad``) or unlabelled."""
    try:
        sample = dataset.sample(image_id)
    except Exception as err:
        if not (skip_bad and is_bad_input(err)):
            raise
        log_failure(out_dir, failed, image_id, err)
        return None
    if not sample.labels:
        unlabelled.append(image_id)
        append_lines(out_dir / UNLABELLED_LOG, [image_id])
        return None
    return sample


def finish_run(
    out_dir: Path,
    started: float,
    done: int,
    skipped: int,
    failed: list[tuple[str, str]],
    unlabelled: list[str],
    done_ids: Sequence[str] = (),
) -> RunReport:
    """The run report; warns of unlabelled and skipped images, forgets fixed failures."""
    forget_failures(out_dir, done_ids)  # failed.txt lists only images still without output
    if unlabelled:
        shown = ", ".join(unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else "")
        warnings.warn(
            f"{len(unlabelled)} image(s) have no image-level label and got no output: {shown}"
            f" (listed in {out_dir / UNLABELLED_LOG})",
            RuntimeWarning,
            stacklevel=3,
        )
    if failed:
        warnings.warn(
            f"{len(failed)} bad input(s) skipped, first: {failed[0][0]} ({failed[0][1]}); "
            f"listed in {out_dir / FAILED_LOG}",
            RuntimeWarning,
            stacklevel=3,
        )
    return RunReport(
        done=done,
        skipped_existing=skipped,
        failed=tuple(failed),
        unlabelled=tuple(unlabelled),
        seconds=time.perf_counter() - started,
        out_dir=out_dir,
    )
