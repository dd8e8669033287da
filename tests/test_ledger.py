"""Tests for clipwsss.experiments.ledger on synthetic metrics files (any subset of notebooks,
profiles)."""

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
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
    coco = ledger.key.str.match(lg.COCO_INIT_KEY)
    real = ledger.key.str.match(lg.REAL_DATA_KEY)
    assert (ledger.status[coco] == lg.NEEDS_COCO_INIT).all() and coco.sum() == 7
    assert (ledger.status[real] == lg.NEEDS_REAL_DATA).all() and real.sum() == 4
    assert (ledger.status[~coco & ~real] == lg.NOT_YET).all()
    assert _row(ledger, "t7_voc_cgl").status == lg.NOT_YET  # notebook 12 measures it on toy
    assert ledger.ours.isna().all() and (ledger.command == "").all()


def test_measured_rows_with_provenance(tmp_path):
    toy = tmp_path / "toy"
    save_metrics(
        str(toy), "02_stages", {"t2_caa": 40.0, "t2_initial": 30.5, "extra": 1}, profile="toy"
    )
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
    save_metrics(str(tmp_path / "voc12"), "03_softmax", {"t6_softmax_bg": 57.9}, profile="voc12")
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
    assert _row(ledger, "t4_val").status == lg.NOT_ADDRESSED
    assert _row(ledger, "t4_val_coco").status == lg.NEEDS_COCO_INIT
    assert _row(ledger, "t5_val").status == lg.NEEDS_REAL_DATA
    assert lg.addressed_keys(nbs, ["t2_caa", "zz"]) == {"t2_caa": ["06_caa"]}


def test_fstring_templates_attribute_keys(tmp_path):
    _notebook(
        tmp_path / "05_syn.ipynb",
        'k = f"t8_{name}_{suffix}"\nm = f"s1_{key}_initial"\nx = f"{a}_{b}"',
    )
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


def test_deeplab_rows_measured_and_reasons_per_profile(tmp_path):
    toy_metrics = {"t7_voc_ce": 26.0, "t7_voc_cgl": 24.0, "t4_val": 24.0}
    save_metrics(str(tmp_path / "toy"), "12_deeplab_cgl", toy_metrics, profile="toy")
    save_metrics(str(tmp_path / "voc12"), "12_deeplab_cgl", {"t7_voc_cgl": 70.0}, profile="voc12")
    ledger = lg.build_ledger(tmp_path)
    for key in ("t7_voc_ce", "t7_voc_cgl", "t4_val"):
        assert _row(ledger, key).status == lg.MEASURED
    assert _row(ledger, "t7_voc_cgl").difference == pytest.approx(24.0 - 71.1)
    assert _row(ledger, "t7_coco_cgl").status == lg.NEEDS_REAL_DATA
    assert _row(ledger, "s3_mu_095").status == lg.NEEDS_COCO_INIT
    # on a real profile a missing VOC-test / COCO row is an ordinary unmeasured key
    assert _row(ledger, "t4_test", "voc12").status == lg.NOT_YET
    assert _row(ledger, "s3_mu_08", "voc12").status == lg.NEEDS_COCO_INIT
    toy = lg.status_counts(ledger).loc["toy"]
    assert toy[lg.MEASURED] == 3 and toy[lg.NEEDS_REAL_DATA] == 4


def test_weclip_and_weakclip_numbers_with_keys_and_tables():
    from clipwsss.experiments import paper as pp
    from clipwsss.methods.weakclip.reference import PAPER

    keys = [n.key for n in pp.ALL_NUMBERS]
    assert len(keys) == len(set(keys))  # unique across the three papers
    we, wk = paper_numbers("WeCLIP"), paper_numbers("WeakCLIP")
    assert we.source.str.match(r"^(supp\. Table [1-5]|main paper)").all()
    assert paper_value("we_s1_weclip") == 78.2 and paper_value("we_s5_scales_075_1") == 74.9
    # WeakCLIP's rows are reference.PAPER's values, the sweeps read from their source strings
    assert paper_value("wk_pseudo_voc") == PAPER["pseudo-mask mIoU, VOC train"][0]
    assert [paper_value(f"wk_abl_n_{n}") for n in (2, 4, 8, 16)] == [72.2, 72.3, 72.6, 72.3]
    assert paper_value("wk_abl_init_0001") == 72.2 and len(wk) == len(PAPER) - 2 + 8
    with pytest.raises(KeyError, match="papers"):
        paper_numbers("nope")


def test_weakclip_reference_entry_without_key_is_an_error(monkeypatch):
    from clipwsss.experiments import paper as pp

    monkeypatch.setitem(pp.WEAKCLIP_REFERENCE, "new number", (1.0, "some table"))
    with pytest.raises(ValueError, match="new number"):
        pp._weakclip_numbers()
    monkeypatch.delitem(pp.WEAKCLIP_REFERENCE, "new number")
    monkeypatch.setitem(
        pp.WEAKCLIP_REFERENCE,
        "mIoU at N = 8 learnable embeddings",
        (72.6, "ablation, N = 2/4: 72.2/72.3"),
    )
    with pytest.raises(ValueError, match="does not match"):
        pp._weakclip_numbers()


def test_ledger_of_weclip_and_weakclip(tmp_path):
    save_metrics(str(tmp_path), "13_weclip_overview", {"we_s1_weclip": 40.0}, profile="toy")
    save_metrics(str(tmp_path), "15_weakclip_overview", {"wk_params_total": 171.46}, profile="toy")
    we = lg.build_ledger(tmp_path, paper="WeCLIP")
    assert len(we) == len(paper_numbers("WeCLIP"))
    row = _row(we, "we_s1_weclip")
    assert row.status == lg.MEASURED and row.difference == pytest.approx(40.0 - 78.2)
    assert _row(we, "we_s2_n0_5").status == lg.NOT_YET
    wk = lg.build_ledger(tmp_path, paper="WeakCLIP")
    assert _row(wk, "wk_params_total").ours == pytest.approx(171.46)
    assert "t2_caa" not in set(wk.key)


RESULTS_TOY = Path(__file__).resolve().parents[1] / "results" / "toy"
PAPER_KEY_LIKE = re.compile(r"^(we|wk|t4|t5|t7|s3_mu)_\w+$")  # notebooks 12-16


def test_committed_toy_results_use_only_known_paper_keys():
    from clipwsss.experiments.paper import ALL_NUMBERS

    known = {n.key for n in ALL_NUMBERS}
    results = lg.read_results(RESULTS_TOY)
    written = {k for r in results for k in r.metrics if PAPER_KEY_LIKE.match(k)}
    assert written and written <= known, sorted(written - known)  # a typo'd key is no row
    by_nb = {r.notebook: r.metrics for r in results}
    assert {"we_s1_weclip", "we_s5_scales_1"} <= set(by_nb["13_weclip_overview"]) | set(
        by_nb["14_weclip_ablations"]
    )
    assert {"wk_params_total", "wk_abl_n_8"} <= set(by_nb["15_weakclip_overview"]) | set(
        by_nb["16_weakclip_ablations"]
    )


def test_notebook_12_metrics_are_the_deeplab_tables():
    runs = pd.read_csv(RESULTS_TOY / "deeplab" / "runs.csv")
    metrics = {r.notebook: r.metrics for r in lg.read_results(RESULTS_TOY)}["12_deeplab_cgl"]
    mean = runs.groupby("loss")["val mIoU"].mean()
    assert metrics["t7_voc_ce"] == pytest.approx(mean["ce"], abs=1e-9)
    assert metrics["t7_voc_cgl"] == pytest.approx(mean["cgl"], abs=1e-9) == metrics["t4_val"]


def test_rests_on_says_what_a_status_rests_on():
    assert "not a fair replay" in lg.rests_on("s1_cls_initial", lg.MEASURED, "toy")
    assert "extrapolated" in lg.rests_on("t3_total_h", lg.MEASURED, "toy")
    assert lg.rests_on("t2_caa", lg.MEASURED, "toy").startswith("toy measurement")
    assert lg.rests_on("t2_caa", lg.MEASURED, "voc12") == "voc12 measurement"
    assert "COCO-pretrained DeepLab" in lg.rests_on("s3_mu_095", lg.NEEDS_COCO_INIT, "toy")
    assert "not the paper's model" in lg.rests_on("s3_mu_095", lg.MEASURED, "toy")
    conf = lg.rests_on("s3_conf_095_1", lg.MEASURED, "toy")  # the histogram: no DeepLab in it
    assert "confidence histogram" in conf and "DeepLab" not in conf.replace("no DeepLab", "")


def test_table_order_sorts_every_papers_sources():
    sources = ["Table S1", "official README", "Table 2", "supp. Table 3", "Table 10", "main paper"]
    assert sorted(sources, key=lg.table_order) == [
        "Table 2",
        "supp. Table 3",
        "Table 10",
        "Table S1",
        "main paper",
        "official README",
    ]
    assert "real data" in lg.rests_on("t4_test", lg.NEEDS_REAL_DATA, "toy")
    assert lg.rests_on("s1_rn50_initial", lg.NOT_ON_PROFILE, "toy") == "real profile needed"


def test_table3_dcrf_setting_separates_the_papers_workers_from_ours():
    from clipwsss.experiments.paper import paper_numbers

    setting = paper_numbers("CLIP-ES").set_index("key").loc["t3_dcrf_h", "setting"]
    assert "paper: 20 workers" in setting and "ours:" in setting and "extrapolated" in setting
