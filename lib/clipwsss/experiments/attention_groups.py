"""Does a CLIP's attention group objects? Attention within an object vs across its border.

CAA (CLIP-ES Sec. 3.3, Eq. 6-7) propagates a class CAM along the attention affinity ``A^t``.
It can only help when a patch of an object attends more to the rest of *its own* object than
to the background or to another object. This module measures that, per block, against the
ground truth: the patches are labelled by the class covering most of them, and every pair
of labelled patches ``(i, j)``, ``i != j``, falls in one group:

* ``within object``: both patches of the same class;
* ``object to other object``: two different classes;
* ``object to background``: one patch of a class, the other background (either order);
* ``background to background``: both background.

A group's value is the mean attention over its pairs times ``N`` (the number of patches),
so 1 is what uniform attention gives. ``self`` is the mean of the diagonal times ``N`` (how
much a labelled patch attends to itself). Attention that groups objects has ``within
object`` well above ``object to background``; attention that mostly looks at itself or at
its neighbours, whatever they are, does not. Per-image sums make the groups image-bootstrap
ratios (:func:`clipwsss.experiments.intervals.ratio_table`), paired over the same images.

Experiment layer: loops over a data set, tensors in, counts and tables out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from clipwsss.cams.caa import attention_affinity
from clipwsss.data import SegmentationDataset, load_image, load_label_png
from clipwsss.data.pixels import IGNORE
from clipwsss.experiments.intervals import ratio_table
from clipwsss.methods.clip_es import ClipES

GROUPS = (
    "within object",
    "object to other object",
    "object to background",
    "background to object",
    "background to background",
    "self",
)


def patch_labels(
    gt: np.ndarray, grid: tuple[int, int], *, n_values: int, purity: float = 0.75
) -> np.ndarray:
    """The label of each patch: the value covering at least ``purity`` of it, else ignore.

    The label map is area-resampled to the patch grid per value; a patch whose largest share
    (ignore pixels count as their own value) is below ``purity``, or is the ignore value,
    gets 255 and is left out of every pair.

    Args:
        gt: label map, 0 = background, ``c`` = class, 255 = ignore.
        grid: (h, w) patch grid of the attention.
        n_values: number of label values (background + classes).
        purity: least share of a patch that its label must cover.

    Shapes:
        gt: (H, W); returns (h, w) int64.
    """
    values = np.asarray(gt, np.int64)
    if (values[values != IGNORE] >= n_values).any():
        raise ValueError(f"label values above {n_values - 1} (other than 255) in gt")
    g = torch.as_tensor(values)
    g = torch.where(g == IGNORE, torch.full_like(g, n_values), g)
    onehot = F.one_hot(g, n_values + 1).permute(2, 0, 1).float()[None]  # (1, V+1, H, W)
    share = F.interpolate(onehot, size=tuple(grid), mode="area")[0]  # (V+1, h, w)
    best, label = share.max(0)
    keep = (best >= purity) & (label < n_values)
    label = torch.where(keep, label, torch.full_like(label, IGNORE))
    return label.numpy()


def grouping_counts(attn: Tensor, labels: np.ndarray) -> dict[str, tuple[float, float]]:
    """Per group, (sum of ``N * attn`` over its pairs, number of pairs) of one map.

    Args:
        attn: attention or affinity among the patches (no class token); rows are queries.
        labels: :func:`patch_labels` of the same grid (row-major, as the tokens).

    Returns:
        ``{group: (sum, pairs)}`` for every name in :data:`GROUPS`; sum / pairs is the mean in
        units of uniform attention (1 / N).

    Shapes:
        attn: (N, N); labels: (h, w) with h * w = N.
    """
    lab = torch.as_tensor(np.asarray(labels, np.int64)).flatten()
    n = lab.numel()
    if tuple(attn.shape) != (n, n):
        raise ValueError(f"attn {tuple(attn.shape)} does not match {n} labelled patches")
    a = attn.float() * n
    ok = lab != IGNORE
    obj, bg = ok & (lab > 0), ok & (lab == 0)
    pair = ok[:, None] & ok[None, :] & ~torch.eye(n, dtype=torch.bool)
    same = lab[:, None] == lab[None, :]
    masks = {
        "within object": pair & same & obj[:, None],
        "object to other object": pair & ~same & obj[:, None] & obj[None, :],
        "object to background": pair & obj[:, None] & bg[None, :],
        "background to object": pair & bg[:, None] & obj[None, :],
        "background to background": pair & bg[:, None] & bg[None, :],
        "self": torch.diag(ok),
    }
    return {g: (float(a[m].sum()), float(m.sum())) for g, m in masks.items()}


RANKINGS = ("own object over background", "own object over other object")


def ranking_counts(attn: Tensor, labels: np.ndarray) -> dict[str, tuple[float, float]]:
    """How often an object patch ranks its own object above the background (or another object).

    For every object patch ``i`` (query), every other patch ``j`` of its class and every
    background patch ``k`` (or patch of another class): a win when ``attn[i, j] > attn[i, k]``,
    half a win on a tie. wins / comparisons is a per-row AUC: 0.5 is no grouping, 1 is an
    attention that ranks every patch of its object above every patch outside it. Unlike the
    group means it does not change under any per-row monotone rescaling (Sinkhorn's column
    scaling excepted, which is not per row), so it compares blocks and ``A^t`` fairly.

    Returns:
        ``{comparison: (wins, comparisons)}`` for every name in :data:`RANKINGS`.

    Shapes:
        attn: (N, N); labels: (h, w) with h * w = N.
    """
    lab = torch.as_tensor(np.asarray(labels, np.int64)).flatten()
    n = lab.numel()
    if tuple(attn.shape) != (n, n):
        raise ValueError(f"attn {tuple(attn.shape)} does not match {n} labelled patches")
    ok = lab != IGNORE
    queries = torch.nonzero(ok & (lab > 0)).flatten()
    if len(queries) == 0:
        return dict.fromkeys(RANKINGS, (0.0, 0.0))
    a = attn.float()[queries]  # (Q, N)
    ql = lab[queries][:, None]  # (Q, 1)
    own = ok[None] & (lab[None] == ql)
    own[torch.arange(len(queries)), queries] = False  # not the query itself
    outside = {
        RANKINGS[0]: ok[None] & (lab[None] == 0),
        RANKINGS[1]: ok[None] & (lab[None] > 0) & (lab[None] != ql),
    }
    gt = (a[:, :, None] > a[:, None, :]).float() + 0.5 * (a[:, :, None] == a[:, None, :]).float()
    out = {}
    for name, other in outside.items():
        pairs = own[:, :, None] & other[:, None, :]  # (Q, N_j, N_k)
        out[name] = (float((gt * pairs).sum()), float(pairs.sum()))
    return out


def locality_map(grid: tuple[int, int], *, sigma: float = 1.0) -> Tensor:
    """A reference map that knows only where patches are: ``exp(-d^2 / (2 sigma^2))`` per row,
    normalised to sum 1 (d in patches). Attention that groups objects beyond mere nearness
    ranks better than this on the same images.

    Shapes:
        returns (h * w, h * w).
    """
    h, w = grid
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    pos = torch.stack([yy.flatten(), xx.flatten()], 1).float()
    m = torch.exp(-torch.cdist(pos, pos).pow(2) / (2 * sigma**2))
    return m / m.sum(1, keepdim=True)


@dataclass(frozen=True)
class GroupingRecords:
    """Per-image :func:`grouping_counts` of several attention maps over the same images.

    Attributes:
        image_ids: the images, in order.
        maps: map name -> group -> (sums (N,), pairs (N,)) (:func:`grouping_counts`).
        ranks: map name -> comparison -> (wins (N,), comparisons (N,)) (:func:`ranking_counts`).
    """

    image_ids: tuple[str, ...]
    maps: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]
    ranks: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]


LOCALITY = "locality reference"


def map_names(n_blocks: int, caa_layers: int) -> list[str]:
    """The maps :func:`attention_grouping` measures, in order."""
    return [
        *(f"block {b + 1}" for b in range(n_blocks)),
        f"mean of the last {caa_layers} (W_attn)",
        "A (Eq. 6)",
        *(affinity_name(b, caa_layers) for b in range(1, n_blocks + 1)),
        LOCALITY,
    ]


def affinity_name(n_layers: int, caa_layers: int) -> str:
    """The map name of ``A^t`` from the last ``n_layers`` blocks ("(Eq. 7)" marks the config's)."""
    official = " (Eq. 7)" if n_layers == caa_layers else ""
    return f"A^t, last {n_layers} block{'s' if n_layers > 1 else ''}{official}"


def attention_grouping(
    es: ClipES, dataset: SegmentationDataset, ids: Sequence[str], *, purity: float = 0.75
) -> GroupingRecords:
    """Grouping counts of every block's attention and of CAA's affinity on every labelled image.

    Maps: each block's head-averaged attention (class token dropped), their mean over the
    last ``es.config.caa_layers`` blocks (Eq. 6's ``W_attn``), the Sinkhorn-symmetrised ``A``
    ``A^t`` (``es.affinity``, what CAA propagates with) from the last 1, 2, ... blocks (the
    config's is marked "(Eq. 7)"), and :func:`locality_map` as the reference that knows only
    distance. One forward per image.
    """
    cfg = es.config
    n_blocks = len(es.clip.model.visual.transformer.resblocks)
    full = ClipES(es.clip, es.vocab, replace(cfg, caa_layers=n_blocks, refine="caa"))
    names = map_names(n_blocks, cfg.caa_layers)

    def affinity(attn: Tensor, n_layers: int, power: int = cfg.caa_power) -> Tensor:
        return attention_affinity(
            attn,
            n_layers=n_layers,
            n_iters=cfg.sinkhorn_iters,
            power=power,
            symmetrize=cfg.caa_symmetrize,
        )

    counts: dict[str, dict[str, list]] = {m: {g: [] for g in GROUPS} for m in names}
    ranks: dict[str, dict[str, list]] = {m: {r: [] for r in RANKINGS} for m in names}
    done = []
    for image_id in ids:
        sample = dataset.sample(image_id)
        if not sample.labels:
            continue
        out = full(load_image(sample.image_path), sample.labels)
        labels = patch_labels(
            load_label_png(sample.gt_path), out.grid, n_values=dataset.n_classes, purity=purity
        )
        attn = out.attn.float()  # (L, T, T)
        maps = {f"block {b + 1}": attn[b, 1:, 1:] for b in range(n_blocks)}
        maps[names[n_blocks]] = attn[-cfg.caa_layers :, 1:, 1:].mean(0)
        maps["A (Eq. 6)"] = affinity(attn, cfg.caa_layers, power=1)
        for b in range(1, n_blocks + 1):  # Table 2's A^t, and notebook 19's layer counts
            maps[affinity_name(b, cfg.caa_layers)] = affinity(attn, b)
        maps[LOCALITY] = locality_map(out.grid)
        for name, m in maps.items():
            for g, c in grouping_counts(m, labels).items():
                counts[name][g].append(c)
            for r, c in ranking_counts(m, labels).items():
                ranks[name][r].append(c)
        done.append(image_id)

    def arrays(rows):
        a = np.asarray(rows, np.float64).reshape(-1, 2)
        return a[:, 0], a[:, 1]

    def nested(d):
        return {m: {g: arrays(v) for g, v in gs.items()} for m, gs in d.items()}

    return GroupingRecords(tuple(done), nested(counts), nested(ranks))


DIFFERENCES = (
    ("within object", "background to object"),
    ("within object", "object to background"),
    ("within object", "object to other object"),
    ("within object", "background to background"),
)


def grouping_table(records: GroupingRecords, *, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Mean attention per group (units of uniform attention) with 95% image-bootstrap intervals.

    Returns:
        Rows (map, group or "a - b"), columns "value", "95% low", "95% high", "excludes 0"
        (differences only), "pairs" (pairs summed over the images; NaN for differences).
        Each map's groups and differences share one set of resamples (paired).
    """
    parts = []
    for name, groups in records.maps.items():
        t = ratio_table(groups, DIFFERENCES, seed=seed, n_boot=n_boot)
        t[["mIoU", "95% low", "95% high"]] /= 100  # ratio_table gives percent
        t = t.rename(columns={"mIoU": "value"})
        t["pairs"] = [groups[g][1].sum() if g in groups else np.nan for g in t.index]
        t.index = pd.MultiIndex.from_product([[name], t.index], names=["map", "group"])
        parts.append(t)
    return pd.concat(parts)


def ranking_table(records: GroupingRecords, *, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Per-row AUC (%) of every map, and each map minus the locality reference, with intervals.

    Returns:
        Rows (comparison, map or "map - locality reference"), columns "value" (%, 50 = no
        grouping), "95% low", "95% high", "excludes 0" (differences only). All maps of one
        comparison share one set of resamples (paired).
    """
    parts = []
    comparisons = next(iter(records.ranks.values())).keys()
    for comp in comparisons:
        runs = {m: r[comp] for m, r in records.ranks.items()}
        diffs = [(m, LOCALITY) for m in runs if m != LOCALITY] if LOCALITY in runs else []
        t = ratio_table(runs, diffs, seed=seed, n_boot=n_boot).rename(columns={"mIoU": "value"})
        t.index = pd.MultiIndex.from_product([[comp], t.index], names=["comparison", "map"])
        parts.append(t)
    return pd.concat(parts)


SUMMARY_GROUPS = (
    "within object",
    "background to object",
    "object to background",
    "object to other object",
    "background to background",
)


def summary(groups: pd.DataFrame, ranking: pd.DataFrame, maps: Sequence[str]) -> pd.DataFrame:
    """One row per map: the group means and the two ranking AUCs (what notebook 06 shows).

    Args:
        groups: ``attention_groups.csv`` rows of one model and seed (columns map, group,
            value), as ``scripts/toy_attention_groups.py`` writes them.
        ranking: ``attention_ranking.csv`` rows of the same model and seed (columns
            comparison, map, value).
        maps: the maps to show, in order.

    Returns:
        Index ``maps``; the group means (x uniform) then "AUC own object > background (%)"
        and "AUC own object > other object (%)".
    """
    g = groups.pivot(index="map", columns="group", values="value")
    r = ranking[ranking["map"].isin(maps)].pivot(index="map", columns="comparison", values="value")
    out = g.loc[list(maps), list(SUMMARY_GROUPS)]
    out[f"AUC {RANKINGS[0].replace(' over ', ' > ')} (%)"] = r.loc[list(maps), RANKINGS[0]]
    out[f"AUC {RANKINGS[1].replace(' over ', ' > ')} (%)"] = r.loc[list(maps), RANKINGS[1]]
    return out
