"""Reading of notebook 14 (WeCLIP ablations: supplementary Tables 2-5, the RFM on and off).

The ablation rows are plain mappings with the keys of the notebook's table: ``variant``,
``seed``, ``diff``, ``diff low``, ``diff high`` (paired difference to the default of the same
training seed) and ``paper diff`` (NaN or None where the paper has no row).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval

Row = Mapping[str, object]


def _excludes_zero(r: Row) -> bool:
    return r["diff low"] > 0 or r["diff high"] < 0


def _paper(r: Row) -> float | None:
    v = r.get("paper diff")
    return None if v is None or math.isnan(v) else float(v)


def _diff_text(r: Row) -> str:
    word = "excludes" if _excludes_zero(r) else "includes"
    paper = "" if _paper(r) is None else f"; paper {_paper(r):+.1f}"
    return (
        f"{r['variant']} {r['diff']:+.1f} ({r['diff low']:+.1f} to {r['diff high']:+.1f}, "
        f"{word} zero{paper})"
    )


def reading(
    *,
    profile: str,
    switches: Sequence[Row],
    scales: Sequence[Row],
    default_by_seed: Mapping[int, float],
    old_numerics: bool,
) -> str:
    """The training switches, the inference scale sets and the training noise.

    Args:
        profile: the profile name.
        switches: one row per training-switch run (not a default, not a scale set).
        scales: one row per non-default scale set and seed.
        default_by_seed: training seed -> the default run's mIoU (the training noise).
        old_numerics: ablations.md says the runs predate the current numerics.
    """
    switch_seeds = sorted({int(r["seed"]) for r in switches})
    real = [r for r in switches if _excludes_zero(r)]
    same_sign = [
        r["variant"] for r in real if _paper(r) is not None and (r["diff"] > 0) == (_paper(r) > 0)
    ]
    seed_words = (
        "one training seed" if len(switch_seeds) == 1 else f"{len(switch_seeds)} training seeds"
    )
    switch_text = (
        f"each training switch has {seed_words} (seed {', '.join(map(str, switch_seeds))}, one "
        f"run per switch). Against the default, {len(real)} of the {len(switches)} switches have "
        "an interval that excludes zero"
        + (
            f" ({', '.join(r['variant'] for r in real)}; in the paper's direction: "
            f"{', '.join(same_sign) or 'none'})"
            if real
            else ""
        )
        + "; per switch: "
        + "; ".join(_diff_text(r) for r in switches)
        + "."
    )
    scale_parts, better_seeds = [], []
    for s in sorted({int(r["seed"]) for r in scales}):
        g = [r for r in scales if int(r["seed"]) == s]
        worse = [str(r["variant"]).removeprefix("scales ") for r in g if r["diff high"] < 0]
        better = [str(r["variant"]).removeprefix("scales ") for r in g if r["diff low"] > 0]
        better_seeds += [s] if better else []
        scale_parts.append(
            f"for seed {s}, {len(worse)} of the {len(g)} other sets score below the default with "
            f"intervals excluding zero ({', '.join(worse) or 'none'}) and {len(better)} above "
            f"({', '.join(better) or 'none'})"
        )
    table5 = (
        f"so for seed {', '.join(map(str, better_seeds))} the default {{0.75, 1.0}} is not the "
        "best set on toy, unlike Table 5"
        if better_seeds
        else "so no set beats the default {0.75, 1.0} on toy, as in Table 5"
    )
    all_real = [r for r in [*switches, *scales] if _excludes_zero(r)]
    if len(default_by_seed) > 1:
        gap = max(default_by_seed.values()) - min(default_by_seed.values())
        larger = sum(abs(r["diff"]) > gap for r in all_real)
        gap_text = (
            f"The two default runs (seeds {', '.join(map(str, default_by_seed))}) differ by "
            f"{gap:.1f} points on the same images, a training noise that the image intervals do "
            f"not contain; {larger} of the {len(all_real)} differences whose interval excludes "
            "zero are larger than that, and a single-seed difference smaller than it is no "
            "evidence either way"
        )
    else:
        gap_text = "With one default seed the training noise is not measured"
    numerics = (
        "These ablation runs were made with the previous numerics (the first line of "
        "ablations.md says so) and not rerun, so they compare with each other, not with runs "
        "of the current code."
        if old_numerics
        else "ablations.md carries no note of previous numerics."
    )
    return (
        f"On {profile}, {switch_text} At inference (the scale sets, on the default checkpoints), "
        f"{'; '.join(scale_parts)}, {table5}. {gap_text}. {numerics}"
    )


def _span(iv: Interval) -> str:  # a run's own mIoU: no verdict about zero
    return f"{iv.value:.1f} (95% interval {iv.low:.1f} to {iv.high:.1f})"


def rfm_text(
    *,
    n_seeds: int,
    steps: Sequence[int],
    schedule: int,
    on: Interval,
    off: Interval,
    on_minus_off: Interval,
    seed_range: float,
    labels_diff: Interval,
    caa_labels: float,
    recipe_seeds: Mapping[int, float],
    n_val: int,
    clip_es_caa: float,
) -> str:
    """RFM on against off (small decoder), and the RFM's labels against the CAA labels.

    Args:
        n_seeds: training seeds per variant.
        steps: the steps the stored models were taken at; schedule: the run's length.
        on, off: each variant's mean val mIoU with its interval; on_minus_off: paired.
        seed_range: max - min over seeds of the paired difference.
        labels_diff: RFM labels - CAA labels of the RFM-on models on train, paired.
        caa_labels: the CAA labels' mIoU.
        recipe_seeds: seed -> the toy recipe's own decoder on the same val images.
        n_val: those images.
        clip_es_caa: CLIP-ES's CAA on them.
    """
    seeds = sorted(recipe_seeds)
    seed_list = (
        f"seeds {', '.join(map(str, seeds[:-1]))} and {seeds[-1]}"
        if len(seeds) > 1
        else f"seed {seeds[0]}"
    )
    return (
        f"**RFM on vs off (toy val, {n_seeds} training seed{'s' if n_seeds > 1 else ''}, small "
        f"decoder, models after step {', '.join(map(str, steps))} of the {schedule}-step "
        f"schedule).** RFM on scores {_span(on)} and RFM off {_span(off)}; on minus off is "
        f"{on_minus_off.text()} (seed range of the difference {seed_range:.1f}). On train images "
        f"the RFM labels minus the CAA labels of the same models are {labels_diff.text()}, with "
        f"the CAA labels at {caa_labels:.1f}. For scale (other runs, not paired with these): the "
        f"toy recipe's own decoder scored {', '.join(f'{recipe_seeds[s]:.1f}' for s in seeds)} on "
        f"the same {n_val} val images (`scripts/weclip_toy.py`, {seed_list}), and CLIP-ES's CAA "
        f"{clip_es_caa:.1f}."
    )
