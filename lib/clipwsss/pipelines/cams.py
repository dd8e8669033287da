"""Dataset loops of CLIP-ES: CAM files (stages 1-2), pseudo masks (stage 3: dCRF + CGL), mIoU.

Plain functions that the CLI (``clipwsss cams | masks | eval``) and notebooks call. The
per-image method lives in ``clip_es.py``, ``crf.py`` and ``cgl.py``; this layer adds what a
run over 10k-80k images needs:

* **Resume.** An image whose outputs exist is skipped; every file is written to a temporary
  name in the same folder and renamed when complete (``data.atomic_path``), so a killed run
  leaves no half-written output and a rerun loses nothing.
* **Bad input.** A missing or undecodable image (or annotation) raises with the file named,
  or with ``skip_bad=True`` is skipped, appended to ``<out>/failed.txt`` (``id<TAB>reason``)
  and listed in the report. An image with no image-level label gets no output; it is listed
  in ``<out>/unlabelled.txt`` and the report, and a warning is printed (the official VOC
  script ``return``s there and silently ends its worker). A class id outside the vocabulary
  always raises :class:`UnknownLabelError`, naming the image.
* **Sharding.** ``shard=(i, n)`` takes ``ids[i::n]``: n processes (or machines) can share a
  split and one output folder.
* **Provenance.** ``<out>/run.json`` records the model, weights and every switch; a resumed
  run with other settings is refused (:class:`~clipwsss.io.camfiles.OutputMismatchError`).

Paper: CLIP-ES Sections 3.3-3.4, Table 2 (initial / +CAA / +dCRF), supplementary D.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from clipwsss._version import __version__
from clipwsss.data import SegmentationDataset, load_image
from clipwsss.io.camfiles import cam_overlay, check_run_record, save_cams, save_jpeg
from clipwsss.methods.base import CamMethod, MethodCams
from clipwsss.pipelines.common import (
    CAMS_COMPARE,
    BadImageError,
    RunReport,
    UnknownLabelError,
    data_identity,
    finish_run,
    is_bad_input,
    labelled_sample,
    log_failure,
    progress_bar,
    select_ids,
)

# --------------------------------------------------------------------------- stage 1-2: CAMs

# Largest image (H * W pixels) the CAM stage runs on: 1024 x 1024. CLIP-ES runs the ViT at the
# full image size (ceil to 16), so attention memory grows with the square of the pixel count:
# a 4000 x 3000 photo (47k tokens) needs hundreds of GB, where the official script dies with
# an out-of-memory error and takes the run down. VOC (at most 500 x 500) and COCO (640 x 640)
# stay far below; larger images are refused one by one (``skip_bad`` skips them).
MAX_IMAGE_PIXELS = 1024 * 1024


def cams_record(es: CamMethod, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``run.json`` of a CAM folder: model, weights, vocabulary, every switch."""
    return {"stage": "cams", "clipwsss": __version__, **es.run_record(), **(extra or {})}


def image_cams(es: CamMethod, image: np.ndarray, labels: Sequence[int]) -> dict[str, np.ndarray]:
    """One image's CAM file contents: keys, refined and initial CAMs at the image size.

    ``attn_highres`` is the initial CAM when there is no refinement (``refine="none"`` or a
    ResNet), so consumers of the default key still work.

    Shapes:
        image: (H, W, 3) uint8; returns keys (K,), attn_highres and highres (K, H, W) float16.
    """
    return cams_contents(es, es(image, labels), image.shape[:2])


def cams_contents(es: CamMethod, out: MethodCams, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """A method's output for one image as CAM file contents at the image size.

    Shapes:
        out.cams, out.refined: (K, h, w); returns keys (K,), attn_highres and highres
        (K, H, W) float16.
    """
    highres = es.upsample(out.cams, size).float().cpu().numpy().astype(np.float16)
    if out.refined is None:
        refined = highres
    else:
        refined = es.upsample(out.refined, size).float().cpu().numpy().astype(np.float16)
    return {"keys": out.keys.numpy(), "attn_highres": refined, "highres": highres}


def check_image_size(
    image: np.ndarray, patch: int, max_pixels: int | None, path: Path | str
) -> None:
    """Refuse an image smaller than one patch or with more than ``max_pixels`` pixels.

    Shapes: image (H, W, 3).

    Raises:
        BadImageError: naming the image, its size and the limit.
    """
    h, w = image.shape[:2]
    if min(h, w) < patch:
        raise BadImageError(f"image {path} ({w}x{h}) is smaller than one {patch}px patch")
    if max_pixels is not None and h * w > max_pixels:
        raise BadImageError(
            f"image {path} ({w}x{h} = {h * w} pixels) is above the limit of {max_pixels} "
            "pixels (max_image_pixels, --max-image-pixels; 0 = no limit): CLIP-ES runs at the "
            "full image size and its attention memory grows with the square of the pixels; "
            "downscale the image or raise the limit"
        )


def generate_cams(
    es: CamMethod,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    *,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    skip_bad: bool = False,
    overlays: bool = False,
    progress: bool = True,
    record: dict[str, Any] | None = None,
    max_image_pixels: int | None = MAX_IMAGE_PIXELS,
    batch_size: int = 1,
    loader_workers: int = 0,
    precision: str = "fp32",
    on_handled: Callable[[str], None] | None = None,
) -> RunReport:
    """Write ``<out_dir>/<image_id>.npy`` CAM files (official format) for a dataset.

    Args:
        es: A CAM method (:class:`~clipwsss.methods.base.CamMethod`, e.g. ``ClipES``:
            model, vocabulary, switches).
        dataset: Images with image-level labels; its class order must be the vocabulary's.
        out_dir: Output folder (created).
        limit: Handle only the first ``limit`` ids of the shard.
        shard: ``(i, n)``: handle ``ids[i::n]``.
        skip_bad: Skip and log missing or corrupt inputs instead of raising.
        overlays: Also write ``<out_dir>/overlays/<id>.jpg`` (refined CAM heat maps).
        progress: Show a progress bar (only on a terminal).
        record: Extra fields for ``run.json`` (dataset name, root, split, ...).
        max_image_pixels: Refuse an image with more pixels (``BadImageError``, a bad input
            that ``skip_bad`` skips); None: no limit. See :data:`MAX_IMAGE_PIXELS`.
        batch_size: 1 runs one image per forward (``es(image, labels)``, the reference
            path); more groups images by padded patch grid and runs ``batch_size`` per
            forward (:func:`generate_cams_batched`).
        loader_workers: DataLoader processes that decode and preprocess images (batched
            path only; 0: in this process).
        precision: "fp32" (default, the official numerics), "bf16" or "fp16" (CUDA): the
            autocast of the batched path (recorded in ``run.json``).
        on_handled: Called with each image id once this run is done with it (written,
            already there, failed or unlabelled); ``--masks`` queues its CRF there.

    Returns:
        The run report.

    Raises:
        FileNotFoundError, CorruptImageError: A bad input (without ``skip_bad``).
        BadImageError: An image smaller than one patch or above ``max_image_pixels``.
        UnknownLabelError: A label outside the vocabulary (names the image).
        OutputMismatchError: ``out_dir`` holds CAMs made with other settings.

    Reference: CLIP-ES Sections 3.1-3.3 (``generate_cams_voc12.py``).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if es.n_classes != len(dataset.class_names):
        raise ValueError(
            f"the vocabulary has {es.n_classes} classes but the dataset "
            f"{len(dataset.class_names)}; give a class list that matches the dataset"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    extra = {} if precision == "fp32" else {"precision": precision}  # fp32: as before
    run = cams_record(es, {"data": data_identity(dataset), **extra, **(record or {})})
    check_run_record(out_dir, run, CAMS_COMPARE, claim=False)  # refuse early, write nothing
    ids = select_ids(dataset.ids, shard=shard, limit=limit)
    if batch_size > 1 or precision != "fp32":
        return generate_cams_batched(
            es,
            dataset,
            out_dir,
            ids,
            run,
            started=started,
            skip_bad=skip_bad,
            overlays=overlays,
            progress=progress,
            max_image_pixels=max_image_pixels,
            batch_size=batch_size,
            loader_workers=loader_workers,
            precision=precision,
            on_handled=on_handled,
        )
    handled = on_handled or (lambda image_id: None)
    claimed = False
    done, skipped, failed, unlabelled, done_ids = 0, 0, [], [], []
    for image_id in progress_bar(ids, total=len(ids), desc="cams", enabled=progress):
        path = out_dir / f"{image_id}.npy"
        view = out_dir / "overlays" / f"{image_id}.jpg"
        if path.is_file() and (not overlays or view.is_file()):
            skipped += 1
            handled(image_id)
            continue
        sample = labelled_sample(dataset, image_id, out_dir, failed, unlabelled, skip_bad)
        if sample is None:
            handled(image_id)
            continue
        try:
            image = load_image(sample.image_path)
            check_image_size(image, es.min_image_size, max_image_pixels, sample.image_path)
        except Exception as err:
            if not (skip_bad and is_bad_input(err)):
                raise
            log_failure(out_dir, failed, image_id, err)
            handled(image_id)
            continue
        try:
            contents = image_cams(es, image, sample.labels)
        except IndexError as err:
            raise UnknownLabelError(
                f"image {image_id} ({sample.image_path}) has labels {list(sample.labels)}: {err}"
            ) from err
        if not claimed:  # run.json goes in with the first output (a failed first image
            # leaves no record that would refuse the corrected rerun)
            check_run_record(out_dir, run, CAMS_COMPARE)
            claimed = True
        save_cams(path, contents["keys"], contents["attn_highres"], contents["highres"])
        if overlays:
            save_jpeg(view, cam_overlay(image, contents["attn_highres"]))
        done += 1
        done_ids.append(image_id)
        handled(image_id)
    return finish_run(out_dir, started, done, skipped, failed, unlabelled, done_ids)


# --------------------------------------------------------------------------- batched CAMs


@dataclass(frozen=True)
class _Loaded:
    """One image as a DataLoader worker hands it over (or the error that stopped it)."""

    image_id: str
    path: Path
    labels: tuple[int, ...]
    image: np.ndarray | None = None
    pixels: torch.Tensor | None = None
    error: BaseException | None = None


class _ImageLoader(torch.utils.data.Dataset):
    """Decode, check and preprocess images in DataLoader workers (errors come back as data).

    Shapes: item pixels (3, H', W') float32, image (H, W, 3) uint8.
    """

    def __init__(
        self,
        todo: list[tuple[str, Path, tuple[int, ...]]],
        prepare,
        patch: int,
        max_pixels: int | None,
    ) -> None:
        self.todo, self.prepare, self.patch, self.max_pixels = todo, prepare, patch, max_pixels

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, i: int) -> _Loaded:
        image_id, path, labels = self.todo[i]
        try:
            image = load_image(path)
            check_image_size(image, self.patch, self.max_pixels, path)
            pixels = None if self.prepare is None else self.prepare(image)
        except Exception as err:  # judged in the main process (skip_bad or raise)
            return _Loaded(image_id, path, labels, error=err)
        return _Loaded(image_id, path, labels, image=image, pixels=pixels)


def _as_is(item: _Loaded) -> _Loaded:
    return item


def _one_thread(worker_id: int) -> None:
    torch.set_num_threads(1)


def _grid_batches(items, batch_size: int, patch: int, max_buffered: int):
    """Group loaded images by padded patch grid; yield a group once it holds ``batch_size``
    (or the largest group once ``max_buffered`` images wait), then the rest at the end.
    Errors pass through alone, at once."""
    groups: dict[tuple[int, int], list[_Loaded]] = {}
    for item in items:
        if item.error is not None:
            yield [item]
            continue
        h, w = item.image.shape[:2]
        key = (-(-h // patch), -(-w // patch))
        groups.setdefault(key, []).append(item)
        if len(groups[key]) >= batch_size:
            yield groups.pop(key)
        elif sum(len(g) for g in groups.values()) >= max_buffered:
            yield groups.pop(max(groups, key=lambda k: len(groups[k])))
    yield from groups.values()


def generate_cams_batched(
    es: CamMethod,
    dataset: SegmentationDataset,
    out_dir: Path,
    ids: Sequence[str],
    run: dict[str, Any],
    *,
    started: float,
    skip_bad: bool,
    overlays: bool,
    progress: bool,
    max_image_pixels: int | None,
    batch_size: int,
    loader_workers: int,
    precision: str,
    on_handled: Callable[[str], None] | None,
) -> RunReport:
    """The batched loop of :func:`generate_cams`: the same files, resume and failure lists.

    DataLoader workers decode and preprocess; the main process groups images by padded
    patch grid and runs ``batch_size`` of them per forward (``es.batch_pixels`` when the
    method has it, else ``es.batch``). Files are written per batch, atomically.
    """
    handled = on_handled or (lambda image_id: None)
    done, skipped, failed, unlabelled, done_ids = 0, 0, [], [], []
    todo = []
    for image_id in ids:
        path, view = out_dir / f"{image_id}.npy", out_dir / "overlays" / f"{image_id}.jpg"
        if path.is_file() and (not overlays or view.is_file()):
            skipped += 1
            handled(image_id)
            continue
        sample = labelled_sample(dataset, image_id, out_dir, failed, unlabelled, skip_bad)
        if sample is None:
            handled(image_id)
            continue
        bad = [c for c in sample.labels if not 0 <= int(c) < es.n_classes]
        if bad:
            raise UnknownLabelError(
                f"image {image_id} ({sample.image_path}) has labels {list(sample.labels)}: "
                f"unknown class ids {bad}; the vocabulary has {es.n_classes}"
            )
        todo.append((image_id, sample.image_path, tuple(int(c) for c in sample.labels)))
    by_pixels = hasattr(es, "batch_pixels") and hasattr(es, "preprocessor")
    loader = torch.utils.data.DataLoader(
        _ImageLoader(
            todo, es.preprocessor() if by_pixels else None, es.min_image_size, max_image_pixels
        ),
        batch_size=None,
        num_workers=loader_workers,
        collate_fn=_as_is,
        worker_init_fn=_one_thread if loader_workers else None,
        prefetch_factor=2 * batch_size if loader_workers else None,
    )
    claimed = False
    bar = progress_bar(range(len(todo)), total=len(todo), desc="cams", enabled=progress)
    groups = _grid_batches(iter(loader), batch_size, es.min_image_size, 4 * batch_size)
    for group in groups:
        if group[0].error is not None:
            item = group[0]
            if not (skip_bad and is_bad_input(item.error)):
                raise item.error
            log_failure(out_dir, failed, item.image_id, item.error)
            handled(item.image_id)
            next(bar, None)
            continue
        labels = [item.labels for item in group]
        if by_pixels:
            pixels = torch.stack([item.pixels for item in group])
            outs = es.batch_pixels(pixels, labels, precision=precision)
        else:
            if precision != "fp32":
                raise ValueError(f"{type(es).__name__} has no batched path for {precision}")
            outs = es.batch([item.image for item in group], labels)
        if not claimed:  # run.json goes in with the first output
            check_run_record(out_dir, run, CAMS_COMPARE)
            claimed = True
        for item, out in zip(group, outs, strict=True):
            contents = cams_contents(es, out, item.image.shape[:2])
            save_cams(
                out_dir / f"{item.image_id}.npy",
                contents["keys"],
                contents["attn_highres"],
                contents["highres"],
            )
            if overlays:
                save_jpeg(
                    out_dir / "overlays" / f"{item.image_id}.jpg",
                    cam_overlay(item.image, contents["attn_highres"]),
                )
            done += 1
            done_ids.append(item.image_id)
            handled(item.image_id)
            next(bar, None)
    return finish_run(out_dir, started, done, skipped, failed, unlabelled, done_ids)


# --------------------------------------------------------------------------- stage 3: masks


# --------------------------------------------------------------------------- evaluation
