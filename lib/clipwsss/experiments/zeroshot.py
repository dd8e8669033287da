"""Zero-shot image-level classification with CLIP (how well the model recognises classes)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from clipwsss.clip.dense import preprocess
from clipwsss.clip.loading import ClipModel
from clipwsss.clip.text import class_text_features
from clipwsss.data import SegmentationDataset, load_image
from clipwsss.vocab import CLIP_ES_TEMPLATE, ClassVocabulary


@torch.no_grad()
def zero_shot_scores(
    clip: ClipModel,
    vocab: ClassVocabulary,
    dataset: SegmentationDataset,
    *,
    template: str = CLIP_ES_TEMPLATE,
    limit: int | None = None,
) -> dict[str, float]:
    """Top-1 accuracy (the best-scoring class is one of the image's labels) and the mean
    per-class average precision of the cosine scores, over a split.

    The image embedding is the model's own pooled output (``encode_image``) at the CLIP-ES
    input size (sides rounded up to the patch size).
    """
    from clipwsss.clip.dense import dense_forward

    text = class_text_features(clip, vocab, template=template)
    ids = dataset.ids[:limit] if limit else dataset.ids
    scores, targets = [], []
    for image_id in ids:
        sample = dataset.sample(image_id)
        if not sample.labels:
            continue
        pixels = preprocess(
            load_image(sample.image_path), patch_size=clip.patch_size, mean=clip.mean, std=clip.std
        )[None]
        with torch.enable_grad():  # dense_forward builds the last block's graph
            emb = dense_forward(clip, pixels).image_embedding.detach()
        scores.append((F.normalize(emb, dim=-1) @ text.T)[0].cpu().numpy())
        onehot = np.zeros(len(vocab), bool)
        onehot[list(sample.labels)] = True
        targets.append(onehot)
    s, t = np.stack(scores), np.stack(targets)
    top1 = float(t[np.arange(len(s)), s.argmax(1)].mean())
    aps = [_average_precision(s[:, c], t[:, c]) for c in range(len(vocab)) if t[:, c].any()]
    return {"top1_accuracy": top1, "mean_ap": float(np.mean(aps)), "n_images": len(s)}


def _average_precision(score: np.ndarray, target: np.ndarray) -> float:
    order = np.argsort(-score)
    hits = target[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())
