"""Training throughput and peak memory of DeepLabV2 through the shared engine.

    python scripts/bench_deeplab.py [--recipes toy voc12] [--iterations 3] [--device cpu]

For each recipe, one fresh subprocess trains ``--iterations`` measured steps (after one
warm-up step) of the recipe's model, crop and batch on synthetic images and labels (no
disk I/O: this times the model, the loss and the optimizer), with random weights (BN
trained, not frozen). Prints a
markdown table: images/s over the measured steps and the peak memory (CPU: the process's
peak resident set size, which includes the Python and torch runtime; CUDA: peak allocated
tensor memory).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import warnings

import torch
from torch.utils.data import Dataset


class _Synthetic(Dataset):
    def __init__(self, crop: int, n_classes: int) -> None:
        self.crop, self.n_classes = crop, n_classes

    def __len__(self) -> int:
        return 1000

    def __getitem__(self, i):
        label = torch.randint(0, self.n_classes, (self.crop, self.crop))
        return {"image": torch.randn(3, self.crop, self.crop), "label": label}


def _one(recipe_name: str, iterations: int, device: str, threads: int) -> dict:
    from clipwsss.train import train
    from clipwsss.train.tasks.deeplab import DeepLabTask, get_recipe

    torch.set_num_threads(threads)
    recipe = get_recipe(recipe_name, init="random")
    # Random weights with frozen (identity) BN make ResNet-101 activations overflow (NaN
    # loss at step 1): train BN here; the step costs the same.
    recipe = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, freeze_bn=False))

    class Bench(DeepLabTask):
        def __init__(self) -> None:  # no data files: synthetic samples
            self.recipe, self.allow_random, self.val_dataset = recipe, True, None
            self.masks_dir, self.conf_dir, self.dataset = "synthetic", None, []
            self.model = None

        def train_dataset(self):
            return _Synthetic(recipe.data.crop, recipe.model.n_classes)

    with tempfile.TemporaryDirectory() as run_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = dataclasses.replace(
            recipe.train,
            iterations=iterations + 1,
            log_interval=1,
            checkpoint_interval=10**6,
            progress=False,
            device=device,
            run_dir=run_dir,
            warmup_iters=0,
        )
        if torch.cuda.is_available() and device != "cpu":
            torch.cuda.reset_peak_memory_stats()
        result = train(Bench(), cfg)
    rows = [r for r in result.history if r["kind"] == "train"][1:]  # drop the warm-up step
    cuda = torch.cuda.is_available() and device != "cpu"
    peak = (
        torch.cuda.max_memory_allocated()
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "recipe": recipe_name,
        "backbone": recipe.model.backbone,
        "crop": recipe.data.crop,
        "batch": recipe.train.batch_size,
        "device": "cuda" if cuda else "cpu",
        "threads": threads,
        "measured steps": len(rows),
        "images/s": round(sum(r["samples_per_s"] for r in rows) / len(rows), 2),
        "peak memory GiB": round(peak / 2**30, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["toy", "voc12"])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.iterations, args.device, args.threads)))
        return 0
    import pandas as pd

    rows = []
    for name in args.recipes:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            name,
            "--iterations",
            str(args.iterations),
            "--device",
            args.device,
            "--threads",
            str(args.threads),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"torch {torch.__version__}"
    )
    print(pd.DataFrame(rows).to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
