"""Where does a micro-CLIP keep per-patch class evidence? `python scripts/probe_toy_clip.py DIR`

Prints the initial-CAM mIoU (60 fresh toy scenes, seed 12345, the scenes `quick_eval` uses) of
Grad-CAM with avg- and cls-pooled embeddings and of the per-token text scores of the last
block's output tokens and attention values (see README, "How we got there").
"""

import argparse
import json

import torch

import clipwsss as cw
from clipwsss.experiments.profiles import TOY_MODEL_DIR
from clipwsss.toy.evaluate import localisation_probe


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", default=str(TOY_MODEL_DIR), help="open_clip folder")
    parser.add_argument("--n-scenes", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    clip = cw.load_clip(f"local-dir:{args.folder}")
    print(json.dumps(localisation_probe(clip, n_scenes=args.n_scenes), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
