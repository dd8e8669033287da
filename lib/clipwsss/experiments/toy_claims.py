"""What the toy world can and cannot show of two CLIP-ES text claims, measured.

* Synonym disambiguation (CLIP-ES Sec. 3.2.2, Table 8): :func:`text_cosines` gives the
  cosine of the prompt embeddings of any words, :func:`distractor_cooccurrence` how often the
  world draws an unlabelled distractor (the tower crane) in a scene that has the class it
  could be confused with (the crane, a bird).
* The class-related background set (Sec. 3.1, Table 6, supp. G):
  :func:`class_differences` gives per-class IoU differences between runs with paired
  image-bootstrap intervals (notebooks 02 and 18 show them only as totals).

Experiment layer: numpy, pandas and the CLIP text tower; no files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clipwsss.clip.loading import ClipModel
from clipwsss.clip.text import encode_texts
from clipwsss.experiments.text_ablations import class_iou_table
from clipwsss.vocab import CLIP_ES_TEMPLATE


def text_cosines(
    clip: ClipModel,
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    template: str = CLIP_ES_TEMPLATE,
) -> pd.DataFrame:
    """Cosine similarity of the prompt embeddings ``template.format(word)``.

    A word's meaning to the CLIP is its text embedding; two words at cosine 1.00 are one
    point, so no prompt that uses one instead of the other can change a CAM.

    Returns:
        (len(rows), len(columns)) frame, index ``rows``, columns ``columns``.
    """
    a = encode_texts(clip, [template.format(w) for w in rows])
    b = encode_texts(clip, [template.format(w) for w in columns])
    return pd.DataFrame((a @ b.T).float().cpu().numpy(), index=list(rows), columns=list(columns))


def distractor_cooccurrence(
    n_scenes: int = 2000,
    *,
    seed: int = 0,
    distractor: str = "tower crane",
    cls: str = "crane",
    image_size: int = 96,
) -> dict[str, int]:
    """How often the toy world draws ``distractor`` with and without class ``cls``.

    Samples scenes as :func:`clipwsss.toy.world.generate_toy_voc` does (one generator per
    scene, ``default_rng([seed, 1, i])``: the val split of that seed).

    Returns:
        ``{"scenes", "with class", "with distractor", "with both"}`` counts.
    """
    from clipwsss.toy.world import TOY_CLASSES, sample_scene

    k = TOY_CLASSES.index(cls)
    counts = {"scenes": n_scenes, "with class": 0, "with distractor": 0, "with both": 0}
    for i in range(1, n_scenes + 1):
        scene = sample_scene(np.random.default_rng([seed, 1, i]), image_size=image_size)
        has_cls, has_d = k in scene.labels, distractor in scene.distractors
        counts["with class"] += has_cls
        counts["with distractor"] += has_d
        counts["with both"] += has_cls and has_d
    return counts


def class_differences(
    runs: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-class IoU of each run and per-class differences ``a - b`` with paired intervals.

    Every class is resampled over the same images in every run
    (:func:`clipwsss.experiments.text_ablations.class_iou_table`), so a class's difference
    is paired.

    Args:
        runs: run name -> (N, n, n) per-image confusion matrices, the same images.
        class_names: foreground class names in label order (label ``i + 1``).
        pairs: (a, b) run names.

    Returns:
        Long frame: one row per (class, row), rows the runs then "a - b"; columns "IoU",
        "95% low", "95% high", "excludes 0" (differences only). Class "background" is label 0.
    """
    names = ["background", *class_names]
    parts = []
    for k, name in enumerate(names):
        t = class_iou_table(runs, k, pairs, n_boot=n_boot, seed=seed)
        t = t.rename(columns={"mIoU": "IoU"})
        t.index = pd.MultiIndex.from_product([[name], t.index], names=["class", "row"])
        parts.append(t)
    return pd.concat(parts)


TOY_RESULTS = Path(__file__).resolve().parents[3] / "results" / "toy"
"""The committed toy results of a repository checkout (``results/toy``)."""


def read_toy_result(name: str, root: str | Path = TOY_RESULTS) -> pd.DataFrame:
    """A CSV of ``results/toy`` written by scripts/toy_attention_groups.py or
    scripts/toy_text_claims.py; a clear error names the script when it is missing."""
    path = Path(root) / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run scripts/toy_attention_groups.py (attention_*, caa_seeds) "
            "or scripts/toy_text_claims.py (the others) from the repository root"
        )
    return pd.read_csv(path)


def class_view(
    table: pd.DataFrame,
    runs: Sequence[str],
    differences: Sequence[str],
    classes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per class: the IoU of ``runs`` and each difference as "value [low, high]".

    Args:
        table: :func:`class_differences` output, or its CSV read back (columns class, row,
            IoU, 95% low, 95% high).
        runs: run names to show as IoU columns.
        differences: "a - b" rows to show with their 95% interval; a "*" marks the
            intervals that exclude zero.
        classes: rows to keep, in order (None keeps all).
    """
    t = table.reset_index() if "class" not in table.columns else table
    t = t.set_index(["class", "row"])
    names = list(dict.fromkeys(t.index.get_level_values("class"))) if classes is None else classes
    out = pd.DataFrame(index=pd.Index(list(names), name="class"))
    for r in runs:
        out[r] = [round(float(t.loc[(c, r), "IoU"]), 1) for c in names]
    for d in differences:
        cells = []
        for c in names:
            v, lo, hi = (float(t.loc[(c, d), k]) for k in ("IoU", "95% low", "95% high"))
            star = "*" if lo > 0 or hi < 0 else ""
            cells.append(f"{v:+.1f} [{lo:+.1f}, {hi:+.1f}]{star}")
        out[d] = cells
    return out
