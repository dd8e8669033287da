"""Gaps between CLIP-ES stages and the best trivial baseline on small toy val sets.

    python scripts/toy_margins.py [--seeds 0,1,2,3,4] [--n-val 20]

What tests/test_toy_model.py's MIN_GAIN_OVER_BASELINES was set from (about half the smallest
gap): one line per data seed with every stage's mIoU and the three gaps in points.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import torch


def main(argv=None) -> int:
    import clipwsss as cw
    from clipwsss.data import VOCDataset
    from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, get_profile
    from clipwsss.experiments.stages import run_stages
    from clipwsss.toy import generate_toy_voc

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--n-val", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    profile = get_profile("toy")
    es = cw.ClipES(cw.load_clip(profile.model), profile.vocabulary(), profile.clip_es)
    for seed in (int(s) for s in args.seeds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            generate_toy_voc(
                root / "data", n_train=0, n_val=args.n_val, seed=seed, image_size=TOY_IMAGE_SIZE
            )
            dataset = VOCDataset(root / "data", "val", class_names=profile.class_names())
            table, _ = run_stages(es, dataset, root / "run", workers=1, progress=False)
        stages = dict(zip(table["stage"], table["mIoU"], strict=True))
        base = max(stages["all background"], stages["largest class everywhere"])
        gaps = [round(stages[s] - base, 1) for s in ("initial CAM", "+ CAA", "+ CAA + dCRF")]
        print(f"seed {seed}: {stages} gaps (initial, +CAA, +dCRF): {gaps}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
