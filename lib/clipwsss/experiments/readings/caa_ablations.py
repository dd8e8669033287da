"""Reading of notebook 19 (CAA ablations: blocks averaged, Sinkhorn, symmetrisation, GradCAM
target block)."""

from __future__ import annotations

from collections.abc import Mapping

from clipwsss.experiments.intervals import Interval


def reading(
    *,
    profile: str,
    initial: float,
    refined: float,
    caa: Interval,
    paper_initial: float,
    paper_caa: float,
    default_layers: int,
    n_blocks: int,
    layers: Mapping[str, Interval],
    sinkhorn_off: Interval,
    symmetrise_off: Interval,
    both_off: Interval,
    gradcam_blocks: Mapping[str, Interval],
) -> str:
    """The paragraph of the ``## Reading``.

    Args:
        profile: the profile's name.
        initial, refined: official initial and CAA mIoU (%).
        caa: the official refined - initial difference.
        paper_initial, paper_caa: Table 2's two values.
        default_layers: blocks the official setting averages.
        n_blocks: blocks of the model.
        layers: "layers: last n" -> refined difference to the official setting, for every
            n other than ``default_layers`` (the best is the largest difference).
        sinkhorn_off, symmetrise_off, both_off: refined differences to the official setting.
        gradcam_blocks: "GradCAM at block b" -> initial difference to the official target.

    Returns:
        The paragraph (``nbk.reading`` joins its lines).
    """
    best = max(layers, key=lambda n: layers[n].value)
    every = f"layers: last {n_blocks}"
    all_blocks = (
        layers[every].text() if n_blocks != default_layers else "nothing (it is the default)"
    )
    early = ", ".join(f"{d.text()} ({n})" for n, d in gradcam_blocks.items())
    target = "the best" if all(d.value < 0 for d in gradcam_blocks.values()) else "not the best"
    return f"""
With the official switches the {profile} profile gives {initial:.1f}
% initial and {refined:.1f} % after CAA, a change of
{caa.text()} (paper, Table 2:
{paper_initial:.1f} and {paper_caa:.1f}). Averaging the
attention of other block ranges than the default last {default_layers}: the best ({best})
changes refined mIoU by {layers[best].text()}, and averaging all {n_blocks} blocks by
{all_blocks}.
Turning Sinkhorn off changes it by {sinkhorn_off.text()}, symmetrisation off by
{symmetrise_off.text()}, and both off by {both_off.text()}. Taking the GradCAM gradient at an
earlier block than the last one changes the initial CAMs by {early};
the official target, the input of the last block, is {target} of the {n_blocks} on this
profile. The paper reports none of these ablations, so there is no paper number to compare
them with."""
