"""Learnable prompts: open_clip's text tower run on prompt *embeddings*, with gradients.

Paper: WeakCLIP Section 3.2 ("Learnable Prompt"): N learnable embeddings are concatenated in
front of each class-name embedding and encoded by the frozen CLIP text encoder. Official
code: ``models.py:CLIPTextContextEncoder`` (DenseCLIP), ``weakclip.py`` L102-113.

Token order is [SOT, ctx_1..ctx_N, name tokens, EOT, pad] ("pre"), the text context is
1 + N + (name_context - 1) (13 for N = 8 and names tokenised at 5), the positional table is
the first rows of CLIP's 77-row table, and the text feature is read at the EOT position.

:func:`encode_prompt_embeddings` uses only open_clip's public modules (``token_embedding``,
``transformer``, ``ln_final``, ``text_projection``), so it can move to the shared text
module unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def causal_mask(length: int, *, device: torch.device | None = None) -> Tensor:
    """Additive causal mask of CLIP's text transformer: -inf above the diagonal.

    Shapes:
        returns (length, length) float.
    """
    return torch.full((length, length), float("-inf"), device=device).triu_(1)


def tokenize_names(tokenizer, names: Sequence[str], *, context: int = 5) -> Tensor:
    """Token ids of the class names at a short context, refusing to truncate.

    The official code tokenises each name at context 5 with truncation off; a longer name is
    an error there too.

    Args:
        tokenizer: an open_clip tokenizer (callable on a list of strings).
        names: class names incl. "background".
        context: token slots per name incl. SOT and EOT.

    Returns:
        (K, context) int64 ids: SOT, name tokens, EOT, zero padding.

    Raises:
        ValueError: a name needs more than ``context`` tokens.
    """
    ids = tokenizer(list(names))  # (K, default context)
    lengths = (ids != 0).sum(dim=1)
    too_long = [n for n, k in zip(names, lengths.tolist(), strict=True) if k > context]
    if too_long:
        raise ValueError(
            f"class names {too_long} need more than {context} tokens (SOT + name + EOT);"
            " raise WeakClipConfig.name_context"
        )
    return ids[:, :context].long()


def encode_prompt_embeddings(
    text_tower: nn.Module, embeddings: Tensor, eot_index: Tensor, positional: Tensor
) -> Tensor:
    """CLIP text features of arbitrary token *embeddings* (gradients flow to them).

    Args:
        text_tower: an open_clip ``CLIP`` (or a module with its text attributes):
            ``transformer``, ``ln_final``, ``text_projection``.
        embeddings: input token embeddings, e.g. [SOT, contexts, name, EOT, pad].
        eot_index: position of the EOT token of each sequence.
        positional: the positional table for this length.

    Returns:
        Projected text features at the EOT tokens (not normalised).

    Shapes:
        embeddings: (S, T, W); eot_index: (S,); positional: (T, W); returns (S, E).

    Reference: WeakCLIP Section 3.2; CLIP (Radford et al. 2021) text encoder.
    """
    transformer = text_tower.transformer
    x = embeddings + positional.to(embeddings.dtype)
    mask = causal_mask(x.shape[1], device=x.device).to(x.dtype)
    x = transformer(x, attn_mask=mask)  # open_clip's Transformer takes (S, T, W) either way
    x = text_tower.ln_final(x)
    return x[torch.arange(x.shape[0], device=x.device), eot_index] @ text_tower.text_projection


class LearnablePrompts(nn.Module):
    """N learnable context vectors shared by all classes, encoded by the frozen text tower.

    The text tower's parameters are registered here (shared with the loaded CLIP, frozen)
    with a positional table truncated to the prompt length, so parameter counts match the
    official model (63,395,328 text parameters for ViT-B/16 at context 13).

    Shapes:
        forward() returns (K, E) text features t_p (not normalised).

    Reference: WeakCLIP Section 3.2; ablation of N (best N = 8).
    """

    def __init__(self, clip_model: nn.Module, name_ids: Tensor, *, n_prompts: int = 8) -> None:
        super().__init__()
        width = clip_model.token_embedding.weight.shape[1]
        length = 1 + n_prompts + name_ids.shape[1] - 1
        if length > clip_model.positional_embedding.shape[0]:
            raise ValueError(f"prompt length {length} exceeds CLIP's text context")
        self.token_embedding = clip_model.token_embedding
        self.transformer = clip_model.transformer
        self.ln_final = clip_model.ln_final
        self.text_projection = clip_model.text_projection
        self.positional_embedding = nn.Parameter(
            clip_model.positional_embedding[:length].detach().clone(), requires_grad=False
        )
        self.register_buffer("name_ids", name_ids.long(), persistent=False)
        # weakclip_vitb.py: contexts (1, 8, 512), nn.init.trunc_normal_ (std 1)
        self.contexts = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, n_prompts, width)))

    def forward(self) -> Tensor:
        names = self.token_embedding(self.name_ids)  # (K, name_context, W)
        k = names.shape[0]
        ctx = self.contexts.expand(k, -1, -1).to(names.dtype)
        x = torch.cat([names[:, :1], ctx, names[:, 1:]], dim=1)  # [SOT, ctx, name, EOT, pad]
        eot = self.name_ids.argmax(dim=-1) + self.contexts.shape[1]  # models.py: argmax + N
        return encode_prompt_embeddings(self, x, eot, self.positional_embedding)
