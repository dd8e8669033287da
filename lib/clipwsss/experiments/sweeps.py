"""Sweeps and ablations of CLIP-ES on a split, in memory: prompts, refinement, lambda, mu.

Runner layer for notebooks 04, 06, 07 and 08: loops over images, keeps CAMs in memory (no
files) and returns pandas tables. Each image is encoded once; every variant of a sweep (all
lambdas, all mus, MHSA and CAA, single- and multi-scale) is scored from that one pass.

* Prompt sweep (Section 3.2.1, Eq. 5, Fig. 3): sharpness and initial-CAM mIoU per prompt.
* Refinement (Section 3.3, Eq. 6-7, Table 2): initial / + MHSA / + CAA, with and without
  dense CRF, single-scale and a multi-scale variant. [our reading] The paper does not say
  how its multi-scale CAMs (Table 2, * rows) are made: :func:`multiscale_cams` averages the
  initial CAMs over rescaled copies of the image on the scale-1 patch grid, min-max
  normalises them again, and refines them with the scale-1 attention.
* Lambda (supplementary C, Fig. S2) and mu (supplementary D, Table S3): box threshold of
  CAA; confidence histogram of the CRF posteriors and pseudo-mask quality per threshold.

Scores: labels are argmax over ``[(1 - max cam)^k, cams]``; "k = 1" is the fixed power, and
"k on GT" the best power chosen on the ground truth among the official candidates (1..10
for initial CAMs, {1, 2} for refined ones), which leaks labels, as the official eval.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from clipwsss.cams.caa import refine_with_affinity
from clipwsss.cams.cgl import confidence as cgl_confidence
from clipwsss.cams.gradcam import softmax_gradcam
from clipwsss.cams.labels import (
    add_exponent_confusions,
    apply_confidence,
    cams_to_label,
    min_max_normalize,
)
from clipwsss.cams.sharpness import sharpness, sharpness_terms
from clipwsss.data import SegmentationDataset, load_image, load_label_png
from clipwsss.experiments.figures import class_legend
from clipwsss.methods.clip_es import ClipES
from clipwsss.metrics import (
    ConfusionMatrix,
    best_background_exponent,
    confusion_matrix,
    mask_confusion,
    mean_iou,
)
from clipwsss.pipelines.masks import MaskOptions, crf_pseudo_mask
from clipwsss.vocab import CLIP_ES_TEMPLATE, imagenet_templates

INITIAL_EXPONENTS = tuple(range(1, 11))  # eval_cam.py: k in 1..10 for "highres" CAMs
REFINED_EXPONENTS = (1, 2)  # eval_cam.py: k in {1, 2} for "attn_highres" CAMs
CONF_BINS = (0.0, 0.5, 0.8, 0.95, 1.0)  # Table S3: [0.5, 0.8), [0.8, 0.95), [0.95, 1]

# --------------------------------------------------------------------------- accumulators


class CamScorer:
    """Split confusion matrices of CAM labels for several background powers k at once."""

    def __init__(self, n_classes: int, exponents: Sequence[float] = (1,)) -> None:
        self.exponents = tuple(dict.fromkeys((1, *exponents)))
        self.hists = {k: np.zeros((n_classes, n_classes), np.int64) for k in self.exponents}

    def update(self, cams: Tensor, keys: Tensor, gt: np.ndarray) -> None:
        """Add one image. Shapes: cams (K, H, W) at GT size; keys (K,); gt (H, W).

        Labels equal ``cams_to_label`` for each k (:func:`~clipwsss.cams.labels.exponent_labels`).
        The CAMs are rounded to float16 first, as the CAM files store them, so a sweep scores
        what the file pipeline scores (``run_stages``, ``evaluate``).
        """
        add_exponent_confusions(self.hists, cams.half().float(), keys, gt)

    def miou(self) -> float:
        """mIoU with k = 1, in [0, 1]."""
        return mean_iou(self.hists[1])

    def best(self) -> tuple[float, float]:
        """(k, mIoU) with k chosen on the ground truth (an oracle, as ``eval_cam.py``)."""
        return best_background_exponent(self.hists)


class MaskScorer:
    """Confusion matrix of pseudo masks whose 255 pixels are left out, and their share, in
    total and per image (``image_hists``, ``image_ignored``: for the image bootstrap)."""

    def __init__(self, n_classes: int) -> None:
        self.cm = ConfusionMatrix(n_classes)
        self.ignored = 0
        self.counted = 0
        self.image_hists: list[np.ndarray] = []  # (n, n) per image
        self.image_ignored: list[tuple[int, int]] = []  # (ignored, GT-labelled) per image

    def update(self, mask: np.ndarray | Tensor, gt: np.ndarray) -> None:
        """Add one mask (255 = ignored). Shapes: mask, gt (H, W)."""
        hist, ignored, counted = mask_confusion(mask, gt, self.cm.n_classes)
        self.cm.hist += hist
        self.ignored += ignored
        self.counted += counted
        self.image_hists.append(hist)
        self.image_ignored.append((ignored, counted))

    def ignored_fraction(self) -> float:
        """Share of GT-labelled pixels set to 255, in [0, 1]."""
        return self.ignored / self.counted if self.counted else float("nan")


# --------------------------------------------------------------------------- prompts (Eq. 5)


def sample_prompts(
    n: int, *, seed: int = 0, include: Sequence[str] = (CLIP_ES_TEMPLATE,)
) -> list[str]:
    """``include`` plus ImageNet templates drawn without replacement (Fig. 3: 20 prompts).

    Args:
        n: total number of prompts (at least ``len(include)``).
        seed: seed of the draw.
        include: prompts always in the list, first.
    """
    pool = [t for t in imagenet_templates() if t not in include]
    k = n - len(include)
    if not 0 <= k <= len(pool):
        raise ValueError(f"n={n} prompts: need {len(include)} <= n <= {len(include) + len(pool)}")
    return [*include, *random.Random(seed).sample(pool, k)]


def prompt_sweep(
    make_es: Callable[..., ClipES],
    dataset: SegmentationDataset,
    ids: Sequence[str],
    prompts: Sequence[str],
) -> pd.DataFrame:
    """Sharpness (Eq. 5) and initial-CAM mIoU of each prompt (Fig. 3).

    The image tower does not depend on the prompt: each image is encoded once and only the
    Softmax-GradCAM backward runs once per prompt (CAMs equal ``ClipES``'s; CAM-level
    synonym fusion falls back to one ``ClipES`` per prompt).

    Args:
        make_es: builds a ClipES from config overrides, e.g. ``Setup.clip_es``.
        dataset: images with labels and GT.
        ids: the images scored.
        prompts: templates with one ``{}``.

    Returns:
        One row per prompt: prompt, sharpness, mIoU (%) with k = 1, mIoU (%) k on GT.
    """
    return prompt_sweep_runs(make_es, dataset, ids, prompts).table


@dataclass(frozen=True)
class PromptRuns:
    """:func:`prompt_sweep`'s table and each prompt's per-image confusion matrices (k = 1).

    Attributes:
        table: the table of :func:`prompt_sweep`, prompts in the given order.
        image_hists: prompt -> (N, n, n) per-image confusion matrices, for the image
            bootstrap (:func:`clipwsss.experiments.intervals.bootstrap_table`).
        image_scores: prompt -> (variance (N,), mean (N,)) of each image's class scores,
            the per-image terms of Eq. 5 (sharpness = sum of variances / sum of means), for
            :func:`clipwsss.experiments.intervals.correlation_table`.
    """

    table: pd.DataFrame
    image_hists: dict[str, np.ndarray]
    image_scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def prompt_sweep_runs(
    make_es: Callable[..., ClipES],
    dataset: SegmentationDataset,
    ids: Sequence[str],
    prompts: Sequence[str],
) -> PromptRuns:
    """:func:`prompt_sweep` with the per-image confusion matrices of every prompt."""
    ess = [make_es(template=p, refine="none") for p in prompts]
    n = dataset.n_classes
    scorers = [CamScorer(n, INITIAL_EXPONENTS) for _ in prompts]
    scores: list[list[Tensor]] = [[] for _ in prompts]
    per_image: list[list[np.ndarray]] = [[] for _ in prompts]
    for gt, labels, per_prompt in _cams_per_prompt(ess, dataset, ids):
        keys = torch.as_tensor(labels)
        for j, (cams, s) in enumerate(per_prompt):
            scores[j].append(s)
            hr = ClipES.upsample(cams, gt.shape)
            scorers[j].update(hr, keys, gt)
            per_image[j].append(confusion_matrix(cams_to_label(hr.half().float(), keys), gt, n))
    table = pd.DataFrame(
        {
            "prompt": list(prompts),
            "sharpness": [sharpness(s) for s in scores],
            "mIoU": [100 * sc.miou() for sc in scorers],
            "mIoU, k on GT": [100 * sc.best()[1] for sc in scorers],
        }
    )
    hists = {
        p: np.stack(h) if h else np.zeros((0, n, n), np.int64)
        for p, h in zip(prompts, per_image, strict=True)
    }
    terms = {
        p: tuple(t.numpy() for t in sharpness_terms(s))
        for p, s in zip(prompts, scores, strict=True)
    }
    return PromptRuns(table, hists, terms)


def _cams_per_prompt(ess: Sequence[ClipES], dataset: SegmentationDataset, ids: Sequence[str]):
    """Per labelled image: (gt, labels, [(cams, scores) of each ClipES])."""
    for image_id in ids:
        sample = dataset.sample(image_id)
        if not sample.labels:
            continue
        image, labels = load_image(sample.image_path), list(sample.labels)
        gt = load_label_png(sample.gt_path)
        if any(es.config.fusion == "cam" for es in ess):
            out = [es(image, labels) for es in ess]
            yield gt, labels, [(o.cams, o.scores) for o in out]
            continue
        dense = ess[0].forward(image)  # one image forward serves every prompt
        per_prompt = []
        for j, es in enumerate(ess):
            text = es.text_setup(labels)
            cams, s = softmax_gradcam(
                dense,
                text,
                logit_scale=es.logit_scale,
                softmax=es.config.softmax,
                retain_graph=j < len(ess) - 1,
                return_scores=True,
            )
            per_prompt.append((cams, s))
        yield gt, labels, per_prompt


def correlations(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman correlation of two series with their two-sided p-values."""
    from scipy import stats

    pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
    return {
        "pearson r": float(pearson[0]),
        "pearson p": float(pearson[1]),
        "spearman rho": float(spearman[0]),
        "spearman p": float(spearman[1]),
    }


# --------------------------------------------------------------------------- CAMs per image


@dataclass(frozen=True)
class CamRecord:
    """One image's initial CAMs, its affinity and what scoring needs.

    Attributes:
        image_id: the dataset id.
        image: (H, W, 3) uint8 RGB.
        gt: (H, W) label map, 255 = ignore.
        keys: (K,) 0-based class ids.
        cams: (K, h, w) initial CAMs at the scale-1 patch grid, in [0, 1].
        scores: (K,) target softmax scores (sharpness).
        affinity: (N, N) ``A^t`` of the scale-1 attention (Eq. 6), N = h * w, or None.
        cams_ms: (K, h, w) multi-scale initial CAMs, or None.
    """

    image_id: str
    image: np.ndarray
    gt: np.ndarray
    keys: Tensor
    cams: Tensor
    scores: Tensor
    affinity: Tensor | None
    cams_ms: Tensor | None = None


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """Bicubic resize by ``scale`` (PIL, as the CLIP-ES preprocessing). (H, W, 3) uint8."""
    if scale == 1:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


def multiscale_cams(
    es: ClipES,
    image: np.ndarray,
    labels: Sequence[int],
    grid: tuple[int, int],
    *,
    scales: Sequence[float] = (0.75, 1.0, 1.25),  # our choice: the paper gives no scales
) -> Tensor:
    """[our reading] Multi-scale initial CAMs (Table 2, * rows) on the scale-1 patch grid.

    For each scale the image is resized (bicubic), its initial CAMs computed and resized
    (bilinear) to ``grid``; the mean over scales is min-max normalised per class again, so
    that the background score ``1 - max`` and the box threshold see the same range as at
    one scale. No flips.

    Args:
        es: the CAM generator (its refinement is not used).
        image: (H, W, 3) uint8 RGB.
        labels: 0-based class ids.
        grid: (h, w) scale-1 patch grid.
        scales: image scale factors.

    Returns:
        (K, h, w) CAMs in [0, 1].
    """
    cams = []
    for s in scales:
        out = es(rescale(image, s), labels).cams
        cams.append(F.interpolate(out[None], size=grid, mode="bilinear", align_corners=False)[0])
    return min_max_normalize(torch.stack(cams).mean(0))


def iter_records(
    es: ClipES,
    dataset: SegmentationDataset,
    ids: Sequence[str],
    *,
    affinity: bool = True,
    scales: Sequence[float] | None = None,
) -> Iterator[CamRecord]:
    """Initial CAMs (and the affinity, multi-scale CAMs) of every labelled image of ``ids``.

    Images without an image-level label are skipped (as ``notebooks.score_cams``).
    """
    plain = ClipES(es.clip, es.vocab, replace(es.config, refine="none"))
    for image_id in ids:
        sample = dataset.sample(image_id)
        if not sample.labels:
            continue
        image = load_image(sample.image_path)
        out = plain(image, sample.labels)
        cams_ms = None
        if scales:
            cams_ms = multiscale_cams(plain, image, sample.labels, out.grid, scales=scales)
        yield CamRecord(
            image_id,
            image,
            load_label_png(sample.gt_path),
            out.keys,
            out.cams,
            out.scores,
            es.affinity(out.attn) if affinity else None,  # the attention of the same forward
            cams_ms,
        )


def refined_cams(es: ClipES, rec: CamRecord) -> Tensor:
    """``rec``'s CAMs refined as ``es.config`` says (CAA, MHSA or none). (K, h, w)."""
    refined = es.refine_from_affinity(rec.cams, rec.affinity)
    return rec.cams if refined is None else refined


# --------------------------------------------------------------------------- Table 2


def refinement_table(
    es: ClipES,
    dataset: SegmentationDataset,
    ids: Sequence[str],
    *,
    scales: Sequence[float] | None = (0.75, 1.0, 1.25),
    crf: bool = True,
) -> pd.DataFrame:
    """mIoU of initial / + MHSA / + CAA, without and with dCRF, one scale and multi-scale.

    CAA uses ``es.config`` (lambda, layers, official boxes). dCRF rows score the CRF
    labels with nothing ignored (the official ``--eval_only``, Table 2's 75.0).

    Returns:
        Columns: scales ("single" / "multi"), refinement, dCRF, mIoU (k = 1), mIoU (k on
        GT; the dCRF rows have no k and repeat the same number).
    """
    return refinement_runs(es, dataset, ids, scales=scales, crf=crf).table


@dataclass(frozen=True)
class RefinementRuns:
    """:func:`refinement_table` and each row's per-image confusion matrices (k = 1).

    Attributes:
        table: the table of :func:`refinement_table`.
        image_hists: (scales, refinement, dCRF) -> (N, n, n) per-image confusion matrices
            of the k = 1 (or CRF) labels, for the image bootstrap
            (:func:`clipwsss.experiments.intervals.bootstrap_table`).
    """

    table: pd.DataFrame
    image_hists: dict[tuple[str, str, bool], np.ndarray]


def refinement_runs(
    es: ClipES,
    dataset: SegmentationDataset,
    ids: Sequence[str],
    *,
    scales: Sequence[float] | None = (0.75, 1.0, 1.25),
    crf: bool = True,
) -> RefinementRuns:
    """:func:`refinement_table` with the per-image confusion matrices of every row."""
    cfg, n = es.config, dataset.n_classes
    scorers: dict[tuple[str, str, bool], CamScorer | ConfusionMatrix] = {}
    per_image: dict[tuple[str, str, bool], list[np.ndarray]] = {}
    for rec in iter_records(es, dataset, ids, scales=tuple(scales) if scales else None):
        bases = {"single": rec.cams, **({"multi": rec.cams_ms} if scales else {})}
        for tag, base in bases.items():
            variants = {
                "initial": base,
                "+ MHSA": refine_with_affinity(base, rec.affinity, mode="mhsa"),
                "+ CAA": refine_with_affinity(
                    base, rec.affinity, threshold=cfg.box_threshold, official=cfg.official_boxes
                ),
            }
            for name, cams in variants.items():
                hr = es.upsample(cams, rec.gt.shape)
                ks = INITIAL_EXPONENTS if name == "initial" else REFINED_EXPONENTS
                scorers.setdefault((tag, name, False), CamScorer(n, ks))
                scorers[(tag, name, False)].update(hr, rec.keys, rec.gt)
                k1 = cams_to_label(hr.half().float(), rec.keys)  # what CamScorer counts at k = 1
                per_image.setdefault((tag, name, False), []).append(confusion_matrix(k1, rec.gt, n))
                if crf:
                    label = crf_pseudo_mask(rec.image, rec.keys, hr.half()).label  # k = 1
                    scorers.setdefault((tag, name, True), ConfusionMatrix(n)).update(label, rec.gt)
                    per_image.setdefault((tag, name, True), []).append(
                        confusion_matrix(label, rec.gt, n)
                    )
    rows = []
    for (tag, name, with_crf), scorer in sorted(
        scorers.items(), key=lambda kv: kv[0][0] != "single"
    ):
        if isinstance(scorer, CamScorer):
            miou, best = scorer.miou(), scorer.best()[1]
        else:
            miou = best = scorer.scores().miou
        rows.append(
            {
                "scales": tag,
                "refinement": name,
                "dCRF": with_crf,
                "mIoU": 100 * miou,
                "mIoU, k on GT": 100 * best,
            }
        )
    hists = {key: np.stack(v) for key, v in per_image.items()}
    return RefinementRuns(pd.DataFrame(rows), hists)


# --------------------------------------------------------------------------- Fig. S2, Table S3


def lambda_sweep(
    es: ClipES, dataset: SegmentationDataset, ids: Sequence[str], lambdas: Sequence[float]
) -> pd.DataFrame:
    """CAA mIoU for each box threshold lambda (supplementary C, Fig. S2).

    Returns:
        One row per lambda: lambda, mIoU (%) with k = 1, mIoU (%) k on GT ({1, 2}).
    """
    official = es.config.official_boxes
    scorers = {lam: CamScorer(dataset.n_classes, REFINED_EXPONENTS) for lam in lambdas}
    for rec in iter_records(es, dataset, ids):
        for lam, scorer in scorers.items():
            cams = refine_with_affinity(rec.cams, rec.affinity, threshold=lam, official=official)
            scorer.update(es.upsample(cams, rec.gt.shape), rec.keys, rec.gt)
    return pd.DataFrame(
        [
            {"lambda": lam, "mIoU": 100 * s.miou(), "mIoU, k on GT": 100 * s.best()[1]}
            for lam, s in scorers.items()
        ]
    )


@dataclass(frozen=True)
class MaskSweep:
    """Confidence histogram and pseudo-mask quality per threshold mu.

    Attributes:
        histogram: per confidence definition, the % of pixels in each bin of ``bins``.
        by_mu: per (confidence, mu): mIoU (%) of the kept pixels, % ignored (GT-labelled
            pixels set to 255), pixel accuracy (%) of the kept pixels.
        image_bins: per confidence definition, (N, n_bins) pixel counts of each image in
            each bin (rows sum to the image's pixels), for the image bootstrap
            (:func:`clipwsss.experiments.intervals.ratio_table`).
        image_hists: per (confidence, mu), (N, n, n) per-image confusion matrices of the
            kept pixels (:func:`clipwsss.experiments.intervals.bootstrap_table`).
        image_ignored: per (confidence, mu), per image (ignored GT-labelled pixels (N,),
            GT-labelled pixels (N,)).
    """

    histogram: pd.DataFrame
    by_mu: pd.DataFrame
    image_bins: dict[str, np.ndarray] = field(default_factory=dict)
    image_hists: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)
    image_ignored: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )


def pseudo_mask_sweep(
    es: ClipES,
    dataset: SegmentationDataset,
    ids: Sequence[str],
    *,
    mus: Sequence[float] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95),
    confidences: Sequence[str] = ("official", "paper"),
    bins: Sequence[float] = CONF_BINS,
) -> MaskSweep:
    """Refined CAMs (``es.config``) -> dCRF -> pseudo masks for every mu (Eq. 8-9, Table S3).

    Confidence "official" is the max CRF posterior (``eval_cam_with_crf.py``); "paper" is
    Eq. 8 on the refined CAMs. The histogram counts every pixel of every image; the last
    bin is closed ([0.95, 1.0]).
    """
    n, edges = dataset.n_classes, np.asarray(bins, np.float64)
    scorers = {(c, mu): MaskScorer(n) for c in confidences for mu in mus}
    bins_per_image: dict[str, list[np.ndarray]] = {c: [] for c in confidences}
    for rec in iter_records(es, dataset, ids):
        hr = es.upsample(refined_cams(es, rec), rec.gt.shape).half()  # float16 as the files
        pm = crf_pseudo_mask(rec.image, rec.keys, hr)  # official CRF, k = 1
        label, q = pm.label, pm.posterior
        for c in confidences:
            conf = cgl_confidence(q, hr, kind=c)
            bins_per_image[c].append(
                np.histogram(conf.numpy().clip(edges[0], edges[-1]), bins=edges)[0]
            )
            for mu in mus:
                scorers[(c, mu)].update(apply_confidence(label, conf, threshold=mu).numpy(), rec.gt)
    n_bins = len(edges) - 1
    image_bins = {c: np.asarray(v, np.int64).reshape(-1, n_bins) for c, v in bins_per_image.items()}
    counts = {c: v.sum(0) for c, v in image_bins.items()}
    names = [
        f"[{a:g}, {b:g}{']' if i == len(edges) - 2 else ')'}"
        for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    hist = pd.DataFrame({c: 100 * v / max(v.sum(), 1) for c, v in counts.items()}, index=names)
    rows = [
        {
            "confidence": c,
            "mu": mu,
            "mIoU": 100 * s.cm.scores().miou,
            "ignored %": 100 * s.ignored_fraction(),
            "pixel acc": 100 * s.cm.scores().pixel_acc,
        }
        for (c, mu), s in scorers.items()
    ]
    image_hists = {
        k: np.stack(s.image_hists) if s.image_hists else np.zeros((0, n, n), np.int64)
        for k, s in scorers.items()
    }
    image_ignored = {
        k: tuple(np.asarray(s.image_ignored, np.float64).reshape(-1, 2).T)
        for k, s in scorers.items()
    }
    return MaskSweep(
        hist.rename_axis("confidence bin"),
        pd.DataFrame(rows),
        image_bins,
        image_hists,
        image_ignored,
    )


# --------------------------------------------------------------------------- figures


def _heat(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """One CAM (H, W) in [0, 1] as a jet heat map blended over the image; (H, W, 3) float."""
    import matplotlib

    rgb = matplotlib.colormaps["jet"](np.clip(cam, 0, 1))[..., :3]
    return (0.5 * image / 255.0 + 0.5 * rgb).clip(0, 1)


def _panel_grid(
    rows: list[list[np.ndarray]],
    cols: Sequence[str],
    labels: Sequence[str],
    cmaps: Sequence[str | None] = (),
):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(2.1 * len(cols), 2.2 * len(rows)), squeeze=False
    )
    for r, panels in enumerate(rows):
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            cmap = cmaps[c] if c < len(cmaps) else None
            im = ax.imshow(panel, cmap=cmap, vmin=0.5 if cmap else None, vmax=1 if cmap else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(cols[c], fontsize=9)
            if cmap and r == len(rows) - 1:
                fig.colorbar(im, ax=axes[:, c].tolist(), location="bottom", fraction=0.04, pad=0.02)
        axes[r, 0].set_ylabel(labels[r], fontsize=8)
    return fig


def refinement_figure(es: ClipES, dataset: SegmentationDataset, ids: Sequence[str]):
    """Fig. 5 layout: image | initial CAM | + MHSA | + CAA | GT, one row per image.

    Each row shows the CAM of the image's first class (named on the left and on every CAM
    panel), so a refinement that spreads it onto another object is visible; a legend names
    the ground truth's class colours.

    Returns:
        The matplotlib Figure.
    """
    from clipwsss.data import colorize

    cfg, rows, labels, cam_names, gts = es.config, [], [], [], []
    for rec in iter_records(es, dataset, ids):
        mhsa = refine_with_affinity(rec.cams, rec.affinity, mode="mhsa")
        caa = refine_with_affinity(
            rec.cams, rec.affinity, threshold=cfg.box_threshold, official=cfg.official_boxes
        )
        heats = [
            _heat(rec.image, es.upsample(c, rec.gt.shape)[0].numpy()) for c in (rec.cams, mhsa, caa)
        ]
        rows.append([rec.image, *heats, colorize(rec.gt)])
        gts.append(rec.gt)
        cam_names.append(dataset.class_names[int(rec.keys[0])])
        names = ", ".join(dataset.class_names[int(k)] for k in rec.keys)
        labels.append(
            f"{rec.image_id}\nCAM of {dataset.class_names[int(rec.keys[0])]}\nlabels: {names}"
        )
    cols = ["image", "initial CAM", "+ MHSA", f"+ CAA (λ={cfg.box_threshold:g})", "ground truth"]
    fig = _panel_grid(rows, cols, labels)
    axes = np.asarray(fig.axes).reshape(len(rows), len(cols))
    for r, name in enumerate(cam_names):  # the CAM panels (columns 1-3) name their class
        for c in (1, 2, 3):
            head = f"{cols[c]}\n" if r == 0 else ""
            axes[r, c].set_title(f"{head}CAM: {name}", fontsize=9)
    class_legend(fig, gts, dataset.class_names)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    return fig


def confidence_figure(
    es: ClipES, dataset: SegmentationDataset, ids: Sequence[str], *, threshold: float = 0.95
):
    """Image | CRF label | max-posterior confidence | Eq. 8 confidence | pseudo-mask | GT.

    A legend names every class colour of the label panels. The pseudo-mask uses the
    official confidence (max CRF posterior) at ``threshold``; ignored pixels (255) are drawn
    in the palette's ignore colour. Confidence maps are shown on [0.5, 1].

    Returns:
        The matplotlib Figure.
    """
    from clipwsss.data import colorize

    rows, labels, maps = [], [], []
    for rec in iter_records(es, dataset, ids):
        hr = es.upsample(refined_cams(es, rec), rec.gt.shape).half()  # float16 as the files
        pm = crf_pseudo_mask(rec.image, rec.keys, hr, MaskOptions(threshold=threshold))
        maps += [pm.label.numpy(), pm.mask.numpy(), rec.gt]
        rows.append(
            [
                rec.image,
                colorize(pm.label.numpy()),
                pm.conf.numpy(),
                cgl_confidence(pm.posterior, hr, kind="paper").numpy(),
                colorize(pm.mask.numpy()),
                colorize(rec.gt),
            ]
        )
        labels.append(
            f"{rec.image_id}\n" + ", ".join(dataset.class_names[int(k)] for k in rec.keys)
        )
    cols = [
        "image",
        "dCRF label",
        "conf: max CRF posterior\n(official)",
        "conf: Eq. 8 on CAMs\n(paper)",
        f"pseudo-mask (μ={threshold:g})",
        "ground truth",
    ]
    fig = _panel_grid(rows, cols, labels, cmaps=[None, None, "viridis", "viridis"])
    class_legend(fig, maps, dataset.class_names, loc="upper center")
    fig.subplots_adjust(top=1 - 0.9 / fig.get_figheight())
    return fig
