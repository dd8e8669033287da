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
  run with other settings is refused (:class:`~clipwsss.camfiles.OutputMismatchError`).

Paper: CLIP-ES Sections 3.3-3.4, Table 2 (initial / +CAA / +dCRF), supplementary D.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from . import __version__
from .camfiles import (
    FAILED_LOG,
    UNLABELLED_LOG,
    CamFileError,
    append_lines,
    cam_overlay,
    check_run_record,
    load_cams,
    log_reason,
    read_run_record,
    save_cams,
    save_jpeg,
)
from .cgl import cams_to_label, confidence_official, confidence_paper, posterior_to_label
from .cgl import pseudo_mask as apply_confidence
from .clip_es import ClipES
from .crf import crf_posterior
from .data import (
    AnnotationError,
    CorruptImageError,
    DatasetLayoutError,
    SegmentationDataset,
    UnknownClassError,
    load_image,
    load_label_png,
    overlay,
    save_label_png,
)
from .metrics import SegScores, best_background_exponent, confusion_matrix, seg_scores
from .validate import check_bg_exponent, check_unit_interval

Confidence = Literal["official", "paper"]

# Fields of run.json that must agree for a resumed run to write into the same folder.
CAMS_COMPARE = (
    "stage", "model", "pretrained", "weights", "activation", "config", "classes", "sentences",
    "background",
)  # fmt: skip
MASKS_COMPARE = (
    "stage",
    "threshold",
    "confidence",
    "cam_key",
    "official_crf_image",
    "bg_exponent",
    "cams_config",
)


class UnknownLabelError(IndexError):
    """An image-level label is not a class of the vocabulary (the message names the image)."""


class BadImageError(ValueError):
    """An image that cannot be processed although it decodes (e.g. smaller than one patch)."""


def _is_bad_input(err: BaseException) -> bool:
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


def _progress(items: Iterable, *, total: int, desc: str, enabled: bool) -> Iterator:
    from tqdm.auto import tqdm

    show = enabled and sys.stderr.isatty()
    return iter(tqdm(items, total=total, desc=desc, unit="img", disable=not show))


def _log_failure(
    out_dir: Path, failed: list[tuple[str, str]], image_id: str, err: BaseException
) -> None:
    """Record a skipped bad input in the report list and in ``<out>/failed.txt`` at once."""
    failed.append((image_id, log_reason(err)))
    append_lines(out_dir / FAILED_LOG, [f"{image_id}\t{failed[-1][1]}"])


def _labelled_sample(
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
        if not (skip_bad and _is_bad_input(err)):
            raise
        _log_failure(out_dir, failed, image_id, err)
        return None
    if not sample.labels:
        unlabelled.append(image_id)
        append_lines(out_dir / UNLABELLED_LOG, [image_id])
        return None
    return sample


def _finish(
    out_dir: Path,
    started: float,
    done: int,
    skipped: int,
    failed: list[tuple[str, str]],
    unlabelled: list[str],
) -> RunReport:
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


# --------------------------------------------------------------------------- stage 1-2: CAMs


def cams_record(es: ClipES, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``run.json`` of a CAM folder: model, weights, vocabulary, every switch."""
    return {
        "stage": "cams",
        "clipwsss": __version__,
        "model": es.clip.name,
        "pretrained": es.clip.pretrained,
        "weights": es.clip.fingerprint,
        "activation": "quick_gelu" if es.clip.quick_gelu else "gelu",  # not in the fingerprint
        "config": asdict(es.config),
        "classes": list(es.vocab.names),
        "sentences": list(es.vocab.sentences),
        "background": list(es.vocab.background),
        **(extra or {}),
    }


def image_cams(es: ClipES, image: np.ndarray, labels: Sequence[int]) -> dict[str, np.ndarray]:
    """One image's CAM file contents: keys, refined and initial CAMs at the image size.

    ``attn_highres`` is the initial CAM when there is no refinement (``refine="none"`` or a
    ResNet), so consumers of the default key still work.

    Shapes:
        image: (H, W, 3) uint8; returns keys (K,), attn_highres and highres (K, H, W) float16.
    """
    out = es(image, labels)
    size = image.shape[:2]
    highres = es.upsample(out.cams, size).float().cpu().numpy().astype(np.float16)
    if out.refined is None:
        refined = highres
    else:
        refined = es.upsample(out.refined, size).float().cpu().numpy().astype(np.float16)
    return {"keys": out.keys.numpy(), "attn_highres": refined, "highres": highres}


def generate_cams(
    es: ClipES,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    *,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    skip_bad: bool = False,
    overlays: bool = False,
    progress: bool = True,
    record: dict[str, Any] | None = None,
) -> RunReport:
    """Write ``<out_dir>/<image_id>.npy`` CAM files (official format) for a dataset.

    Args:
        es: The CLIP-ES CAM generator (model, vocabulary, switches).
        dataset: Images with image-level labels; its class order must be the vocabulary's.
        out_dir: Output folder (created).
        limit: Handle only the first ``limit`` ids of the shard.
        shard: ``(i, n)``: handle ``ids[i::n]``.
        skip_bad: Skip and log missing or corrupt inputs instead of raising.
        overlays: Also write ``<out_dir>/overlays/<id>.jpg`` (refined CAM heat maps).
        progress: Show a progress bar (only on a terminal).
        record: Extra fields for ``run.json`` (dataset name, root, split, ...).

    Returns:
        The run report.

    Raises:
        FileNotFoundError, CorruptImageError: A bad input (without ``skip_bad``).
        UnknownLabelError: A label outside the vocabulary (names the image).
        OutputMismatchError: ``out_dir`` holds CAMs made with other settings.

    Reference: CLIP-ES Sections 3.1-3.3 (``generate_cams_voc12.py``).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if len(es.vocab) != len(dataset.class_names):
        raise ValueError(
            f"the vocabulary has {len(es.vocab)} classes but the dataset "
            f"{len(dataset.class_names)}; give a class list that matches the dataset"
        )
    check_run_record(out_dir, cams_record(es, record), CAMS_COMPARE)
    ids = select_ids(dataset.ids, shard=shard, limit=limit)
    done, skipped, failed, unlabelled = 0, 0, [], []
    for image_id in _progress(ids, total=len(ids), desc="cams", enabled=progress):
        path = out_dir / f"{image_id}.npy"
        view = out_dir / "overlays" / f"{image_id}.jpg"
        if path.is_file() and (not overlays or view.is_file()):
            skipped += 1
            continue
        sample = _labelled_sample(dataset, image_id, out_dir, failed, unlabelled, skip_bad)
        if sample is None:
            continue
        try:
            image = load_image(sample.image_path)
            patch = es.clip.patch_size
            if min(image.shape[:2]) < patch:
                raise BadImageError(
                    f"image {sample.image_path} ({image.shape[1]}x{image.shape[0]}) is "
                    f"smaller than one {patch}px patch"
                )
        except Exception as err:
            if not (skip_bad and _is_bad_input(err)):
                raise
            _log_failure(out_dir, failed, image_id, err)
            continue
        try:
            contents = image_cams(es, image, sample.labels)
        except IndexError as err:
            raise UnknownLabelError(
                f"image {image_id} ({sample.image_path}) has labels {list(sample.labels)}: {err}"
            ) from err
        save_cams(path, contents["keys"], contents["attn_highres"], contents["highres"])
        if overlays:
            save_jpeg(view, cam_overlay(image, contents["attn_highres"]))
        done += 1
    return _finish(out_dir, started, done, skipped, failed, unlabelled)


# --------------------------------------------------------------------------- stage 3: masks


@dataclass(frozen=True)
class MaskOptions:
    """Switches of the pseudo-mask stage; defaults reproduce ``eval_cam_with_crf.py``."""

    threshold: float = 0.95  # mu, CLIP-ES supp. D; pixels below become 255
    confidence: Confidence = "official"  # max CRF posterior; "paper": Eq. 8 on the CAMs
    cam_key: str = "attn_highres"  # which CAMs of the file go into the CRF
    official_crf_image: bool = True  # wrapped mean-subtracted BGR image (crf.crf_image)
    bg_exponent: float = 1.0  # (1 - max cam)^k in the CRF unary; official k = 1
    n_classes: int = 21  # background included; keys must be < n_classes - 1

    def __post_init__(self) -> None:  # refuse silently wrong values (issue 12, #5)
        check_unit_interval("threshold (mu)", self.threshold)
        check_bg_exponent(self.bg_exponent)


@dataclass(frozen=True)
class _MaskJob:
    image_id: str
    image_path: Path
    cam_path: Path
    out_path: Path
    overlay_path: Path | None


def pseudo_mask_for(
    image: np.ndarray, keys: np.ndarray, cams: np.ndarray, options: MaskOptions = MaskOptions()
) -> np.ndarray:
    """dCRF + confidence mask of one image: the pseudo label written as PNG.

    Args:
        image: RGB uint8 photo.
        keys: 0-based class ids of the CAMs.
        cams: CAMs in [0, 1] at the image size (float16 as stored, as the official unary).
        options: Threshold, confidence and CRF switches.

    Returns:
        uint8 label map: 0 = background, ``k + 1`` = class k, 255 = unconfident (ignore).

    Shapes:
        image: (H, W, 3); keys: (K,); cams: (K, H, W); output: (H, W).

    Reference: CLIP-ES Section 3.4, Eq. 8-9; supplementary D (``eval_cam_with_crf.py``).
    """
    cams_t = torch.from_numpy(np.ascontiguousarray(cams))
    q = crf_posterior(
        image, cams_t, exponent=options.bg_exponent, official=options.official_crf_image
    )
    label = posterior_to_label(q, keys)
    if options.confidence == "official":
        conf = confidence_official(q)
    elif options.confidence == "paper":
        conf = confidence_paper(cams_t.float())  # Eq. 8
    else:
        raise ValueError(f"confidence must be 'official' or 'paper', got {options.confidence!r}")
    return apply_confidence(label, conf, threshold=options.threshold).numpy().astype(np.uint8)


def _mask_job(job: _MaskJob, options: MaskOptions) -> BaseException | None:
    """Make one mask; a bad input comes back as the exception, anything else raises."""
    try:
        image = load_image(job.image_path)
        record = load_cams(job.cam_path)
        cams = record.get(options.cam_key, job.cam_path)
    except Exception as err:
        if _is_bad_input(err) or isinstance(err, CamFileError):
            return err
        raise
    bad = [int(k) for k in record.keys if not 0 <= k < options.n_classes - 1]
    if bad:
        raise UnknownLabelError(
            f"image {job.image_id}: CAM file {job.cam_path} has class ids {bad} outside "
            f"[0, {options.n_classes - 1})"
        )
    if cams.shape[1:] != image.shape[:2]:
        raise ValueError(
            f"image {job.image_id}: CAMs {cams.shape[1:]} in {job.cam_path} and image "
            f"{image.shape[:2]} in {job.image_path} differ in size"
        )
    mask = pseudo_mask_for(image, record.keys, cams, options)
    save_label_png(job.out_path, mask)
    if job.overlay_path is not None:
        save_jpeg(job.overlay_path, overlay(image, mask))
    return None


def _init_worker() -> None:
    torch.set_num_threads(1)  # one CRF per core; no oversubscription


def _run_jobs(
    jobs: list[_MaskJob], options: MaskOptions, workers: int, progress: bool
) -> Iterator[tuple[_MaskJob, BaseException | None]]:
    """Yield each job with its bad-input error (or None), in process pools of ``workers``."""
    bar = _progress(range(len(jobs)), total=len(jobs), desc="masks", enabled=progress)
    if workers <= 1:
        for job in jobs:
            yield job, _mask_job(job, options)
            next(bar, None)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp.get_context(method), initializer=_init_worker) as pool:
        futures = {pool.submit(_mask_job, job, options): job for job in jobs}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()  # re-raises a worker's error
                next(bar, None)
        except BaseException:  # an error, or the caller stopped early: drop queued jobs
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def generate_masks(
    dataset: SegmentationDataset,
    cams_dir: str | Path,
    out_dir: str | Path,
    *,
    workers: int = 2,
    threshold: float = 0.95,
    confidence: Confidence = "official",
    cam_key: str = "attn_highres",
    official_crf_image: bool = True,
    bg_exponent: float = 1.0,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    skip_bad: bool = False,
    overlays: bool = False,
    progress: bool = True,
    record: dict[str, Any] | None = None,
) -> RunReport:
    """Write ``<out_dir>/<image_id>.png`` pseudo masks (dCRF, then the confidence mask).

    Each mask is a VOC-palette PNG whose pixel values are the class ids (0 = background,
    ``k + 1`` = class k) and 255 where the confidence is below ``threshold``.

    Args:
        dataset: Images with image-level labels (for image paths and unlabelled ids).
        cams_dir: Folder of ``<id>.npy`` CAM files (ours or the official code's).
        out_dir: Output folder (created).
        workers: CRF processes (CPU-bound); 0 or 1 runs in this process.
        threshold: mu; 0 keeps every pixel (the official ``--eval_only`` labels).
        confidence: "official" (max CRF posterior) or "paper" (Eq. 8 on the CAMs).
        cam_key: "attn_highres" (refined, default) or "highres" (initial CAMs).
        official_crf_image: Use the official wrapped BGR image in the bilateral kernel.
        bg_exponent: Background power k of the CRF unary (official 1).
        limit, shard, skip_bad, overlays, progress, record: As in :func:`generate_cams`;
            overlays go to ``<out_dir>/overlays/<id>.jpg``.

    Returns:
        The run report.

    Raises:
        FileNotFoundError: A missing image or CAM file (without ``skip_bad``).
        UnknownLabelError: A CAM file's class id outside the dataset's classes.

    Reference: CLIP-ES Table 2 (+dCRF), Section 3.4; supplementary D.
    """
    started = time.perf_counter()
    out_dir, cams_dir = Path(out_dir), Path(cams_dir)
    if not cams_dir.is_dir():
        raise DatasetLayoutError(f"CAM folder not found: {cams_dir} (run `clipwsss cams` first)")
    options = MaskOptions(
        threshold, confidence, cam_key, official_crf_image, bg_exponent, dataset.n_classes
    )
    cams_run = read_run_record(cams_dir) or {}
    run = {
        "stage": "masks",
        "clipwsss": __version__,
        **{k: v for k, v in asdict(options).items() if k != "n_classes"},
        "cams_dir": str(cams_dir),
        "cams_config": {k: cams_run.get(k) for k in CAMS_COMPARE} if cams_run else None,
        **(record or {}),
    }
    check_run_record(out_dir, run, MASKS_COMPARE)

    done, skipped, failed, unlabelled, jobs = 0, 0, [], [], []
    for image_id in select_ids(dataset.ids, shard=shard, limit=limit):
        job = _MaskJob(
            image_id,
            Path(),
            cams_dir / f"{image_id}.npy",
            out_dir / f"{image_id}.png",
            out_dir / "overlays" / f"{image_id}.jpg" if overlays else None,
        )
        if job.out_path.is_file() and (job.overlay_path is None or job.overlay_path.is_file()):
            skipped += 1
            continue
        sample = _labelled_sample(dataset, image_id, out_dir, failed, unlabelled, skip_bad)
        if sample is None:
            continue
        jobs.append(replace(job, image_path=sample.image_path))

    with contextlib.closing(_run_jobs(jobs, options, workers, progress)) as results:
        for job, err in results:
            if err is None:
                done += 1
                continue
            if not skip_bad:
                raise err
            _log_failure(out_dir, failed, job.image_id, err)
    return _finish(out_dir, started, done, skipped, failed, unlabelled)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ExponentChoice:
    """The background power k picked **on the ground truth** (leaks labels).

    Attributes:
        exponents: the candidates tried, in order.
        best: the k with the highest mIoU (ties: the earlier k).
        scores: the scores at that k.
    """

    exponents: tuple[float, ...]
    best: float
    scores: SegScores


@dataclass(frozen=True)
class EvalResult:
    """Split-level scores of a folder of CAM files or pseudo masks.

    Attributes:
        kind: "cams" (``<id>.npy``) or "masks" (``<id>.png``).
        class_names: "background" then the dataset's classes.
        n_images: images scored.
        n_missing: ids without a prediction file that were left out (``only_existing``).
        scores: scores with the fixed background power (cams) or of the masks.
        cam_key: which CAMs were scored (cams only).
        bg_exponent: the fixed background power k (cams only).
        ignored_fraction: masks only: share of GT-labelled pixels predicted 255 (ignored).
        chosen_on_gt: the best k over the candidates, chosen on GT (cams, if asked).
        image_hists: with ``per_image``: (N, n, n) int64, the confusion matrix of each
            scored image (fixed k for cams), in scoring order; they sum to ``scores``' matrix.
            For :func:`clipwsss.metrics.bootstrap_mious`.
    """

    kind: str
    class_names: tuple[str, ...]
    n_images: int
    n_missing: int
    scores: SegScores
    cam_key: str | None = None
    bg_exponent: float | None = None
    ignored_fraction: float | None = None
    chosen_on_gt: ExponentChoice | None = None
    image_hists: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; scores are fractions in [0, 1] (not percent)."""

        def block(s: SegScores) -> dict[str, Any]:
            rows = zip(self.class_names, s.iou, s.valid, strict=True)
            per_class = {name: _num(v) for name, v, ok in rows if ok}
            return {
                "miou": _num(s.miou),
                "pixel_acc": _num(s.pixel_acc),
                "mean_acc": _num(s.mean_acc),
                "iou": per_class,
            }

        out: dict[str, Any] = {
            "kind": self.kind,
            "n_images": self.n_images,
            "n_missing": self.n_missing,
            "cam_key": self.cam_key,
            "bg_exponent": self.bg_exponent,
            "ignored_fraction": self.ignored_fraction,
            **block(self.scores),
        }
        if self.chosen_on_gt is not None:
            out["chosen_on_gt"] = {
                "note": "background power chosen on ground truth: leaks labels "
                "(as the official eval_cam.py)",
                "exponents": list(self.chosen_on_gt.exponents),
                "best": self.chosen_on_gt.best,
                **block(self.chosen_on_gt.scores),
            }
        return out


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def detect_kind(pred_dir: Path) -> str:
    """The kind of predictions in a folder: "cams" (``*.npy``) or "masks" (``*.png``).

    Raises:
        ValueError: The folder holds both kinds, or neither.
    """
    has_npy = next(pred_dir.glob("*.npy"), None) is not None
    has_png = next(pred_dir.glob("*.png"), None) is not None
    if has_npy == has_png:
        what = "both .npy and .png files" if has_npy else "no .npy or .png file"
        raise ValueError(f"{pred_dir} holds {what}; say which with kind='cams' or 'masks'")
    return "cams" if has_npy else "masks"


def default_exponents(cam_key: str) -> tuple[float, ...]:
    """The official search range: {1, 2} for ``attn_*`` CAMs, 1..10 for the others."""
    return (1, 2) if cam_key.startswith("attn") else tuple(range(1, 11))


def evaluate(
    dataset: SegmentationDataset,
    pred_dir: str | Path,
    *,
    kind: str = "auto",
    cam_key: str = "attn_highres",
    bg_exponent: float = 1.0,
    choose_exponent_on_gt: bool = False,
    exponents: Sequence[float] | None = None,
    only_existing: bool = False,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    per_image: bool = False,
    progress: bool = True,
) -> EvalResult:
    """mIoU of CAM files or pseudo masks against the GT, with the official semantics.

    One confusion matrix is summed over the split; the mean runs over classes with GT
    pixels (``metrics.py``). CAM files: label = argmax over ``[(1 - max cam)^k, cams]``
    mapped through ``keys + 1`` (``eval_cam.py``), k = ``bg_exponent``; with
    ``choose_exponent_on_gt`` also the best k over ``exponents`` (default: {1, 2} for
    ``attn_highres``, 1..10 for ``highres``, as the official search), which is chosen on
    the ground truth and so is an oracle number. Masks: PNG values are labels; pixels
    predicted 255 (below the confidence threshold) are left out of the confusion matrix
    and their share is reported as ``ignored_fraction``. To score the CRF labels without
    the 255s (the official ``eval_cam_with_crf.py --eval_only``, Table 2's 75.0), make the
    masks with ``threshold=0``.

    An image with no image-level label and no prediction file is scored as all background
    (what a CAM method predicts without a class); any other missing prediction raises,
    unless ``only_existing`` (then it is left out and counted in ``n_missing``).

    Args:
        dataset: Images with GT label PNGs.
        pred_dir: Folder of ``<id>.npy`` CAM files or ``<id>.png`` masks.
        kind: "cams", "masks" or "auto" (by the files present).
        cam_key: "attn_highres" (refined) or "highres" (initial CAMs).
        bg_exponent: The fixed background power k, set by the user.
        choose_exponent_on_gt: Also report the best k chosen on the GT.
        exponents: Candidates for that choice.
        only_existing: Score only ids with a prediction file.
        limit, shard: Score a subset (see :func:`select_ids`).
        per_image: Also keep each image's confusion matrix (``EvalResult.image_hists``),
            e.g. for bootstrap intervals.
        progress: Show a progress bar (only on a terminal).

    Returns:
        The scores.

    Reference: CLIP-ES Tables 1-2; official ``eval_cam.py`` and ``eval_cam_with_crf.py``.
    """
    check_bg_exponent(bg_exponent)  # issue 12, #5
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {pred_dir}")
    kind = detect_kind(pred_dir) if kind == "auto" else kind
    if kind not in ("cams", "masks"):
        raise ValueError(f"kind must be 'cams', 'masks' or 'auto', got {kind!r}")
    if kind == "masks" and choose_exponent_on_gt:
        warnings.warn(
            "masks have no background power to choose; ignoring choose_exponent_on_gt",
            RuntimeWarning,
            stacklevel=2,
        )
        choose_exponent_on_gt = False
    n = dataset.n_classes
    ids = select_ids(dataset.ids, shard=shard, limit=limit)
    candidates = tuple(exponents or default_exponents(cam_key)) if choose_exponent_on_gt else ()
    powers = tuple(dict.fromkeys((bg_exponent, *candidates)))
    hists = {k: np.zeros((n, n), dtype=np.int64) for k in powers}
    n_images, missing, ignored, counted = 0, [], 0, 0
    image_hists: list[np.ndarray] = []
    for image_id in _progress(ids, total=len(ids), desc="eval", enabled=progress):
        sample = dataset.sample(image_id)
        if sample.gt_path is None:
            raise FileNotFoundError(f"no ground-truth PNG for image {image_id}")
        gt = load_label_png(sample.gt_path)
        path = pred_dir / f"{image_id}.{'npy' if kind == 'cams' else 'png'}"
        if not path.is_file() and (sample.labels or only_existing):
            if not only_existing:
                raise FileNotFoundError(
                    f"no prediction for image {image_id}: {path} (pass only_existing / "
                    "--only-existing to score the images that have one)"
                )
            missing.append(image_id)
            continue
        before = hists[bg_exponent].copy() if per_image else None
        try:
            if kind == "masks":
                n_ignored, n_counted = _add_mask(hists[bg_exponent], path, gt)
                ignored, counted = ignored + n_ignored, counted + n_counted
            else:
                _add_cams(hists, path, gt, cam_key)
        except ValueError as err:
            raise ValueError(f"image {image_id}: {err}") from err
        if before is not None:
            image_hists.append(hists[bg_exponent] - before)
        n_images += 1
    stacked = None
    if per_image:
        stacked = np.stack(image_hists) if image_hists else np.zeros((0, n, n), dtype=np.int64)
    names = ("background", *dataset.class_names)
    if kind == "masks":
        frac = ignored / counted if counted else float("nan")
        return EvalResult(
            "masks",
            names,
            n_images,
            len(missing),
            seg_scores(hists[bg_exponent]),
            ignored_fraction=frac,
            image_hists=stacked,
        )
    choice = None
    if candidates:
        best, _ = best_background_exponent({k: hists[k] for k in candidates})
        choice = ExponentChoice(candidates, best, seg_scores(hists[best]))
    return EvalResult(
        "cams",
        names,
        n_images,
        len(missing),
        seg_scores(hists[bg_exponent]),
        cam_key=cam_key,
        bg_exponent=bg_exponent,
        chosen_on_gt=choice,
        image_hists=stacked,
    )


def _add_mask(hist: np.ndarray, path: Path, gt: np.ndarray) -> tuple[int, int]:
    """Add one mask to ``hist``; pixels predicted 255 are not scored.

    Returns:
        (GT-labelled pixels predicted 255, GT-labelled pixels). A missing file (an
        unlabelled image) is all background.
    """
    n = hist.shape[0]
    pred = load_label_png(path) if path.is_file() else np.zeros_like(gt)
    _check_size(pred.shape, gt.shape, path)
    valid = gt < n
    ignored = int((valid & (pred == 255)).sum())
    hist += confusion_matrix(pred, np.where(pred == 255, 255, gt), n)
    return ignored, int(valid.sum())


def _add_cams(hists: dict[float, np.ndarray], path: Path, gt: np.ndarray, cam_key: str) -> None:
    """Add one CAM file's labels to the matrix of each background power k (``eval_cam.py``).

    A missing file (an unlabelled image) has K = 0 CAMs: all background.
    """
    if path.is_file():
        record = load_cams(path)
        keys, cams = record.keys, record.get(cam_key, path)
    else:
        keys, cams = np.zeros(0, dtype=np.int64), np.zeros((0, *gt.shape), dtype=np.float16)
    _check_size(cams.shape[1:], gt.shape, path)
    cams_t = torch.from_numpy(cams)  # float16 as stored, as the official script computes
    for k, hist in hists.items():
        hist += confusion_matrix(cams_to_label(cams_t, keys, exponent=k), gt, hist.shape[0])


def _check_size(pred: tuple[int, ...], gt: tuple[int, ...], path: Path) -> None:
    if tuple(pred) != tuple(gt):
        raise ValueError(f"prediction {path} is {tuple(pred)} but its GT is {tuple(gt)}")
