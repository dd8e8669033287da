"""Readings of ``15_weakclip_overview``: the stored full toy recipe, the notebook's short run
beside it, and the closing paragraph (parameter counts, short run, full recipe, paper)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval


def span(iv: Interval) -> str:
    """E.g. "+16.1 (+10.3 to +20.0)"."""
    return f"{iv.value:+.1f} ({iv.low:+.1f} to {iv.high:+.1f})"


def direction(iv: Interval) -> str:
    """Where an interval of WeakCLIP minus CLIP-ES lies: "above", "below" or
    "indistinguishable from" (it includes zero)."""
    return "above" if iv.low > 0 else "below" if iv.high < 0 else "indistinguishable from"


def stored_recipe(diffs: Mapping[tuple[str, str], Interval]) -> str:
    """The stored full recipe's differences, read before the short run.

    Args:
        diffs: (split, run such as "WeakCLIP (seed 0)") -> WeakCLIP minus CLIP-ES dCRF.
    """
    listing = "; ".join(f"{split} images, {run}: {iv.text()}" for (split, run), iv in diffs.items())
    return (
        f"Stored full recipe, WeakCLIP minus the CLIP-ES dCRF labels it was trained on: {listing}."
    )


def short_vs_stored(short: Interval, stored_train: Sequence[Interval]) -> str:
    """Whether the short run lands on the side of CLIP-ES where the stored recipe does.

    Args:
        short: the short run's WeakCLIP minus CLIP-ES.
        stored_train: the stored recipe's differences on the train images, one per seed.
    """
    stored_dirs = {direction(iv) for iv in stored_train}
    agree = stored_dirs == {direction(short)}
    seeds = "every" if len(stored_dirs) == 1 else "depending on the"
    verdict = (
        "The short run agrees with the stored result."
        if agree
        else "**The short run shows the opposite of the stored result**: it is a few steps on "
        "a few images, and the stored table, not this run, is the measurement."
    )
    return (
        f"The short run puts WeakCLIP {direction(short)} CLIP-ES ({short.text()}); the stored "
        f"full recipe on the train images puts it {' / '.join(sorted(stored_dirs))} CLIP-ES "
        f"({seeds} training seed). {verdict}"
    )


def _counts_text(
    ours: Sequence[float], papers: Sequence[float], grads: Mapping[str, int], adapter_mult: float
) -> str:
    same = all(round(o, 1) == p for o, p in zip(ours, papers, strict=True))
    return (
        f"The faithful ViT-B/16 model has {ours[0]:.1f}M trainable of {ours[1]:.1f}M parameters "
        f"({ours[2]:.1f} %), {'equal to' if same else 'unlike'} the paper's {papers[0]:.1f}M / "
        f"{papers[1]:.1f}M ({papers[2]:.1f} %) at the paper's precision; of these only "
        f"{grads['receive a gradient'] / 1e6:.1f}M receive a gradient "
        f"({grads['dead co-attention layers']} co-attention layers get none: only the last layer "
        "of each stack is live) and "
        f"{grads['receive a gradient, base lr'] / 1e6:.1f}M learn at the base lr (the adapter "
        f"has lr multiplier {adapter_mult:g}), see `docs/weakclip.md`."
    )


def _listing(diffs: Mapping[str, Interval]) -> str:
    return " and ".join(f"{span(iv)} points for seed {s}" for s, iv in diffs.items())


def _full_text(
    train: Mapping[str, Interval], val: Mapping[str, Interval], iterations: int, old: bool
) -> str:
    tu = sum(iv.low > 0 for iv in train.values())
    td = sum(iv.high < 0 for iv in train.values())
    vu = sum(iv.low > 0 for iv in val.values())
    vd = sum(iv.high < 0 for iv in val.values())
    if tu == len(train):
        claim = (
            "bears out the paper's claim that WeakCLIP improves its seeds on the images it is "
            "trained on"
        )
    elif tu == 0:
        claim = "does not bear out the paper's claim that WeakCLIP improves its seeds"
    else:
        claim = "bears out the paper's claim only in some training seeds"
    numerics = (
        "were made with the previous CLIP-ES numerics, as the note printed above says"
        if old
        else "were made on the current CLIP-ES numerics"
    )
    first = (
        f"The full toy recipe's tables (the last table: {iterations} steps per training seed on "
        f"all toy train images) {numerics}; the recipe {claim}: on the train images WeakCLIP "
        f"minus the CLIP-ES labels of its seeds is {_listing(train)}; {tu} of {len(train)} "
        f"intervals lie above zero, {td} below."
    )
    if vu == 0 and vd == 0:
        val_text = "within the noise: every interval includes zero"
    else:
        val_text = (
            f"above zero in {vu} and below zero in {vd} of {len(val)} training seeds' intervals"
        )
    conclusion = (
        " so in the toy world WeakCLIP refines the seeds of its own training images "
        "rather than learning a segmenter that beats CLIP-ES on new images"
        if tu == len(train) and vu == 0
        else ""
    )
    second = f"On held-out toy val images the difference ({_listing(val)}) is {val_text},"
    return f"{first} {(second + conclusion + '.').replace(',.', '.')}"


def reading(
    *,
    short: Interval,
    steps: int,
    batch_size: int,
    seed: int,
    images: int,
    split: str,
    paper_pseudo: float,
    counts: Sequence[float] | None = None,
    paper_counts: Sequence[float] = (),
    grads: Mapping[str, int] | None = None,
    adapter_lr_mult: float = 0.0,
    full_train: Mapping[str, Interval] | None = None,
    full_val: Mapping[str, Interval] | None = None,
    full_iterations: int = 0,
    full_old: bool = False,
) -> str:
    """The notebook's closing paragraph.

    Args:
        short: the short run's WeakCLIP minus CLIP-ES dCRF (mIoU points).
        steps, batch_size, seed, images, split: the short run's settings.
        paper_pseudo: the paper's pseudo-mask mIoU (VOC train, MCTformer seeds).
        counts: the faithful ViT-B/16 model's trainable M, total M and trainable %; None when
            it was not counted (then ``paper_counts``, ``grads`` are unused).
        paper_counts: the paper's trainable M, total M and trainable %.
        grads: "receive a gradient", "receive a gradient, base lr" (parameters) and "dead
            co-attention layers" (layers) of that model.
        adapter_lr_mult: the adapter's learning-rate multiplier in that model.
        full_train, full_val: training seed -> WeakCLIP minus CLIP-ES dCRF of the stored full
            recipe on train and held-out val images; None when there is no stored table.
        full_iterations: steps per training seed of the stored recipe.
        full_old: the stored tables were made with the previous CLIP-ES numerics.
    """
    parts = []
    if counts is not None:
        parts.append(_counts_text(counts, paper_counts, grads or {}, adapter_lr_mult))
    side = {
        "above": "above the CLIP-ES labels it was trained on",
        "below": "below the CLIP-ES labels it was trained on",
    }.get(direction(short), "not distinguishable from the CLIP-ES labels it was trained on")
    parts.append(
        f"This notebook's short run ({steps} steps, batch {batch_size}, one training seed, "
        f"seed {seed}, on {images} {split} images, scored on the same images) puts WeakCLIP's "
        f"masks {side}: {span(short)} points (the 95% interval "
        f"{'excludes' if short.excludes_zero else 'includes'} zero)."
    )
    if full_train is not None:
        parts.append(_full_text(full_train, full_val or {}, full_iterations, full_old))
    parts.append(
        f"The paper's {paper_pseudo:.1f} % comes from MCTformer seeds on VOC and is not "
        "comparable with toy numbers."
    )
    return " ".join(parts)
