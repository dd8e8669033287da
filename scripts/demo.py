"""`make demo`: the whole CLIP-ES pipeline offline on the toy world, scored per stage.

Generates the toy val split (if missing), runs Softmax-GradCAM + CAA with the shipped
micro-CLIP, the dense CRF and the confidence mask, prints the mIoU of every stage beside the
trivial baselines and the patch-grid ceiling, and writes overlays under results/demo/.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    import clipwsss as cw
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.figures import stage_figure
    from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, get_profile
    from clipwsss.experiments.stages import run_stages
    from clipwsss.toy import generate_toy_voc

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-val", type=int, default=60, help="toy val images to generate")
    parser.add_argument("--data", type=Path, default=Path("data/toy"), help="toy data folder")
    parser.add_argument("--out", type=Path, default=Path("results/demo"))
    parser.add_argument("--workers", type=int, default=2, help="CRF processes")
    parser.add_argument("--seed", type=int, default=0, help="toy data seed")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.time()
    split_file = args.data / "ImageSets" / "Segmentation" / "val.txt"
    if not split_file.is_file():
        print(f"generating {args.n_val} toy val images in {args.data} ...")
        generate_toy_voc(
            args.data, n_train=0, n_val=args.n_val, seed=args.seed, image_size=TOY_IMAGE_SIZE
        )
    profile = get_profile("toy", data_root=str(args.data))
    clip = cw.load_clip(profile.model, profile.pretrained)
    es = cw.ClipES(clip, profile.vocabulary(), profile.clip_es)
    dataset = VOCDataset(args.data, "val", class_names=profile.class_names())
    # One folder per checkpoint: a retrained micro-CLIP never resumes into older CAMs.
    run_dir = args.out / "toy_run" / clip.fingerprint
    table, _ = run_stages(es, dataset, run_dir, workers=args.workers, progress=sys.stderr.isatty())
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "toy_stages.csv", index=False)
    print(f"\nCLIP-ES on the toy world (profile toy, {len(dataset)} val images, CPU):")
    print(table.to_string(index=False))
    import matplotlib

    matplotlib.use("Agg")
    fig = stage_figure(dataset, run_dir, dataset.ids[:6], title="CLIP-ES stages, toy val")
    fig.savefig(args.out / "toy_overlays.png", dpi=110)
    print(f"\noverlays: {args.out / 'toy_overlays.png'}; files: {run_dir}")
    print(f"done in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
