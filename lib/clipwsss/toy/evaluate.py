"""Quick quality checks of a micro-CLIP on fresh toy scenes (used while training).

The scored numbers of record come from the pseudo-mask runner on the written val split; this
module gives cheap in-memory estimates: zero-shot accuracy and initial-CAM mIoU.
"""

from __future__ import annotations

import numpy as np
import torch

from ..cgl import cams_to_label
from ..clip_es import ClipES, ClipEsConfig
from ..metrics import ConfusionMatrix
from ..text import class_text_features, make_vocabulary
from .world import TOY_BACKGROUNDS, TOY_CLASSES, TOY_SYNONYMS, sample_scene


def toy_vocabulary():
    """The toy world's classes, synonyms and background words."""
    return make_vocabulary({c: TOY_SYNONYMS[c] for c in TOY_CLASSES}, background=TOY_BACKGROUNDS)


def quick_eval(clip, *, n_scenes: int = 60, seed: int = 12345, image_size: int = 96,
               exponent: float = 1.0, caa_layers: int = 3) -> dict[str, float]:  # fmt: skip
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
    return {"zeroshot_acc": round(hits / n_scenes, 3),
            "cam_miou": round(init_cm.scores().miou, 3),
            "caa_miou": round(caa_cm.scores().miou, 3)}  # fmt: skip
