"""The reading of notebook 01 (the three stages of CLIP-ES against Table 2)."""

from __future__ import annotations

from clipwsss.experiments.intervals import Interval


def reading(
    *,
    profile: str,
    n_images: int,
    stages: dict[str, float],
    caa: Interval,
    crf: Interval,
    helped: tuple[str, float, float],
    hurt: tuple[str, float, float],
    kept: float,
    threshold: float,
    k_on_gt: str,
    bg_exponent: float,
) -> str:
    """Notebook 01's reading.

    Args:
        profile: the profile's name.
        n_images: images scored.
        stages: mIoU (%) of "all background", "largest class everywhere", "ceiling",
            "initial CAM", "+ CAA", "+ CAA + dCRF", "pseudo-mask" and "initial CAM, k on GT".
        caa: the paired interval of + CAA minus the initial CAMs (mIoU points).
        crf: the paired interval of + dCRF minus + CAA.
        helped: (class, IoU before, IoU after CAA) of the class CAA helps most.
        hurt: the same for the class CAA hurts most.
        kept: percentage of pixels the pseudo-masks keep.
        threshold: the confidence threshold mu.
        k_on_gt: the background power chosen on the ground truth, as text ("k = 3").
        bg_exponent: the fixed background power.
    """
    s = stages
    up, up_before, up_after = helped
    down, down_before, down_after = hurt
    return f"""
On the {profile} profile ({n_images} images) the three stages run end to end and every
stage is far above the baselines that do not localise (all background
{s["all background"]:.1f} %, largest class {s["largest class everywhere"]:.1f} %),
though below the paper and well below the {s["ceiling"]:.1f} % that a perfect
patch-resolution label map reaches: initial CAMs {s["initial CAM"]:.1f} % (paper 58.6),
+ CAA {s["+ CAA"]:.1f} % (paper 70.8), + dCRF {s["+ CAA + dCRF"]:.1f} % (paper
75.0), and the pseudo-masks {s["pseudo-mask"]:.1f} % on the {kept:.1f} % of pixels they keep at
μ = {threshold:g}. CAA changes the mIoU by {caa.text()}
{"(the paper gains 12.2)" if caa.value < 0 else ""}: it helps {up}
({up_before:.1f} → {up_after:.1f}) and hurts {down}
({down_before:.1f} → {down_after:.1f}); notebook 10
shows how much of that is the official box mask. The dense CRF adds {crf.text()} after CAA
(paper +4.2). The oracle rows show how much the official evaluation's
ground-truth-chosen background power flatters the initial CAMs:
{s["initial CAM, k on GT"]:.1f} % with {k_on_gt} chosen on the labels against
{s["initial CAM"]:.1f} % at the fixed k = {bg_exponent:g}.
"""
