"""Train the toy world's micro-CLIP: `python scripts/train_toy_clip.py --out DIR [--steps N]`."""

import argparse
import dataclasses

import torch

import clipwsss as cw
from clipwsss.toy.evaluate import quick_eval
from clipwsss.toy.train import ToyClipConfig, train_toy_clip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    for field in dataclasses.fields(ToyClipConfig):
        flag = f"--{field.name.replace('_', '-')}"
        if isinstance(field.default, bool):  # --value-whole-image / --no-value-whole-image
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = ToyClipConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(ToyClipConfig)}
    )

    def evaluate(folder):
        clip = cw.load_clip(f"local-dir:{folder}", device=args.device)
        return quick_eval(clip, image_size=cfg.image_size, caa_layers=min(3, cfg.vision_layers))

    train_toy_clip(args.out, cfg, device=args.device, eval_fn=evaluate)


if __name__ == "__main__":
    main()
