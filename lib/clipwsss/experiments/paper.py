"""The papers' reported numbers, table by table, with their source. Never ours.

Values are copied from the plain-text papers in ``shared/papers`` (CLIP-ES main paper
``001_00246149ff515e7a.txt`` and supplementary ``000_bd266c7039bb37d7.txt``). Every entry
names the table or figure it comes from, the data split and the metric. Notebooks and the
claim ledger put these beside our measured values, labelled as the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class PaperNumber:
    """One reported value.

    Attributes:
        paper: "CLIP-ES" (WeCLIP and WeakCLIP to come).
        source: table or figure, e.g. "Table 2".
        setting: what was measured, in the paper's words.
        split: data split, e.g. "VOC12 train (1464)".
        metric: e.g. "mIoU (%)", "sharpness", "hours".
        value: the number as printed.
        key: a stable identifier used by notebooks and the ledger.
    """

    paper: str
    source: str
    setting: str
    split: str
    metric: str
    value: float
    key: str


_VOC_TRAIN = "VOC12 train (1464)"
_MIOU = "mIoU (%)"


def _n(source: str, setting: str, value: float, key: str, *, split: str = _VOC_TRAIN,
       metric: str = _MIOU) -> PaperNumber:  # fmt: skip
    return PaperNumber("CLIP-ES", source, setting, split, metric, value, key)


CLIP_ES: tuple[PaperNumber, ...] = (
    # Table 1: quality of generated CAMs (seed, + dCRF).
    _n("Table 1", "CLIP-ES seed (initial + CAA)", 70.8, "t1_seed"),
    _n("Table 1", "CLIP-ES seed + dCRF", 75.0, "t1_dcrf"),
    # Table 2: refinement, single scale / multi-scale (*).
    _n("Table 2", "Initial", 58.6, "t2_initial"),
    _n("Table 2", "Initial + MHSA", 68.2, "t2_mhsa"),
    _n("Table 2", "Initial + CAA", 70.8, "t2_caa"),
    _n("Table 2", "Initial + MHSA + dCRF", 72.1, "t2_mhsa_dcrf"),
    _n("Table 2", "Initial + CAA + dCRF", 75.0, "t2_caa_dcrf"),
    _n("Table 2", "Initial, multi-scale*", 62.4, "t2_initial_ms"),
    _n("Table 2", "Initial + MHSA, multi-scale*", 67.0, "t2_mhsa_ms"),
    _n("Table 2", "Initial + CAA, multi-scale*", 70.5, "t2_caa_ms"),
    _n("Table 2", "Initial + MHSA + dCRF, multi-scale*", 70.1, "t2_mhsa_dcrf_ms"),
    _n("Table 2", "Initial + CAA + dCRF, multi-scale*", 74.1, "t2_caa_dcrf_ms"),
    # Table 3: cost of the pseudo masks of VOC train_aug (10582 images), TITAN RTX.
    _n("Table 3", "inference (CAMs + CAA)", 0.4, "t3_inference_h",
       split="VOC12 train_aug (10582)", metric="hours"),
    _n("Table 3", "dCRF (20 workers, supp. F)", 0.2, "t3_dcrf_h",
       split="VOC12 train_aug (10582)", metric="hours"),
    _n("Table 3", "total", 0.6, "t3_total_h", split="VOC12 train_aug (10582)", metric="hours"),
    _n("Table 3", "peak memory", 2.0, "t3_memory_gb", split="VOC12 train_aug (10582)",
       metric="GB"),
    # Table 4 / 5 / 7: DeepLabV2-R101 trained on the pseudo masks (not reproduced yet).
    _n("Table 4", "DeepLabV2 R101, ImageNet init, val", 71.1, "t4_val", split="VOC12 val"),
    _n("Table 4", "DeepLabV2 R101, ImageNet init, test", 71.4, "t4_test", split="VOC12 test"),
    _n("Table 4", "DeepLabV2 R101, COCO init, val", 73.8, "t4_val_coco", split="VOC12 val"),
    _n("Table 4", "DeepLabV2 R101, COCO init, test", 73.9, "t4_test_coco", split="VOC12 test"),
    _n("Table 5", "DeepLabV2 R101, val", 45.4, "t5_val", split="COCO14 val"),
    _n("Table 7", "VOC, cross entropy", 70.6, "t7_voc_ce", split="VOC12 val"),
    _n("Table 7", "VOC, CGL", 71.1, "t7_voc_cgl", split="VOC12 val"),
    _n("Table 7", "VOC (COCO init), cross entropy", 73.3, "t7_voccoco_ce", split="VOC12 val"),
    _n("Table 7", "VOC (COCO init), CGL", 73.8, "t7_voccoco_cgl", split="VOC12 val"),
    _n("Table 7", "COCO, cross entropy", 45.1, "t7_coco_ce", split="COCO14 val"),
    _n("Table 7", "COCO, CGL", 45.4, "t7_coco_cgl", split="COCO14 val"),
    # Table 6: softmax and background set, initial CAMs (no CAA). * = 20 classes only.
    _n("Table 6", "w/o softmax, 20 classes*", 49.4, "t6_nosoftmax_20"),
    _n("Table 6", "w/o softmax (with background set)", 49.4, "t6_nosoftmax_bg"),
    _n("Table 6", "with softmax, 20 classes*", 53.3, "t6_softmax_20"),
    _n("Table 6", "with softmax + background set", 58.6, "t6_softmax_bg"),
    _n("Table 6", "boat IoU, w/o softmax", 24.1, "t6_boat_nosoftmax", metric="IoU (%)"),
    _n("Table 6", "boat IoU, with softmax + background set", 46.9, "t6_boat_softmax",
       metric="IoU (%)"),
    _n("Table 6", "train IoU, w/o softmax", 43.8, "t6_train_nosoftmax", metric="IoU (%)"),
    _n("Table 6", "train IoU, with softmax + background set", 57.5, "t6_train_softmax",
       metric="IoU (%)"),
    # Table 8: synonym fusion, initial CAMs, per-class IoU.
    _n("Table 8", "bird, original name", 62.9, "t8_bird_orig", metric="IoU (%)"),
    _n("Table 8", "bird, synonym fusion", 63.9, "t8_bird_syn", metric="IoU (%)"),
    _n("Table 8", "chair, original name", 40.7, "t8_chair_orig", metric="IoU (%)"),
    _n("Table 8", "chair, synonym fusion", 44.1, "t8_chair_syn", metric="IoU (%)"),
    _n("Table 8", "person, original name", 43.6, "t8_person_orig", metric="IoU (%)"),
    _n("Table 8", "person, synonym fusion", 51.6, "t8_person_syn", metric="IoU (%)"),
    _n("Table 8", "tvmonitor, original name", 37.0, "t8_tv_orig", metric="IoU (%)"),
    _n("Table 8", "tvmonitor, synonym fusion", 40.3, "t8_tv_syn", metric="IoU (%)"),
    # Supplementary Table S1: backbone and pooling (initial / CAA refined / sharpness).
    _n("Table S1", "RN50, initial", 38.2, "s1_rn50_initial"),
    _n("Table S1", "ViT-B/16 cls-token, initial", 43.8, "s1_cls_initial"),
    _n("Table S1", "ViT-B/16 cls-token, CAA refined", 62.4, "s1_cls_caa"),
    _n("Table S1", "ViT-B/16 avg-token, initial", 58.6, "s1_avg_initial"),
    _n("Table S1", "ViT-B/16 avg-token, CAA refined", 70.8, "s1_avg_caa"),
    _n("Table S1", "RN50 sharpness", 0.019, "s1_rn50_sharpness", metric="sharpness"),
    _n("Table S1", "ViT-B/16 cls-token sharpness", 0.021, "s1_cls_sharpness",
       metric="sharpness"),
    _n("Table S1", "ViT-B/16 avg-token sharpness", 0.004, "s1_avg_sharpness",
       metric="sharpness"),
    # Supplementary Table S2: synonym fusion level (CAA refined, per class and all).
    _n("Table S2", "bird, sentence level", 76.7, "s2_bird_sentence", metric="IoU (%)"),
    _n("Table S2", "bird, feature level", 76.7, "s2_bird_feature", metric="IoU (%)"),
    _n("Table S2", "bird, CAM level", 76.6, "s2_bird_cam", metric="IoU (%)"),
    _n("Table S2", "chair, sentence level", 48.4, "s2_chair_sentence", metric="IoU (%)"),
    _n("Table S2", "chair, feature level", 48.4, "s2_chair_feature", metric="IoU (%)"),
    _n("Table S2", "chair, CAM level", 47.7, "s2_chair_cam", metric="IoU (%)"),
    _n("Table S2", "person, sentence level", 63.2, "s2_person_sentence", metric="IoU (%)"),
    _n("Table S2", "person, feature level", 63.8, "s2_person_feature", metric="IoU (%)"),
    _n("Table S2", "person, CAM level", 65.8, "s2_person_cam", metric="IoU (%)"),
    _n("Table S2", "tvmonitor, sentence level", 57.2, "s2_tv_sentence", metric="IoU (%)"),
    _n("Table S2", "tvmonitor, feature level", 57.2, "s2_tv_feature", metric="IoU (%)"),
    _n("Table S2", "tvmonitor, CAM level", 53.9, "s2_tv_cam", metric="IoU (%)"),
    _n("Table S2", "all classes, sentence level", 70.8, "s2_all_sentence"),
    _n("Table S2", "all classes, feature level", 70.8, "s2_all_feature"),
    _n("Table S2", "all classes, CAM level", 70.6, "s2_all_cam"),
    # Supplementary Table S3: mu of CGL (final DeepLab val mIoU) and confidence histogram.
    _n("Table S3", "mu = 0.7", 73.7, "s3_mu_07", split="VOC12 val"),
    _n("Table S3", "mu = 0.8", 73.6, "s3_mu_08", split="VOC12 val"),
    _n("Table S3", "mu = 0.95", 73.8, "s3_mu_095", split="VOC12 val"),
    _n("Table S3", "confidence in [0.5, 0.8]", 0.78, "s3_conf_05_08", metric="% of pixels"),
    _n("Table S3", "confidence in [0.8, 0.95]", 1.43, "s3_conf_08_095", metric="% of pixels"),
    _n("Table S3", "confidence in [0.95, 1.0]", 97.75, "s3_conf_095_1", metric="% of pixels"),
)  # fmt: skip


def paper_numbers(paper: str = "CLIP-ES") -> pd.DataFrame:
    """All reported numbers of a paper as a table (columns: the PaperNumber fields)."""
    rows = [n.__dict__ for n in CLIP_ES if n.paper == paper]
    if not rows:
        raise KeyError(f"no numbers recorded for {paper!r}")
    return pd.DataFrame(rows)


def paper_value(key: str) -> float:
    """The paper's value for ``key`` (e.g. "t2_caa"). KeyError lists close keys."""
    for n in CLIP_ES:
        if n.key == key:
            return n.value
    close = [n.key for n in CLIP_ES if n.key.split("_")[0] == key.split("_")[0]]
    raise KeyError(f"unknown paper key {key!r}; keys of that table: {close}")
