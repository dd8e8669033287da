"""Every ```python block of README.md runs (house style: README claims are tested)."""

import json
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_snippets_and_they_run(capsys):
    blocks = python_blocks()
    assert blocks, "README.md lost its Python quick start"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert "torch.Size" in capsys.readouterr().out


def test_readme_starts_with_the_demo_and_test_commands():
    head = README.read_text().splitlines()[:6]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci and "HF_HUB_OFFLINE=1" in ci


def _readme_table(header: str) -> dict[str, list[str]]:
    """Cells of the README table that starts with ``header``, by its first column."""
    text = README.read_text()
    table = text[text.index(header) :].split("\n\n")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {cells[0]: cells[1:] for cells in rows}


def test_readme_toy_numbers_are_the_committed_results():
    """The README's toy table repeats results/toy (made by scripts/toy_report.py)."""
    import pandas as pd

    results = README.parent / "results" / "toy"
    stages = pd.read_csv(results / "stages.csv").set_index("stage")["mIoU"]
    noise = pd.read_csv(results / "noise.csv").set_index("run or difference")
    readme = _readme_table("| stage (ours, toy val, mIoU %)")
    for readme_name, stage in [
        ("initial CAM (bg = (1 - max)^1)", "initial CAM"),
        ("+ CAA", "+ CAA"),
        ("+ CAA + dCRF", "+ CAA + dCRF"),
    ]:
        toy, interval = readme[readme_name][0], readme[readme_name][1]
        assert float(toy) == stages[stage], readme_name
        low, high = (float(v) for v in interval.split("-"))
        assert (low, high) == (noise.loc[stage, "95% low"], noise.loc[stage, "95% high"])
    mask_row = next(k for k in readme if k.startswith("pseudo-mask"))
    assert float(readme[mask_row][0]) == stages["pseudo-mask (conf >= 0.95)"]


def test_readme_seed_table_is_the_committed_results():
    """The training-seed table repeats results/toy (seed 0) and results/toy/seed1, and the
    prose quotes seed 1's CAA interval from its noise.csv."""
    import pandas as pd

    table = _readme_table("| toy val (%) | seed 0 (shipped) | seed 1 |")
    rows = {name: [float(v.replace("−", "-")) for v in cells] for name, cells in table.items()}
    results = README.parent / "results" / "toy"
    folders = [results, results / "seed1"]
    for col, folder in enumerate(folders):
        zeroshot = json.loads((folder / "zeroshot.json").read_text())
        assert rows["zero-shot top-1"][col] == round(100 * zeroshot["top1_accuracy"], 1)
        stages = pd.read_csv(folder / "stages.csv").set_index("stage")["mIoU"]
        noise = pd.read_csv(folder / "noise.csv").set_index("run or difference")["mIoU"]
        assert rows["initial CAM"][col] == stages["initial CAM"]
        assert rows["+ CAA"][col] == stages["+ CAA"]
        assert rows["+ CAA + dCRF"][col] == stages["+ CAA + dCRF"]
        assert rows["+ CAA − initial CAM"][col] == noise["+ CAA - initial CAM"]
        assert rows["pseudo-mask, confidence ≥ 0.95"][col] == stages["pseudo-mask (conf >= 0.95)"]
        assert rows["+ dCRF − + CAA"][col] == noise["+ CAA + dCRF - + CAA"]
        key = "softmax + background set (default) - softmax, classes only"
        assert rows["softmax + background set − softmax, classes only"][col] == noise[key]
        key = "softmax + background set (default) - no softmax, classes only"
        assert rows["softmax + background set − plain GradCAM"][col] == noise[key]
    text = " ".join(README.read_text().split())
    signed = lambda v: f"{v:+.1f}".replace("-", "−")  # noqa: E731
    for folder in folders:
        d = (
            pd.read_csv(folder / "noise.csv")
            .set_index("run or difference")
            .loc["+ CAA - initial CAM"]
        )
        quoted = f"{signed(d['mIoU'])}, interval {signed(d['95% low'])} to {signed(d['95% high'])}"
        assert quoted in text, quoted


def test_readme_prose_numbers_are_the_committed_results():
    """The prose of "What the toy world does not show" quotes results/toy (stages.csv and
    notebook 10's metrics); a stale number there fails this test."""
    import pandas as pd

    results = README.parent / "results" / "toy"
    stages = pd.read_csv(results / "stages.csv").set_index("stage")["mIoU"]
    text = README.read_text()
    para = text[text.index("**What the toy world does not show (yet).**") :].split("\n\n")[0]
    caa = re.search(r"CAA \*lowers\* mIoU here \(([\d.]+) → ([\d.]+)", para)
    assert caa and (float(caa[1]), float(caa[2])) == (stages["initial CAM"], stages["+ CAA"])
    assert f"(initial {stages['initial CAM']:.1f})" in para
    m10 = json.loads((results / "10_official_vs_paper.json").read_text())["metrics"]
    assert m10["caa_power_1_official_miou"] == pytest.approx(stages["+ CAA"], abs=0.05)
    costs = [
        m10["caa_power_1_official_miou"] - m10[f"caa_power_{t}_alternative_miou"] for t in (1, 3)
    ]
    low, high = re.search(r"costs (\d+)-(\d+) points", para).groups()
    assert int(low) <= min(costs) and max(costs) <= int(high), costs


def test_readme_prose_numbers_of_notebooks_01_04_06_10():
    """The rest of that paragraph: the output-masked boxes (notebook 10), the dCRF gain
    (noise.csv), the patch-grid ceiling (notebook 01), the multi-scale lift (notebook 06) and
    the sharpness correlation with its interval (notebook 04)."""
    import pandas as pd

    results = README.parent / "results" / "toy"
    names = ("01_overview", "04_sharpness_prompts", "06_caa_vs_mhsa", "10_official_vs_paper")
    m1, m4, m6, m10 = (json.loads((results / f"{n}.json").read_text())["metrics"] for n in names)
    noise = pd.read_csv(results / "noise.csv").set_index("run or difference")["mIoU"]
    text = README.read_text()
    para = " ".join(
        text[text.index("**What the toy world does not show (yet).**") :].split("\n\n")[0].split()
    )
    boxes = (m10["boxes_official_miou"], m10["boxes_alternative_miou"])
    assert f"lifts CAA from {boxes[0]:.1f} to {boxes[1]:.1f}" in para
    assert f"(+{noise['+ CAA + dCRF - + CAA']:.1f} after CAA" in para
    ceiling = m1["baseline: ceiling: 8px patch majority"]
    assert f"patch-grid ceiling ({ceiling:.1f})" in para
    lift = m6["t2_initial_ms"] - m6["t2_initial"]
    assert f"by {lift:.1f} points ({m6['t2_initial']:.1f} → {m6['t2_initial_ms']:.1f};" in para
    r, lo, hi = (m4[f"sharpness_miou_pearson_r{s}"] for s in ("", "_low", "_high"))
    assert f"(Pearson {r:.2f})" in para
    assert f"({lo:.2f} to {hi:.2f})".replace("-", "−") in para
    assert (lo < 0 < hi) == ("includes zero" in para)
