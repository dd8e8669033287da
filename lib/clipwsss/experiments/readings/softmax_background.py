"""The readings of notebook 02 (Softmax-GradCAM and the background set, Table 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval

NO_SOFTMAX_CLASSES = "no softmax, classes only"
NO_SOFTMAX_BG = "no softmax, + bg set"
SOFTMAX_CLASSES = "softmax, classes only"
SOFTMAX_BG = "softmax + bg set"


def reading(
    *,
    n_background: int,
    miou: Mapping[str, float],
    iou: Mapping[str, Mapping[str, float]],
    detail: Sequence[str],
    bg: Interval,
    plain: Interval,
    middle: Interval,
) -> str:
    """Notebook 02's reading.

    Args:
        n_background: background words in the softmax.
        miou: variant -> initial-CAM mIoU (%), for the four variants of Table 6.
        iou: variant -> class -> IoU (%) (a DataFrame with variant columns will do).
        detail: the classes drawn on a usual background.
        bg: softmax + bg set minus softmax, classes only (paired interval, mIoU points).
        plain: softmax + bg set minus no softmax, classes only.
        middle: softmax, classes only minus no softmax, classes only.
    """
    m = miou

    def arrow(cls: str, a: str, b: str) -> str:
        return f"{cls} {iou[a][cls]:.1f} → {iou[b][cls]:.1f}"

    same_nosoftmax = abs(m[NO_SOFTMAX_BG] - m[NO_SOFTMAX_CLASSES]) < 1e-9
    return f"""
With softmax, the {n_background} background words change the initial-CAM mIoU
from {m[SOFTMAX_CLASSES]:.1f} to {m[SOFTMAX_BG]:.1f} % ({bg.text()}), and the IoU of the
classes drawn on a usual background:
{", ".join(arrow(c, SOFTMAX_CLASSES, SOFTMAX_BG) for c in detail)}. Without
softmax they change {"nothing, exactly" if same_nosoftmax else "the mIoU"}
({m[NO_SOFTMAX_CLASSES]:.1f} vs {m[NO_SOFTMAX_BG]:.1f} %), as the paper's 49.4
twice (their logits do not enter a class's own score). Boat, the paper's showcase (24.1 → 46.9
from plain GradCAM to softmax + background set), goes
{arrow("boat", NO_SOFTMAX_BG, SOFTMAX_BG)[5:]} here. The middle row of Table 6, a
softmax over the dataset classes alone, changes mIoU by {middle.text()} (paper 49.4 → 53.3),
worst for train ({arrow("train", NO_SOFTMAX_CLASSES, SOFTMAX_CLASSES)}; we have not looked
into why). Softmax + background set against plain GradCAM: {plain.text()} (paper 58.6 vs
49.4).
"""


def class_related_words(
    *,
    related_vs_unrelated: Mapping[str, Interval],
    caption_vs_classes: Mapping[str, Interval],
    boat_gain: Interval,
    hub: str,
    unrelated_cosines: tuple[float, float],
    caption_words: Sequence[str],
    caption_min: float,
) -> str:
    """What the toy shows about *class-related* background words (the per-class view).

    Args:
        related_vs_unrelated: class -> class-related set minus unrelated set (IoU points),
            for the classes the world was built to need background words.
        caption_vs_classes: class -> caption words minus classes only, same classes.
        boat_gain: boat's class-related set minus classes only.
        hub: the background word every unrelated word lands next to.
        unrelated_cosines: (lowest, highest) cosine of an unrelated word to ``hub``.
        caption_words: the caption words that name no background.
        caption_min: their lowest cosine to ``hub``.
    """
    low, high = unrelated_cosines
    return f"""
**What the toy shows about class-related background words.** Per class, the unrelated words
give the same gain over "classes only" as the class-related set, and on the classes the world
was built to need background words they do at least as well: class-related minus unrelated is
{"; ".join(f"{c} {d.text()}" for c, d in related_vs_unrelated.items())}. The
reason is the micro-CLIP, not CLIP-ES: every unrelated word lands next to one background word,
"{hub}" (cosine {low:.2f}-{high:.2f}; "{hub}"
is itself at 0.5-0.9 to every toy background word), and so do the caption words that name no
background ({", ".join(f'"{w}"' for w in caption_words)}: {caption_min:.2f} or
more to "{hub}"). To this model any prompt
that names no object class is a generic background text, and that text gives the gain
(caption words minus classes only:
{"; ".join(f"{c} {d.text()}" for c, d in caption_vs_classes.items())}). So
the toy shows that background texts competing in the softmax suppress the co-occurring stuff
(Eq. 3-4); it cannot show that the words must be *class-related*, and the boat gain above
({boat_gain.text()}) is not evidence for class-related
words. We have not measured why the unrelated words do better than the class-related set on
aeroplane and boat."""
