"""Time CAA, the dense CRF and the whole `cams` + `masks` pipeline per image on CPU.

    python benchmarks/bench_pipeline.py [--images 8] [--repeats 5] [--out FILE.md]

Random-init ViT-B/16 (timings do not depend on the weights), VOC-sized 500 x 375 images,
2 torch threads, CRF with 2 worker processes. Writes a Markdown table with the hardware.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from clipwsss.experiments.efficiency import cpu_name, median_seconds

H, W, GRID = 375, 500, (24, 32)  # 500 x 375 -> 512 x 384 -> 24 x 32 patches


def _blob_cams(k: int, rng: np.random.Generator, size: tuple[int, int]) -> torch.Tensor:
    """K smooth CAMs in [0, 1] with one blob each (realistic box counts for CAA)."""
    yy, xx = np.mgrid[: size[0], : size[1]] / np.array(size).reshape(2, 1, 1)
    cams = []
    for _ in range(k):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        cams.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03))
    return torch.from_numpy(np.stack(cams)).float()


def bench_caa(repeats: int) -> dict[int, float]:
    from clipwsss.cams.caa import attention_affinity, box_masks, refine_cams

    n = GRID[0] * GRID[1] + 1
    attn = torch.rand(12, n, n).softmax(-1)
    rng = np.random.default_rng(0)
    out = {}
    for k in (1, 2, 3):
        cams = _blob_cams(k, rng, GRID)

        def run(cams=cams):
            aff = attention_affinity(attn)
            return refine_cams(cams, aff, box_masks(cams))

        out[k] = median_seconds(run, repeats=repeats)
    return out


def bench_crf(repeats: int) -> dict[int, float]:
    from clipwsss.cams.crf import crf_posterior

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    out = {}
    for k in (1, 2, 3):
        cams = _blob_cams(k, rng, (H, W))
        out[k] = median_seconds(lambda c=cams: crf_posterior(image, c), repeats=repeats)
    return out


def bench_pipeline(n_images: int, workers: int) -> tuple[float, float]:
    """Seconds per image of `cams` (CAMs + CAA) and of `masks` (CRF, `workers` processes)."""
    import clipwsss as cw
    from clipwsss.data import VOCDataset, write_split, write_voc_sample
    from clipwsss.pipelines.cams import generate_cams
    from clipwsss.pipelines.masks import generate_masks

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "voc"
        ids = []
        for i in range(n_images):
            label = np.zeros((H, W), np.uint8)
            for c in rng.choice(20, size=1 + i % 3, replace=False):
                y, x = rng.integers(0, H - 120), rng.integers(0, W - 160)
                label[y : y + 120, x : x + 160] = c + 1
            image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
            ids.append(f"img_{i:03d}")
            write_voc_sample(root, ids[-1], image, label)
        write_split(root, "train", ids)
        dataset = VOCDataset(root, "train", label_source="png")
        es = cw.ClipES(cw.load_clip("ViT-B-16", pretrained=None), cw.voc_vocabulary())
        t0 = time.perf_counter()
        generate_cams(es, dataset, Path(tmp) / "cams", progress=False)
        t_cams = (time.perf_counter() - t0) / n_images
        t0 = time.perf_counter()
        generate_masks(
            dataset, Path(tmp) / "cams", Path(tmp) / "masks", workers=workers, progress=False
        )
        t_masks = (time.perf_counter() - t0) / n_images
    return t_cams, t_masks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results_pipeline.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    caa, crf = bench_caa(args.repeats), bench_crf(args.repeats)
    t_cams, t_masks = bench_pipeline(args.images, args.workers)
    lines = [
        f"CPU: {cpu_name()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"{date.today()}. Command: `python benchmarks/bench_pipeline.py --images {args.images} "
        f"--repeats {args.repeats} --workers {args.workers}`. Random-init ViT-B/16, 500x375.",
        "",
        "| stage | K = 1 | K = 2 | K = 3 |",
        "| --- | --- | --- | --- |",
        "| CAA, all classes (s/image) | " + " | ".join(f"{caa[k]:.3f}" for k in (1, 2, 3)) + " |",
        "| dense CRF (s/image) | " + " | ".join(f"{crf[k]:.3f}" for k in (1, 2, 3)) + " |",
        "",
        f"Whole pipeline over {args.images} images (1-3 classes each): "
        f"`cams` {t_cams:.2f} s/image, "
        f"`masks` ({args.workers} CRF workers) {t_masks:.2f} s/image, together "
        f"{1 / (t_cams + t_masks):.2f} images/s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
