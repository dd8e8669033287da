"""The reading of ``08_crf_pseudo_masks``: what the dense CRF changes, what the pseudo masks
keep and ignore, and the official confidence against Eq. 8."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clipwsss.experiments.intervals import Interval


@dataclass(frozen=True)
class CrfChanges:
    """Shares (%) of :func:`clipwsss.experiments.diagnostics.crf_changes` as intervals."""

    changed: Interval  # labelled pixels whose label the CRF changes
    fixed: Interval  # changed pixels it fixes
    broken: Interval  # changed pixels it breaks
    to_background: Interval  # changed pixels it turns into background
    net: Interval  # fixed - broken


@dataclass(frozen=True)
class MaskSide:
    """What the pseudo masks keep and ignore, against the exact ground truth (%)."""

    wrong_kept: Interval  # wrong pixels with confidence >= mu
    ignored_correct: Interval  # ignored pixels whose CRF label was right
    top_bin: str  # the highest confidence bin
    top_share: float  # its share of the pixels
    top_accuracy: float  # the accuracy of its CRF labels
    n_over: int  # bins whose accuracy lies below their lower edge
    n_bins: int
    worst_class: str  # the class with the largest ignored share
    worst_ignored: float


def gain_comparison(gain: Interval, paper_gain: float) -> str:
    """The CRF's gain against the paper's, in words."""
    if not gain.excludes_zero:
        return "so the CRF step is not shown to help"
    if gain.low > paper_gain or gain.high < paper_gain:
        more = "more" if gain.low > paper_gain else "less"
        return f"{more} than the paper's +{paper_gain:.1f} on VOC (outside our interval)"
    return f"as the paper's +{paper_gain:.1f} on VOC (inside our interval)"


def reading(
    *,
    model: str,
    seed: Interval,
    crf: Interval,
    gain: Interval,
    paper: Mapping[str, float],
    changes: CrfChanges,
    masks: MaskSide,
    threshold: float,
    ignored: Mapping[str, float],
    miou_paper: float,
    low_mu: float,
    ignored_paper_low_mu: float,
) -> str:
    """The ``## Reading`` paragraph.

    Args:
        model: the model in words.
        seed, crf: mIoU (%) of the seed (initial + CAA) and of seed + dCRF, with intervals.
        gain: seed + dCRF - seed, paired.
        paper: Table 1's "seed" and "dcrf" (%).
        changes: what the CRF changes, pixel by pixel.
        masks: what the masks keep and ignore.
        threshold: μ.
        ignored: % of the pixels ignored at μ, by confidence ("official", "paper").
        miou_paper: the kept-pixel mIoU with Eq. 8 at μ (%).
        low_mu: the lowest μ of the comparison.
        ignored_paper_low_mu: % ignored by Eq. 8 at ``low_mu``.
    """
    c, m = changes, masks
    paper_gain = paper["dcrf"] - paper["seed"]
    seed_below = "below" if seed.high < paper["seed"] else "not below"
    crf_below = "below" if crf.high < paper["dcrf"] else "not below"
    if c.net.low > 0:
        balance = "more pixels than it breaks"
    elif c.net.high < 0:
        balance = "fewer pixels than it breaks"
    else:
        balance = "about as many pixels as it breaks"
    to_bg = c.to_background
    bg_part = "most" if to_bg.low > 50 else ("a minority" if to_bg.high < 50 else "about half")
    over = "over-confident" if m.n_over > m.n_bins / 2 else "not mostly over-confident"
    strict = ignored["paper"] > 50
    usable = (
        f"the official max-posterior confidence, not Eq. 8 as written, is what makes "
        f"μ = {threshold:g} usable"
        if strict
        else f"either confidence leaves a usable mask at μ = {threshold:g}"
    )
    return f"""
For {model}, the dense CRF moves the seed from {seed.value:.1f} to {crf.value:.1f} % mIoU, a gain
of {gain.text()}, {gain_comparison(gain, paper_gain)}; our seed is {seed_below} the paper's
{paper["seed"]:.1f} and our seed + dCRF {crf_below} its {paper["dcrf"]:.1f} (VOC train). The CRF
changes the label of {c.changed.value:.1f} % of the labelled pixels (95% interval
{c.changed.low:.1f} to {c.changed.high:.1f}); of those, it fixes {c.fixed.value:.1f} % (interval
{c.fixed.low:.1f} to {c.fixed.high:.1f}) and breaks {c.broken.value:.1f} % (interval
{c.broken.low:.1f} to {c.broken.high:.1f}), so it fixes {balance} (fixed − broken
{c.net.text()}), and it turns {to_bg.value:.1f} % of the changed pixels into background
({bg_part} of them). Masking at μ = {threshold:g} ignores {ignored["official"]:.1f} % of the
pixels. The mask does not remove every wrong pixel: of the labelled pixels whose CRF label is
wrong, {m.wrong_kept.value:.1f} % keep a confidence ≥ μ and stay in the mask (95% interval
{m.wrong_kept.low:.1f} to {m.wrong_kept.high:.1f}), and the pixels in the top bin
({m.top_bin}, {m.top_share:.1f} % of all) are still only {m.top_accuracy:.1f} % right, so the
confidence removes hesitant pixels, not every wrong one. The confidence is {over} against the
exact ground truth: in {m.n_over} of the {m.n_bins} confidence bins the accuracy lies below the
bin's lower edge. Of the ignored pixels, {m.ignored_correct.value:.1f} % had the right label
(interval {m.ignored_correct.low:.1f} to {m.ignored_correct.high:.1f}); the class with the
largest ignored share is {m.worst_class} ({m.worst_ignored:.1f} %). The confidence definition
matters: Eq. 8 on the CAMs at μ = {threshold:g} would ignore {ignored["paper"]:.1f} % of the
pixels against {ignored["official"]:.1f} % for the official confidence, which puts the
kept-pixel mIoU at {miou_paper:.1f} % but leaves {"little" if strict else "more"} to train on
(at μ = {low_mu:g} it still ignores {ignored_paper_low_mu:.1f} %), so {usable}.
These are measurements of one model on one set of images; the intervals are the noise of the
images, not of training.
"""
