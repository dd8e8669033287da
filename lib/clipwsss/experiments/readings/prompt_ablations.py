"""Readings of notebook 18 (prompt ablations: ensembling, a customised class prompt, the
background set)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval


def reading(
    *,
    profile: str,
    ensemble: Interval,
    sharpness_ensemble: float,
    sharpness_official: float,
    customised: Interval,
    alternative: Interval,
    person_iou: float,
    no_background: Interval,
    paper_no_background: float,
    background_sizes: Sequence[int],
    subsets: Sequence[Interval],
    n_background: int,
    voc: Interval,
    unrelated: Interval,
) -> str:
    """The paragraph of the ``## Reading``.

    Args:
        profile: the profile's name.
        ensemble: initial mIoU of the 80-template ensemble - the one prompt.
        sharpness_ensemble, sharpness_official: Eq. 5 of the two.
        customised, alternative: person IoU of the two customised sentences - the official.
        person_iou: person IoU (%) with the official sentence.
        no_background: initial mIoU without background words - with the profile's set.
        paper_no_background: the same difference in the paper (Table 6).
        background_sizes: the sizes of the nested subsets, and ``subsets`` their differences.
        n_background: words of the profile's full set.
        voc, unrelated: VOC's official set and the unrelated words - the profile's set.

    Returns:
        The paragraph (``nbk.reading`` joins its lines).
    """
    borne = (
        "borne out"
        if ensemble.high < 0 and sharpness_ensemble > sharpness_official
        else "not borne out"
    )
    changes = (
        "changes"
        if customised.excludes_zero or alternative.excludes_zero
        else "does not measurably change"
    )
    content = (
        "Unrelated words do as well as the class-related set here: on this profile the gain of"
        " a background set does not need class-related words."
        if not unrelated.high < 0
        else "Unrelated words do worse than the class-related set: their content matters."
    )
    return f"""
Ensembling the 80 ImageNet templates changes initial mIoU by {ensemble.text()} against the
single prompt, with sharpness {sharpness_ensemble:.4f} against {sharpness_official:.4f}: the
paper's conjecture (an ensemble sharpens scores and hurts) is {borne} on the {profile} profile.
The toy analogue of "person with clothes" changes the person IoU by {customised.text()} and our
wording by {alternative.text()} (person IoU {person_iou:.1f} % with the official sentence);
on the toy world, whose persons have a constant face and clothes of varying colour that the
captions name, a customised sentence therefore {changes} that class.
Without background words (every class in the softmax, Table 6's starred row) mIoU changes by
{no_background.text()} (paper: {paper_no_background:+.1f}); the nested subsets of
{", ".join(map(str, background_sizes))} words change it by
{", ".join(s.text() for s in subsets)} against the full set of {n_background}, VOC's official
set by {voc.text()}, and the unrelated words by {unrelated.text()}.
{content}"""


def background_words_reading(
    differences: Mapping[str, Interval], cosine_low: float, cosine_high: float, hub: str
) -> str:
    """The reading of the per-class background-word view (toy profile).

    Args:
        differences: class -> IoU of the class-related set - the unrelated set (points).
        cosine_low, cosine_high: the range of each unrelated word's cosine to its nearest toy
            background word.
        hub: the background word most unrelated words are nearest to.

    Returns:
        The paragraph (``nbk.reading`` joins its lines).
    """
    real = {c: d for c, d in differences.items() if d.excludes_zero}
    wins = [f"{c} ({d.value:+.1f})" for c, d in real.items() if d.value > 0]
    losses = [f"{c} ({d.value:+.1f})" for c, d in real.items() if d.value < 0]
    return f"""
Per class, the class-related set beats the unrelated words on {", ".join(wins) or "no class"}
and loses on {", ".join(losses) or "no class"} (points, intervals excluding zero); every other
class is within the image noise. Each unrelated word sits at cosine
{cosine_low:.2f}-{cosine_high:.2f} to one toy background word,
"{hub}", and so do the caption words that name no background: the micro-CLIP embeds any prompt
that names no object class as one generic background text. On the toy world "unrelated" words
are therefore not unrelated to the model, and this notebook cannot test whether CLIP-ES's
background set must be class-related (supp. G); it shows only that background texts in the
softmax help."""
