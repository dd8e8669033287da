"""The learning-path pages (notebooks/README.md, docs/notebooks.md) equal their rendering from
the notebooks' headers and results/toy, and the claims table follows the stored results."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from clipwsss.experiments import course
from clipwsss.experiments.ledger import MEASURED, build_ledger

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pages() -> dict[Path, str]:
    return course.render_pages(ROOT)


def test_pages_equal_their_rendering(pages):
    for path, text in pages.items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale: run python scripts/notebook_index.py"
        )


def test_index_lists_every_notebook_once_with_its_header_run_time(pages):
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for text in pages.values():
        rows = re.findall(r"^\| `(\d\d_\w+)` \|.*\| ([^|]+) \|$", text, re.M)
        assert [stem for stem, _ in rows] == [p.stem for p in notebooks]
        for (stem, shown), path in zip(rows, notebooks, strict=True):
            header = nbformat.read(path, as_version=4).cells[0].source
            about = re.findall(r"about (\d+) s\b", header)
            assert shown == (f"{about[0]} s" if about else course.run_time(path)), stem


def test_index_refuses_a_notebook_without_an_entry(tmp_path):
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy(path, tmp_path / path.name)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 22 · x, about 5 s")])
    nbformat.write(nb, tmp_path / "22_new.ipynb")
    with pytest.raises(ValueError, match="22_new"):
        course.index_table(tmp_path)


def test_pages_hold_no_ci_mechanics_or_issue_numbers():
    for name in course.PAGES:
        text = (ROOT / name).read_text()
        for word in (r"\bCI\b", r"nbval", r"pytest", r"NBVAL", r"[Ii]ssue\s*#?\d"):
            assert not re.search(word, text), (name, word)
        assert "docs/checks.md" in text or "(checks.md)" in text
        assert "batches.md" in text


def test_cannot_test_exactly_where_the_ledger_has_no_measurement():
    """A claim whose toy values are ledger keys is 'cannot test' iff one of those keys is not
    measured on toy, and its row then says what the ledger says it rests on."""
    results = course.Results(ROOT / "results" / "toy", ROOT / "notebooks")
    ledgers = {
        p: build_ledger(
            ROOT / "results" / "toy", profiles=["toy"], paper=p, notebooks_dir=ROOT / "notebooks"
        ).set_index("key")
        for p in ("CLIP-ES", "WeCLIP", "WeakCLIP")
    }
    checked = 0
    for claim in course.CLAIMS:
        keys = [s.split(":") for s in claim.ours if s.startswith("ledger:")]
        if not keys or len(keys) != len(claim.ours):
            continue
        measured = all(ledgers[p].loc[k, "status"] == MEASURED for _, p, k in keys)
        row = course.claim_row(claim, results)
        assert (row["verdict"] != course.CANNOT) == measured, claim.claim
        if not measured:
            assert "ledger:" in row["why"]
        checked += 1
    assert checked >= 8


def _copy_results(tmp_path: Path) -> Path:
    out = tmp_path / "toy"
    shutil.copytree(
        ROOT / "results" / "toy", out, ignore=shutil.ignore_patterns("logs", "*.pt", "*.png")
    )
    return out


def test_a_verdict_follows_the_stored_interval(tmp_path):
    """Move the stored interval of CAA against the initial CAMs above zero: its verdict turns;
    remove the row: the claim cannot be tested."""
    claim = next(c for c in course.CLAIMS if "CAA improves" in c.claim)
    results_dir = _copy_results(tmp_path)
    before = course.claim_row(claim, course.Results(results_dir, ROOT / "notebooks"))
    noise = results_dir / "noise.csv"
    lines = noise.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("+ CAA - initial CAM,"))
    lines[row] = "+ CAA - initial CAM,3.0,1.0,5.0"
    noise.write_text("\n".join(lines) + "\n")
    after = course.claim_row(claim, course.Results(results_dir, ROOT / "notebooks"))
    assert after["verdict"] == course.SHOWS and "+3.0 [+1.0, +5.0]" in after["toy (ours)"]
    assert before["toy (ours)"] != after["toy (ours)"]
    noise.write_text("\n".join(lines[:row] + lines[row + 1 :]) + "\n")
    gone = course.claim_row(claim, course.Results(results_dir, ROOT / "notebooks"))
    assert gone["verdict"] == course.CANNOT and "noise.csv" in gone["why"]


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([(1.0, 0.2, 1.8)], course.SHOWS),
        ([(-1.0, -1.8, -0.2)], course.CONTRADICTS),
        ([(0.5, -0.2, 1.2)], course.NOT_SHOWN),
        ([(2.0, 1.0, 3.0), (-2.0, -3.0, -1.0)], course.NOT_SHOWN),  # the seeds disagree
        ([(2.0, 1.0, 3.0), (1.0, 0.1, 2.0)], course.SHOWS),
    ],
)
def test_verdict_rule(intervals, expected):
    assert course.verdict(intervals) == expected


def test_render_page_refuses_missing_markers():
    with pytest.raises(ValueError, match="markers"):
        course.render_page("no markers here\n", {"index": "x"})
    page = "a\n<!-- begin index: note -->\nold\n<!-- end index -->\nb\n"
    assert course.render_page(page, {"index": "new"}) == (
        "a\n<!-- begin index: note -->\nnew\n<!-- end index -->\nb\n"
    )
