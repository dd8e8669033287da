# Notebook 15_weakclip_overview.ipynb: code cell, insert after the markdown cell
# 15_short_run_first.md (itself after cell 6). Reads results/toy/weakclip/weakclip_toy.csv
# (`python scripts/weakclip_toy.py --train-seeds 0 1`).
from clipwsss.experiments.intervals import Interval

stored_csv = nbk.REPO_ROOT / "results" / "toy" / "weakclip" / "weakclip_toy.csv"
stored_diffs = {}
if S.profile.name == "toy" and stored_csv.is_file():
    stored = pd.read_csv(stored_csv)
    pick = stored["run or difference"].str.match(r"^WeakCLIP \(seed \d+\) - CLIP-ES dCRF$")
    for _, r in stored[pick].iterrows():
        stored_diffs[(r["split"], r["run or difference"].split(" - ")[0])] = Interval(
            r["mIoU"], r["95% low"], r["95% high"])
    display(nbk.reading(
        "Stored full recipe, WeakCLIP minus the CLIP-ES dCRF labels it was trained on: "
                + "; ".join(f"{split} images, {run}: {iv.text()}"
                            for (split, run), iv in stored_diffs.items()) + "."))
else:
    print(f"no stored full-recipe table for profile {S.profile.name}: the short run below is "
          "the only WeakCLIP result of this notebook")
