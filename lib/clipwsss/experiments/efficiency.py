"""Time and memory of each CLIP-ES stage, for the efficiency comparison (CLIP-ES Table 3).

Experiment layer: wall clocks, memory high-water marks and hardware facts around the pure
method modules; the per-image work is exactly what ``ClipES.__call__`` and
``pipelines.masks.pseudo_mask_for`` do, split into timed stages:

=================  ===================================================================
stage              what runs
=================  ===================================================================
CLIP forward       preprocessing and the image tower (attention maps kept)
Softmax-GradCAM    one batched backward for all K classes (Eq. 1-4)
CAA                affinity (Eq. 6), box masks and refinement (Eq. 7)
upsample           refined CAMs to the image size, stored as float16 (the CAM file)
dCRF               dense CRF posterior on the CPU (supp. D)
pseudo-mask        argmax labels, confidence and the mu threshold (Eq. 8-9)
=================  ===================================================================

The paper's Table 3 splits the cost into *inference* (the first four stages) and *dCRF*
(the last two); :data:`INFERENCE_STAGES` and :data:`CRF_STAGES` name them.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (reset before a run). On the CPU
``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the **process-wide** resident-set
high-water mark since the process started. It cannot be reset, so it includes everything
the process held before (other models, the notebook's data) and only grows; read it as
"the process never needed more than this", not as the cost of one stage.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from clipwsss.cams.crf import crf_posterior
from clipwsss.cams.gradcam import gradcam_per_class_loop
from clipwsss.cams.labels import cams_to_label
from clipwsss.clip.loading import ClipModel
from clipwsss.methods.clip_es import ClipES, ImageCams
from clipwsss.metrics import ConfusionMatrix, SegScores
from clipwsss.pipelines.masks import mask_from_posterior

STAGES = ("CLIP forward", "Softmax-GradCAM", "CAA", "upsample", "dCRF", "pseudo-mask")
INFERENCE_STAGES = STAGES[:4]  # Table 3 "inference": CAMs + CAA, written as CAM files
CRF_STAGES = STAGES[4:]  # Table 3 "dCRF": CRF and the confidence mask
LOOP_STAGE = "GradCAM per-class loop"  # the official schedule, timed beside (not in the sum)
VOC_TRAIN_AUG = 10582  # images of VOC12 train_aug, the set of Table 3


# --------------------------------------------------------------------------- hardware


def cpu_name() -> str:
    """The CPU model as the OS reports it (``/proc/cpuinfo`` on Linux)."""
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo", encoding="utf-8"):  # noqa: SIM115
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware(device: str | torch.device = "cpu") -> dict[str, str]:
    """CPU model, cores, torch threads, device and versions: what a timing depends on."""
    device = torch.device(device)
    gpu = ""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        gpu = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "CPU": cpu_name(),
        "CPU cores (visible)": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "device": str(device) + (f" ({gpu})" if gpu else ""),
        "load average (1, 5, 15 min)": load,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def parameter_count(clip: ClipModel) -> dict[str, int]:
    """Parameters of the image tower, the text tower and the whole CLIP model."""
    model = clip.model
    visual = sum(p.numel() for p in model.visual.parameters())
    total = sum(p.numel() for p in model.parameters())
    return {"image tower": visual, "text tower + logit scale": total - visual, "total": total}


# --------------------------------------------------------------------------- memory


def reset_peak_memory(device: str | torch.device) -> None:
    """Reset the CUDA peak counter; no-op on the CPU (``ru_maxrss`` cannot be reset)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: str | torch.device) -> int:
    """Peak memory: CUDA ``max_memory_allocated`` since the last reset, or on the CPU the
    process-wide RSS high-water mark ``ru_maxrss`` since the process started."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def memory_kind(device: str | torch.device) -> str:
    """What :func:`peak_memory_bytes` measures on ``device``, for table labels."""
    if torch.device(device).type == "cuda":
        return "CUDA max_memory_allocated (tensors only, reset per run)"
    return "process RSS high-water mark (ru_maxrss, whole process, never reset)"


def rss_bytes() -> int | None:
    """Current resident set size of this process (Linux ``/proc/self/statm``), else None."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- timing


@dataclass
class StageClock:
    """Wall time per stage; synchronises CUDA before and after each stage.

    Example:
        >>> clock = StageClock("cpu")
        >>> with clock("CAA"):
        ...     pass
        >>> clock.seconds["CAA"]  # one entry per ``with`` block
    """

    device: torch.device | str = "cpu"
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def _sync(self) -> None:
        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        self._sync()
        t0 = time.perf_counter()
        yield
        self._sync()
        self.seconds.setdefault(stage, []).append(time.perf_counter() - t0)


def timed_cams(
    es: ClipES,
    image: np.ndarray,
    labels: Sequence[int],
    clock: StageClock,
    *,
    time_loop: bool = False,
) -> tuple[ImageCams, Tensor | None]:
    """``es(image, labels)`` with the CLIP forward, GradCAM and CAA timed separately.

    Runs the same stages as ``ClipES.__call__`` (``forward``, ``gradcam``, ``refine``; the
    test checks the outputs are equal). With ``time_loop`` the official per-class GradCAM
    loop is also run on the same forward and timed as :data:`LOOP_STAGE` (ViT, sentence or
    feature fusion only); its CAMs are returned for comparison.

    Returns:
        (the image's CAMs, the loop's (K, h, w) CAMs or None).
    """
    cfg = es.config
    with clock("CLIP forward"):
        dense = es.forward(image)
    loop = None
    if time_loop and dense.last_block_input is not None and cfg.fusion != "cam":
        text = es.text_setup(labels)
        with clock(LOOP_STAGE):
            loop = gradcam_per_class_loop(
                es.clip.model.visual,
                dense,
                text,
                logit_scale=es.logit_scale,
                softmax=cfg.softmax,
                pooling=cfg.pooling,
            )
    with clock("Softmax-GradCAM"):
        cams, scores = es.gradcam(dense, labels)  # Eq. 1-4, one batched backward
    with clock("CAA"):
        refined = es.refine(cams, dense.attn)  # Eq. 6-7
    keys = torch.as_tensor([int(c) for c in labels])
    return ImageCams(keys=keys, cams=cams, refined=refined, scores=scores, grid=dense.grid), loop


def timed_image(
    es: ClipES,
    image: np.ndarray,
    labels: Sequence[int],
    clock: StageClock,
    *,
    threshold: float = 0.95,  # mu, CLIP-ES supp. D
    confidence: str = "official",
    official_crf_image: bool = True,
    bg_exponent: float = 1.0,
    time_loop: bool = False,
) -> np.ndarray:
    """One image through every stage of :data:`STAGES`; returns its pseudo mask.

    Shapes:
        image: (H, W, 3) uint8; returns (H, W) uint8, 0 = bg, k + 1 = class k, 255 = ignore.
    """
    out, _ = timed_cams(es, image, labels, clock, time_loop=time_loop)
    with clock("upsample"):
        cams = out.refined if out.refined is not None else out.cams
        cams = es.upsample(cams, image.shape[:2]).half().cpu()  # float16, as the CAM file
    with clock("dCRF"):
        q = crf_posterior(image, cams, exponent=bg_exponent, official=official_crf_image)
    with clock("pseudo-mask"):
        pm = mask_from_posterior(q, out.keys, cams, threshold=threshold, confidence=confidence)
        mask = pm.mask.numpy().astype(np.uint8)
    return mask


@dataclass(frozen=True)
class PipelineTiming:
    """Stage times of a run over a few images.

    Attributes:
        seconds: one row per image, one column per stage (and :data:`LOOP_STAGE` if timed).
        image_sizes: (H, W) of each image.
        n_labels: K of each image.
        peak_memory_bytes: see :func:`peak_memory_bytes`, read after the run.
        memory_kind: what the peak measures (:func:`memory_kind`).
        rss_before_bytes: resident set size before the run (CPU; None elsewhere).
    """

    seconds: pd.DataFrame
    image_sizes: tuple[tuple[int, int], ...]
    n_labels: tuple[int, ...]
    peak_memory_bytes: int
    memory_kind: str
    rss_before_bytes: int | None

    def per_image(self) -> pd.Series:
        """Median seconds per image of each stage (robust to a slow first image)."""
        return self.seconds.median(axis=0)

    def inference_seconds(self) -> float:
        """Median seconds per image of Table 3's "inference" (CAMs + CAA + upsample)."""
        return float(self.per_image()[list(INFERENCE_STAGES)].sum())

    def crf_seconds(self) -> float:
        """Median seconds per image of Table 3's "dCRF" (CRF + confidence mask), 1 process."""
        return float(self.per_image()[list(CRF_STAGES)].sum())

    def images_per_second(self) -> float:
        """Throughput of the whole pipeline run sequentially in one process."""
        return 1.0 / (self.inference_seconds() + self.crf_seconds())


def time_pipeline(
    es: ClipES,
    samples: Sequence[tuple[np.ndarray, Sequence[int]]],
    *,
    warmup: bool = False,
    time_loop: bool = False,
    **mask_options,
) -> PipelineTiming:
    """Time every stage of the pipeline on each ``(image, labels)`` sample.

    Args:
        es: The CLIP-ES CAM generator (its model's device is used).
        samples: (H, W, 3) uint8 images with their 0-based class ids.
        warmup: Run the first sample once, untimed, before the timed runs.
        time_loop: Also time the official per-class GradCAM loop (see :func:`timed_cams`).
        **mask_options: ``threshold``, ``confidence``, ``official_crf_image``,
            ``bg_exponent`` (see :func:`timed_image`).

    Returns:
        A :class:`PipelineTiming`; the peak memory is read after the last image.
    """
    if not samples:
        raise ValueError("no samples to time")
    device = es.clip.device
    if warmup:
        timed_image(es, *samples[0], StageClock(device), **mask_options)
    rss = rss_bytes() if device.type == "cpu" else None
    reset_peak_memory(device)
    rows = []
    for image, labels in samples:
        clock = StageClock(device)
        timed_image(es, image, labels, clock, time_loop=time_loop, **mask_options)
        rows.append({stage: sum(t) for stage, t in clock.seconds.items()})
    columns = [*STAGES, *([LOOP_STAGE] if LOOP_STAGE in rows[0] else [])]
    return PipelineTiming(
        seconds=pd.DataFrame(rows, columns=columns),
        image_sizes=tuple(tuple(int(s) for s in img.shape[:2]) for img, _ in samples),
        n_labels=tuple(len(lab) for _, lab in samples),
        peak_memory_bytes=peak_memory_bytes(device),
        memory_kind=memory_kind(device),
        rss_before_bytes=rss,
    )


def median_seconds(fn, *, repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls (after one untimed call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------- samples


def resized_samples(
    samples: Sequence[tuple[np.ndarray, Sequence[int]]],
    *,
    size: tuple[int, int] = (375, 500),  # (H, W): the most common VOC image size
) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    """Images resized (bicubic) to ``size``, labels kept: VOC-sized inputs for timing.

    Timing depends on the image size and the number of classes K, hardly on the content;
    upscaled scenes keep smooth regions, so the dense CRF's lattice sees a photo-like image
    (random noise would make it slower than on photos).
    """
    from PIL import Image

    h, w = size
    return [
        (np.asarray(Image.fromarray(img).resize((w, h), Image.BICUBIC)), tuple(lab))
        for img, lab in samples
    ]


def map_labels(
    labels: Sequence[int], names: Sequence[str], target: Sequence[str]
) -> tuple[int, ...]:
    """Class ids of one vocabulary in another, by name; unknown names take the first unused
    target class, so K (which sets the cost) is kept."""
    out: list[int] = []
    for c in labels:
        name = names[c]
        idx = target.index(name) if name in target else None
        if idx is None or idx in out:
            free = [i for i in range(len(target)) if i not in out]
            if not free:
                raise ValueError(f"{len(labels)} labels but only {len(target)} target classes")
            idx = free[0]
        out.append(idx)
    return tuple(out)


# --------------------------------------------------------------------------- Table 3


def extrapolate_hours(
    seconds_per_image: float, *, n_images: int = VOC_TRAIN_AUG, workers: int = 1
) -> float:
    """Hours for ``n_images`` at ``seconds_per_image``, ideally split over ``workers``."""
    return seconds_per_image * n_images / max(workers, 1) / 3600.0


def table3_comparison(
    timing: PipelineTiming,
    *,
    paper: dict[str, float],
    label: str,
    crf_workers: int = 1,
    n_images: int = VOC_TRAIN_AUG,
) -> pd.DataFrame:
    """Our per-image seconds extrapolated to VOC train_aug beside the paper's Table 3.

    Args:
        timing: A :class:`PipelineTiming` (median seconds per image are used).
        paper: The paper's values by key: ``t3_inference_h``, ``t3_dcrf_h``, ``t3_total_h``,
            ``t3_memory_gb``.
        label: Column name for our numbers (hardware and model in words).
        crf_workers: CRF processes assumed to run in parallel (ideal scaling; the paper used
            20, supp. F).
        n_images: Images to extrapolate to (10,582 = VOC train_aug).

    Returns:
        Rows inference / dCRF / total (hours) and peak memory (GB), indexed by paper key,
        with columns "Table 3", ``label`` and "ours / paper".
    """
    inference = extrapolate_hours(timing.inference_seconds(), n_images=n_images)
    crf = extrapolate_hours(timing.crf_seconds(), n_images=n_images, workers=crf_workers)
    ours = {
        "t3_inference_h": inference,
        "t3_dcrf_h": crf,
        "t3_total_h": inference + crf,
        "t3_memory_gb": timing.peak_memory_bytes / 1e9,
    }
    rows = {
        "t3_inference_h": "inference: CAMs + CAA (h)",
        "t3_dcrf_h": f"dCRF, {crf_workers} worker(s) (h)",
        "t3_total_h": "total (h)",
        "t3_memory_gb": "peak memory (GB)",
    }
    table = pd.DataFrame(
        {
            "quantity": list(rows.values()),
            "Table 3": [paper[k] for k in rows],
            label: [ours[k] for k in rows],
        },
        index=pd.Index(list(rows), name="key"),
    )
    table["ours / paper"] = table[label] / table["Table 3"]
    return table


@dataclass(frozen=True)
class ScheduleComparison:
    """Batched Softmax-GradCAM (ours) against the official per-class loop.

    Attributes:
        per_image: one row per image: K, max |difference| of the CAMs, seconds of each
            schedule (loop: K forward+backward passes of the last block; ours: one batched
            backward through the block the forward already ran).
        batched: initial-CAM scores of our CAMs (bg = (1 - max)^k), when GTs were given.
        loop: the same for the loop's CAMs.
    """

    per_image: pd.DataFrame
    batched: SegScores | None = None
    loop: SegScores | None = None


def gradcam_schedules(
    es: ClipES,
    samples: Sequence[tuple[np.ndarray, Sequence[int]]],
    *,
    gts: Sequence[np.ndarray] | None = None,
    n_classes: int = 0,
    exponent: float = 1.0,
) -> ScheduleComparison:
    """Run both GradCAM schedules on the same forward of each image and compare them.

    Args:
        es: A ClipES with a ViT and sentence or feature fusion.
        samples: (H, W, 3) uint8 images with their 0-based class ids.
        gts: Optional (H, W) GT label maps (255 = ignore) to score both schedules' initial
            CAMs, upsampled to the GT size.
        n_classes: Classes including background (needed with ``gts``).
        exponent: Background power k for the scores.

    Returns:
        A :class:`ScheduleComparison`.

    Reference: CLIP-ES Eq. 1-4; official ``pytorch_grad_cam`` loop over targets.
    """
    rows = []
    cms = (ConfusionMatrix(n_classes), ConfusionMatrix(n_classes)) if gts is not None else None
    for i, (image, labels) in enumerate(samples):
        clock = StageClock(es.clip.device)
        out, loop = timed_cams(es, image, labels, clock, time_loop=True)
        if loop is None:
            raise ValueError("the per-class loop needs a ViT and sentence or feature fusion")
        rows.append(
            {
                "K": len(labels),
                "max |batched - loop|": float((out.cams - loop).abs().max()),
                "batched backward (s)": clock.seconds["Softmax-GradCAM"][0],
                "per-class loop (s)": clock.seconds[LOOP_STAGE][0],
            }
        )
        if cms is not None:
            size = gts[i].shape
            for cams, cm in zip((out.cams, loop), cms, strict=True):
                label = cams_to_label(es.upsample(cams, size), out.keys, exponent=exponent)
                cm.update(label.cpu().numpy(), gts[i])
    if cms is None:
        return ScheduleComparison(pd.DataFrame(rows))
    return ScheduleComparison(pd.DataFrame(rows), cms[0].scores(), cms[1].scores())
