"""The reading of ``09_efficiency``: what a timing on this machine can and cannot say about
CLIP-ES's Table 3."""

from __future__ import annotations


def speed_words(speedup: float) -> str:
    """The words for ``speedup`` (loop / batched seconds): "1.73x as fast as" or the like."""
    return f"{speedup:.2f}x as fast as" if speedup > 1 else f"{1 / speedup:.2f}x slower than"


def reading(
    *,
    cpu: str,
    threads: int,
    record_name: str,
    forward_s: float,
    inference_h: float,
    random_weights: bool,
    n_images: int,
    caa_share: float,
    speedup: float,
    batched_s: float,
    loop_s: float,
    mean_k: float,
    crf_s: float,
    paper_crf_s: float,
    memory_gb: float,
    memory_kind: str,
) -> str:
    """The ``## Reading`` paragraph.

    Args:
        cpu, threads: the machine's CPU name and the torch threads.
        record_name: the timing of record (the model in words).
        forward_s: its median image forward (s per image).
        inference_h: CAMs + CAA extrapolated to VOC train_aug (h).
        random_weights: whether the model of record has random weights.
        n_images: images timed.
        caa_share: CAA's time in % of the forward.
        speedup: per-class loop seconds / batched backward seconds.
        batched_s, loop_s: the two schedules' median seconds per image; mean_k: mean classes.
        crf_s: dCRF + mask seconds per image in one process; paper_crf_s: the paper's, derived.
        memory_gb, memory_kind: the peak memory and what it measures.
    """
    return f"""
On this machine ({cpu}, {threads} torch thread(s)) the timing of record is {record_name}. Its
image forward takes {forward_s:.3g} s per image, so CAMs + CAA for 10,582 images extrapolate to
{inference_h:.1f} h against the paper's 0.4 h: that gap is the hardware (this CPU against a
TITAN RTX GPU), and the timing comes from {"random weights on " if random_weights else ""}
{n_images} images, so it neither confirms nor refutes Table 3. What carries over is the shape of
the cost: CAA costs {caa_share:.1f} % of the forward, which supports the paper's point that
refinement comes almost free once the attention maps exist, and one batched backward is
{speed_words(speedup)} the official per-class loop (median {batched_s:.3g} vs {loop_s:.3g} s per
image, mean K {mean_k:.2g}). The dense CRF took {crf_s:.2f} s per image in one process in this
run (it varies with the load of this shared machine), against the {paper_crf_s:.2f} s per image
and process implied by the paper's 0.2 h with 20 processes. The peak memory here,
{memory_gb:.2f} GB, is {memory_kind}, not the GPU memory of the paper's 2 GB. The toy profile
cannot test the paper's main efficiency claim, that CLIP-ES is over ten times cheaper than
methods that train classifiers and affinity networks, because no such method runs here.
"""
