"""File formats of the CLIP-ES runner: CAM ``.npy`` files, run records, logs and overlays.

CAM file (one per image, ``<out>/<image_id>.npy``), the official CLIP-ES format read by its
``eval_cam.py`` and ``eval_cam_with_crf.py``: ``np.save`` of a dict, loaded with
``np.load(path, allow_pickle=True).item()``::

    {"keys": int64 (K,)            0-based class ids, in the image's label order,
     "attn_highres": float16 (K, H, W)  refined CAMs (CAA / MHSA) at the original size,
     "highres": float16 (K, H, W)       initial Softmax-GradCAM at the original size}

With ``refine="none"`` (or a ResNet, which has no attention) there is no refined CAM and
``attn_highres`` holds the initial CAM (the same array as ``highres``), so every consumer
of the default key still works; the run record (``run.json``) says ``refine: none``.
The official repository saves only ``keys`` and ``attn_highres`` (the line saving
``highres`` is commented out, CLIP-ES#11); files written by it load here too.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipwsss.data import atomic_path, atomic_write_bytes, atomic_write_text
from clipwsss.io.locks import folder_lock

PathLike = str | os.PathLike

CAM_KEYS = ("attn_highres", "highres")  # the CAM arrays a file may hold
RUN_RECORD = "run.json"  # provenance of an output folder
FAILED_LOG = "failed.txt"  # "<id>\t<reason>" per bad input skipped (all runs, appended)
UNLABELLED_LOG = "unlabelled.txt"  # one id per image with no image-level label


class OutputMismatchError(ValueError):
    """An output folder already holds results made with other settings."""


class CamFileError(ValueError):
    """A CAM file cannot be read (truncated, not a CAM dict)."""


class MissingCamKeyError(LookupError):
    """A CAM file lacks the asked-for CAMs (e.g. ``highres`` in an official file)."""


@dataclass(frozen=True)
class CamFile:
    """The contents of one CAM file.

    Attributes:
        keys: (K,) int64 0-based class ids.
        cams: CAM key -> (K, H, W) float16 array, for the keys present in the file.
    """

    keys: np.ndarray
    cams: dict[str, np.ndarray]

    def get(self, cam_key: str, path: PathLike = "") -> np.ndarray:
        """The (K, H, W) CAMs under ``cam_key``; a clear error names the keys present."""
        if cam_key not in self.cams:
            raise MissingCamKeyError(
                f"{path}: no {cam_key!r} CAMs in this file; it holds {list(self.cams)}"
            )
        return self.cams[cam_key]


def save_cams(
    path: PathLike, keys: Sequence[int] | np.ndarray, attn_highres: np.ndarray, highres: np.ndarray
) -> Path:
    """Write one CAM file in the official format, atomically.

    Args:
        path: Destination ``<image_id>.npy``.
        keys: 0-based class ids of the K CAMs.
        attn_highres: Refined CAMs at the original image size (stored as float16).
        highres: Initial CAMs at the original image size (stored as float16).

    Returns:
        ``path`` as a ``Path``.

    Shapes:
        keys: (K,); attn_highres, highres: (K, H, W).
    """
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    for name, cams in (("attn_highres", attn_highres), ("highres", highres)):
        if cams.ndim != 3 or cams.shape[0] != keys.size:
            raise ValueError(f"{name} must be ({keys.size}, H, W), got {cams.shape}")
    record = {
        "keys": keys,
        "attn_highres": np.asarray(attn_highres, dtype=np.float16),
        "highres": np.asarray(highres, dtype=np.float16),
    }
    with atomic_path(path) as tmp:
        np.save(tmp, record, allow_pickle=True)
    return Path(path)


def load_cams(path: PathLike) -> CamFile:
    """Read a CAM file (ours or the official code's).

    Raises:
        FileNotFoundError: No such file.
        CamFileError: The file is not a CAM dict (names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CAM file not found: {path} (make it with `clipwsss cams`)")
    try:
        record = np.load(path, allow_pickle=True).item()
    except Exception as err:  # truncated file, not a pickled dict, ...
        raise CamFileError(f"cannot read CAM file {path}: {type(err).__name__}: {err}") from err
    if not isinstance(record, dict) or "keys" not in record:
        raise CamFileError(f"{path}: not a CAM file (expected a dict with 'keys')")
    keys = np.asarray(record["keys"], dtype=np.int64).reshape(-1)
    cams = {k: np.asarray(record[k]) for k in CAM_KEYS if k in record}
    return CamFile(keys=keys, cams=cams)


# --------------------------------------------------------------------------- run records


RUN_LOCK = ".run.lock"  # held while run.json is checked and written


def _folder_lock(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on ``out_dir/.run.lock``: one process checks run.json at a time."""
    return folder_lock(out_dir, RUN_LOCK, wait=True)


def check_run_record(
    out_dir: PathLike, record: Mapping[str, Any], compare: Sequence[str], *, claim: bool = True
) -> None:
    """Check ``out_dir/run.json`` against ``record`` on ``compare``; write it if absent.

    A resumed run must not mix outputs made with other settings into one folder. The check
    and the write happen under a lock file (``.run.lock``), so two processes started together
    with other settings cannot both accept the folder. The stages check with
    ``claim=False`` before they start (nothing is written) and claim the folder just before
    their first output file, so a run that fails on its first image leaves no record that
    would refuse the corrected rerun.

    Raises:
        OutputMismatchError: The existing record differs on one of the ``compare`` fields.
    """
    out_dir = Path(out_dir)
    path = out_dir / RUN_RECORD
    record = json.loads(json.dumps(record, default=str))  # normalise tuples, paths
    if not claim and not path.is_file():
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    with _folder_lock(out_dir):
        if path.is_file():
            old = json.loads(path.read_text(encoding="utf-8"))
            diff = [k for k in compare if old.get(k) != record.get(k)]
            if diff:
                lines = [f"  {k}: {old.get(k)!r} (folder) vs {record.get(k)!r} (now)" for k in diff]
                raise OutputMismatchError(
                    f"{out_dir} holds outputs made with other settings:\n"
                    + "\n".join(lines)
                    + "\nuse another output folder, or delete this one to start over"
                )
        elif claim:
            atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_run_record(out_dir: PathLike) -> dict[str, Any] | None:
    """The ``run.json`` of an output folder, or None."""
    path = Path(out_dir) / RUN_RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def append_lines(path: PathLike, lines: Iterable[str]) -> None:
    """Append the lines not yet in ``path`` (one ``write`` each, O_APPEND).

    Shards writing disjoint ids into one log do not clobber each other.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    present = set(path.read_text(encoding="utf-8").splitlines()) if path.is_file() else set()
    new = [ln for ln in dict.fromkeys(lines) if ln not in present]
    if new:
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(f"{ln}\n" for ln in new))


def log_failed(out_dir: PathLike, line: str) -> None:
    """Append one ``id<TAB>reason`` line to ``out_dir/failed.txt`` (under the folder lock)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _folder_lock(out_dir):
        append_lines(out_dir / FAILED_LOG, [line])


def forget_failures(out_dir: PathLike, image_ids: Iterable[str]) -> None:
    """Drop the ``failed.txt`` lines of images that have an output now (fixed since)."""
    path = Path(out_dir) / FAILED_LOG
    done = set(image_ids)
    if not done or not path.is_file():
        return
    with _folder_lock(Path(out_dir)):
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if ln.split("\t", 1)[0] not in done]
        if len(kept) != len(lines):
            atomic_write_text(path, "".join(f"{ln}\n" for ln in kept))


def log_reason(reason: BaseException | str) -> str:
    """One-line reason for ``failed.txt``."""
    text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else reason
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- overlays


def cam_overlay(image: np.ndarray, cams: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """The image with each class CAM as a jet heat map, one panel per class, side by side.

    Args:
        image: RGB uint8.
        cams: CAMs in [0, 1] at the image size.
        alpha: Weight of the heat map.

    Returns:
        (H, K * W, 3) uint8 RGB; the plain image when K = 0.

    Shapes:
        image: (H, W, 3); cams: (K, H, W).
    """
    import cv2

    if cams.shape[0] == 0:
        return image.copy()
    panels = []
    for cam in cams:
        heat = np.clip(np.nan_to_num(cam.astype(np.float32)) * 255, 0, 255).astype(np.uint8)
        rgb = cv2.applyColorMap(heat, cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)
        panels.append(((1 - alpha) * image + alpha * rgb).round().astype(np.uint8))
    return np.concatenate(panels, axis=1)


def save_jpeg(path: PathLike, image: np.ndarray, *, quality: int = 90) -> Path:
    """Write an RGB uint8 image as JPEG, atomically. Shapes: image (H, W, 3)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="JPEG", quality=quality)
    return atomic_write_bytes(path, buffer.getvalue())
