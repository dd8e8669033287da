"""The reading of notebook 04 (sharpness-based prompt selection, Eq. 5 and Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping

from clipwsss.experiments.intervals import Interval


def correlation_verdict(r: Interval, rho: Interval, *, significant: bool) -> str:
    """How the reading words the two correlations: real only when an interval excludes zero.

    Args:
        r: Pearson r with its image-bootstrap interval.
        rho: Spearman rho with its interval.
        significant: whether a p-value over the prompts alone is below 0.05.
    """
    sign = "positively" if r.value > 0 else "negatively"
    if r.excludes_zero and rho.excludes_zero and (r.value > 0) == (rho.value > 0):
        return (
            f"*{sign}* correlated, and the correlation is real: both intervals exclude zero "
            f"({'the opposite of' if r.value > 0 else 'as'} Fig. 3's roughly negative "
            "correlation)"
        )
    if r.excludes_zero or rho.excludes_zero:
        return (
            "correlated by one measure only (one interval excludes zero, the other does "
            "not), so the sign is not established"
        )
    return (
        "not shown to be correlated: both intervals include zero, so a correlation of "
        "either sign is within the image noise"
        + (
            ", although the p-values over the prompts alone would call it significant"
            if significant
            else ""
        )
    )


def _p(v: float) -> str:
    return "p < 0.01" if v < 0.01 else f"p = {v:.2f}"


def _corr(name: str, iv_: Interval) -> str:
    return f"{name} {iv_.value:.2f} (95% image-bootstrap interval {iv_.low:.2f} to {iv_.high:.2f})"


def _diff(d: Interval | None) -> str:
    return "none (the same prompt)" if d is None else d.text()


def reading(
    *,
    profile: str,
    n_prompts: int,
    r: Interval,
    rho: Interval,
    pearson_p: float,
    spearman_p: float,
    least: Mapping[str, object],
    best: Mapping[str, object],
    worst: Mapping[str, object],
    best_vs_worst: Interval | None,
    best_vs_adopted: Interval | None,
    least_vs_adopted: Interval | None,
    rank_sharp: int,
    rank_miou: int,
    adopted_miou: float,
    adopted_sharpness: float,
    paper_sharpness: float,
) -> str:
    """Notebook 04's reading.

    Args:
        profile: the profile's name.
        n_prompts: prompts scored.
        r, rho: Pearson and Spearman correlation of sharpness and mIoU over the prompts,
            with their image-bootstrap intervals.
        pearson_p, spearman_p: their p-values over the prompts.
        least, best, worst: "prompt" and "mIoU" of the least sharp, best and worst prompt.
        best_vs_worst, best_vs_adopted, least_vs_adopted: paired differences (mIoU points);
            None where the two are the same prompt.
        rank_sharp, rank_miou: ranks of the adopted prompt (1 = least sharp, best mIoU).
        adopted_miou, adopted_sharpness: the adopted prompt's values.
        paper_sharpness: Table S1's sharpness of the adopted prompt.
    """
    verdict = correlation_verdict(r, rho, significant=pearson_p < 0.05 or spearman_p < 0.05)
    toy = profile == "toy"
    return f"""
Over {n_prompts} prompts on the {profile} profile, sharpness and initial-CAM mIoU have
{_corr("Pearson", r)} and {_corr("Spearman", rho)}
(over the prompts: Pearson {_p(pearson_p)}, Spearman {_p(spearman_p)}), so they are
{verdict}. Choosing the least sharp prompt
would pick "{least["prompt"]}" ({least["mIoU"]:.1f} %). The mIoU spread between prompts is
{worst["mIoU"]:.1f} % ("{worst["prompt"]}") to {best["mIoU"]:.1f} %
("{best["prompt"]}"), a difference of {_diff(best_vs_worst)}; the best prompt against the
adopted one: {_diff(best_vs_adopted)}; the least sharp prompt against the adopted one:
{_diff(least_vs_adopted)}. "a clean origami {{}}." ranks {rank_sharp} of {n_prompts} by
sharpness and {rank_miou} of {n_prompts} by mIoU ({adopted_miou:.1f} %). The
sharpness of the adopted prompt here ({adopted_sharpness:.3f}) is
{adopted_sharpness / paper_sharpness:.0f} times the paper's {paper_sharpness:g}{
        ": the micro-CLIP puts most of an image's score on one of its classes" if toy else ""
    }.
The intervals are the noise of the images the prompts were scored on, not of which prompts
were drawn or of training; sharpness is a property of how a model spreads its scores, so
{
        "a 2M-parameter model (seed 0) on toy scenes says nothing about ViT-B/16 on VOC: run this "
        "notebook on `voc12` for that"
        if toy
        else f"this holds for the {profile} model and these prompts only"
    }.
"""
