"""Predict with a trained segmenter over a data set: one loop for WeCLIP, WeakCLIP and DeepLab.

``<out>/<image_id>.png``: VOC-palette PNGs of class ids (0 = background, k + 1 = class k),
the project's pseudo-mask format, so ``clipwsss eval`` and the DeepLab stage read them. What
the CAM and mask stages guarantee (``pipelines/common.py``) holds here too:

* **One run per folder.** ``<out>/run.json`` names the trained run (SHA-256 of its final
  weights and of its ``config.json``), the test-time switches and the data identity; a rerun
  into the folder with another trained run (a retrained one included), other switches or
  another data set is refused with the differing fields named, so PNGs are never mixed.
* **Resume, shards, processes.** Finished PNGs are skipped; ``shard=(i, n)`` takes
  ``ids[i::n]`` (``accelerate launch`` splits further, ``pipelines/launch.py``); every PNG
  is written atomically and ``run.json`` under the folder lock.
* **Bad input.** A missing or undecodable image raises naming it, or with ``skip_bad`` is
  listed in ``<out>/failed.txt``.
* **Batches.** ``batch_size > 1`` runs same-size images as one batch through the test-time
  augmentation (:func:`~clipwsss.pipelines.tta.predict_labels`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from clipwsss._version import __version__
from clipwsss.data import SegmentationDataset, load_image, load_label_png, save_label_png
from clipwsss.io.camfiles import check_run_record
from clipwsss.metrics import confusion_matrix, seg_scores
from clipwsss.pipelines.common import (
    RunReport,
    data_identity,
    finish_run,
    is_bad_input,
    log_failure,
    progress_bar,
    select_ids,
)
from clipwsss.pipelines.tta import TtaConfig, predict_label, predict_labels

# Fields of run.json that must agree for a rerun to write into the same folder.
PREDICT_COMPARE = ("stage", "method", "trained", "tta", "data")


@dataclass(frozen=True)
class Predictor:
    """A finished training run, ready to predict (made by ``clipwsss.cli.methods.load_predictor``).

    Attributes:
        method: "weclip", "weakclip" or "deeplab".
        model: the trained model in eval mode, with ``preprocess`` (its input statistics).
        tta: the run's test-time augmentation (its recipe's official test).
        profile: the data profile the run was trained on ("toy", "voc12", "coco14").
        root: the data folder the run recorded (None: the profile's).
        class_names: the foreground classes the run was trained on (None: not recorded).
        trained: what identifies the run (:func:`trained_identity`).
    """

    method: str
    model: nn.Module
    tta: TtaConfig
    profile: str
    root: str | None
    class_names: tuple[str, ...] | None
    trained: dict[str, Any]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (read in 1 MiB blocks), first 16 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def trained_identity(run_dir: str | Path, weights: str | None = None) -> dict[str, str]:
    """What identifies a finished training run: the hashes of its weights and config.json.

    A retrained run (same folder, new weights) gets another identity, so its predictions are
    never mixed with the old run's. ``weights``: the file name (default ``model.safetensors``,
    or ``model.pt`` of older runs).
    """
    run_dir = Path(run_dir)
    names = [weights] if weights else ["model.safetensors", "model.pt"]
    path = next((run_dir / n for n in names if (run_dir / n).is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"{run_dir / names[0]} not found: the run in {run_dir} has not finished"
        )
    config = run_dir / "config.json"
    return {
        "weights_sha256": file_sha256(path),
        "config_sha256": file_sha256(config) if config.is_file() else None,
    }


def voc_test_dir(out_dir: str | Path) -> Path:
    """Where the PASCAL VOC evaluation server wants the test PNGs (comp6: own training data)."""
    return Path(out_dir) / "results" / "VOC2012" / "Segmentation" / "comp6_test_cls"


def predict_record(
    method: str,
    trained: dict[str, Any],
    tta: TtaConfig,
    dataset: SegmentationDataset,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``run.json`` of a prediction folder."""
    return {
        "stage": "predict",
        "clipwsss": __version__,
        "method": method,
        "trained": trained,
        "tta": asdict(tta),
        "data": data_identity(dataset),
        **(record or {}),
    }


def _loaded(
    dataset: SegmentationDataset, ids: Iterable[str], out_dir: Path, failed: list, skip_bad: bool
) -> Iterator[tuple[str, np.ndarray]]:
    """(id, photo) of every id whose photo loads; bad inputs are logged (``skip_bad``)."""
    for image_id in ids:
        try:
            image = load_image(dataset.sample(image_id).image_path)
        except Exception as err:
            if not (skip_bad and is_bad_input(err)):
                raise
            log_failure(out_dir, failed, image_id, err)
            continue
        yield image_id, image


def same_size_batches(
    items: Iterable[tuple[str, np.ndarray]], batch_size: int
) -> Iterator[list[tuple[str, np.ndarray]]]:
    """Group (id, photo) by photo size; a group goes once it holds ``batch_size`` (or the
    largest once ``4 * batch_size`` photos wait), the rest at the end."""
    groups: dict[tuple[int, ...], list] = {}
    for item in items:
        key = item[1].shape
        groups.setdefault(key, []).append(item)
        if len(groups[key]) >= batch_size:
            yield groups.pop(key)
        elif sum(len(g) for g in groups.values()) >= 4 * batch_size:
            yield groups.pop(max(groups, key=lambda k: len(groups[k])))
    yield from groups.values()


def predict_dataset(
    model: nn.Module,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    tta: TtaConfig,
    *,
    method: str,
    trained: dict[str, Any],
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    skip_bad: bool = False,
    batch_size: int = 1,
    voc_test_layout: bool = False,
    progress: bool = True,
    record: dict[str, Any] | None = None,
) -> RunReport:
    """Write ``<out_dir>/<image_id>.png`` label maps of a trained model; resumable.

    Args:
        model: a trained WeCLIP, WeakCLIP or DeepLab with ``preprocess`` (put in eval mode).
        dataset: the images (labels are not read).
        out_dir: output folder (created).
        tta: the test-time augmentation.
        method: the method's name (recorded).
        trained: what identifies the trained run (:func:`trained_identity`).
        limit, shard: handle the first ``limit`` of ``ids[i::n]``.
        skip_bad: skip and list missing or corrupt images instead of raising.
        batch_size: same-size images per forward.
        voc_test_layout: write under ``results/VOC2012/Segmentation/comp6_test_cls``.
        progress: progress bar (only on a terminal).
        record: extra fields for ``run.json`` (run folder, command).

    Returns:
        The run report.

    Raises:
        OutputMismatchError: the folder holds PNGs of another run, switches or data set.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(dataset) == 0:
        raise ValueError(f"the split of {dataset!r} is empty: nothing to predict")
    folder = voc_test_dir(out_dir) if voc_test_layout else Path(out_dir)
    run = predict_record(method, trained, tta, dataset, record)
    check_run_record(folder, run, PREDICT_COMPARE, claim=False)  # refuse early, write nothing
    model.eval()
    ids = select_ids(dataset.ids, shard=shard, limit=limit)
    todo = [i for i in ids if not (folder / f"{i}.png").is_file()]
    skipped, failed, done_ids = len(ids) - len(todo), [], []
    bar = progress_bar(range(len(todo)), total=len(todo), desc="predict", enabled=progress)
    loaded = _loaded(dataset, todo, folder, failed, skip_bad)
    for group in same_size_batches(loaded, batch_size):
        labels = predict_labels(model, [image for _, image in group], tta)
        if not done_ids:  # run.json goes in with the first output
            check_run_record(folder, run, PREDICT_COMPARE)
        for (image_id, _), label in zip(group, labels, strict=True):
            save_label_png(folder / f"{image_id}.png", label)
            done_ids.append(image_id)
            next(bar, None)
    return finish_run(folder, started, len(done_ids), skipped, failed, [], done_ids)


def image_confusions(
    model: nn.Module,
    dataset: SegmentationDataset,
    n_classes: int,
    tta: TtaConfig,
    *,
    ids: Sequence[str] | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Per-image confusion matrices of the model's predictions against the GT.

    Returns:
        (N, n_classes, n_classes) int64, images in ``dataset`` order (or ``ids`` order);
        sum over axis 0 and call ``clipwsss.metrics.seg_scores`` for the split mIoU, or
        feed it to ``bootstrap_mious``.
    """
    model.eval()
    hists = []
    chosen = list(ids or dataset.ids)
    for image_id in progress_bar(chosen, total=len(chosen), desc="eval", enabled=progress):
        sample = dataset.sample(image_id)
        if sample.gt_path is None:
            raise ValueError(f"image {image_id} has no ground-truth mask to score against")
        pred = predict_label(model, load_image(sample.image_path), tta)
        hists.append(confusion_matrix(pred, load_label_png(sample.gt_path), n_classes))
    return np.stack(hists)


def evaluate_segmenter(
    model: nn.Module, dataset: SegmentationDataset, n_classes: int, tta: TtaConfig
) -> dict[str, float]:
    """mIoU (fraction) and pixel accuracy of the model's predictions on ``dataset``."""
    scores = seg_scores(image_confusions(model, dataset, n_classes, tta).sum(0))
    return {"miou": scores.miou, "pixel_acc": scores.pixel_acc}
