# Notebook 13_weclip_overview.ipynb: code cell, insert after the markdown cell 13_rfm_labels.md
# (itself after cell 18). Figure from the in-notebook model `net`; the table reads
# results/toy/14_rfm_ablation.csv (`python scripts/weclip_rfm_ablation.py report`).
from clipwsss.experiments.intervals import Interval
from clipwsss.experiments.weclip_rfm import rfm_label_figure

fig = rfm_label_figure(net, S.dataset, S.ids[:min(3, n_figure)],
                       title=f"CAA vs RFM pseudo labels, notebook model ({result.step} steps)")
plt.show()
rfm_csv = next((c for c in (nbk.REPO_ROOT / "results" / "toy" / f"{stem}.csv"
                            for stem in ("14_rfm_ablation", "14_rfm_ablation_step200"))
                if c.is_file()), None)  # fmt: skip (finished runs, else step-200 checkpoints)
if S.profile.name == "toy" and rfm_csv is not None:
    rfm_labels = (pd.read_csv(rfm_csv).query("table == 'train pseudo labels'")
                  .set_index("row").drop(columns="table"))  # fmt: skip
    display(rfm_labels)
    gain = {r.split("(")[1].split(")")[0]: Interval(v["mIoU"], v["95% low"], v["95% high"])
            for r, v in rfm_labels.iterrows() if " - " in r}  # fmt: skip
    display(nbk.reading(
        "Scored against the ground truth on the same toy train images, each trained model's RFM "
        "labels minus its CAA labels (mean over the training seeds in the table) are "
        + "; ".join(f"{k}: {iv.text()}" for k, iv in gain.items())
        + ". The RFM is the module that should make the online labels better than CLIP-ES's "
        "(WeCLIP Section 3.3); this is the toy world's measurement of that claim."))
else:
    print(f"no stored RFM table for profile {S.profile.name} (scripts/weclip_rfm_ablation.py "
          "writes it on toy)")
