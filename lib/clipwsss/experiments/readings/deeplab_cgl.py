"""Reading of notebook 12 (DeepLab on the pseudo masks, CE vs CGL; CLIP-ES Tables 4, 7, S3)."""

from __future__ import annotations

from collections.abc import Sequence

from clipwsss.experiments.intervals import Interval

FAR_BELOW = 5.0  # points under the masks' mIoU: a network this far below is still learning


def mu_sweep_text(
    *,
    profile: str,
    sweep_seeds: Sequence[int],
    others: Sequence[tuple[str, Interval]],
    reference: float,
    reference_is_lowest: bool,
    cgl_runs: Sequence[float],
    ignored_pct: float,
    paper_ignored_pct: float,
) -> str:
    """The Table S3 part: each mu against mu = 0.95 of the same training seed.

    Args:
        profile: the profile name.
        sweep_seeds: training seeds of the sweep.
        others: ("mu = 0.7", difference to mu = 0.95 with its image-bootstrap interval).
        reference: val mIoU of the mu = 0.95 run the sweep compares with.
        reference_is_lowest: that run is the lowest of the CE and CGL runs.
        cgl_runs: val mIoU of the CGL runs, one per training seed.
        ignored_pct: % of the toy training pixels below mu = 0.95.
        paper_ignored_pct: the same share on VOC (100 - Table S3's top bin).
    """
    if not others:
        return "No mu sweep was run (no mu_sweep.csv)."
    above = "every other mu scores above" if all(iv.value > 0 for _, iv in others) else "against"
    parts = ", ".join(f"{n} {iv.value:+.1f} ({iv.low:+.1f} to {iv.high:+.1f})" for n, iv in others)
    real = sum(iv.excludes_zero for _, iv in others)
    lowest = " the lowest of the CE and CGL runs," if reference_is_lowest else ""
    return (
        f"Table S3 on {profile}, training seed {', '.join(map(str, sweep_seeds))}: {above} "
        f"mu = 0.95 ({parts}); {real} of {len(others)} image-bootstrap intervals exclude zero. "
        "The image bootstrap does not cover training noise: the reference run (CGL, seed "
        f"{sweep_seeds[0]}, {reference:.1f}) is{lowest} and the CGL runs of the {len(cgl_runs)} "
        f"seeds span {min(cgl_runs):.1f}-{max(cgl_runs):.1f}; with {len(sweep_seeds)} sweep "
        "seed(s) these differences mix mu and seed, so none is attributable to mu on this "
        "evidence (paper: at most 0.2 points between its three mu). Only "
        f"{ignored_pct:.1f} % of the toy training pixels lie below 0.95 (paper, VOC: "
        f"{paper_ignored_pct:.2f} %), so mu changes few pixels in either world."
    )


def reading(
    *,
    profile: str,
    diffs: Sequence[Interval],
    paper_diff: float,
    seed_range: float,
    iterations: int,
    toy_mean: float,
    paper_val: float,
    mu_sweep: str,
) -> str:
    """CGL - CE per training seed against Table 7, then the mu sweep (:func:`mu_sweep_text`).

    Args:
        profile: the profile name.
        diffs: CGL - CE of each training seed, with its paired image-bootstrap interval.
        paper_diff: Table 7's CGL - CE on VOC val.
        seed_range: the larger seed range (max - min) of the two losses.
        iterations: training iterations of the runs.
        toy_mean: mean val mIoU of all runs.
        paper_val: Table 4's VOC val mIoU.
        mu_sweep: the text of :func:`mu_sweep_text`.
    """
    beat = "beat" if min(d.value for d in diffs) > 0 else "did not beat"
    below = sum(d.high < 0 for d in diffs)
    mean = sum(d.value for d in diffs) / len(diffs)
    return (
        f"On {profile}, CGL {beat} CE: CGL - CE is {mean:+.1f} points on average over "
        f"{len(diffs)} seeds (per seed {', '.join(f'{d.value:+.1f}' for d in diffs)}); the 95% "
        f"interval lies below 0 for {below} of {len(diffs)} seeds, so the paper's "
        f"{paper_diff:+.1f} (Table 7) is not borne out by the toy world. The seed range of one "
        f"loss ({seed_range:.1f} points) is as large as the CGL - CE difference, so two seeds of "
        f"{iterations} iterations cannot settle a half-point effect; the toy values (about "
        f"{toy_mean:.0f} mIoU) say nothing about VOC's {paper_val:.1f}. {mu_sweep}"
    )


def curve_text(
    *,
    last: dict[str, float],
    step: int,
    run_iterations: int,
    finished: bool,
    masks: float,
    recipe_iterations: int,
    paper_diff: float,
    late_gain: float | None = None,
    late_from: int | None = None,
    long_diff: Interval | None = None,
    seeds: int = 0,
) -> str:
    """What the longer-schedule curve says, and the CE-vs-CGL comparison at its end.

    Args:
        last: loss ("ce", "cgl") -> quick val mIoU at the last logged step (seed mean).
        step: that step.
        run_iterations: the longer schedule's length.
        finished: whether the runs finished.
        masks: mIoU of the pseudo masks the network learns from.
        recipe_iterations: the toy recipe's iterations (the runs of the tables).
        paper_diff: Table 7's CGL - CE.
        late_gain: the largest rise of a loss's quick mIoU from step ``late_from`` to ``step``
            (None: not measured).
        late_from: the step ``late_gain`` starts from.
        long_diff: CGL - CE of the finished runs (single scale + flip, seed mean, paired image
            bootstrap); None when no finished pair exists.
        seeds: training seeds in ``long_diff``.
    """
    best, worst = max(last.values()), min(last.values())
    state = "finished" if finished else f"stopped at step {step} of {run_iterations}"
    values = " and ".join(f"{v:.1f} ({k.upper()})" for k, v in last.items())
    gap = f"{masks - best:.1f}-{masks - worst:.1f} points"
    plateau = late_gain is not None and late_from is not None and finished and late_gain < 2.0
    if masks - best <= FAR_BELOW:
        verdict = (
            f"within {FAR_BELOW:.0f} points of the {masks:.1f} of the pseudo masks it learns "
            "from (a gap of " + gap + "), long enough for a powered CE-vs-CGL comparison."
        )
    elif plateau:
        verdict = (
            f"still {gap} below the {masks:.1f} of the pseudo masks it learns from, and no "
            f"longer learning: from step {late_from} to {step} it gained at most "
            f"{late_gain:.1f} points. This network (ResNet-18 from random weights, 64-pixel "
            "crops, a few hundred images) levels off well below its masks, so a longer "
            "schedule cannot bring it near them; the comparison below is at that level, not "
            "at the masks' quality."
        )
    else:
        verdict = (
            f"still far below (by {gap}) the {masks:.1f} of the pseudo masks it learns from, so "
            "the powered CE-vs-CGL comparison (several seeds of a schedule long enough to reach "
            "the masks' quality) was not run: a difference the size of the paper's "
            f"{paper_diff:+.1f} points between two networks this far from their targets would "
            f"measure how fast each learns, not which loss is better. The table above stays the "
            f"{recipe_iterations}-step recipe's."
        )
    text = (
        f"The longer schedule ({run_iterations} steps, {state}) reaches {values} on the quick "
        f"val evaluation (single scale, no flip) at step {step}: {verdict}"
    )
    if long_diff is not None:
        text += (
            f" At the end of the {run_iterations}-step schedule, CGL - CE on val (single scale "
            f"+ flip, mean of {seeds} training seed{'s' if seeds != 1 else ''}) is "
            f"{long_diff.text()} against the paper's {paper_diff:+.1f}"
            + (
                "; the interval covers image resampling only, not the seeds."
                if seeds < 2
                else "; the interval covers image resampling of the seed mean (the seed "
                "range is in the table)."
            )
        )
    return text
