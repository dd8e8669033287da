"""Tests for clipwsss.ledger on synthetic metrics files (any subset of notebooks, profiles)."""

import json

import nbformat
import pytest

from clipwsss.experiments import ledger as lg
from clipwsss.experiments.notebooks import save_metrics
from clipwsss.experiments.paper import paper_numbers, paper_value

N_NUMBERS = len(paper_numbers())


def _notebook(path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, path)


def _row(ledger, key, profile="toy"):
    rows = ledger[(ledger.key == key) & (ledger.profile == profile)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_no_results_folder_lists_every_number_not_measured(tmp_path):
    ledger = lg.build_ledger(tmp_path / "missing", profiles=["toy"])
    assert list(ledger.columns) == list(lg.COLUMNS)
    assert len(ledger) == N_NUMBERS and set(ledger.profile) == {"toy"}
    deeplab = ledger.key.str.match(lg.DEEPLAB_KEY)
    assert (ledger.status[deeplab] == lg.NEEDS_DEEPLAB).all() and deeplab.any()
    assert (ledger.status[~deeplab] == lg.NOT_YET).all()
    assert ledger.ours.isna().all() and (ledger.command == "").all()


def test_measured_rows_with_provenance(tmp_path):
    toy = tmp_path / "toy"
    save_metrics(str(toy), "02_stages", {"t2_caa": 40.0, "t2_initial": 30.5, "extra": 1},
                 profile="toy")  # fmt: skip
    save_metrics(str(toy), "09_efficiency", {"t3_total_h": 2.5}, profile="toy")
    ledger = lg.build_ledger(toy)
    row = _row(ledger, "t2_caa")
    assert row.status == lg.MEASURED and row.ours == 40.0 and row.notebook == "02_stages"
    assert row.difference == pytest.approx(40.0 - paper_value("t2_caa"))
    assert row.command == "make toy" and row.source == "Table 2"
    assert _row(ledger, "t3_total_h").ours == 2.5
    assert "extra" not in set(ledger.key)  # only paper keys are rows
    counts = lg.status_counts(ledger)
    assert counts.loc["toy", lg.MEASURED] == 3
    assert counts.loc["toy"].sum() == N_NUMBERS and list(counts.columns) == list(lg.STATUSES)


def test_profiles_from_subfolders_and_not_on_this_profile(tmp_path):
    save_metrics(str(tmp_path / "toy"), "03_softmax", {"other": 1.0}, profile="toy")
    save_metrics(str(tmp_path / "voc12"), "03_softmax", {"t6_softmax_bg": 57.9},
                 profile="voc12")  # fmt: skip
    ledger = lg.build_ledger(tmp_path)
    assert set(ledger.profile) == {"toy", "voc12"} and len(ledger) == 2 * N_NUMBERS
    voc = _row(ledger, "t6_softmax_bg", "voc12")
    assert voc.status == lg.MEASURED
    assert voc.command == "make run NB=03_softmax PROFILE=voc12 DATA=/path/to/VOC2012"
    toy = _row(ledger, "t6_softmax_bg", "toy")  # 03 ran on toy without reporting it
    assert toy.status == lg.NOT_ON_PROFILE and toy.notebook == "03_softmax"


def test_notebook_mentions_attribute_unmeasured_keys(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs / "06_caa.ipynb", 'paper_value("t2_mhsa")\nkeys = ["t2_caa"]')
    _notebook(nbs / "07_other.ipynb", "x = 't2_caa_dcrf'")
    save_metrics(str(tmp_path / "toy"), "07_other", {"y": 1}, profile="toy")
    ledger = lg.build_ledger(tmp_path / "toy", notebooks_dir=nbs)
    assert _row(ledger, "t2_mhsa").status == lg.NOT_YET
    assert _row(ledger, "t2_mhsa").notebook == "06_caa"
    assert _row(ledger, "t2_caa").notebook == "06_caa"  # not confused with t2_caa_dcrf
    assert _row(ledger, "t2_caa_dcrf").status == lg.NOT_ON_PROFILE
    assert _row(ledger, "t1_seed").status == lg.NOT_ADDRESSED
    assert _row(ledger, "t4_val").status == lg.NEEDS_DEEPLAB
    assert lg.addressed_keys(nbs, ["t2_caa", "zz"]) == {"t2_caa": ["06_caa"]}


def test_fstring_templates_attribute_keys(tmp_path):
    _notebook(tmp_path / "05_syn.ipynb",
              'k = f"t8_{name}_{suffix}"\nm = f"s1_{key}_initial"\nx = f"{a}_{b}"')  # fmt: skip
    found = lg.addressed_keys(tmp_path, ["t8_bird_orig", "s1_cls_initial", "s1_cls_caa", "t2_caa"])
    assert found == {"t8_bird_orig": ["05_syn"], "s1_cls_initial": ["05_syn"]}


def test_duplicates_bad_files_and_non_numbers(tmp_path):
    save_metrics(str(tmp_path), "02_a", {"t2_caa": 40.0, "t2_mhsa": None}, profile="toy")
    save_metrics(str(tmp_path), "06_b", {"t2_caa": 41.0}, profile="toy")
    (tmp_path / "05_broken.json").write_text("{not json")
    (tmp_path / "notes.json").write_text(json.dumps({"metrics": {"t2_caa": 1}}))  # not NN_
    with pytest.warns(UserWarning, match="05_broken"):
        ledger = lg.build_ledger(tmp_path)
    row = _row(ledger, "t2_caa")
    assert row.ours == 40.0 and row.notebook == "02_a" and row["also reported by"] == "06_b (41)"
    assert _row(ledger, "t2_mhsa").status == lg.NOT_ON_PROFILE  # null value: not a number


def test_commands():
    assert lg.command_for("", "toy") == ""
    assert lg.command_for("09_efficiency", "toy") == "make toy"
    assert lg.command_for("09_efficiency", "coco14").endswith("DATA=/path/to/coco2014")


def test_rests_on_says_what_a_status_rests_on():
    assert "not a fair replay" in lg.rests_on("s1_cls_initial", lg.MEASURED, "toy")
    assert "extrapolated" in lg.rests_on("t3_total_h", lg.MEASURED, "toy")
    assert lg.rests_on("t2_caa", lg.MEASURED, "toy").startswith("toy measurement")
    assert lg.rests_on("t2_caa", lg.MEASURED, "voc12") == "voc12 measurement"
    assert "DeepLab" in lg.rests_on("t4_val", lg.NEEDS_DEEPLAB, "toy")
    assert lg.rests_on("s1_rn50_initial", lg.NOT_ON_PROFILE, "toy") == "real profile needed"
