"""Run the notebooks through papermill as a batch (`make run`), into a scratch folder.

    python scripts/run_notebooks.py --profile toy --nb 07_lambda_mu_sweeps -p lambdas "[0.3, 0.5]"
    python scripts/run_notebooks.py --profile voc12 --nb 06_caa_vs_mhsa --data /data/VOC2012 \
        -p pretrained /weights/ViT-B-16.pt
    python scripts/run_notebooks.py --profile voc12 --data /data/VOC2012 --refresh-results

Each executed copy goes to outputs/notebooks/<profile>/<name>.ipynb and its metrics to
outputs/notebooks/<profile>/<name>.json (the notebook writes them), or to --out. Only
--refresh-results writes the committed results/<profile>/ (for a real profile, the record of
a real run); results/toy is written by scripts/execute_notebooks.py, the run of the committed
notebooks (`make toy`), so a notebook and the claim ledger show one measurement. Values are
read as the notebooks' parameters cells type them (lists as typed: "[0.3, 0.5]"); unknown
parameter names are refused (papermill only warns), and a failing notebook fails the run.
docs/batches.md has more.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "outputs" / "notebooks"  # ignored by git


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.notebooks import run_notebook
    from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="toy", choices=["toy", "voc12", "coco14"])
    parser.add_argument(
        "--nb",
        action="append",
        default=[],
        help="notebook name (with or without .ipynb); repeatable; default all",
    )
    parser.add_argument("--data", default="", help="data root for the profile")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out", type=Path, default=None, help="output folder (default outputs/notebooks/<profile>)"
    )
    where.add_argument(
        "--refresh-results",
        action="store_true",
        help="write into the committed results/<profile>/ (real profiles)",
    )
    parser.add_argument(
        "-p",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="extra parameter (Python literal or string)",
    )
    args = parser.parse_args(argv)
    if args.refresh_results and args.profile == "toy":
        parser.error(
            "results/toy is written by scripts/execute_notebooks.py (`make toy`), the "
            "run of the committed notebooks; use --out for a toy batch"
        )
    if args.refresh_results:
        out = ROOT / "results" / args.profile
    else:
        out = args.out or SCRATCH / args.profile
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.nb:
        wanted = {n.removesuffix(".ipynb") for n in args.nb}
        missing = wanted - {p.stem for p in notebooks}
        if missing:
            parser.error(f"no notebook {sorted(missing)}; have {[p.stem for p in notebooks]}")
        notebooks = [p for p in notebooks if p.stem in wanted]
    else:  # every profile notebook; the real-photo one takes CLIP weights, not a profile
        notebooks = [p for p in notebooks if p.stem not in REAL_WEIGHTS_NOTEBOOKS]
    notebooks.sort(key=lambda nb: nb.stem == "11_claim_ledger")  # the ledger reads the others
    params = {"profile": args.profile, "results_dir": str(out.resolve())}
    if args.data:
        params["data_root"] = str(Path(args.data).resolve())
    params.update({name: _value(value) for name, value in args.p})
    for nb in notebooks:
        t0 = time.time()
        print(f"{nb.name} ...", flush=True)
        run_notebook(nb, out / nb.name, params)
        print(f"{nb.name} done in {time.time() - t0:.0f}s -> {out / nb.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
