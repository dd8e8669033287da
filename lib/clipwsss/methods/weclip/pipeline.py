"""WeCLIP data-set loops: predictions written as pseudo-mask PNGs, resumable.

The PNGs have the format of CLIP-ES's ``clipwsss masks`` output (palette PNG, 0 = background,
k + 1 = class k; WeCLIP ignores nothing), so the DeepLab stage and ``clipwsss eval`` read them
unchanged (WeCLIP supp. Table 1: its predictions as pseudo labels, 78.2 on VOC train).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from clipwsss.data import SegmentationDataset, atomic_write_text, load_image, save_label_png

from .infer import InferenceConfig, predict_label
from .samples import normalise

RUN_RECORD = "run.json"


def _check_record(out_dir: Path, record: dict) -> None:
    path = out_dir / RUN_RECORD
    record = json.loads(json.dumps(record))  # tuples -> lists, as read back
    if path.is_file():
        old = json.loads(path.read_text())
        if old != record:
            raise ValueError(f"{out_dir} holds predictions made with other settings "
                             f"({path}); use another --out")  # fmt: skip
    else:
        atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def predict_dataset(model: torch.nn.Module, dataset: SegmentationDataset, out_dir: str | Path,
                    config: InferenceConfig | None = None, *, progress: bool = True,
                    record: dict | None = None) -> int:  # fmt: skip
    """Write ``out_dir/<id>.png`` for every image; images already written are skipped.

    Args:
        model: a trained ``WeClip`` (put in eval mode here).
        dataset: the images to label (their labels and GT are not used).
        out_dir: output folder; ``run.json`` records the settings, and a rerun with other
            settings into the same folder is refused (finished files are never mixed).
        config: scales, flip, CRF.
        record: extra provenance for ``run.json`` (checkpoint, command).

    Returns:
        The number of PNGs written by this call.
    """
    config = InferenceConfig() if config is None else config
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_record(out_dir, {"inference": asdict(config), **(record or {})})
    model.eval()
    device = next(model.parameters()).device
    written = 0
    for sample in tqdm(dataset, total=len(dataset), disable=not progress, desc="predict"):
        path = out_dir / f"{sample.image_id}.png"
        if path.exists():
            continue
        image = load_image(sample.image_path)
        pixels = normalise(image, model.config.normalisation)[None].to(device)
        save_label_png(path, predict_label(model, pixels, image, config))
        written += 1
    return written
