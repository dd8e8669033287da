"""CLIP-ES stage by stage on one split: the CAM, CRF-label, mask and confidence folders
(:func:`clip_es_folders`, the one "CLIP-ES on a data set" of the toy scripts), and the score of
every stage (Table 2 / Table 1 layout, :func:`run_stages`).

Experiment layer: writes files through the pipelines and returns pandas tables. Used by the
demo, the toy report, the WeCLIP / WeakCLIP / DeepLab toy scripts and the notebooks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from clipwsss.data import SegmentationDataset, VOCDataset, load_label_png
from clipwsss.experiments import baselines
from clipwsss.experiments.profiles import get_profile
from clipwsss.methods.clip_es import ClipES
from clipwsss.metrics import ConfusionMatrix, SegScores
from clipwsss.pipelines.cams import generate_cams
from clipwsss.pipelines.evaluate import evaluate
from clipwsss.pipelines.masks import generate_masks


def baseline_scores(
    dataset: SegmentationDataset, *, patch_size: int, limit: int | None = None
) -> dict[str, SegScores]:
    """Scores of all-background, largest-class and the patch-grid ceiling on a split."""
    makers = {
        "all background": baselines.all_background,
        "largest class everywhere": baselines.largest_class,
        f"ceiling: {patch_size}px patch majority": lambda gt: baselines.patch_grid_ceiling(
            gt, patch_size
        ),
    }
    cms = {name: ConfusionMatrix(dataset.n_classes) for name in makers}
    ids = dataset.ids[:limit] if limit else dataset.ids
    for image_id in ids:
        sample = dataset.sample(image_id)
        if sample.gt_path is None:
            raise FileNotFoundError(f"no ground truth for {image_id}")
        gt = load_label_png(sample.gt_path)
        for name, make in makers.items():
            cms[name].update(make(gt), gt)
    return {name: cm.scores() for name, cm in cms.items()}


def toy_clip_es(data_root: str | Path, split: str) -> tuple[ClipES, VOCDataset]:
    """CLIP-ES of the toy profile (the shipped micro-CLIP) and the toy split it runs on."""
    from clipwsss.clip.loading import load_clip

    profile = get_profile("toy", data_root=str(data_root))
    dataset = VOCDataset(data_root, split, class_names=profile.class_names())
    clip = load_clip(profile.model, profile.pretrained)
    return ClipES(clip, profile.vocabulary(), profile.clip_es), dataset


def clip_es_folders(
    es: ClipES,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    *,
    threshold: float | None = 0.95,
    confidence_maps: bool = False,
    workers: int = 1,
    limit: int | None = None,
    bg_exponent: float = 1.0,
    progress: bool = False,
) -> dict[str, Path]:
    """CAMs, then one dense CRF per image writing its labels, masks and confidence maps.

    Args:
        es: the CAM method.
        dataset: images with image-level labels.
        out_dir: gets ``cams/``, ``crf/`` (CRF labels, nothing ignored: the official
            ``--eval_only``), ``masks/`` (pixels below ``threshold`` are 255; none when
            ``threshold`` is None) and ``conf/`` (``confidence_maps``: float32 ``<id>.npy``).
        threshold: mu of the masks (CLIP-ES supp. D); None: no mask folder.
        confidence_maps: also write the confidence maps (CGL's mu swept at training time).
        workers, limit, bg_exponent, progress: as in
            :func:`clipwsss.pipelines.masks.generate_masks`.

    Returns:
        Folder by name: "cams", "crf", and "masks" / "conf" where written. Resumable.
    """
    out = Path(out_dir)
    folders = {"cams": out / "cams", "crf": out / "crf"}
    kw = dict(limit=limit, progress=progress)
    generate_cams(es, dataset, folders["cams"], **kw)
    if threshold is not None:
        folders["masks"] = out / "masks"
    if confidence_maps:
        folders["conf"] = out / "conf"
    if threshold is None:  # the CRF labels are the output: mu = 0 ignores nothing
        main, labels, threshold = folders["crf"], None, 0.0
    else:
        main, labels = folders["masks"], folders["crf"]
    generate_masks(
        dataset,
        folders["cams"],
        main,
        workers=workers,
        threshold=threshold,
        bg_exponent=bg_exponent,
        labels_dir=labels,
        conf_dir=folders.get("conf"),
        **kw,
    )
    return folders


def run_stages(
    es: ClipES,
    dataset: SegmentationDataset,
    out_dir: str | Path,
    *,
    workers: int = 2,
    limit: int | None = None,
    bg_exponent: float = 1.0,
    threshold: float = 0.95,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[str, SegScores]]:
    """Run cams -> CRF -> confidence masks into ``out_dir`` and score each stage.

    Stages: initial CAM, + CAA (or the configured refinement), + dense CRF (no masking, as
    the official ``--eval_only``), pseudo-mask (pixels below ``threshold`` ignored; the share
    of ignored pixels is reported), and the baselines.

    Returns:
        (table with columns stage, mIoU, note; the SegScores of every row by stage name).
    """
    out = Path(out_dir)
    kw = dict(limit=limit, progress=progress)
    clip_es_folders(
        es, dataset, out, threshold=threshold, workers=workers, bg_exponent=bg_exponent, **kw
    )
    refine = es.config.refine
    rows: dict[str, tuple[SegScores, str]] = {}
    gt_rows: dict[str, tuple[SegScores, str]] = {}
    cam_runs = [("initial CAM", "highres")]
    if refine != "none":
        cam_runs.append((f"+ {refine.upper()}", "attn_highres"))
    for name, key in cam_runs:
        res = evaluate(
            dataset,
            out / "cams",
            cam_key=key,
            bg_exponent=bg_exponent,
            choose_exponent_on_gt=True,
            **kw,
        )
        rows[name] = (res.scores, f"bg = (1 - max)^{bg_exponent:g}")
        choice = res.chosen_on_gt
        gt_rows[f"{name}, k chosen on GT"] = (
            choice.scores,
            f"k = {choice.best:g} of {list(choice.exponents)}: leaks labels, "
            "as the official eval_cam.py",
        )
    crf = evaluate(dataset, out / "crf", **kw)
    rows[f"+ {refine.upper() if refine != 'none' else 'no refinement'} + dCRF"] = (
        crf.scores,
        "CRF labels, nothing ignored (official --eval_only)",
    )
    masks = evaluate(dataset, out / "masks", **kw)
    ignored = 100 * (masks.ignored_fraction or 0)
    rows[f"pseudo-mask (conf >= {threshold:g})"] = (
        masks.scores,
        f"{ignored:.1f}% of pixels ignored (255)",
    )
    rows.update(gt_rows)
    for name, scores in baseline_scores(
        dataset, patch_size=es.clip.patch_size, limit=limit
    ).items():
        rows[name] = (scores, "baseline (uses GT)")
    table = pd.DataFrame(
        [{"stage": k, "mIoU": round(100 * v.miou, 1), "note": n} for k, (v, n) in rows.items()]
    )
    return table, {k: v for k, (v, _) in rows.items()}


def per_class_table(scores: dict[str, SegScores], class_names: list[str]) -> pd.DataFrame:
    """Per-class IoU (%) of several runs side by side: rows classes, columns runs."""
    names = ["background", *class_names]
    data = {run: np.round(100 * s.iou, 1) for run, s in scores.items()}
    return pd.DataFrame(data, index=names)
