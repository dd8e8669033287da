"""Quick quality checks of a micro-CLIP on fresh toy scenes (used while training).

The scored numbers of record come from the pseudo-mask runner on the written val split; this
module gives cheap in-memory estimates: zero-shot accuracy and initial-CAM mIoU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from clipwsss.cams.labels import cams_to_label, min_max_normalize
from clipwsss.clip.dense import DenseOutput, block_fused
from clipwsss.clip.text import class_text_features
from clipwsss.methods.clip_es import ClipES, ClipEsConfig
from clipwsss.metrics import ConfusionMatrix
from clipwsss.toy.world import TOY_BACKGROUNDS, TOY_CLASSES, TOY_SYNONYMS, sample_scene
from clipwsss.vocab import make_vocabulary


def toy_vocabulary():
    """The toy world's classes, synonyms and background words."""
    return make_vocabulary({c: TOY_SYNONYMS[c] for c in TOY_CLASSES}, background=TOY_BACKGROUNDS)


def quick_eval(
    clip,
    *,
    n_scenes: int = 60,
    seed: int = 12345,
    image_size: int = 96,
    exponent: float = 1.0,
    caa_layers: int = 3,
) -> dict[str, float]:
    """Zero-shot top-1 accuracy (is the best class one of the image's labels) and the mIoU of
    initial and CAA-refined CAMs (background (1 - max)^k) on freshly sampled scenes."""
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, image_size=image_size) for _ in range(n_scenes)]
    vocab = toy_vocabulary()
    es = ClipES(clip, vocab, ClipEsConfig(caa_layers=caa_layers))
    text = class_text_features(clip, vocab)
    hits = 0
    init_cm, caa_cm = ConfusionMatrix(len(vocab) + 1), ConfusionMatrix(len(vocab) + 1)
    for s in scenes:
        out = es(s.image, s.labels)
        with torch.no_grad():
            px = (torch.from_numpy(s.image).permute(2, 0, 1).float() / 255)[None]
            mean = torch.tensor(clip.mean).view(1, 3, 1, 1)
            std = torch.tensor(clip.std).view(1, 3, 1, 1)
            emb = clip.model.encode_image(((px - mean) / std).to(clip.device))
            best = int((torch.nn.functional.normalize(emb, dim=-1) @ text.T).argmax())
        hits += best in s.labels
        size = s.label.shape
        for cams, cm in ((out.cams, init_cm), (out.refined, caa_cm)):
            pred = cams_to_label(es.upsample(cams, size), out.keys, exponent=exponent)
            cm.update(pred.numpy(), s.label)
    return {
        "zeroshot_acc": round(hits / n_scenes, 3),
        "cam_miou": round(init_cm.scores().miou, 3),
        "caa_miou": round(caa_cm.scores().miou, 3),
    }


def token_text_maps(
    es: ClipES, dense: DenseOutput, labels: Sequence[int], path: Literal["output", "value"]
) -> torch.Tensor:
    """Each patch token's own text score: softmax over the GradCAM text rows, target columns.

    ``path="output"``: the last block's output tokens, through ``ln_post`` and ``proj``.
    ``path="value"``: only the last block's attention values, out-projected, then ``ln_post``
    and ``proj`` (MaskCLIP's view of a ViT): the path Grad-CAM's gradient mostly reads.
    A diagnostic of where a ViT keeps local class evidence; not a CLIP-ES stage.

    Shapes:
        returns (K, h, w) min-max normalised per class (ViT only, batch of one).
    """
    visual = es.clip.model.visual
    last = visual.transformer.resblocks[-1]
    normed = dense.activation.detach()
    with torch.no_grad():
        if path == "value":
            width = last.attn.embed_dim
            values = F.linear(
                normed, last.attn.in_proj_weight[2 * width :], last.attn.in_proj_bias[2 * width :]
            )
            tokens = last.attn.out_proj(values)
        elif path == "output":
            tokens = block_fused(last, dense.last_block_input, normed)
        else:
            raise ValueError(f"path must be 'output' or 'value', got {path!r}")
        z = F.normalize(visual.ln_post(tokens[0, dense.n_prefix_tokens :]) @ visual.proj, dim=-1)
        text = es.text_setup(labels)
        probs = (es.logit_scale * z @ text.features.T).softmax(-1)[:, text.targets]  # (N, K)
    return min_max_normalize(probs.T.reshape(len(labels), *dense.grid))


def localisation_probe(
    clip, *, n_scenes: int = 60, seed: int = 12345, image_size: int = 96
) -> dict[str, float]:
    """Initial-CAM mIoU of four ways to read class evidence per patch (same scenes as
    ``quick_eval``): Grad-CAM with avg- and cls-pooled embeddings (CLIP-ES), and the text
    scores of the output tokens and of the last block's values (``token_text_maps``)."""
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, image_size=image_size) for _ in range(n_scenes)]
    vocab = toy_vocabulary()
    es = {p: ClipES(clip, vocab, ClipEsConfig(pooling=p, refine="none")) for p in ("avg", "cls")}
    names = ("gradcam_avg", "gradcam_cls", "output_tokens", "value_path")
    cms = {name: ConfusionMatrix(len(vocab) + 1) for name in names}
    for s in scenes:
        keys = torch.as_tensor(s.labels)
        maps = {}
        for pooling in ("cls", "avg"):  # the avg forward is kept for the token maps
            dense = es[pooling].forward(s.image)
            maps[f"gradcam_{pooling}"] = es[pooling].gradcam(dense, s.labels)[0]
        maps["output_tokens"] = token_text_maps(es["avg"], dense, s.labels, "output")
        maps["value_path"] = token_text_maps(es["avg"], dense, s.labels, "value")
        for name, cams in maps.items():
            pred = cams_to_label(es["avg"].upsample(cams, s.label.shape), keys)
            cms[name].update(pred.numpy(), s.label)
    return {name: round(cm.scores().miou, 3) for name, cm in cms.items()}
