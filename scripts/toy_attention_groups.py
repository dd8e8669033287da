"""Why CAA does not help on the toy world: does the micro-CLIP's attention group objects?

    python scripts/toy_attention_groups.py                      # the shipped micro-CLIP
    python scripts/toy_attention_groups.py --model DIR --out results/toy/candidates/NAME

Writes to ``--out`` (default results/toy):
* ``attention_groups.csv``: per map (each block, Eq. 6's W_attn and A, A^t from the last
  1..L blocks, a locality reference), the mean attention within an object, object to
  background, background to object, background to background, to another object and to
  itself (units of uniform attention), with 95% image-bootstrap intervals
  (:mod:`clipwsss.experiments.attention_groups`), on the toy val split of each
  ``--group-seeds`` data seed (0, 1, 2: 200 val images each);
* ``attention_ranking.csv``: per map, how often an object patch ranks its own object above
  the background (and above another object), in %, 50 = no grouping, and each map minus
  the locality reference, paired;
* ``caa_seeds.csv``: on each ``--seeds`` data seed (200 fresh val images each), initial CAMs,
  + CAA (the profile's last 3 blocks) and + CAA from the last block only, with paired
  intervals of each refinement minus the initial CAMs.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    import clipwsss as cw
    import clipwsss.experiments.notebooks as nbk
    from clipwsss.experiments import attention_groups as ag
    from clipwsss.experiments import intervals as iv

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="", help="open_clip folder; empty = the shipped micro-CLIP")
    p.add_argument("--out", default=str(ROOT / "results" / "toy"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--group-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = Path(args.model).name if args.model else "shipped"
    t0 = time.time()
    groups, ranks, caa = [], [], []
    for seed in sorted(set(args.seeds) | set(args.group_seeds)):
        S = nbk.setup("toy", seed=seed)
        if args.model:
            S = replace(S, clip=cw.load_clip(f"local-dir:{args.model}"))
        es = S.clip_es()
        if seed in args.group_seeds:
            rec = ag.attention_grouping(es, S.dataset, S.ids)
            for frame, rows in (
                (ag.grouping_table(rec, seed=seed), groups),
                (ag.ranking_table(rec, seed=seed), ranks),
            ):
                rows.append(frame.reset_index().assign(model=model, seed=seed))
        if seed in args.seeds:
            official = nbk.score_cams(es, S.dataset, S.ids)
            last1 = nbk.score_cams(S.clip_es(caa_layers=1), S.dataset, S.ids)
            runs = {
                "initial": official.image_hists("initial"),
                "+ CAA": official.image_hists("refined"),
                "+ CAA, last block only": last1.image_hists("refined"),
            }
            table = iv.bootstrap_table(
                runs, [("+ CAA", "initial"), ("+ CAA, last block only", "initial")], seed=seed
            )
            caa.append(table.rename_axis("row").reset_index().assign(model=model, seed=seed))
        print(f"seed {seed} done, {time.time() - t0:.0f} s", flush=True)
    written = []
    for name, parts in (
        ("attention_groups", groups),
        ("attention_ranking", ranks),
        ("caa_seeds", caa),
    ):
        if parts:
            frame = pd.concat(parts)
            cols = ["model", "seed", *[c for c in frame.columns if c not in ("model", "seed")]]
            frame[cols].round(4).to_csv(out / f"{name}.csv", index=False)
            written.append(str(out / f"{name}.csv"))
    print("wrote", ", ".join(written), f"in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
