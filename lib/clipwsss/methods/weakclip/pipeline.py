"""Write WeakCLIP pseudo masks for a data set (pipeline layer: files, progress, resume).

``<out_dir>/<image_id>.png``: VOC-palette PNGs of class ids (0 = background, k + 1 = class
k), the project's pseudo-mask format, ready as labels for a final segmentation model or as
seeds. Finished files are kept: a rerun skips them (resume after an interruption).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from clipwsss.data import SegmentationDataset, atomic_write_text, load_image, save_label_png

from .data import normalise
from .infer import InferenceConfig, predict_label
from .model import WeakCLIP


def predict_dataset(
    model: WeakCLIP,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    inference: InferenceConfig,
    *,
    mean: tuple,
    std: tuple,
    limit: int | None = None,
    progress: bool | None = None,
    record: dict | None = None,
) -> dict:
    """Predict and save one pseudo mask per image; existing masks are skipped.

    Args:
        model: the trained WeakCLIP.
        dataset: the images (labels are not used).
        out_dir: output folder (created).
        inference: scales, flip, windows, CRF.
        mean, std: the input normalisation the model was trained with.
        limit: only the first ``limit`` images.
        progress: tqdm bar (default: when stderr is a terminal).
        record: extra fields for ``out_dir/run.json``.

    Returns:
        ``{"done": n, "skipped": n, "seconds": s}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = dataset.ids[:limit] if limit is not None else dataset.ids
    device = next(model.parameters()).device
    started, done, skipped = time.perf_counter(), 0, 0
    show = sys.stderr.isatty() if progress is None else progress
    for image_id in tqdm(ids, desc="weakclip predict", disable=not show):
        path = out / f"{image_id}.png"
        if path.is_file():
            skipped += 1
            continue
        image = load_image(dataset[image_id].image_path)
        pixels = normalise(image, mean, std).to(device)
        save_label_png(path, predict_label(model, image, pixels, inference))
        done += 1
    summary = {"done": done, "skipped": skipped, "seconds": round(time.perf_counter() - started, 1)}
    info = {"stage": "weakclip predict", "inference": repr(inference), **(record or {}), **summary}
    atomic_write_text(out / "run.json", json.dumps(info, indent=2, default=str))
    return summary
