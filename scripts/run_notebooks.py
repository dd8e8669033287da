"""Run the notebooks through papermill into results/<profile>/ (`make toy`, `make run`).

    python scripts/run_notebooks.py --profile toy                       # every notebook
    python scripts/run_notebooks.py --profile voc12 --nb 06_caa_vs_mhsa --data /data/VOC2012
    python scripts/run_notebooks.py --nb 07_lambda_mu_sweeps -p lambdas "[0.3, 0.5]"

Each executed copy goes to results/<profile>/<name>.ipynb and its metrics to
results/<profile>/<name>.json (the notebook writes them). Unknown parameter names are
refused (papermill only warns), and a failing notebook fails the run.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    from clipwsss.experiments.notebooks import run_notebook
    from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="toy", choices=["toy", "voc12", "coco14"])
    parser.add_argument("--nb", action="append", default=[],
                        help="notebook name (with or without .ipynb); repeatable; default all")
    parser.add_argument("--data", default="", help="data root for the profile")
    parser.add_argument("--out", type=Path, default=None, help="default results/<profile>")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="extra parameter (Python literal or string)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "results" / args.profile
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.nb:
        wanted = {n.removesuffix(".ipynb") for n in args.nb}
        missing = wanted - {p.stem for p in notebooks}
        if missing:
            parser.error(f"no notebook {sorted(missing)}; have {[p.stem for p in notebooks]}")
        notebooks = [p for p in notebooks if p.stem in wanted]
    else:  # every profile notebook; the real-photo one takes CLIP weights, not a profile
        notebooks = [p for p in notebooks if p.stem not in REAL_WEIGHTS_NOTEBOOKS]
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
