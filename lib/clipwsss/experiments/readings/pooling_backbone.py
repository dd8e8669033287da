"""The reading of notebook 03 (avg-token vs cls-token pooling, Table S1)."""

from __future__ import annotations

from collections.abc import Mapping

from clipwsss.experiments.intervals import Interval


def reading(
    *,
    profile: str,
    avg: Mapping[str, float] | None,
    cls: Mapping[str, float] | None,
    d_init: Interval | None,
    d_caa: Interval | None,
) -> str:
    """Notebook 03's reading.

    Args:
        profile: the profile's name.
        avg: "initial", "refined" mIoU (%) and "sharpness" of avg-token pooling; None when
            not run.
        cls: the same for the class token.
        d_init: avg minus cls, initial CAMs (paired interval, mIoU points).
        d_caa: avg minus cls after CAA.
    """
    if avg is None or cls is None or d_init is None or d_caa is None:
        return "Both poolings are needed for this reading (parameter `poolings`)."
    sharper = "sharper" if avg["sharpness"] > cls["sharpness"] else "flatter"
    return f"""
Avg-token pooling against the class token on the {profile} profile: initial CAMs
{avg["initial"]:.1f} vs {cls["initial"]:.1f} % ({d_init.text()}; paper 58.6 vs
43.8), after CAA {avg["refined"]:.1f} vs {cls["refined"]:.1f} % ({d_caa.text()}; paper 70.8
vs 62.4). This is not a fair replay of Table S1: the micro-CLIP
was trained with avg pooling, so its class token never served as the image embedding, whereas
OpenAI's ViT-B/16 was trained through it; and its window-pair training (README) taught the last
block's value path to carry class evidence, which both poolings read. Sharpness: here avg-token
pooling is {sharper} than the class token ({avg["sharpness"]:.3f} vs {cls["sharpness"]:.3f};
paper 0.004 vs 0.021, avg flatter). The RN50 row needs a real profile."""
