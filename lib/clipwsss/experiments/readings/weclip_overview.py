"""Reading of notebook 13 (WeCLIP overview; WeCLIP supplementary Table 1, the RFM's labels)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clipwsss.experiments.intervals import Interval


def _signed(iv: Interval) -> str:
    return f"{iv.value:+.1f} ({iv.low:+.1f} to {iv.high:+.1f})"


def notebook_run_text(
    *,
    steps: int,
    batch_size: int,
    recipe_steps: int,
    n_images: int,
    weclip: float,
    clip_es: float,
    diff: Interval,
    loss_first: float,
    loss_last: float,
) -> str:
    """The short in-notebook run against CLIP-ES (CAA) on the notebook's images.

    Args:
        steps: training steps of the run; batch_size: its batch.
        recipe_steps: the toy recipe's iterations.
        n_images: images scored.
        weclip: the run's mIoU; clip_es: CLIP-ES (CAA)'s on the same images.
        diff: WeCLIP - CLIP-ES with its paired image-bootstrap interval.
        loss_first: the first logged loss; loss_last: the last.
    """
    word = "excludes" if diff.excludes_zero else "includes"
    trend = "down" if loss_last < loss_first else "up"
    return (
        f"The in-notebook run ({steps} steps, batch {batch_size}, of the toy recipe's "
        f"{recipe_steps}) scores {weclip:.1f} on these {n_images} images against CLIP-ES "
        f"(CAA)'s {clip_es:.1f}, a difference of {_signed(diff)} whose interval {word} zero; its "
        f"loss went {trend} from {loss_first:.2f} to {loss_last:.2f}, so it shows the pipeline "
        "running and what an early decoder predicts, not a trained model."
    )


def no_summary_text(*, profile: str, trainable: int, notebook_run: str) -> str:
    """The reading of a profile without the toy recipe's summary (a real profile)."""
    return (
        f"On {profile} there is no toy summary, so only the architecture (a decoder of "
        f"{trainable:,} trainable parameters on a frozen CLIP) and the short run are shown. "
        f"{notebook_run}"
    )


def reading(
    *,
    profile: str,
    recipe_steps: int,
    rfm_step: int,
    n_train: int,
    n_val: int,
    train_diffs: Mapping[str, Interval],
    val_diffs: Mapping[str, Interval],
    paper_weclip: float,
    paper_clipes: float,
    caa_train: float,
    we_train: Sequence[float],
    we_val: Sequence[float],
    recipe_share_pct: float,
    n_blocks: int,
    old_numerics: bool,
    notebook_run: str,
) -> str:
    """The toy recipe's WeCLIP against CLIP-ES + CAA + dCRF (supplementary Table 1).

    Args:
        profile: the profile name.
        recipe_steps: the toy recipe's iterations; rfm_step: the RFM's first iteration.
        n_train, n_val: toy images of the train and val tables.
        train_diffs, val_diffs: "WeCLIP seed s" -> WeCLIP - CLIP-ES + CAA + dCRF, paired.
        paper_weclip, paper_clipes: supplementary Table 1's two values.
        caa_train: the CAA labels' mIoU on toy train (the supervision).
        we_train, we_val: WeCLIP's mIoU per training seed.
        recipe_share_pct: toy iterations as a % of the official VOC count.
        n_blocks: the micro-CLIP's blocks.
        old_numerics: summary.md says the runs predate the current numerics.
        notebook_run: the text of :func:`notebook_run_text`.
    """
    n_seeds = len(train_diffs)
    seed_words = "one training seed" if n_seeds == 1 else f"{n_seeds} training seeds"
    below = sum(d.high < 0 for d in train_diffs.values())
    above = sum(d.low > 0 for d in train_diffs.values())
    if below == n_seeds:
        claim = (
            f"does not bear out supplementary Table 1: as pseudo labels on the {n_train} toy "
            "training images WeCLIP lies below CLIP-ES + CAA + dCRF for every seed, with "
            "intervals that exclude zero"
        )
    elif above == n_seeds:
        claim = (
            "agrees in sign with supplementary Table 1: as pseudo labels WeCLIP lies above "
            "CLIP-ES + CAA + dCRF for every seed, with intervals that exclude zero"
        )
    else:
        claim = (
            f"does not settle supplementary Table 1: of {n_seeds} seeds, {below} lie below and "
            f"{above} above CLIP-ES + CAA + dCRF with intervals excluding zero, the rest "
            "include zero"
        )
    train_text = "; ".join(f"{r} {_signed(d)}" for r, d in train_diffs.items())
    val_text = "; ".join(f"{r} {_signed(d)}" for r, d in val_diffs.items())
    val_below = sum(d.high < 0 for d in val_diffs.values())
    val_above = sum(d.low > 0 for d in val_diffs.values())
    spread = (
        f"the {seed_words} span {max(we_train) - min(we_train):.1f} points on toy train "
        f"and {max(we_val) - min(we_val):.1f} on toy val, a training noise that the "
        "image bootstrap does not cover"
        if n_seeds > 1
        else "with one training seed the training noise is not measured"
    )
    numerics = (
        "These toy runs were made with the previous numerics (the first line of summary.md "
        "says so), so they may differ from the current code."
        if old_numerics
        else "summary.md carries no note of previous numerics: the toy runs are the current code's."
    )
    return (
        f"On {profile}, with {seed_words} of the toy recipe ({recipe_steps} steps, the RFM from "
        f"step {rfm_step}), the toy world {claim} (WeCLIP minus CLIP-ES + CAA + dCRF: "
        f"{train_text}); in the paper, WeCLIP minus CLIP-ES is "
        f"{paper_weclip - paper_clipes:+.1f} points on VOC train ({paper_weclip:.1f} vs "
        f"{paper_clipes:.1f}). On toy val (predictions, {n_val} images) {val_below} of "
        f"{n_seeds} seeds lie below and {val_above} above CLIP-ES + CAA + dCRF with intervals "
        f"excluding zero ({val_text}). The CAA labels that supervise WeCLIP score "
        f"{caa_train:.1f} on toy train against WeCLIP's {', '.join(f'{v:.1f}' for v in we_train)}"
        "; summary.json has no paired interval for that difference, so it is not interpreted "
        f"here. Across seeds, {spread}. The toy recipe is {recipe_share_pct:.0f} % of the "
        f"official VOC iteration count on a {n_blocks}-block micro-CLIP, so this checks the "
        f"pipeline end to end, not the paper's claim. {numerics} {notebook_run}"
    )


def rfm_labels_text(gain: Mapping[str, Interval]) -> str:
    """RFM labels minus CAA labels of the same trained models (decoder name -> interval)."""
    return (
        "Scored against the ground truth on the same toy train images, each trained model's RFM "
        "labels minus its CAA labels (mean over the training seeds in the table) are "
        + "; ".join(f"{k}: {iv.text()}" for k, iv in gain.items())
        + ". The RFM is the module that should make the online labels better than CLIP-ES's "
        "(WeCLIP Section 3.3); this is the toy world's measurement of that claim."
    )
