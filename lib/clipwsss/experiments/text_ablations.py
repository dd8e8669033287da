"""Text-side ablations of CLIP-ES: prompt ensembling, customised class prompts, background sets.

Runner layer for notebook 18 (CLIP-ES Section 3.2.1 prompt ensembling vs the sharpness-chosen
prompt, Section 3.2.2 "person with clothes", supplementary G background set). Each helper
returns a :class:`~clipwsss.methods.clip_es.ClipES` (or a vocabulary) that
:func:`clipwsss.experiments.notebooks.score_cams` scores like any other variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch.nn.functional as F
from torch import Tensor

from clipwsss.clip.loading import ClipModel
from clipwsss.clip.text import encode_texts
from clipwsss.experiments.notebooks import Setup
from clipwsss.methods.clip_es import ClipES
from clipwsss.vocab import ClassVocabulary


def ensemble_features(clip: ClipModel, words: Sequence[str], templates: Sequence[str]) -> Tensor:
    """CLIP's prompt ensemble: the mean over templates of each word's normalised embedding,
    renormalised (CLIP Section 3.1.4; the ensembling CLIP-ES Sec. 3.2.1 argues against).

    Shapes:
        returns (len(words), E), L2-normalised; (0, E) for no words.
    """
    if not templates:
        raise ValueError("an ensemble needs at least one template")
    feats = encode_texts(clip, [t.format(w) for w in words for t in templates])
    if len(words) == 0:
        return feats
    return F.normalize(feats.view(len(words), len(templates), -1).mean(1), dim=-1)


@dataclass
class EnsembleClipES(ClipES):
    """CLIP-ES whose class and background texts are ensembles over ``templates``.

    Everything else (Softmax-GradCAM, CAA) is the parent's; only sentence-level synonym
    fusion is supported (each class's sentence is one word of the ensemble).
    """

    templates: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.config.fusion != "sentence":
            raise ValueError("EnsembleClipES supports fusion='sentence' only")
        vocab = self.vocab if self.config.use_background else self.vocab.with_background(())
        self._class_features = [ensemble_features(self.clip, vocab.sentences, self.templates)]
        self._background = ensemble_features(self.clip, vocab.background, self.templates)


def ensemble_es(setup: Setup, templates: Sequence[str], **overrides) -> EnsembleClipES:
    """The profile's CLIP-ES with ensembled text features (``overrides``: config fields)."""
    config = replace(setup.profile.clip_es, **overrides)
    return EnsembleClipES(setup.clip, setup.vocab, config, templates=tuple(templates))


def with_sentences(vocab: ClassVocabulary, sentences: Mapping[str, str]) -> ClassVocabulary:
    """A copy of ``vocab`` whose listed classes get another prompt sentence (Sec. 3.2.2:
    "person" -> "person with clothes, people, human"); synonyms stay as they are."""
    unknown = sorted(set(sentences) - set(vocab.names))
    if unknown:
        raise KeyError(f"classes not in the vocabulary: {unknown}")
    sent = tuple(sentences.get(n, s) for n, s in zip(vocab.names, vocab.sentences, strict=True))
    return ClassVocabulary(vocab.names, vocab.synonyms, sent, vocab.background)


def background_subsets(words: Sequence[str], sizes: Sequence[int]) -> dict[str, tuple[str, ...]]:
    """Nested prefixes of a background word set: ``{"first n": words[:n]}`` for each size
    (supplementary G; ``0`` gives the empty set, "no background words" of Table 6).

    Sizes above ``len(words)`` are refused, so a table never repeats the full set silently.
    """
    out = {}
    for n in sizes:
        if not 0 <= n <= len(words):
            raise ValueError(f"subset size {n} not in [0, {len(words)}]")
        out[f"first {n}"] = tuple(words[:n])
    return out


def class_iou_table(
    runs: Mapping[str, np.ndarray],
    k: int,
    differences: Sequence[tuple[str, str]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """IoU (%) of class ``k`` in each run and of each difference ``a - b``, with 95% paired
    image-bootstrap intervals (every run summed over the same resampled images).

    Args:
        runs: run name -> (N, n, n) per-image confusion matrices (rows GT), same images.
        k: the class's label value (1 = the first foreground class).
        differences: (a, b) pairs of run names.

    Returns:
        The layout of :func:`clipwsss.experiments.intervals.bootstrap_table`: rows runs then
        "a - b", columns "mIoU" (here the class IoU), "95% low", "95% high", "excludes 0".
    """
    names = list(runs)
    n = len(next(iter(runs.values())))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))

    def iou(h: np.ndarray) -> np.ndarray:  # (..., n, n) -> (...,)
        tp = h[..., k, k]
        union = h[..., k, :].sum(-1) + h[..., :, k].sum(-1) - tp
        return 100 * tp / np.maximum(union, 1)

    point = {r: float(iou(np.asarray(runs[r]).sum(0))) for r in names}
    boot = {}
    for r in names:
        h = np.asarray(runs[r])[:, [k]]  # (N, 1, n): the class's row
        col = np.asarray(runs[r])[:, :, [k]]  # (N, n, 1): the class's column
        tp = h[:, 0, k][idx].sum(1)
        union = h[:, 0].sum(-1)[idx].sum(1) + col[:, :, 0].sum(-1)[idx].sum(1) - tp
        boot[r] = 100 * tp / np.maximum(union, 1)
    rows = {r: [point[r], *np.percentile(boot[r], [2.5, 97.5]), np.nan] for r in names}
    for a, b in differences:
        lo, hi = np.percentile(boot[a] - boot[b], [2.5, 97.5])
        rows[f"{a} - {b}"] = [point[a] - point[b], lo, hi, bool(lo > 0 or hi < 0)]
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["mIoU", "95% low", "95% high", "excludes 0"]
    )
