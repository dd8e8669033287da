"""Confidence maps beside unthresholded pseudo-masks, so CGL's mu can be swept at training
time without rerunning the CRF (CLIP-ES Table S3).

For each image: the dense-CRF posterior of its CAMs (the ``clipwsss masks`` recipe), the
label ``argmax Q`` written as ``<id>.png`` with *no* 255s (mu = 0), and the confidence
``max_c Q`` (official) or Eq. 8 on the CAMs (paper) as ``<id>.npy`` (float32, (H, W);
float16 would merge values near 1: its step there is 0.0005; VOC train_aug needs ~8 GB).
Masking those PNGs at ``conf < mu`` gives exactly the PNGs ``clipwsss masks --threshold mu``
writes (tested).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from clipwsss.cams.cgl import confidence_official, confidence_paper
from clipwsss.cams.crf import crf_posterior
from clipwsss.cams.labels import posterior_to_label
from clipwsss.data import SegmentationDataset, load_image, save_label_png
from clipwsss.io.camfiles import load_cams


def label_and_confidence(
    image: np.ndarray,
    keys: np.ndarray,
    cams: np.ndarray,
    *,
    confidence: str = "official",
    official_crf_image: bool = True,
):
    """CRF label (no ignore) and confidence of one image.

    Shapes:
        image: (H, W, 3) uint8; keys: (K,); cams: (K, H, W) in [0, 1];
        outputs: label (H, W) uint8, conf (H, W) float32.

    Reference: CLIP-ES Eq. 8-9, supplementary D (``eval_cam_with_crf.py``).
    """
    cams_t = torch.from_numpy(np.ascontiguousarray(cams))
    q = crf_posterior(image, cams_t, official=official_crf_image)
    label = posterior_to_label(q, keys).numpy().astype(np.uint8)
    if confidence == "official":
        conf = confidence_official(q)
    elif confidence == "paper":
        conf = confidence_paper(cams_t.float())  # Eq. 8
    else:
        raise ValueError(f"confidence must be 'official' or 'paper', got {confidence!r}")
    return label, conf.numpy().astype(np.float32)


def write_confidence_maps(
    dataset: SegmentationDataset,
    cams_dir,
    labels_dir,
    conf_dir,
    *,
    confidence: str = "official",
    progress: bool = True,
) -> int:
    """Write ``labels_dir/<id>.png`` (mu = 0 labels) and ``conf_dir/<id>.npy`` for every
    labelled image with a CAM file; resumable (existing pairs are skipped).

    Returns:
        The number of images written by this call.
    """
    labels_dir, conf_dir = Path(labels_dir), Path(conf_dir)
    conf_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for sample in tqdm(dataset, total=len(dataset), disable=not progress, desc="confidence"):
        png, npy = labels_dir / f"{sample.image_id}.png", conf_dir / f"{sample.image_id}.npy"
        if png.exists() and npy.exists():
            continue
        record = load_cams(Path(cams_dir) / f"{sample.image_id}.npy")
        label, conf = label_and_confidence(
            load_image(sample.image_path),
            record.keys,
            record.get("attn_highres"),
            confidence=confidence,
        )
        tmp = npy.with_name(npy.stem + ".tmp.npy")
        np.save(tmp, conf.astype(np.float32))
        tmp.replace(npy)
        save_label_png(png, label)
        written += 1
    return written
