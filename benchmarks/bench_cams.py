"""Per-image cost of CLIP-ES CAMs: batched Softmax-GradCAM vs the official per-class loop.

Random-init ViT-B/16 (the cost does not depend on the weights), a random 500x375 uint8 image
(VOC-like; 24x32 = 768 patches), K = 1, 2, 3 target classes with random normalised text
features against 25 background rows. Measured, per image, median of N repeats after one
warm-up, pre-processing excluded (pixels are prepared once):

  floor      vit_forward_floor: one no-grad forward of the image tower, nothing kept
  cam        dense_forward + softmax_gradcam (all K classes, one batched backward)
  cam+caa    the same + CAA (attention affinity, box masks, refinement; as ClipES does)
  loop       dense_forward + gradcam_per_class_loop (the official schedule: one forward and
             backward of the last block per class; dense_forward's own differentiable last
             block is counted too, i.e. 1 + K last-block forwards)

Peak memory is the process RSS high-water mark (``ru_maxrss``) of a fresh subprocess per
configuration, so configurations do not leak into each other; it includes the loaded model.

    python benchmarks/bench_cams.py                    # CPU, 2 threads, N = 5
    python benchmarks/bench_cams.py --repeats 1 --out /tmp/bench.md   # smoke run

The CUDA path (``--devices cuda``, default when a GPU is visible) uses CUDA events and
``torch.cuda.max_memory_allocated``, and batches ``--batch`` same-size images for the floor;
it is untested (written on a machine without a GPU).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
METHODS = ("floor", "cam", "cam+caa", "loop")
LABELS = (7, 14, 11)  # cat, person, dog: the first K are the targets
N_CLASSES, N_BACKGROUND = 20, 25


# --------------------------------------------------------------------------- worker


def _worker(cfg: dict) -> dict:
    """Time one (method, K, device) configuration in this (fresh) process."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    import clipwsss as cw
    from clipwsss.cams.caa import caa_refine
    from clipwsss.cams.gradcam import build_text_setup, gradcam_per_class_loop, softmax_gradcam
    from clipwsss.clip.dense import dense_forward, preprocess, vit_forward_floor

    torch.set_num_threads(cfg["threads"])
    device = torch.device(cfg["device"])
    torch.manual_seed(0)
    clip = cw.load_clip(cfg["model"], pretrained=None, device=device)
    visual = clip.model.visual
    w, h = cfg["size"]
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    pixels = preprocess(image, patch_size=clip.patch_size)[None].to(device)
    batch = cfg["batch"] if (cfg["method"] == "floor" and device.type == "cuda") else 1
    pixels = pixels.expand(batch, -1, -1, -1).contiguous()
    g = torch.Generator().manual_seed(0)
    dim = clip.model.text_projection.shape[-1]
    cls = F.normalize(torch.randn(N_CLASSES, dim, generator=g), dim=-1).to(device)
    bg = F.normalize(torch.randn(N_BACKGROUND, dim, generator=g), dim=-1).to(device)
    text = build_text_setup(cls, bg, LABELS[: max(cfg["k"], 1)])  # floor: unused
    scale = float(clip.model.logit_scale.exp())
    caa = cw.ClipEsConfig()  # official CAA settings: last 8 blocks, 3 Sinkhorn rounds, t = 2

    def run() -> object:
        if cfg["method"] == "floor":
            return vit_forward_floor(visual, pixels)
        dense = dense_forward(clip, pixels)
        if cfg["method"] == "loop":
            return gradcam_per_class_loop(visual, dense, text, logit_scale=scale)
        cams = softmax_gradcam(dense, text, logit_scale=scale)
        if cfg["method"] == "cam+caa":
            return caa_refine(
                cams,
                dense.attn[0],
                threshold=caa.box_threshold,
                n_layers=caa.caa_layers,
                n_iters=caa.sinkhorn_iters,
                power=caa.caa_power,
            )
        return cams

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run()  # warm-up
    sync()
    times = []
    for _ in range(cfg["repeats"]):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) / batch)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return {
        **cfg,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "rss_loaded_mib": rss_loaded,
        "rss_peak_mib": rss_peak,
        "gpu_peak_mib": gpu_peak,
        "grid": [pixels.shape[-2] // clip.patch_size, pixels.shape[-1] // clip.patch_size],
    }


def _run_config(cfg: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    env = dict(os.environ, OMP_NUM_THREADS=str(cfg["threads"]))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker failed for {cfg}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _hardware(device: str, threads: int) -> list[str]:
    import torch

    lines = [
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{shlex.join([Path(sys.executable).name, *sys.argv])}`",
        f"- CPU: {_cpu_model()}; {os.cpu_count()} logical cores, "
        f"{len(os.sched_getaffinity(0))} usable; torch threads: {threads}",
        "- load average at start (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.platform()}",
    ]
    if device == "cuda":
        lines.append(f"- GPU: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
    return lines


def _table(results: list[dict], device: str) -> list[str]:
    by = {(r["method"], r["k"]): r for r in results}
    floor = by[("floor", 0)]
    mem = "GPU peak MiB" if device == "cuda" else "peak RSS MiB"
    head = (
        f"| K | floor s | cam s | cam/floor | cam+caa s | cam+caa/floor | loop s | loop/floor "
        f"| loop/cam | {mem}: floor / cam / cam+caa / loop |"
    )
    rows = [head, "|" + "---|" * 10]
    for k in sorted({r["k"] for r in results if r["k"]}):
        a, b, bc, c = floor, by[("cam", k)], by[("cam+caa", k)], by[("loop", k)]

        def m(r: dict) -> str:
            v = r["gpu_peak_mib"] if device == "cuda" else r["rss_peak_mib"]
            return f"{v:.0f}"

        rows.append(
            f"| {k} | {a['median_s']:.3f} | {b['median_s']:.3f} | "
            f"{b['median_s'] / a['median_s']:.2f} | {bc['median_s']:.3f} | "
            f"{bc['median_s'] / a['median_s']:.2f} | {c['median_s']:.3f} | "
            f"{c['median_s'] / a['median_s']:.2f} | {c['median_s'] / b['median_s']:.2f} | "
            f"{m(a)} / {m(b)} / {m(bc)} / {m(c)} |"
        )
    return rows


def _report(results: list[dict], args: argparse.Namespace, device: str) -> str:
    r0 = results[0]
    w, h = args.size
    lines = [
        f"# CLIP-ES CAM cost per image ({device})",
        "",
        f"{args.model}, random init, fp32; image {w}x{h} -> grid {r0['grid'][0]}x{r0['grid'][1]}"
        f"; {N_BACKGROUND} background rows; median of {args.repeats} repeats after 1 warm-up "
        f"(seconds per image); one fresh process per configuration."
        + (f" Floor batched by {args.batch} same-size images." if device == "cuda" else ""),
        "",
        *_hardware(device, args.threads),
        "",
        *_table(results, device),
        "",
        "floor = `vit_forward_floor`; cam = `dense_forward` + `softmax_gradcam` (batched "
        "backward); cam+caa = cam + `caa_refine`; loop = `dense_forward` + "
        "`gradcam_per_class_loop` (official schedule). "
        + (
            "Memory: `torch.cuda.max_memory_allocated`."
            if device == "cuda"
            else "Memory: `ru_maxrss` of the configuration's process, model included; after "
            f"loading the model it was {min(r['rss_loaded_mib'] for r in results):.0f}-"
            f"{max(r['rss_loaded_mib'] for r in results):.0f} MiB."
        ),
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (N)")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3], help="classes K")
    parser.add_argument("--size", type=int, nargs=2, default=[500, 375], metavar=("W", "H"))
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--model", default="ViT-B-16", help="open_clip ViT name")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--batch", type=int, default=8, help="CUDA floor batch (untested)")
    parser.add_argument("--out", type=Path, default=None, help="default results_<device>.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return 0
    devices = args.devices
    if devices is None:
        import torch

        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        base = dict(
            model=args.model,
            size=args.size,
            threads=args.threads,
            repeats=args.repeats,
            device=device,
            batch=args.batch,
        )
        configs = [dict(base, method="floor", k=0)] + [
            dict(base, method=m, k=k) for k in args.ks for m in METHODS[1:]
        ]
        results = []
        for cfg in configs:
            t = time.perf_counter()
            results.append(_run_config(cfg))
            print(
                f"  {device} {cfg['method']:8s} K={cfg['k']}: "
                f"{results[-1]['median_s']:.3f} s/image ({time.perf_counter() - t:.0f} s)",
                file=sys.stderr,
            )
        report = _report(results, args, device)
        print(report)
        out = args.out if args.out and len(devices) == 1 else HERE / f"results_{device}.md"
        out.write_text(report)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
