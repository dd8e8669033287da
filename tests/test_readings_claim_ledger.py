"""The reading of notebook 11 counts the ledger's rows per status, for each paper."""

from __future__ import annotations

from clipwsss.experiments import ledger as lg
from clipwsss.experiments.readings import claim_ledger


def _counts(**kw) -> dict[str, int]:
    return {**dict.fromkeys(lg.STATUSES, 0), **kw}


def test_clip_es_reading_names_the_deeplab_rows_and_the_rows_above_the_paper():
    text = claim_ledger.reading(
        paper="CLIP-ES", profile="toy", n_rows=72,
        counts=_counts(**{lg.MEASURED: 47, lg.NEEDS_REAL_DATA: 4, lg.NEEDS_COCO_INIT: 3}),
        n_measured_iou=38, below=37, above=["Table 6 boat IoU, w/o softmax"],
    )  # fmt: skip
    assert text.startswith("The ledger lists 72 numbers of the paper; 47 are measured on the toy")
    assert "4 need real data (VOC test, COCO) and 3 need a COCO-pretrained DeepLab" in text
    assert "37 lie below the diagonal of the scatter; above it: Table 6 boat IoU" in text
    none_above = claim_ledger.reading(
        paper="CLIP-ES", profile="toy", n_rows=72, counts=_counts(), n_measured_iou=2, below=2,
        above=[],
    )  # fmt: skip
    assert "above it" not in none_above


def test_other_papers_get_their_own_counts():
    for paper in ("WeCLIP", "WeakCLIP"):
        text = claim_ledger.reading(
            paper=paper, profile="toy", n_rows=20,
            counts=_counts(**{lg.MEASURED: 5, lg.NOT_ON_PROFILE: 6, lg.NOT_ADDRESSED: 9}),
            n_measured_iou=5, below=4, above=["x y"],
        )  # fmt: skip
        assert f"20 numbers of the {paper} paper; 5 are measured" in text
        assert "6 are not measured on this profile and 9 are addressed by no notebook" in text
        assert "COCO-pretrained" not in text
