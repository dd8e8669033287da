"""CAM files and pseudo masks in one run (``clipwsss cams --masks DIR``).

The model writes each image's CAM file as in :func:`~clipwsss.pipelines.cams.generate_cams`;
as soon as an image is done with (written, already there, failed or unlabelled) its mask job
goes to a pool of CPU processes that run the dense CRF while the model works on the next
batch. Each mask job reads the CAM file just written, so the masks are the files of
``clipwsss masks`` on that folder: the same PNGs, resume, ``run.json`` and failure lists.

Paper: CLIP-ES Sections 3.1-3.4 (CAMs, CAA, dCRF + confidence).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

from clipwsss.data import SegmentationDataset
from clipwsss.io.camfiles import check_run_record, read_run_record
from clipwsss.methods.base import CamMethod
from clipwsss.pipelines.cams import MAX_IMAGE_PIXELS, cams_record, generate_cams
from clipwsss.pipelines.common import RunReport, data_identity, finish_run, log_failure
from clipwsss.pipelines.masks import (
    MASKS_COMPARE,
    MaskOptions,
    _init_worker,
    _mask_job,
    _pool_job,
    masks_record,
    plan_mask,
)


def generate_cams_and_masks(
    es: CamMethod,
    dataset: SegmentationDataset,
    cams_dir: str | Path,
    masks_dir: str | Path,
    *,
    options: MaskOptions | None = None,
    workers: int = 2,
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
) -> tuple[RunReport, RunReport]:
    """``generate_cams`` then ``generate_masks`` per image, the CRF overlapping the model.

    Args:
        es, dataset, limit, shard, skip_bad, overlays, progress, record, max_image_pixels,
            batch_size, loader_workers, precision: as in
            :func:`~clipwsss.pipelines.cams.generate_cams` (``overlays`` for both stages).
        cams_dir: CAM folder (``<id>.npy``).
        masks_dir: mask folder (``<id>.png``).
        options: the pseudo-mask switches (default: official; ``n_classes`` is set from the
            data set).
        workers: CRF processes; 0 or 1 runs each CRF in this process after its image.

    Returns:
        The CAM stage's report and the mask stage's report.
    """
    started = time.perf_counter()
    cams_dir, masks_dir = Path(cams_dir), Path(masks_dir)
    options = dataclasses.replace(options or MaskOptions(), n_classes=dataset.n_classes)
    extra = {} if precision == "fp32" else {"precision": precision}
    cams_run = json.loads(
        json.dumps(  # as the CAM folder's run.json will read
            cams_record(es, {"data": data_identity(dataset), **extra, **(record or {})}),
            default=str,
        )
    )
    mask_run = masks_record(
        dataset, cams_dir, masks_dir, options, read_run_record(cams_dir) or cams_run, record
    )
    done, skipped, failed, unlabelled, done_ids = 0, 0, [], [], []
    claimed = False
    pending: collections.deque = collections.deque()
    pool = None
    if workers > 1:
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        pool = mp.get_context(method).Pool(workers, _init_worker, (os.getpid(),))

    def settle(image_id: str, err: BaseException | None) -> None:
        nonlocal done
        if err is None:
            done += 1
            done_ids.append(image_id)
        elif not skip_bad:
            raise err
        else:
            log_failure(masks_dir, failed, image_id, err)

    def drain(block: bool) -> None:
        while pending and (block or pending[0][1].ready()):
            image_id, result = pending.popleft()
            settle(image_id, result.get()[1])  # a worker's other errors re-raise here

    def queue_mask(image_id: str) -> None:
        nonlocal skipped, claimed
        job = plan_mask(
            dataset, image_id, cams_dir, masks_dir, overlays, failed, unlabelled, skip_bad
        )
        if job == "exists":
            skipped += 1
            return
        if job is None:
            return
        if not claimed:
            check_run_record(masks_dir, mask_run, MASKS_COMPARE)
            claimed = True
        if pool is None:
            settle(image_id, _mask_job(job, options))
            return
        pending.append((image_id, pool.apply_async(_pool_job, ((job, options),))))
        drain(block=False)

    try:
        cams_report = generate_cams(
            es,
            dataset,
            cams_dir,
            limit=limit,
            shard=shard,
            skip_bad=skip_bad,
            overlays=overlays,
            progress=progress,
            record=record,
            max_image_pixels=max_image_pixels,
            batch_size=batch_size,
            loader_workers=loader_workers,
            precision=precision,
            on_handled=queue_mask,
        )
        drain(block=True)
        if pool is not None:
            pool.close()
    except BaseException:  # an error, an interrupt: stop the CRF processes
        if pool is not None:
            pool.terminate()
        raise
    finally:
        if pool is not None:
            pool.join()
    masks_report = finish_run(masks_dir, started, done, skipped, failed, unlabelled, done_ids)
    return cams_report, masks_report
