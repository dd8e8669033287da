"""How far reduced precision (bf16 / fp16 autocast) moves the CLIP-ES CAMs and CRF masks.

The batched path (``ClipES.batch_pixels``) runs the forward and the GradCAM backward under
``torch.autocast``; the affinity, boxes and refinement stay float32. This compares it with
fp32 on the same images, at the image size and after the float16 rounding of the CAM files,
and the pseudo masks the dense CRF makes from each (the official mask settings).

    python -m clipwsss.experiments.precision            # the toy numbers of docs/cli.md
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from clipwsss.data import load_image
from clipwsss.experiments.notebooks import setup
from clipwsss.pipelines.masks import MaskOptions, pseudo_mask_for

# The setting docs/cli.md reports: toy profile, val images of the seed-0 toy world.
DOC_SETTING = {"n_images": 24, "batch_size": 8, "seed": 0}


@dataclass(frozen=True)
class PrecisionGap:
    """fp32 vs a reduced precision on one image set.

    Attributes:
        precision: "bf16" or "fp16".
        n_images: images compared.
        max_abs_cam: max |difference| of the initial CAMs (file values, image size).
        max_abs_refined: the same for the refined CAMs (``attn_highres``).
        mean_abs_refined: mean |difference| of the refined CAMs over all pixels.
        crf_agreement: equal pseudo-mask pixels / all pixels (255 counts as a label).
    """

    precision: str
    n_images: int
    max_abs_cam: float
    max_abs_refined: float
    mean_abs_refined: float
    crf_agreement: float


def precision_gap(
    precision: str = "bf16",
    *,
    profile: str = "toy",
    n_images: int = DOC_SETTING["n_images"],
    batch_size: int = DOC_SETTING["batch_size"],
    seed: int = DOC_SETTING["seed"],
    data_root: str = "",
) -> PrecisionGap:
    """Measure fp32 vs ``precision`` CAMs and CRF masks on the first ``n_images`` of a profile.

    Both runs take the batched path (one forward per ``batch_size`` images of one grid); the
    CAMs are compared as the CAM files store them (upsampled, float16).
    """
    s = setup(profile, data_root=data_root, limit=n_images, seed=seed, n_toy_images=n_images)
    es = s.clip_es()
    items = []
    for image_id in s.ids:
        sample = s.dataset.sample(image_id)
        items.append((load_image(sample.image_path), list(sample.labels)))
    diffs_cam, diffs_ref, sums, n_pix, agree, total = [], [], 0.0, 0, 0, 0
    options = MaskOptions(n_classes=s.profile.n_classes)
    for i in range(0, len(items), batch_size):
        chunk = items[i : i + batch_size]
        images, labels = [c[0] for c in chunk], [c[1] for c in chunk]
        outs = {p: es.batched(images, labels, precision=p) for p in ("fp32", precision)}
        for j, image in enumerate(images):
            files = {}
            for p, out in outs.items():
                size = image.shape[:2]
                files[p] = (
                    es.upsample(out[j].cams, size).numpy().astype(np.float16),
                    es.upsample(out[j].refined, size).numpy().astype(np.float16),
                )
            a, b = files["fp32"], files[precision]
            diffs_cam.append(np.abs(a[0].astype(np.float32) - b[0]).max())
            d = np.abs(a[1].astype(np.float32) - b[1])
            diffs_ref.append(d.max())
            sums, n_pix = sums + float(d.sum()), n_pix + d.size
            keys = np.asarray(labels[j])
            m32 = pseudo_mask_for(image, keys, a[1], options)
            mlo = pseudo_mask_for(image, keys, b[1], options)
            agree, total = agree + int((m32 == mlo).sum()), total + m32.size
    return PrecisionGap(
        precision=precision,
        n_images=len(items),
        max_abs_cam=float(max(diffs_cam)),
        max_abs_refined=float(max(diffs_ref)),
        mean_abs_refined=sums / n_pix,
        crf_agreement=agree / total,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", default="bf16", choices=("bf16", "fp16"))
    parser.add_argument("--n-images", type=int, default=DOC_SETTING["n_images"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        gap = precision_gap(args.precision, n_images=args.n_images, data_root=str(Path(tmp)))
    print(json.dumps(asdict(gap), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
