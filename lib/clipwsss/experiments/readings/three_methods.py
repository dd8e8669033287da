"""Reading of notebook 17 (CLIP-ES, WeCLIP and WeakCLIP on the same toy images)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval


def _bracket(iv: Interval) -> str:
    return f"{iv.value:+.1f} [{iv.low:+.1f}, {iv.high:+.1f}]"


def side(per_seed: Sequence[Interval]) -> str:
    """Where the seeds' differences stand: "above", "below" or "level with" (only an interval
    that excludes zero is above or below), one word when the seeds agree, else per seed."""
    words = ["above" if d.low > 0 else "below" if d.high < 0 else "level with" for d in per_seed]
    if len(set(words)) == 1:
        return words[0]
    return " / ".join(f"{w} (seed {s})" for s, w in enumerate(words))


def relation(per_seed: Sequence[Interval]) -> str:
    """:func:`side` of CLIP-ES dCRF, with each seed's difference and interval."""
    return f"{side(per_seed)} CLIP-ES dCRF ({' and '.join(_bracket(d) for d in per_seed)} points)"


def reading(
    *,
    n_train: int,
    n_val: int,
    weakclip: Mapping[str, Sequence[Interval]],
    weclip: Mapping[str, Sequence[Interval]],
    papers: Mapping[str, float],
    deeplab: Interval,
    deeplab_images: str,
    methods_val_low: float,
    masks_val: float,
    deeplab_steps: int,
    ratio_toy: float,
    ratio_vitb16: float,
    old: Sequence[str],
) -> str:
    """The three methods against CLIP-ES dCRF, the toy DeepLab against its masks.

    Args:
        n_train, n_val: the toy images WeCLIP and WeakCLIP scored.
        weakclip, weclip: split ("train", "val") -> per seed, the method minus CLIP-ES dCRF.
        papers: the papers' values: "weakclip", "clip_es" (pseudo masks, VOC train),
            "weclip", "weclip_clip_es" (WeCLIP supplementary Table 1).
        deeplab: the toy DeepLab runs' lowest (low) and highest (value, high) mIoU on val:
            Interval(highest run, lowest run, highest interval end).
        deeplab_images: which val images the DeepLab scored ("the same 200").
        methods_val_low: the lowest interval end of WeCLIP's and WeakCLIP's own predictions.
        masks_val: the CLIP-ES masks' mIoU on val.
        deeplab_steps: the DeepLab's training steps.
        ratio_toy, ratio_vitb16: WeakCLIP's trainable parameters over WeCLIP's.
        old: results whose files say they predate the current CLIP-ES numerics.
    """
    dl_hi, dl_lo, dl_hi_ci = deeplab.value, deeplab.low, deeplab.high
    dl_vs = (
        "below the lowest interval of WeCLIP's and WeakCLIP's own predictions"
        if dl_hi_ci < methods_val_low
        else "overlapping WeCLIP's or WeakCLIP's own predictions"
    )
    masks_gap = (
        f"{masks_val - dl_hi:.1f} to {masks_val - dl_lo:.1f} points below"
        if dl_hi < masks_val
        else "not below"
    )
    numerics = (
        f"The result files of {', '.join(old)} say they were made with the previous CLIP-ES "
        "numerics (see the provenance table above)."
        if old
        else "All four result files are from the current CLIP-ES numerics (provenance table above)."
    )
    return (
        f"On the same {n_train} toy train images, as pseudo masks, WeakCLIP's are "
        f"{relation(weakclip['train'])} (its paper: {papers['weakclip']} against CLIP-ES "
        f"{papers['clip_es']} on VOC train, the papers' numbers) and WeCLIP's are "
        f"{relation(weclip['train'])} (its paper: {papers['weclip']} against "
        f"{papers['weclip_clip_es']}). On the {n_val} toy val images, WeakCLIP's own predictions "
        f"are {relation(weakclip['val'])} and WeCLIP's are {relation(weclip['val'])}; a "
        "difference is called above or below only where its 95% image-bootstrap interval "
        "excludes zero. The toy DeepLab trained on the CLIP-ES masks (CE and CGL, two seeds "
        f"each) reaches {dl_lo:.1f}-{dl_hi:.1f} on {deeplab_images} val images, {dl_vs}, and "
        f"{masks_gap} the CLIP-ES masks it learns from ({masks_val:.1f} on the {n_val} val "
        f"images): the random-init ResNet-18 of {deeplab_steps} steps is the weak link of "
        "CLIP-ES's toy stage two, so this ordering says more about the toy DeepLab than about "
        "the methods. WeakCLIP minus WeCLIP has no interval here (the tables hold no per-image "
        f"results of both), so it is not claimed. WeakCLIP trains {ratio_toy:.2f}x WeCLIP's "
        f"parameters on the micro-CLIP and {ratio_vitb16:.2f}x on ViT-B/16. {numerics}"
    )
