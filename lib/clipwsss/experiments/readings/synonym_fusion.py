"""The readings of notebook 05 (synonym fusion, Table 8 and Table S2)."""

from __future__ import annotations

from collections.abc import Mapping

from clipwsss.experiments.intervals import Interval

# Where notebook 05 measures why its crane demo cannot work (scripts/toy_text_claims.py).
CRANE_FILES = "results/toy/synonym_cosines.csv and results/toy/crane_cooccurrence.csv"


def crane_text(
    *,
    name_to_bird: float,
    name_to_synonyms: float,
    name_to_tower: float,
    sentence_to_bird: float,
    sentence_to_tower: float,
    iou_name_only: float,
    iou_synonyms: float,
    toy: bool,
) -> str:
    """The crane sentences of the reading (the toy world's ambiguous class name).

    Args:
        name_to_bird, name_to_tower: cosine of "crane" alone to "bird" and "tower crane".
        name_to_synonyms: the lowest cosine of "crane" alone to its synonyms.
        sentence_to_bird, sentence_to_tower: the same for the fused synonym sentence.
        iou_name_only, iou_synonyms: crane IoU (%) of the initial CAMs without and with synonyms.
        toy: the toy profile, whose world cannot show the disambiguation by construction.
    """
    text = f"""The micro-CLIP already puts the bare name "crane" close to "bird"
({name_to_bird:.2f}) and far from "tower crane" ({name_to_tower:.2f}); the fused sentence
widens that margin ({sentence_to_bird:.2f} vs {sentence_to_tower:.2f}) and the crane IoU goes
{iou_name_only:.1f} → {iou_synonyms:.1f}."""
    if toy:
        text += f""" The crane disambiguation demo cannot work on the toy profile, by
construction: the toy world never draws a tower crane in a scene with the crane class, and the
micro-CLIP embeds "crane", "bird" and "wading bird" at cosine {name_to_synonyms:.2f} or more,
one point; the measurement is the cell under "What this demo cannot show" below
({CRANE_FILES})."""
    return text


def reading(
    *,
    name_only: float,
    synonyms: float,
    syn: Interval,
    person: tuple[float, float],
    gain: Mapping[str, float],
    crane: str,
    refined: Mapping[str, float],
    others: Mapping[str, Interval],
    spread: Mapping[str, float],
) -> str:
    """Notebook 05's reading.

    Args:
        name_only, synonyms: initial-CAM mIoU (%) without and with synonyms (sentence level).
        syn: synonyms minus name only (paired interval, mIoU points).
        person: person IoU (%) without and with synonyms.
        gain: class -> IoU difference synonyms minus name only (background excluded).
        crane: the crane sentences (:func:`crane_text`), or "" without the crane class.
        refined: fusion level -> CAA-refined mIoU (%), the sentence level first.
        others: each other level -> its difference from the first level (paired interval).
        spread: class -> largest minus smallest refined IoU over the levels.
    """
    best = max(gain, key=gain.get)
    worst = min(gain, key=gain.get)
    widest = max(spread, key=spread.get)
    levels = ", ".join(f"{lv} {v:.1f}" for lv, v in refined.items())
    return f"""
Synonyms change the toy initial-CAM mIoU from {name_only:.1f} to
{synonyms:.1f} % ({syn.text()}; paper person
43.6 → 51.6, here person {person[0]:.1f} → {person[1]:.1f}); per class the largest gain is
{best} ({gain[best]:+.1f}) and the largest loss {worst} ({gain[worst]:+.1f}). {crane}
The fusion levels give refined mIoU {levels} % (paper 70.8 / 70.8 / 70.6); against the
sentence level, the paper's choice:
{"; ".join(f"{lv} {o.text()}" for lv, o in others.items())}. Per
class the levels differ by up to {spread[widest]:.1f} points ({widest}), far more than
in the paper's Table S2.
"""


def cannot_disambiguate(
    *,
    scenes: int,
    with_distractor: int,
    with_class: int,
    with_both: int,
    synonym_cosine: float,
    tower_cosine: float,
    iou_name_only: float,
    iou_synonyms: float,
) -> str:
    """Why the toy world cannot show synonym disambiguation (measured, not assumed).

    Args:
        scenes: toy val scenes counted.
        with_distractor, with_class, with_both: scenes with a tower crane, with the crane class,
            with both.
        synonym_cosine: the lowest cosine of "crane" to "bird" and "wading bird".
        tower_cosine: the cosine of "crane" to "tower crane".
        iou_name_only, iou_synonyms: crane IoU (%) without and with synonyms.
    """
    rule = (
        "the world's rule (`clipwsss.toy.world`: a tower crane only where there is no crane) "
        "means no scored crane CAM ever has a tower crane to take"
        if with_both == 0
        else f"only {with_both} scored scenes have a tower crane beside a crane"
    )
    return f"""
**The toy world cannot show synonym disambiguation, by construction.** In {scenes} scenes of
the val generator the tower crane is drawn in {with_distractor} and the crane class is present
in {with_class}, but both in {with_both}: {rule}. And the micro-CLIP puts "crane" at cosine
{synonym_cosine:.2f} or more to "bird" and "wading bird" (prompt "a clean origami {{}}."), one
point, so the synonym sentence cannot change what "crane" means: it is {tower_cosine:.2f}
from "tower crane" with the name alone, already on the bird side. The crane IoU is therefore
the same with and without synonyms ({iou_name_only:.1f} → {iou_synonyms:.1f});
this notebook's crane row is no evidence for or against the paper's Table 8. A world that
could show it would draw tower cranes beside cranes and train a CLIP whose "crane" alone sits
between the bird and the machine."""
