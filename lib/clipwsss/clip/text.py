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
from open_clip.transformer import text_global_pool
from torch import Tensor, nn

from clipwsss.clip.attention import residual_block
from clipwsss.clip.loading import ClipModel
from clipwsss.vocab import CLIP_ES_TEMPLATE, ClassVocabulary


def encode_text_fp16_out_proj(model: nn.Module, tokens: Tensor) -> Tensor:
    """open_clip's ``encode_text`` with every attention out-projection in float16.

    The official WeCLIP text tower (``clip.attention``); everything else as open_clip's
    ``CLIP.encode_text``: token and positional embeddings, the causal blocks, ``ln_final``,
    the end-of-text token, the projection.

    Shapes:
        tokens: (N, L) token ids; returns (N, E) unnormalised embeddings.
    """
    if not hasattr(model, "token_embedding") or not model.transformer.batch_first:
        raise NotImplementedError(
            "the float16 out-projection needs an open_clip CLIP text tower with batch-first blocks"
        )
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding.to(cast)
    for block in model.transformer.resblocks:
        x = residual_block(block, x, out_proj_fp16=True, attn_mask=model.attn_mask)
    x = text_global_pool(
        model.ln_final(x),
        tokens,
        model.text_pool_type,
        eos_token_id=getattr(model, "text_eos_id", None),
    )
    proj = model.text_projection
    return proj(x) if isinstance(proj, nn.Linear) else x @ proj


def encode_texts(
    clip: ClipModel,
    texts: Sequence[str],
    *,
    batch_size: int = 256,
    grad: bool = False,
    out_proj_fp16: bool = False,
) -> Tensor:
    """L2-normalised CLIP text embeddings.

    Args:
        clip: The loaded CLIP.
        texts: Prompts, already formatted.
        batch_size: Prompts per text-tower call.
        grad: Keep the autograd graph through the text tower (for parameters that require
            grad, e.g. learnable prompts or a fine-tuned tower); by default the encoding
            runs under ``torch.no_grad`` as in the official CLIP-ES code.
        out_proj_fp16: the official WeCLIP numerics, every attention out-projection in
            float16 (:func:`encode_text_fp16_out_proj`); False: open_clip's float32 tower.

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
            if out_proj_fp16:
                emb = encode_text_fp16_out_proj(clip.model, tokens)
            else:
                emb = clip.model.encode_text(tokens)
            feats.append(F.normalize(emb.float(), dim=-1))
    return torch.cat(feats)


def class_text_features(
    clip: ClipModel,
    vocab: ClassVocabulary,
    *,
    template: str = CLIP_ES_TEMPLATE,
    fusion: Literal["sentence", "feature"] = "sentence",
    out_proj_fp16: bool = False,
) -> Tensor:
    """One text embedding per class (Section 3.2.2; Table S2).

    Args:
        fusion: "sentence" (default: all synonyms in one prompt, the official text) or
            "feature" (mean of each synonym's normalised embedding, renormalised).
            CAM-level fusion needs one embedding per synonym: see ``synonym_text_features``.
        out_proj_fp16: float16 attention out-projections (WeCLIP's numerics, ``encode_texts``).

    Shapes:
        returns (C, E), L2-normalised.
    """
    if fusion == "sentence":
        return encode_texts(
            clip, [template.format(s) for s in vocab.sentences], out_proj_fp16=out_proj_fp16
        )
    if fusion != "feature":
        raise ValueError(f"fusion must be 'sentence' or 'feature' here, got {fusion!r}")
    per_syn = synonym_text_features(clip, vocab, template=template, out_proj_fp16=out_proj_fp16)
    return torch.stack([F.normalize(f.mean(0), dim=-1) for f in per_syn])


def synonym_text_features(
    clip: ClipModel,
    vocab: ClassVocabulary,
    *,
    template: str = CLIP_ES_TEMPLATE,
    out_proj_fp16: bool = False,
) -> list[Tensor]:
    """Per class, one normalised embedding per synonym: a list of C tensors (S_c, E).

    Shapes:
        returns C tensors (S_c, E), S_c = synonyms of class c.
    """
    texts = [template.format(w) for syns in vocab.synonyms for w in syns]
    feats = encode_texts(clip, texts, out_proj_fp16=out_proj_fp16)
    return list(torch.split(feats, [len(s) for s in vocab.synonyms]))


def background_text_features(
    clip: ClipModel,
    vocab: ClassVocabulary,
    *,
    template: str = CLIP_ES_TEMPLATE,
    out_proj_fp16: bool = False,
) -> Tensor:
    """Embeddings of the background words (M, E); (0, E) when the set is empty.

    ``out_proj_fp16``: float16 attention out-projections (WeCLIP's numerics).

    Shapes:
        returns (M, E), M = background words.
    """
    return encode_texts(
        clip, [template.format(w) for w in vocab.background], out_proj_fp16=out_proj_fp16
    )
