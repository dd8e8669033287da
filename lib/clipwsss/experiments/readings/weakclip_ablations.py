"""Reading of ``16_weakclip_ablations``: the toy ablation of WeakCLIP (prompts, gamma/beta init,
faithful vs corrected, components off) against its default, how finely the toy intervals
resolve the paper's differences, and where the variants stand against the CLIP-ES labels they
learn from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval


def span(iv: Interval) -> str:
    """E.g. "-2.9 (-7.2 to +0.7)"."""
    return f"{iv.value:+.1f} ({iv.low:+.1f} to {iv.high:+.1f})"


def resolution(diffs: Mapping[str, Interval], paper: Mapping[str, float], label: str) -> str:
    """How the widths of the toy intervals of one ablation compare with the paper's
    differences from its default.

    Args:
        diffs: variant -> ours minus default, the variants of one ablation (e.g. N 2, 4, 16).
        paper: variant -> the paper's minus default, the same variants.
        label: the ablation's name in the sentence ("N", "the init").
    """
    paper_max = round(max(abs(paper[v]) for v in diffs), 1)
    widths = [round(iv.high - iv.low, 1) for iv in diffs.values()]
    if min(widths) > 2 * paper_max:
        how = "several times the paper's differences, which the toy world cannot resolve"
    elif min(widths) >= paper_max:
        how = "about the size of the paper's differences, which would barely show"
    else:
        how = "narrower than the paper's differences, which would show"
    return (
        f"for {label} the toy intervals are {min(widths):.1f} to {max(widths):.1f} points wide "
        f"against the paper's differences of at most {paper_max:.1f} points from its default: "
        f"{how}"
    )


def _versus(iv: Interval) -> str:
    return (
        "better than" if iv.low > 0 else "worse than" if iv.high < 0 else "not distinguishable from"
    )


def _full_text(full_train: Sequence[Interval], iterations: int, same: bool, below: bool) -> str:
    n_up = sum(iv.low > 0 for iv in full_train)
    n_down = sum(iv.high < 0 for iv in full_train)
    n = len(full_train)
    if n_up == n:
        tail = (
            ", consistent with the shortfall here being one of training budget rather than of "
            "the model"
            if below
            else ""
        )
        side = f"above its CLIP-ES labels in every one of its {n} training seeds (each interval "
        side += f"excludes zero){tail}"
    elif n_down == n:
        side = f"below its CLIP-ES labels too, in every one of its {n} training seeds"
    else:
        side = (
            f"above its CLIP-ES labels with an interval excluding zero in {n_up} of its {n} "
            f"training seeds (below in {n_down})"
        )
    return (
        f" The full toy recipe ({iterations} steps on all toy train images, `weakclip_toy.csv`, "
        f"notebook 15; made with {'the same' if same else 'other'} CLIP-ES numerics) is {side}."
    )


COMPONENTS = {
    "no adapter": "the adapter",
    "no co-attention": "the co-attention",
    "no boundary loss": "the boundary loss",
}


def components(variants: Mapping[str, Interval], adapter_lr_mult: float) -> str:
    """The component rows (:data:`COMPONENTS`) against the default; "" when the table has
    none.

    Args:
        variants: variant -> ours minus the default, with its paired 95% interval.
        adapter_lr_mult: the default's adapter learning-rate multiplier (0: never trained).
    """
    found = [(row, what) for row, what in COMPONENTS.items() if row in variants]
    if not found:
        return ""
    parts = [
        f"without {what} the model is {_versus(variants[row])} the default, "
        f"{span(variants[row])} points"
        for row, what in found
    ]
    text = f"Switching one component off: {'; '.join(parts)}."
    if "no adapter" in variants and adapter_lr_mult == 0:
        text += (
            " The faithful default never trains its adapter (lr multiplier 0), so the adapter "
            "row compares the adapter's random initial layers with a plain resize of the "
            "frozen maps, not a trained adapter with none."
        )
    return text


def no_table(profile: str) -> str:
    """The reading of a profile without a toy ablation table."""
    return (
        f"No toy ablation table for profile {profile}: only the parameter counts above are "
        "computed here. Train the variants with the CLI (`--n-prompts`, `--residual-init`, "
        "`--corrected`, `--no-adapter`, `--no-coattention`, `--no-boundary-loss`) to compare "
        "them with the paper's numbers."
    )


def reading(
    *,
    variants: Mapping[str, Interval],
    paper: Mapping[str, float],
    ours: Mapping[str, float],
    labels_miou: float,
    labels: Interval,
    n_prompts: int,
    residual_init: float,
    train_seed: int,
    iterations: int,
    images: int,
    old_numerics: bool,
    full_train: Sequence[Interval] | None = None,
    full_iterations: int = 0,
    full_old: bool = False,
    adapter_lr_mult: float = 0.0,
) -> str:
    """The notebook's reading of its ablation table.

    Args:
        variants: variant ("N 2", "init 1", "corrected", ...) -> ours minus the default, with
            its paired 95% interval (the default and the CLIP-ES row left out).
        paper: variant -> the paper's minus its default (NaN where the paper has no row).
        ours: run -> our mIoU, the default and every variant.
        labels_miou, labels: the CLIP-ES labels' mIoU and their difference to the default.
        n_prompts, residual_init: the default's N and gamma/beta init.
        train_seed, iterations, images: the ablation's training seed, steps and images.
        old_numerics: the ablation was made with the previous CLIP-ES numerics.
        full_train: the stored full recipe's WeakCLIP minus CLIP-ES on its train images, one
            per training seed; None when there is no such table.
        full_iterations, full_old: its steps per seed and whether its numerics are old.
        adapter_lr_mult: the default's adapter learning-rate multiplier (for the component
            rows, :func:`components`).
    """
    found = [
        f"{name} {'above' if iv.low > 0 else 'below'} it, {span(iv)}"
        for name, iv in variants.items()
        if iv.excludes_zero
    ]
    default = f"(N = {n_prompts}, init {residual_init:g})"
    if found:
        verdict = (
            f"{len(found)} of {len(variants)} toy variants differ from the default {default} "
            f"with a 95% interval that excludes zero ({'; '.join(found)}); the other intervals "
            "include zero"
        )
    else:
        verdict = (
            f"For every one of the {len(variants)} toy variants, the difference from the "
            f"default {default} has a 95% interval that includes zero, so the toy world "
            "neither confirms nor contradicts the paper's choice of this default"
        )
    by_n = {v: iv for v, iv in variants.items() if v.startswith("N ")}
    by_init = {v: iv for v, iv in variants.items() if v.startswith("init")}
    resolve = f"{resolution(by_n, paper, 'N')}; {resolution(by_init, paper, 'the init')}"
    init_text = f"all within {max(abs(iv.value) for iv in by_init.values()):.1f} points of the " + (
        "default, though some of these small differences exclude zero"
        if any(iv.excludes_zero for iv in by_init.values())
        else "default"
    )
    corr = variants["corrected"]
    below = all(v < labels_miou for v in ours.values())
    above = all(v > labels_miou for v in ours.values())
    where = (
        "All variants stay below"
        if below
        else "All variants are above"
        if above
        else "Some variants are above and some below"
    )
    under = (
        f"{where} the CLIP-ES labels of their seeds at this budget: the labels score "
        f"{span(labels)} points against the default, an interval that "
        f"{'excludes' if labels.excludes_zero else 'includes'} zero."
    )
    full_text = (
        _full_text(full_train, full_iterations, full_old == old_numerics, below)
        if full_train is not None
        else ""
    )
    comp = components(variants, adapter_lr_mult)
    parts_text = f"{comp} " if comp else ""
    numerics = (
        "made with the previous CLIP-ES numerics (the note printed at the top, first line of "
        "ablations/summary.md), so its seeds differ slightly from the current code's"
        if old_numerics
        else "made on the current CLIP-ES numerics"
    )
    return (
        f"The toy ablation (each variant trained once, training seed {train_seed}, {iterations} "
        f"steps on the first {images} toy train images) was {numerics}. {verdict}. Resolution: "
        f"{resolve}. The gamma/beta init barely matters here ({init_text}), and the corrected "
        "model (live co-attention layers, trained adapter, single class embedding) is "
        f"{_versus(corr)} the faithful default after {iterations} steps: {span(corr)}. "
        f"{parts_text}{under}{full_text} This is a comparison of early training with one "
        "training seed per variant; a training-seed difference is not covered by these "
        "image-bootstrap intervals."
    )
