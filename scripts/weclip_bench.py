"""WeCLIP training speed and peak memory at crop 320 with a random ViT-B/16.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/weclip_bench.py --iterations 3 --batch-size 4

Random CLIP weights (open_clip ``ViT-B-16-quickgelu``, ``pretrained=None``; speed does not
depend on the values) and random images with random labels (1-3 of the 20 VOC classes per
image); RFM on, as after the switch. Each iteration: CLIP forward, decoder, batched GradCAM,
RFM, PAR, loss, backward and an AdamW step. The first iteration is a warm-up and not timed.
Peak memory: the process's max RSS (CPU) or ``torch.cuda.max_memory_allocated`` (GPU).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time

import torch


def main(argv: list[str] | None = None) -> int:
    from clipwsss.clip.loading import load_clip
    from clipwsss.methods.weclip.config import WeClipConfig
    from clipwsss.methods.weclip.model import WeClip
    from clipwsss.methods.weclip.train import training_step
    from clipwsss.vocab import voc_vocabulary

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--iterations", type=int, default=3, help="timed iterations (after 1 warm-up)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=320)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="", help="write the result JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = WeClip(
        load_clip("ViT-B-16-quickgelu", None, device=device),
        voc_vocabulary(),
        WeClipConfig(rfm_start=0, count_val_forwards=False),
    ).to(device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    gen = torch.Generator().manual_seed(0)
    labels = torch.zeros(args.batch_size, 20)
    for i in range(args.batch_size):
        labels[i, torch.randperm(20, generator=gen)[: 1 + i % 3]] = 1
    pixels = torch.randn(args.batch_size, 3, args.crop, args.crop, generator=gen)
    batch = {"pixels": pixels.to(device), "labels": labels.to(device)}
    times = []
    for it in range(args.iterations + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = training_step(model, batch, step=it + 1)
        opt.zero_grad(set_to_none=True)
        loss.total.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if it > 0:
            times.append(time.perf_counter() - t)
    words = sys.argv[1:] if argv is None else argv
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "command": "python scripts/weclip_bench.py " + " ".join(words),
        "device": device,
        "threads": args.threads,
        "batch_size": args.batch_size,
        "crop": args.crop,
        "seconds_per_iteration": [round(t, 2) for t in times],
        "iterations_per_second": round(len(times) / sum(times), 4),
        "peak_memory_mib": round(
            torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else rss_mib
        ),
        "memory_kind": "cuda max allocated" if device == "cuda" else "process max RSS",
        "machine": platform.machine(),
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
