"""Regenerate results/toy/: what CLIP-ES does on the toy world, scored against exact GT.

    python scripts/toy_report.py [--n-val 200] [--out results/toy]

Writes stages.csv (initial CAM, + CAA, + dCRF, pseudo-mask, baselines, patch-grid ceiling),
ablation_per_class.csv (initial-CAM IoU with/without the background set and the softmax),
noise.csv (95% paired-bootstrap intervals over the val images of each stage and of the
differences between stages and variants), zeroshot.json, and summary.md (the tables, with
the paper's VOC numbers labelled as such).

`--clip DIR` scores another micro-CLIP folder (e.g. one retrained with `--seed 1` by
scripts/train_toy_clip.py) on the same images, to compare training seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch

# CLIP-ES paper, VOC 2012 train (Table 2; Table 6 for the softmax / background set rows).
PAPER_VOC_TRAIN = {
    "initial CAM": 58.6,
    "+ CAA": 70.8,
    "+ CAA + dCRF": 75.0,
    "no softmax, 20 classes (Table 6)": 49.4,
    "softmax, 20 classes (Table 6)": 53.3,
    "softmax + background set (Table 6)": 58.6,
}


NOISE_DIFFERENCES = [  # (better?, baseline): differences the toy world is meant to show
    ("+ CAA", "initial CAM"),
    ("+ CAA + dCRF", "+ CAA"),
    ("softmax + background set (default)", "softmax, classes only"),
    ("softmax + background set (default)", "no softmax, classes only"),
    ("softmax, classes only", "no softmax, classes only"),
]


def noise_table(per_image: dict, *, n_boot: int, seed: int) -> pd.DataFrame:
    """mIoU (%) of each run and of the differences in NOISE_DIFFERENCES, with the 95%
    interval of a paired bootstrap over the images
    (:func:`clipwsss.experiments.intervals.bootstrap_table`)."""
    from clipwsss.experiments.intervals import bootstrap_table

    table = bootstrap_table(per_image, NOISE_DIFFERENCES, n_boot=n_boot, seed=seed)
    table = table.drop(columns="excludes 0").rename_axis("run or difference")
    return table.reset_index().round(1)


def main(argv: list[str] | None = None) -> int:
    import clipwsss as cw
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, get_profile
    from clipwsss.experiments.stages import per_class_table, run_stages
    from clipwsss.experiments.zeroshot import zero_shot_scores
    from clipwsss.pipelines.cams import generate_cams
    from clipwsss.pipelines.evaluate import evaluate
    from clipwsss.toy import generate_toy_voc

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-val", type=int, default=200)
    parser.add_argument("--data", type=Path, default=Path("data/toy_report"))
    parser.add_argument("--out", type=Path, default=Path("results/toy"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clip",
        type=Path,
        default=None,
        help="micro-CLIP folder to score (default: the shipped one)",
    )
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.time()
    if not (args.data / "ImageSets" / "Segmentation" / "val.txt").is_file():
        generate_toy_voc(
            args.data, n_train=0, n_val=args.n_val, seed=args.seed, image_size=TOY_IMAGE_SIZE
        )
    profile = get_profile("toy", data_root=str(args.data))
    model = f"local-dir:{args.clip.resolve()}" if args.clip else profile.model
    clip = cw.load_clip(model, profile.pretrained)
    vocab = profile.vocabulary()
    dataset = VOCDataset(args.data, "val", class_names=profile.class_names())
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.data / "runs" / clip.fingerprint[:12]  # one folder per checkpoint

    zs = zero_shot_scores(clip, vocab, dataset)
    (args.out / "zeroshot.json").write_text(json.dumps(zs, indent=2) + "\n")

    es = cw.ClipES(clip, vocab, profile.clip_es)
    stages, _ = run_stages(es, dataset, work / "default", workers=args.workers, progress=False)
    stages.to_csv(args.out / "stages.csv", index=False)
    per_image = {  # run name -> (N, n, n) confusion matrix of each image
        "initial CAM": evaluate(
            dataset, work / "default" / "cams", cam_key="highres", per_image=True, progress=False
        ).image_hists,
        "+ CAA": evaluate(
            dataset, work / "default" / "cams", per_image=True, progress=False
        ).image_hists,
        "+ CAA + dCRF": evaluate(
            dataset, work / "default" / "crf", per_image=True, progress=False
        ).image_hists,
    }

    variants = {
        "softmax + background set (default)": profile.clip_es,
        "softmax, classes only": dataclasses.replace(
            profile.clip_es, use_background=False, text_set="dataset"
        ),
        "no softmax, classes only": dataclasses.replace(
            profile.clip_es, use_background=False, text_set="dataset", softmax=False
        ),
        "no softmax + background set": dataclasses.replace(profile.clip_es, softmax=False),
    }
    scores = {}
    for i, (name, cfg) in enumerate(variants.items()):
        run = work / f"ablation_{i}"
        generate_cams(cw.ClipES(clip, vocab, cfg), dataset, run, progress=False)
        result = evaluate(dataset, run, cam_key="highres", per_image=True, progress=False)
        scores[name] = result.scores
        per_image[name] = result.image_hists
    per_class = per_class_table(scores, profile.class_names())
    per_class.loc["mIoU"] = [round(100 * s.miou, 1) for s in scores.values()]
    per_class.to_csv(args.out / "ablation_per_class.csv")

    noise = noise_table(per_image, n_boot=args.n_boot, seed=args.seed)
    noise.to_csv(args.out / "noise.csv", index=False)

    env = (
        f"profile toy, {len(dataset)} generated val images (seed {args.seed}, "
        f"{TOY_IMAGE_SIZE}px), CPU ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, micro-CLIP {args.clip or 'shipped'} (weights "
        f"{clip.fingerprint[:12]}), {time.time() - t0:.0f}s"
    )
    paper = pd.DataFrame(
        {"stage": list(PAPER_VOC_TRAIN), "paper VOC train mIoU": list(PAPER_VOC_TRAIN.values())}
    )
    md = [
        "# CLIP-ES on the toy world",
        "",
        f"Produced by `python scripts/toy_report.py --n-val {args.n_val}"
        f"{f' --clip {args.clip}' if args.clip else ''}"
        f"{f' --out {args.out}' if args.out != Path('results/toy') else ''}`: {env}.",
        "",
        f'Zero-shot classification (micro-CLIP, prompt "a clean origami {{}}."): top-1 '
        f"{100 * zs['top1_accuracy']:.1f}% (best class is one of the image's labels), "
        f"mean AP {100 * zs['mean_ap']:.1f}% over {zs['n_images']} images.",
        "",
        "## Stages (ours, toy val)",
        "",
        stages.to_markdown(index=False),
        "",
        "## Initial-CAM IoU per class: softmax and background set (ours, toy val)",
        "",
        per_class.to_markdown(),
        "",
        f"## Noise of the image sample ({len(dataset)} val images, paired bootstrap, "
        f"{args.n_boot} resamples, 95% interval; not training-seed noise)",
        "",
        noise.to_markdown(index=False),
        "",
        "## For context only: the paper's numbers on PASCAL VOC 2012 train (not ours)",
        "",
        paper.to_markdown(index=False),
        "",
    ]
    (args.out / "summary.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
