# Notebook 14_weclip_ablations.ipynb: code cell, insert after the markdown cell
# 14_rfm_ablation.md (itself after cell 9). Reads results/toy/14_rfm_ablation_hists.npz and
# 14_rfm_ablation_runs.csv (`python scripts/weclip_rfm_ablation.py report`) and
# results/toy/weclip/summary.json (the toy recipe's two seeds, scripts/weclip_toy.py).
import numpy as np

from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.seed_intervals import seed_mean_table

toy_dir = nbk.REPO_ROOT / "results" / "toy"
# Finished 300-step runs ("14_rfm_ablation") when stored, else the step-200 checkpoints of the
# same runs ("14_rfm_ablation_step200", `score-step --step 200`, `report --step 200`).
rfm_stem = next((stem for stem in ("14_rfm_ablation", "14_rfm_ablation_step200")
                 if (toy_dir / f"{stem}_hists.npz").is_file()), None)  # fmt: skip
has_rfm = profile == "toy" and rfm_stem is not None
rfm_npz = toy_dir / f"{rfm_stem}_hists.npz"
if not has_rfm:
    print(f"no stored RFM ablation for profile {profile} (scripts/weclip_rfm_ablation.py "
          "writes it on toy)")
else:
    with np.load(rfm_npz) as z:
        rfm_arrays = {k: z[k] for k in z.files}  # "<split>/<variant>/<seed>" -> (N, n, n)

    def runs_of(key):
        out = {}
        for name, h in rfm_arrays.items():
            k, variant, s = name.split("/")
            if k == key:
                out.setdefault(variant, {})[int(s)] = h
        return out

    rfm_val = runs_of("val")
    on, off = "small decoder, RFM on", "small decoder, RFM off"
    rfm_table = seed_mean_table(rfm_val, [(on, off)], n_boot=1000, seed=0)
    label_runs = {f"{name} labels": runs_of(f"train_{name.lower()}")[on] for name in ("CAA", "RFM")}
    label_table = seed_mean_table(label_runs, [("RFM labels", "CAA labels")], n_boot=1000, seed=0)
    display(rfm_table.round(1))
    display(label_table.round(1))
    rfm_runs = pd.read_csv(toy_dir / f"{rfm_stem}_runs.csv")
    display(rfm_runs)
    rfm_steps = sorted(set(rfm_runs["iterations"]))
    recipe_summary = json.loads((toy_dir / "weclip" / "summary.json").read_text())
    recipe_val = {r["run"]: r["mIoU"] for r in recipe_summary["tables"]["val"]["rows"]}

    def iv(table, row):
        r = table.loc[row]
        return Interval(r["mIoU"], r["95% low"], r["95% high"])

    def span(table, row):  # a run's own mIoU: no verdict about zero
        r = table.loc[row]
        return f"{r['mIoU']:.1f} (95% interval {r['95% low']:.1f} to {r['95% high']:.1f})"

    recipe_seeds = [v for k, v in recipe_val.items()
                    if k.startswith("WeCLIP seed") and " - " not in k]
    n_seeds = int(rfm_table.loc[f"{on} - {off}", "seeds"])
    display(nbk.reading(f"""
**RFM on vs off (toy val, {n_seeds} training seed{'s' if n_seeds > 1 else ''}, small
decoder, models after step {', '.join(map(str, rfm_steps))} of the 300-step schedule).**
RFM on scores {span(rfm_table, on)} and RFM off
{span(rfm_table, off)}; on minus off is {iv(rfm_table, f'{on} - {off}').text()}
(seed range of the difference {rfm_table.loc[f'{on} - {off}', 'seed range']:.1f}). On train images
the RFM labels minus the CAA labels of the same models are
{iv(label_table, 'RFM labels - CAA labels').text()}, with the CAA labels at
{label_table.loc['CAA labels', 'mIoU']:.1f}. For scale (other runs, not paired with these):
the toy recipe's own decoder scored {', '.join(f'{v:.1f}' for v in recipe_seeds)} on the same
200 val images (`scripts/weclip_toy.py`, seeds 0 and 1), and CLIP-ES's CAA
{recipe_val['CLIP-ES + CAA']:.1f}."""))
