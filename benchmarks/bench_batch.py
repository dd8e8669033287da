"""Images/s and peak memory of CLIP-ES CAMs: the official loop, the one-image path, the batch.

Side by side in one run, each configuration in a fresh process (random-init ViT-B/16: the
cost does not depend on the weights), on VOC-sized random images (500x375 -> 32x24 patches),
K target classes each against 25 background rows, preprocessing included:

  floor     one no-grad forward of the image tower per image (``vit_forward_floor``)
  official  (a) the official schedule re-stated with the package's pieces: dense forward
            with every attention map, one forward + backward of the last block per class
            (``gradcam_per_class_loop``), the CAA affinity recomputed for every class
  one       (b) today's one-image path, ``ClipES.__call__`` (one backward for all K)
  batch     (c) ``ClipES.batch_pixels``: B images per forward, one backward for every class
            of every image, CAA for the batch, maps only of the blocks CAA reads
  crf       the dense CRF + confidence mask of one image (``crf_pseudo_mask``, 1 process)

(a), (b) and (c) are checked against each other on the first images (max |difference| of
the CAMs and refined CAMs, printed under the table). Peak memory: the process RSS high-water
mark (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA).

    python benchmarks/bench_batch.py                       # CPU: the table of benchmarks/
    OMP_NUM_THREADS=1 python benchmarks/bench_batch.py --threads 1    # a loaded machine
    python benchmarks/bench_batch.py --device cuda --batch-size 16 --precisions fp32 bf16 \\
        --images 64 --out benchmarks/results_batch_cuda.md          # a GPU (see gpu_bench.sh)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = (7, 14, 11, 4, 8)  # cat, person, dog, bottle, chair: the first K are the targets
DATASETS = {"VOC12 train_aug": 10_582, "COCO14 train": 82_081}


def _setup(cfg: dict):
    import numpy as np
    import torch

    import clipwsss as cw

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    clip = cw.load_clip(cfg["model"], pretrained=None, device=cfg["device"])
    es = cw.ClipES(clip, cw.voc_vocabulary())
    w, h = cfg["size"]
    rng = np.random.default_rng(0)
    n = max(cfg["images"], 2)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    return es, images, list(LABELS[: cfg["k"]])


def official_loop(es, image, labels):
    """(a) The official per-image, per-class schedule with the package's pieces.

    Shapes: image (H, W, 3) uint8; returns cams and refined (K, h, w).
    """
    import torch

    from clipwsss.cams.caa import attention_affinity, refine_with_affinity
    from clipwsss.cams.gradcam import gradcam_per_class_loop
    from clipwsss.clip.dense import dense_forward

    cfg = es.config
    pixels = es.preprocessor()(image)[None]
    dense = dense_forward(es.clip, pixels, pos_embed_fp16=cfg.pos_embed_fp16)
    text = es.text_setup(labels)
    visual = es.clip.model.visual
    cams = gradcam_per_class_loop(visual, dense, text, logit_scale=es.logit_scale)
    refined = []
    for k in range(cams.shape[0]):  # the official code redoes Sinkhorn for every class
        aff = attention_affinity(
            dense.attn[0].detach(),
            n_layers=cfg.caa_layers,
            n_iters=cfg.sinkhorn_iters,
            power=cfg.caa_power,
        )
        refined.append(refine_with_affinity(cams[k : k + 1], aff, threshold=cfg.box_threshold))
    return cams, torch.cat(refined)


def _run(method: str, es, images, labels, cfg: dict):
    """Process all images with one method; returns one result per image (or None)."""
    import torch

    from clipwsss.clip.dense import vit_forward_floor

    if method == "floor":
        prep = es.preprocessor()
        with torch.no_grad():
            return [
                vit_forward_floor(es.clip.model.visual, prep(im)[None].to(es.clip.device))
                for im in images
            ]
    if method == "official":
        return [official_loop(es, im, labels) for im in images]
    if method == "one":
        return [es(im, labels) for im in images]
    if method == "batch":
        prep, out, b = es.preprocessor(), [], cfg["batch"]
        for i in range(0, len(images), b):
            chunk = images[i : i + b]
            pixels = torch.stack([prep(im) for im in chunk])
            out += es.batch_pixels(pixels, [labels] * len(chunk), precision=cfg["precision"])
        return out
    if method == "crf":
        from clipwsss.pipelines.masks import crf_pseudo_mask

        out = []
        for im in images:
            gen = torch.Generator().manual_seed(0)
            cams = torch.rand(len(labels), *im.shape[:2], generator=gen)
            out.append(crf_pseudo_mask(im, torch.tensor(labels), cams.half().float()))
        return out
    raise ValueError(method)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _worker(cfg: dict) -> dict:
    import torch

    es, images, labels = _setup(cfg)
    cuda = cfg["device"].startswith("cuda")
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    warm = images[: cfg["batch"]] if cfg["method"] == "batch" else images[:1]
    _run(cfg["method"], es, warm, labels, cfg)  # warm-up
    _sync(cfg["device"])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    _run(cfg["method"], es, images[: cfg["images"]], labels, cfg)
    _sync(cfg["device"])
    seconds = time.perf_counter() - start
    result = {
        **cfg,
        "seconds": seconds,
        "images_per_s": cfg["images"] / seconds,
        "rss_loaded_mib": rss_loaded,
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if cfg.get("check"):  # after the memory reading: (a) and (c) against (b)
        two = images[:2]
        one = _run("one", es, two, labels, cfg)
        off = official_loop(es, two[0], labels)
        bat = _run("batch", es, two, labels, dict(cfg, batch=2))

        def gap(x, y):
            return float((x.float() - y.float()).abs().max())

        pairs = list(zip(bat, one, strict=True))
        result["check"] = {
            "official_vs_one_cams": gap(off[0], one[0].cams),
            "official_vs_one_refined": gap(off[1], one[0].refined),
            "batch_vs_one_cams": max(gap(b.cams, o.cams) for b, o in pairs),
            "batch_vs_one_refined": max(gap(b.refined, o.refined) for b, o in pairs),
        }
    return result


def _timing_worker(cfgs: list[dict], rounds: int) -> dict[str, float]:
    """Time the model rows in one process, interleaved round by round (a loaded machine
    then slows every row alike); returns the median images/s of each row."""
    import statistics

    es, images, labels = _setup(cfgs[0])
    device = cfgs[0]["device"]
    for cfg in cfgs:  # warm-up: one image (one batch) per row
        _run(cfg["method"], es, images[: max(cfg["batch"], 1)], labels, cfg)
    times: dict[str, list[float]] = {cfg["name"]: [] for cfg in cfgs}
    for _ in range(rounds):
        for cfg in cfgs:
            _sync(device)
            start = time.perf_counter()
            _run(cfg["method"], es, images[: cfg["images"]], labels, cfg)
            _sync(device)
            times[cfg["name"]].append(cfg["images"] / (time.perf_counter() - start))
    return {name: statistics.median(v) for name, v in times.items()}


def _run_config(cfg: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    env = dict(os.environ, OMP_NUM_THREADS=str(cfg["threads"]))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker failed for {cfg}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _hardware(device: str, threads: int) -> list[str]:
    import torch

    cpu = "unknown"
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    lines = [
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{shlex.join([Path(sys.executable).name, *sys.argv])}`",
        f"- CPU: {cpu}; {os.cpu_count()} logical cores; torch threads: {threads}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "- load average at start (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- torch {torch.__version__}, Python {platform.python_version()}",
    ]
    if device.startswith("cuda"):
        lines.append(f"- GPU: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
    return lines


def _report(results: list[dict], args: argparse.Namespace, load: list[str]) -> str:
    by = {r["method"]: r for r in results}
    base, floor = by["official"], by["floor"]
    mem = "GPU peak MiB" if args.device.startswith("cuda") else "peak RSS MiB"
    rows = [
        f"| path | images/s | s/image | x official (a) | x floor | {mem} |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r['name']} | {r['images_per_s']:.3f} | {1 / r['images_per_s']:.2f} | "
            f"{r['images_per_s'] / base['images_per_s']:.2f} | "
            f"{floor['images_per_s'] / r['images_per_s']:.2f} | {r['peak_mib']:.0f} |"
        )
    check = base.get("check", {})
    w, h = args.size
    lines = [
        f"# CLIP-ES CAMs: official loop vs one-image path vs batch ({args.device})",
        "",
        f"{args.model}, random init; {args.images} images of {w}x{h} (grid "
        f"{-(-h // 16)}x{-(-w // 16)}), K = {args.k} classes each, 25 background rows; "
        f"preprocessing included. Speed: all model rows in one process, after one warm-up "
        f"each, interleaved over {args.rounds} rounds (median), so a changing load slows "
        "them alike; the CRF row is timed on its own. Peak memory: a fresh process per row "
        "(one image, or one batch). `x official` = images/s over (a)'s; `x floor` = time per "
        "image over one no-grad forward's (the goal: batch at or below 1.3 at K = 3).",
        "",
        *load,
        "",
        *rows,
        "",
        "Checked in the (a) process (max |difference|, fp32): "
        + ", ".join(f"{k} {v:.1e}" for k, v in check.items()),
        "",
    ]
    best = max((r for r in results if r["method"] == "batch"), key=lambda r: r["images_per_s"])
    lines.append(
        f"Projection with `{best['name']}` at {best['images_per_s']:.2f} images/s "
        f"(the CRF at {by['crf']['images_per_s']:.2f} images/s per process):"
    )
    for name, n in DATASETS.items():
        cam_h = n / best["images_per_s"] / 3600
        crf_h = n / by["crf"]["images_per_s"] / 3600
        lines.append(
            f"- {name} ({n} images): CAMs {cam_h:.2f} h; CRF {crf_h:.2f} h on one "
            f"process ({crf_h / 8:.2f} h on 8)"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=4, help="timed images per row and round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (median)")
    p.add_argument("--k", type=int, default=3, help="target classes per image")
    p.add_argument("--batch-size", type=int, nargs="+", default=[1, 4], help="batch rows")
    p.add_argument("--precisions", nargs="+", default=["fp32"], help="batch rows: fp32 bf16")
    p.add_argument("--size", type=int, nargs=2, default=[500, 375], metavar=("W", "H"))
    p.add_argument("--threads", type=int, default=2, help="torch threads (CPU)")
    p.add_argument("--model", default="ViT-B-16")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=None, help="default results_batch_<device>.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        if "timing" in job:
            print(json.dumps(_timing_worker(job["timing"], job["rounds"])))
        else:
            print(json.dumps(_worker(job)))
        return 0
    load = _hardware(args.device, args.threads)
    base = dict(
        model=args.model,
        size=args.size,
        threads=args.threads,
        device=args.device,
        images=args.images,
        k=args.k,
        batch=1,
        precision="fp32",
    )
    configs = [
        dict(base, method="floor", name="floor (no-grad forward)"),
        dict(base, method="official", name="(a) official loop", check=True),
        dict(base, method="one", name="(b) one-image path"),
    ]
    for prec in args.precisions:
        for b in args.batch_size:
            configs.append(
                dict(base, method="batch", batch=b, precision=prec, name=f"(c) batch {b} {prec}")
            )
    configs.append(dict(base, method="crf", name="CRF (1 process)"))
    results = []
    for cfg in configs:  # memory: a fresh process per row, one image (one batch) timed
        t = time.perf_counter()
        results.append(_run_config(dict(cfg, images=max(cfg["batch"], 1))))
        print(
            f"  memory {cfg['name']}: {results[-1]['peak_mib']:.0f} MiB "
            f"({time.perf_counter() - t:.0f} s)",
            file=sys.stderr,
        )
    model_rows = [c for c in configs if c["method"] != "crf"]
    t = time.perf_counter()
    speeds = _run_config({"timing": model_rows, "rounds": args.rounds, "threads": args.threads})
    print(
        f"  timing, {args.rounds} interleaved rounds: {time.perf_counter() - t:.0f} s",
        file=sys.stderr,
    )
    for r in results:
        if r["name"] in speeds:
            r["images_per_s"] = speeds[r["name"]]
    report = _report(results, args, load)
    print(report)
    out = args.out or HERE / f"results_batch_{args.device.split(':')[0]}.md"
    out.write_text(report)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
