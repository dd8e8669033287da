"""Text side of CLIP: encode prompts into normalised embeddings, one per class, synonym or
background word (with gradients through the text tower when asked, for learnable prompts).

Paper: CLIP-ES Section 3.2.1 (prompt choice), 3.2.2 (synonym fusion), supplementary B
(Table S2, fusion levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.clip.loading import ClipModel
from clipwsss.vocab import CLIP_ES_TEMPLATE, ClassVocabulary


def encode_texts(
    clip: ClipModel, texts: Sequence[str], *, batch_size: int = 256, grad: bool = False
) -> Tensor:
    """L2-normalised CLIP text embeddings.

    Args:
        clip: The loaded CLIP.
        texts: Prompts, already formatted.
        batch_size: Prompts per text-tower call.
        grad: Keep the autograd graph through the text tower (for parameters that require
            grad, e.g. learnable prompts or a fine-tuned tower); by default the encoding
            runs under ``torch.no_grad`` as in the official CLIP-ES code.

    Shapes:
        returns (len(texts), E).

    Reference: CLIP Section 2.3 (text encoder); CLIP-ES Section 3.2.1 (prompts).
    """
    if len(texts) == 0:
        return torch.zeros(0, clip.model.text_projection.shape[-1], device=clip.device)
    feats = []
    with torch.set_grad_enabled(grad):
        for i in range(0, len(texts), batch_size):
            tokens = clip.tokenizer(list(texts[i : i + batch_size])).to(clip.device)
            feats.append(F.normalize(clip.model.encode_text(tokens).float(), dim=-1))
    return torch.cat(feats)


def class_text_features(
    clip: ClipModel,
    vocab: ClassVocabulary,
    *,
    template: str = CLIP_ES_TEMPLATE,
    fusion: Literal["sentence", "feature"] = "sentence",
) -> Tensor:
    """One text embedding per class (Section 3.2.2; Table S2).

    Args:
        fusion: "sentence" (default: all synonyms in one prompt, the official text) or
            "feature" (mean of each synonym's normalised embedding, renormalised).
            CAM-level fusion needs one embedding per synonym: see ``synonym_text_features``.

    Shapes:
        returns (C, E), L2-normalised.
    """
    if fusion == "sentence":
        return encode_texts(clip, [template.format(s) for s in vocab.sentences])
    if fusion != "feature":
        raise ValueError(f"fusion must be 'sentence' or 'feature' here, got {fusion!r}")
    per_syn = synonym_text_features(clip, vocab, template=template)
    return torch.stack([F.normalize(f.mean(0), dim=-1) for f in per_syn])


def synonym_text_features(
    clip: ClipModel, vocab: ClassVocabulary, *, template: str = CLIP_ES_TEMPLATE
) -> list[Tensor]:
    """Per class, one normalised embedding per synonym: a list of C tensors (S_c, E).

    Shapes:
        returns C tensors (S_c, E), S_c = synonyms of class c.
    """
    texts = [template.format(w) for syns in vocab.synonyms for w in syns]
    feats = encode_texts(clip, texts)
    return list(torch.split(feats, [len(s) for s in vocab.synonyms]))


def background_text_features(
    clip: ClipModel, vocab: ClassVocabulary, *, template: str = CLIP_ES_TEMPLATE
) -> Tensor:
    """Embeddings of the background words (M, E); (0, E) when the set is empty.

    Shapes:
        returns (M, E), M = background words.
    """
    return encode_texts(clip, [template.format(w) for w in vocab.background])
