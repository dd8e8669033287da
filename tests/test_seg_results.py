"""The toy DeepLab numbers quoted in docs/deeplab.md are those in results/toy/deeplab."""

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_docs_quote_the_committed_toy_results():
    docs = (ROOT / "docs" / "deeplab.md").read_text()
    noise = pd.read_csv(ROOT / "results" / "toy" / "deeplab" / "noise.csv")
    for _, row in noise.iterrows():
        name = row["run or difference"]
        label = name.replace("ce", "CE").replace("cgl", "CGL").replace("CGL - CE,", "CGL - CE,")
        label = label.replace(" seed", ", seed").replace(",,", ",")
        line = f"| {label} | {row['mIoU']:.1f} | {row['95% low']:.1f} - {row['95% high']:.1f} |"
        assert line in docs, line
