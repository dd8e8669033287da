"""Stage 3 over a data set: CAM files -> dense CRF -> label -> confidence -> 255 -> PNG masks.

The dense CRF is the expensive step, so it runs once per image: besides the masks, the same
pass can write the unthresholded CRF labels (mu = 0, the official ``--eval_only`` labels) and
the confidence maps (``<id>.npy``, for sweeping CGL's mu at training time, CLIP-ES Table S3).

Paper: CLIP-ES Section 3.4, Eq. 9; supplementary D (dCRF, mu = 0.95).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from clipwsss._version import __version__
from clipwsss.cams.cgl import confidence as cgl_confidence
from clipwsss.cams.crf import crf_posterior
from clipwsss.cams.labels import apply_confidence, posterior_to_label
from clipwsss.data import (
    DatasetLayoutError,
    SegmentationDataset,
    load_image,
    overlay,
    save_label_png,
)
from clipwsss.io.camfiles import (
    CamFileError,
    check_run_record,
    load_cams,
    read_run_record,
    save_jpeg,
)
from clipwsss.pipelines.common import (
    CAMS_COMPARE,
    Confidence,
    RunReport,
    UnknownLabelError,
    check_class_list,
    data_identity,
    finish_run,
    is_bad_input,
    labelled_sample,
    log_failure,
    progress_bar,
    select_ids,
)
from clipwsss.validate import check_bg_exponent, check_unit_interval

MASKS_COMPARE = (
    "stage",
    "threshold",
    "confidence",
    "cam_key",
    "official_crf_image",
    "bg_exponent",
    "cams_config",
    "data",
)


CamKey = Literal["attn_highres", "highres"]  # refined or initial CAMs of a CAM file


@dataclass(frozen=True)
class MaskOptions:
    """Switches of the pseudo-mask stage; defaults reproduce ``eval_cam_with_crf.py``."""

    threshold: float = 0.95  # confidence mu, CLIP-ES supp. D; lower pixels become 255
    confidence: Confidence = "official"  # max CRF posterior; "paper": Eq. 8 on the CAMs
    cam_key: CamKey = "attn_highres"  # which CAMs of the file go into the CRF
    # CRF image: wrapped mean-subtracted BGR as the official code (crf.crf_image)
    official_crf_image: bool = field(
        default=True, metadata={"negations": {"--corrected-crf-image": False}}
    )
    bg_exponent: float = 1.0  # (1 - max cam)^k in the CRF unary; official k = 1
    n_classes: int = 21  # background included; keys must be < n_classes - 1

    def __post_init__(self) -> None:  # refuse a mu or k that would make silently wrong masks
        check_unit_interval("threshold (mu)", self.threshold)
        check_bg_exponent(self.bg_exponent)


@dataclass(frozen=True)
class _MaskJob:
    image_id: str
    image_path: Path
    cam_path: Path
    out_path: Path
    overlay_path: Path | None
    label_path: Path | None = None  # the unthresholded CRF label (mu = 0), same pass
    conf_path: Path | None = None  # the confidence map (float32 .npy), same pass


@dataclass(frozen=True)
class PseudoMask:
    """One image's pseudo mask and what it was made from.

    Attributes:
        label: (H, W) int64 CRF label, 0 = background, ``k + 1`` = class k.
        conf: (H, W) confidence in [0, 1] (``MaskOptions.confidence``).
        mask: (H, W) int64 ``label`` with 255 where ``conf < threshold`` (Eq. 9).
        posterior: (1 + K, H, W) CRF posterior over [background, classes].
    """

    label: Tensor
    conf: Tensor
    mask: Tensor
    posterior: Tensor


def mask_from_posterior(
    posterior: Tensor,
    keys: np.ndarray | Tensor,
    cams: Tensor,
    *,
    threshold: float = 0.95,  # mu, CLIP-ES supp. D
    confidence: Confidence = "official",  # max CRF posterior; "paper": Eq. 8 on the CAMs
) -> PseudoMask:
    """CRF posterior -> label -> confidence -> 255: the pseudo-mask step after the dCRF.

    Shapes:
        posterior: (1 + K, H, W); keys: (K,); cams: (K, H, W); output maps: (H, W).

    Reference: CLIP-ES Section 3.4, Eq. 8-9; supplementary D (``eval_cam_with_crf.py``).
    """
    label = posterior_to_label(posterior, keys)
    conf = cgl_confidence(posterior, cams, kind=confidence)
    mask = apply_confidence(label, conf, threshold=threshold)
    return PseudoMask(label=label, conf=conf, mask=mask, posterior=posterior)


def crf_pseudo_mask(
    image: np.ndarray,
    keys: np.ndarray | Tensor,
    cams: Tensor,
    options: MaskOptions = MaskOptions(),
) -> PseudoMask:
    """dCRF + confidence mask of one image: the one pseudo-mask function.

    The runner, the sweeps, the timings and the notebooks all call it (or its two halves,
    :func:`~clipwsss.cams.crf.crf_posterior` and :func:`mask_from_posterior`).

    Args:
        image: RGB uint8 photo.
        keys: 0-based class ids of the CAMs.
        cams: CAMs in [0, 1] at the image size; float16 as stored in the CAM files is what
            the official unary sees.
        options: Threshold, confidence and CRF switches.

    Shapes:
        image: (H, W, 3); keys: (K,); cams: (K, H, W); output maps: (H, W).

    Reference: CLIP-ES Section 3.4, Eq. 8-9; supplementary D (``eval_cam_with_crf.py``).
    """
    q = crf_posterior(
        image, cams, exponent=options.bg_exponent, official=options.official_crf_image
    )
    return mask_from_posterior(
        q, keys, cams, threshold=options.threshold, confidence=options.confidence
    )


def pseudo_mask_for(
    image: np.ndarray, keys: np.ndarray, cams: np.ndarray, options: MaskOptions = MaskOptions()
) -> np.ndarray:
    """:func:`crf_pseudo_mask` of stored CAMs, as the uint8 map written as PNG.

    Returns:
        uint8 label map: 0 = background, ``k + 1`` = class k, 255 = unconfident (ignore).

    Shapes:
        image: (H, W, 3); keys: (K,); cams: (K, H, W); output: (H, W).
    """
    return stored_pseudo_mask(image, keys, cams, options).mask.numpy().astype(np.uint8)


def stored_pseudo_mask(
    image: np.ndarray, keys: np.ndarray, cams: np.ndarray, options: MaskOptions = MaskOptions()
) -> PseudoMask:
    """:func:`crf_pseudo_mask` of stored (numpy) CAMs: label, confidence and mask of one CRF.

    Shapes:
        image: (H, W, 3); keys: (K,); cams: (K, H, W); output maps: (H, W).
    """
    cams_t = torch.from_numpy(np.ascontiguousarray(cams))
    return crf_pseudo_mask(image, keys, cams_t, options)


def _mask_job(job: _MaskJob, options: MaskOptions) -> BaseException | None:
    """Make one mask; a bad input comes back as the exception, anything else raises."""
    try:
        image = load_image(job.image_path)
        record = load_cams(job.cam_path)
        cams = record.get(options.cam_key, job.cam_path)
    except Exception as err:
        if is_bad_input(err) or isinstance(err, CamFileError):
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
    pm = stored_pseudo_mask(image, record.keys, cams, options)
    mask = pm.mask.numpy().astype(np.uint8)
    if job.conf_path is not None:  # before the PNGs: a mask file marks the image done
        tmp = job.conf_path.with_name(job.conf_path.stem + ".tmp.npy")
        np.save(tmp, pm.conf.numpy().astype(np.float32))
        tmp.replace(job.conf_path)
    if job.label_path is not None:
        save_label_png(job.label_path, pm.label.numpy().astype(np.uint8))
    save_label_png(job.out_path, mask)
    if job.overlay_path is not None:
        save_jpeg(job.overlay_path, overlay(image, mask))
    return None


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``).

    An OOM killer or a scheduler signals one PID; without this the pool's workers would go
    on writing masks and then hang as orphans. Elsewhere (no ``prctl``) the
    parent's SIGTERM/SIGINT handling still terminates them; a SIGKILL of the parent does not.
    """
    import ctypes
    import ctypes.util
    import sys

    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _init_worker(parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # pool.terminate(); no inherited handler
    torch.set_num_threads(1)  # one CRF per core; no oversubscription


def _pool_job(item: tuple[_MaskJob, MaskOptions]) -> tuple[_MaskJob, BaseException | None]:
    job, options = item
    return job, _mask_job(job, options)


def _run_jobs(
    jobs: list[_MaskJob], options: MaskOptions, workers: int, progress: bool
) -> Iterator[tuple[_MaskJob, BaseException | None]]:
    """Yield each job with its bad-input error (or None), in a pool of ``workers`` processes.

    The workers die with this process (SIGKILL included, on Linux); on an error, Ctrl-C,
    SIGTERM (the CLI turns it into an interrupt) or an early stop they are terminated.
    """
    bar = progress_bar(range(len(jobs)), total=len(jobs), desc="masks", enabled=progress)
    if workers <= 1:
        for job in jobs:
            yield job, _mask_job(job, options)
            next(bar, None)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    pool = mp.get_context(method).Pool(workers, _init_worker, (os.getpid(),))
    try:
        for job, err in pool.imap_unordered(_pool_job, [(job, options) for job in jobs]):
            yield job, err  # a worker's other errors re-raise here
            next(bar, None)
        pool.close()
    except BaseException:  # an error, an interrupt, or the caller stopped early
        pool.terminate()
        raise
    finally:
        pool.join()


def masks_record(
    dataset: SegmentationDataset,
    cams_dir: Path,
    out_dir: Path,
    options: MaskOptions,
    cams_run: dict[str, Any] | None,
    record: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ``run.json`` of a mask folder; refuses (early, writing nothing) a folder made with
    other settings or CAMs of another class list.

    ``cams_run`` is the CAM folder's ``run.json`` (None: none, e.g. the official files).
    """
    cams_run = cams_run or {}
    check_class_list(cams_run, dataset, cams_dir)
    run = {
        "stage": "masks",
        "clipwsss": __version__,
        **{k: v for k, v in asdict(options).items() if k != "n_classes"},
        "cams_dir": str(cams_dir),
        "data": data_identity(dataset),
        "cams_config": (
            {k: cams_run.get(k) for k in CAMS_COMPARE if k != "precision" or k in cams_run}
            if cams_run
            else None
        ),
        **(record or {}),
    }
    check_run_record(out_dir, run, MASKS_COMPARE, claim=False)  # refuse early, write nothing
    return run


def plan_mask(
    dataset: SegmentationDataset,
    image_id: str,
    cams_dir: Path,
    out_dir: Path,
    overlays: bool,
    failed: list[tuple[str, str]],
    unlabelled: list[str],
    skip_bad: bool,
    labels_dir: Path | None = None,
    conf_dir: Path | None = None,
) -> _MaskJob | Literal["exists"] | None:
    """One image's mask job; "exists" when its outputs are there (resume); None after
    logging it as failed (``skip_bad``) or unlabelled."""
    job = _MaskJob(
        image_id,
        Path(),
        cams_dir / f"{image_id}.npy",
        out_dir / f"{image_id}.png",
        out_dir / "overlays" / f"{image_id}.jpg" if overlays else None,
        labels_dir / f"{image_id}.png" if labels_dir is not None else None,
        conf_dir / f"{image_id}.npy" if conf_dir is not None else None,
    )
    outputs = (job.out_path, job.overlay_path, job.label_path, job.conf_path)
    if all(path is None or path.is_file() for path in outputs):
        return "exists"
    sample = labelled_sample(dataset, image_id, out_dir, failed, unlabelled, skip_bad)
    if sample is None:
        return None
    return replace(job, image_path=sample.image_path)


def generate_masks(
    dataset: SegmentationDataset,
    cams_dir: str | Path,
    out_dir: str | Path,
    *,
    workers: int = 2,
    options: MaskOptions | None = None,
    threshold: float = 0.95,
    confidence: Confidence = "official",
    cam_key: str = "attn_highres",
    official_crf_image: bool = True,
    bg_exponent: float = 1.0,
    labels_dir: str | Path | None = None,
    conf_dir: str | Path | None = None,
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
        options: The pseudo-mask switches as one :class:`MaskOptions` (its ``n_classes`` is
            set from the data set); give either it or the five switches below.
        threshold: mu; 0 keeps every pixel (the official ``--eval_only`` labels).
        confidence: "official" (max CRF posterior) or "paper" (Eq. 8 on the CAMs).
        cam_key: "attn_highres" (refined, default) or "highres" (initial CAMs).
        official_crf_image: Use the official wrapped BGR image in the bilateral kernel.
        bg_exponent: Background power k of the CRF unary (official 1).
        labels_dir: Also write the unthresholded CRF labels (mu = 0) here, from the same
            CRF: the PNGs ``threshold=0`` writes, with their own ``run.json``.
        conf_dir: Also write the confidence maps here (float32 ``<id>.npy``, (H, W); float16
            would merge values near 1: its step there is 0.0005), from the same CRF. Masking
            the labels at ``conf < mu`` gives the masks of ``threshold=mu`` (tested).
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
    switches = dict(
        threshold=threshold,
        confidence=confidence,
        cam_key=cam_key,
        official_crf_image=official_crf_image,
        bg_exponent=bg_exponent,
    )
    if options is None:
        options = MaskOptions(**switches, n_classes=dataset.n_classes)
    elif any(getattr(MaskOptions(), k) != v for k, v in switches.items()):
        raise ValueError("give the pseudo-mask switches either as options or as keywords")
    else:
        options = replace(options, n_classes=dataset.n_classes)
    cams_run = read_run_record(cams_dir)
    run = masks_record(dataset, cams_dir, out_dir, options, cams_run, record)
    extra = {}  # folder -> its run.json: the labels and confidence maps of the same CRF
    if labels_dir is not None:
        labels_dir = Path(labels_dir)
        label_options = replace(options, threshold=0.0)
        extra[labels_dir] = masks_record(
            dataset, cams_dir, labels_dir, label_options, cams_run, record
        )
    if conf_dir is not None:
        conf_dir = Path(conf_dir)
        # the confidence does not depend on mu: any mask threshold may reuse the folder
        extra[conf_dir] = {**run, "stage": "confidence", "threshold": None}
        check_run_record(conf_dir, extra[conf_dir], MASKS_COMPARE, claim=False)
    if len({out_dir.resolve(), *(p.resolve() for p in extra)}) != 1 + len(extra):
        raise ValueError("the masks, labels and confidence maps need three different folders")

    done, skipped, failed, unlabelled, jobs, done_ids = 0, 0, [], [], [], []
    for image_id in select_ids(dataset.ids, shard=shard, limit=limit):
        job = plan_mask(
            dataset,
            image_id,
            cams_dir,
            out_dir,
            overlays,
            failed,
            unlabelled,
            skip_bad,
            labels_dir,
            conf_dir,
        )
        if job == "exists":
            skipped += 1
        elif job is not None:
            jobs.append(job)

    if jobs:  # claim the folders just before the first output (a failed first image
        # leaves no record that would refuse the corrected rerun)
        for folder, folder_run in extra.items():
            check_run_record(folder, folder_run, MASKS_COMPARE)
        check_run_record(out_dir, run, MASKS_COMPARE)
    with contextlib.closing(_run_jobs(jobs, options, workers, progress)) as results:
        for job, err in results:
            if err is None:
                done += 1
                done_ids.append(job.image_id)
                continue
            if not skip_bad:
                raise err
            log_failure(out_dir, failed, job.image_id, err)
    return finish_run(out_dir, started, done, skipped, failed, unlabelled, done_ids)
