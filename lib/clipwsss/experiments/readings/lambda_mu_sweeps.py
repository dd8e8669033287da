"""The reading of ``07_lambda_mu_sweeps``: the box threshold λ, the confidence histogram of the
CRF posteriors (Table S3) and the pseudo masks per μ. It takes values, not the sweep's tables,
so it holds for any λ and μ a batch run chooses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clipwsss.experiments.intervals import Interval


@dataclass(frozen=True)
class ConfidenceBin:
    """One bin of Table S3: our share of the pixels (%) with its 95% interval, the paper's."""

    name: str
    share: float
    low: float
    high: float
    paper: float

    @property
    def paper_inside(self) -> bool:
        return self.low <= self.paper <= self.high


def s3_verdict(bins: Sequence[ConfidenceBin]) -> str:
    """Where the paper's shares fall against our intervals, in words."""
    inside = [b.name for b in bins if b.paper_inside]
    if len(inside) == len(bins):
        return "the paper's share lies inside our 95% interval in every bin"
    if inside:
        return f"the paper's share lies inside our 95% interval only in {', '.join(inside)}"
    return "the paper's share lies outside our 95% interval in every bin"


def reading(
    *,
    model: str,
    best_lambda: float,
    best_miou: float,
    profile_lambda: float,
    profile_miou: float,
    zero_miou: float,
    best_vs_profile: Interval,
    profile_vs_zero: Interval,
    zero_vs_mhsa: Interval,
    bins: Sequence[ConfidenceBin],
    mu_low: float,
    mu_high: float,
    ignored_high: float,
    miou_mu_low: float,
    miou_mu_high: float,
    mu_gain: Interval,
) -> str:
    """The ``## Reading`` paragraph.

    Args:
        model: the model in words ("the micro-CLIP (seed 0, ...) on the toy world").
        best_lambda, best_miou: the sweep's best λ and its CAA mIoU (%).
        profile_lambda, profile_miou: the profile's λ and its CAA mIoU (%).
        zero_miou: the CAA mIoU at λ = 0 (%).
        best_vs_profile, profile_vs_zero, zero_vs_mhsa: paired differences (best λ - profile
            λ, profile λ - λ 0, λ 0 - MHSA).
        bins: Table S3's three bins.
        mu_low, mu_high: the lowest and highest μ of the sweep.
        ignored_high: % of the pixels ignored at ``mu_high``.
        miou_mu_low, miou_mu_high: the kept-pixel mIoU (%) at both.
        mu_gain: the paired difference of the kept-pixel mIoU, highest minus lowest μ.
    """
    s3_text = "; ".join(
        f"{b.name} {b.share:.2f} % (interval {b.low:.2f} to {b.high:.2f}; paper {b.paper:.2f})"
        for b in bins
    )
    near = "yet it is not MHSA here" if zero_vs_mhsa.excludes_zero else "and it is as good as MHSA"
    near += "" if zero_vs_mhsa.excludes_zero else " here"
    return f"""
These are measurements of {model}; nothing below is a claim about micro-CLIPs or CLIP in
general. Of the λ swept, the CAA mIoU peaks at λ = {best_lambda:g} ({best_miou:.1f} %); the
profile's λ = {profile_lambda:g} (the paper's VOC value) gives {profile_miou:.1f} % (best − profile
{best_vs_profile.text()}), and λ = 0 gives {zero_miou:.1f} % (profile − λ 0:
{profile_vs_zero.text()}). λ = 0 boxes every positive pixel, {near}: λ 0 − MHSA
{zero_vs_mhsa.text()}. The confidence histogram of this model's CRF posteriors: {s3_text};
{s3_verdict(bins)}. That is one model on one world: whether the histogram comes from the
dense CRF or from this model is not tested here (it would need a second model, and the toy
seed-1 weights are not shipped). Raising μ from {mu_low:g} to {mu_high:g} ignores
{ignored_high:.1f} % of the pixels and changes the kept-pixel mIoU from {miou_mu_low:.1f} to
{miou_mu_high:.1f} % ({mu_gain.text()}); this is pseudo-mask quality, not Table S3's DeepLab
result (notebook 12 trains DeepLab on toy masks).
"""
