"""Ablations of the CLIP-ES CAM stages: build config variants, score them, tabulate them.

Runner layer for the notebooks (Tables 2, 6, 8, S1, S2): a :class:`Variant` names the
``ClipEsConfig`` fields it replaces and, optionally, another vocabulary (Table 8: without
synonyms) or another CLIP (Table S1: RN50). :func:`score_variants` scores each one in memory
with :func:`clipwsss.experiments.notebooks.score_cams`; the table helpers turn the scores into
per-class IoU tables, mIoU / sharpness tables and paper-vs-ours tables (percent, as in the paper).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clipwsss.cams.sharpness import sharpness
from clipwsss.clip.loading import ClipModel, load_clip
from clipwsss.data import SegmentationDataset
from clipwsss.experiments.notebooks import CamScores, Setup, score_cams
from clipwsss.experiments.paper import paper_value
from clipwsss.experiments.stages import per_class_table
from clipwsss.methods.clip_es import ClipES
from clipwsss.vocab import ClassVocabulary


@dataclass(frozen=True)
class Variant:
    """One ablation of the profile's CLIP-ES.

    Attributes:
        overrides: ``ClipEsConfig`` fields to replace, e.g. ``{"softmax": False}``.
        vocab: another vocabulary (e.g. ``setup.vocab.without_synonyms()``); None = the setup's.
        clip: another model (e.g. RN50 for Table S1); None = the setup's.
    """

    overrides: Mapping[str, Any] = field(default_factory=dict)
    vocab: ClassVocabulary | None = None
    clip: ClipModel | None = None


def build(setup: Setup, variant: Variant | Mapping[str, Any]) -> ClipES:
    """The ClipES of one variant (a plain mapping is read as config overrides)."""
    if not isinstance(variant, Variant):
        variant = Variant(overrides=dict(variant))
    return ClipES(
        variant.clip or setup.clip,
        variant.vocab or setup.vocab,
        replace(setup.profile.clip_es, **variant.overrides),
    )


def score_variants(
    setup: Setup,
    variants: Mapping[str, Variant | Mapping[str, Any]],
    *,
    ids: Sequence[str] | None = None,
) -> dict[str, CamScores]:
    """Score every variant on the same images (``setup.ids`` unless ``ids`` is given).

    Returns:
        variant name -> its :class:`~clipwsss.experiments.notebooks.CamScores` (initial and,
        when the variant refines with a ViT, refined scores; per-image target scores).
    """
    chosen = setup.ids if ids is None else tuple(ids)
    results = {}
    for name, variant in variants.items():
        results[name] = score_cams(build(setup, variant), setup.dataset, chosen)
    return results


def target_sharpness(result: CamScores) -> float:
    """Eq. 5 sharpness of a variant's per-image target scores (Section 3.2.1, Table S1)."""
    return sharpness(result.scores)


def miou_table(results: Mapping[str, CamScores], *, with_sharpness: bool = False) -> pd.DataFrame:
    """mIoU (%) of the initial and refined CAMs of each variant (rows: variants).

    Columns: "initial", "refined" (NaN where a variant does not refine, e.g. a ResNet), and
    "sharpness" (Eq. 5 over the target scores) when asked.
    """
    rows = {}
    for name, r in results.items():
        row = {
            "initial": 100 * r.initial.miou,
            "refined": 100 * r.refined.miou if r.refined is not None else float("nan"),
        }
        if with_sharpness:
            row["sharpness"] = target_sharpness(r)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def per_class_iou(
    results: Mapping[str, CamScores],
    class_names: Sequence[str],
    *,
    stage: str = "initial",
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-class IoU (%) of several variants: rows classes ("background" first), columns variants.

    Args:
        results: output of :func:`score_variants`.
        class_names: the dataset's foreground classes, in label order.
        stage: "initial" or "refined" CAMs.
        classes: keep only these rows (in this order); None keeps all.
    """
    if stage not in ("initial", "refined"):
        raise ValueError(f"stage must be 'initial' or 'refined', got {stage!r}")
    missing = [n for n, r in results.items() if getattr(r, stage) is None]
    if missing:
        raise ValueError(f"variants without {stage} CAMs: {missing}")
    table = per_class_table({n: getattr(r, stage) for n, r in results.items()}, list(class_names))
    return table if classes is None else table.loc[list(classes)]


def paper_table(rows: Mapping[str, tuple[str, float]], *, profile: str) -> pd.DataFrame:
    """Paper value beside ours for each row label: ``{label: (paper key, ours in %)}``.

    Columns: "paper" (``clipwsss.experiments.paper.paper_value``), f"ours ({profile})" and
    "difference" (ours - paper). Values are rounded to 0.1 (3 decimals for sharpness keys).
    """
    records = {}
    for label, (key, ours) in rows.items():
        paper = paper_value(key)
        digits = 3 if "sharpness" in key else 1
        records[label] = {
            "paper": round(paper, digits),
            f"ours ({profile})": round(float(ours), digits),
            "difference": round(float(ours) - paper, digits),
        }
    return pd.DataFrame.from_dict(records, orient="index")


def resnet_variant(
    setup: Setup, *, model: str | None = None, pretrained: str | None = "openai"
) -> Variant | None:
    """Table S1's ResNet row: GradCAM on the ResNet's last stage, no refinement.

    Args:
        setup: the profile's setup (its device is reused).
        model: an open_clip ResNet name; None = "RN50" on a real profile and nothing on the
            toy profile, which has no ResNet micro-CLIP (the function then returns None).
        pretrained: weights tag or file for ``model``.

    CAA needs attention maps, so the variant sets ``refine="none"`` (the paper reports RN50's
    initial CAMs only).
    """
    if model is None:
        if setup.profile.name == "toy":
            return None
        model = "RN50"
    clip = load_clip(model, pretrained, device=setup.clip.device)
    if clip.is_vit:
        raise ValueError(f"{model} is a ViT; resnet_variant wants a ResNet CLIP")
    return Variant(overrides={"refine": "none"}, clip=clip)


def scene_backgrounds(dataset: SegmentationDataset) -> dict[str, str]:
    """Toy splits: image id -> the scene's main background texture ({} for other data sets).

    Read from the ``captions.jsonl`` that ``generate_toy_voc`` writes beside the images.
    """
    root = getattr(dataset, "root", None)
    path = Path(root) / "captions.jsonl" if root else None
    if path is None or not path.is_file():
        return {}
    records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {r["id"]: r["background"] for r in records if "background" in r}


def ids_with_class(
    setup: Setup, name: str, *, n: int = 1, background: str | None = None
) -> list[str]:
    """The first ``n`` of ``setup.ids`` whose image-level labels include class ``name``.

    ``background`` (toy splits) prefers scenes on that texture, e.g. a boat on "water"; where
    no scene matches, or the split records no backgrounds, it is ignored.
    """
    k = setup.dataset.class_names.index(name)
    found = [i for i in setup.ids if k in setup.dataset.sample(i).labels]
    if background is not None:
        scenes = scene_backgrounds(setup.dataset)
        matching = [i for i in found if scenes.get(i) == background]
        found = matching or found
    return found[:n]


def class_cam(
    setup: Setup,
    variant: Variant | Mapping[str, Any],
    image_id: str,
    name: str,
    *,
    refined: bool = False,
) -> np.ndarray:
    """One class's CAM of one image under one variant, at the image size, in [0, 1].

    Shapes:
        returns (H, W) float32.
    """
    from clipwsss.data import load_image

    es = build(setup, variant)
    sample = setup.dataset.sample(image_id)
    image = load_image(sample.image_path)
    out = es(image, sample.labels)
    cams = out.refined if refined and out.refined is not None else out.cams
    row = list(out.keys.tolist()).index(setup.dataset.class_names.index(name))
    return es.upsample(cams, image.shape[:2])[row].float().cpu().numpy()


def cam_grid_figure(
    setup: Setup,
    variants: Mapping[str, Variant | Mapping[str, Any]],
    cases: Sequence[tuple[str, str]],
    *,
    refined: bool = False,
    title: str = "",
):
    """Rows: (image id, class name) cases; columns: the image, then that class's CAM per variant
    (each panel titled with the variant and "CAM: <class>").

    Returns:
        The matplotlib Figure (CAMs as jet heat maps over the image).
    """
    import matplotlib
    import matplotlib.pyplot as plt

    from clipwsss.data import load_image

    ncol = 1 + len(variants)
    fig, axes = plt.subplots(
        len(cases), ncol, figsize=(2.3 * ncol, 2.4 * len(cases)), squeeze=False
    )
    for r, (image_id, name) in enumerate(cases):
        image = load_image(setup.dataset.sample(image_id).image_path) / 255.0
        panels = [("image", image)]
        for label, v in variants.items():
            cam = class_cam(setup, v, image_id, name, refined=refined)
            heat = matplotlib.colormaps["jet"](np.clip(cam, 0, 1))[..., :3]
            panels.append((label, (0.5 * image + 0.5 * heat).clip(0, 1)))
        for c, (label, panel) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label if c == 0 else f"{label}\nCAM: {name}", fontsize=8)
        axes[r, 0].set_ylabel(image_id, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
