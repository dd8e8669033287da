"""The papers' reported numbers, table by table, with their source. Never ours.

Values are copied from the plain-text papers in ``shared/papers`` (CLIP-ES main paper
``001_00246149ff515e7a.txt`` and supplementary ``000_bd266c7039bb37d7.txt``; WeCLIP
supplementary ``002_6d47c0e7302caf7a.txt``, its main-paper VOC test / COCO val numbers as
quoted in ``shared/specs/methods.md`` section 2). WeakCLIP's rows are built from
``clipwsss.methods.weakclip.reference.PAPER`` (IJCV 2025, ``004_f7a4f7b29494dd7d.txt``, and
the official README), not copied. Every entry names the table or figure it comes from, the
data split and the metric. Notebooks and the
claim ledger put these beside our measured values, labelled as the paper's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from clipwsss.methods.weakclip.reference import PAPER as WEAKCLIP_REFERENCE


@dataclass(frozen=True)
class PaperNumber:
    """One reported value.

    Attributes:
        paper: "CLIP-ES", "WeCLIP" or "WeakCLIP".
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


def _n(
    source: str,
    setting: str,
    value: float,
    key: str,
    *,
    split: str = _VOC_TRAIN,
    metric: str = _MIOU,
) -> PaperNumber:
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
    _n(
        "Table 3",
        "inference (CAMs + CAA)",
        0.4,
        "t3_inference_h",
        split="VOC12 train_aug (10582)",
        metric="hours",
    ),
    # The setting says whose worker count is whose: the paper ran 20 CRF processes; our row
    # (notebook 09) extrapolates the time on this machine's cores (2 here) to 10582 images.
    _n(
        "Table 3",
        "dCRF; paper: 20 workers (supp. F); ours: this machine's workers, "
        "extrapolated to 10582 images (notebook 09)",
        0.2,
        "t3_dcrf_h",
        split="VOC12 train_aug (10582)",
        metric="hours",
    ),
    _n("Table 3", "total", 0.6, "t3_total_h", split="VOC12 train_aug (10582)", metric="hours"),
    _n("Table 3", "peak memory", 2.0, "t3_memory_gb", split="VOC12 train_aug (10582)", metric="GB"),
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
    _n(
        "Table 6",
        "boat IoU, with softmax + background set",
        46.9,
        "t6_boat_softmax",
        metric="IoU (%)",
    ),
    _n("Table 6", "train IoU, w/o softmax", 43.8, "t6_train_nosoftmax", metric="IoU (%)"),
    _n(
        "Table 6",
        "train IoU, with softmax + background set",
        57.5,
        "t6_train_softmax",
        metric="IoU (%)",
    ),
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
    _n("Table S1", "ViT-B/16 cls-token sharpness", 0.021, "s1_cls_sharpness", metric="sharpness"),
    _n("Table S1", "ViT-B/16 avg-token sharpness", 0.004, "s1_avg_sharpness", metric="sharpness"),
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
)


_VOC_VAL = "VOC12 val"


def _we(
    source: str, setting: str, value: float, key: str, *, split: str = _VOC_VAL, metric: str = _MIOU
) -> PaperNumber:
    return PaperNumber("WeCLIP", source, setting, split, metric, value, key)


WECLIP: tuple[PaperNumber, ...] = (
    # Supp. Table 1: pseudo labels on VOC train (WeCLIP's predictions used as pseudo labels).
    _we(
        "supp. Table 1",
        "WeCLIP predictions as pseudo labels",
        78.2,
        "we_s1_weclip",
        split=_VOC_TRAIN,
    ),
    _we(
        "supp. Table 1", "CLIP-ES pseudo labels (as quoted)", 75.0, "we_s1_clipes", split=_VOC_TRAIN
    ),
    _we("supp. Table 1", "RIB", 70.6, "we_s1_rib", split=_VOC_TRAIN),
    _we("supp. Table 1", "MCTformer", 69.1, "we_s1_mctformer", split=_VOC_TRAIN),
    _we("supp. Table 1", "ACR", 72.3, "we_s1_acr", split=_VOC_TRAIN),
    _we("supp. Table 1", "CLIMS", 70.5, "we_s1_clims", split=_VOC_TRAIN),
    # Supp. Table 2: decoder input, frozen features of blocks N0..12 (N0 = 1: all).
    _we("supp. Table 2", "decoder input N0 = 1 (all blocks)", 74.9, "we_s2_n0_1"),
    _we("supp. Table 2", "decoder input N0 = 5", 74.7, "we_s2_n0_5"),
    _we("supp. Table 2", "decoder input N0 = 8", 74.6, "we_s2_n0_8"),
    _we("supp. Table 2", "decoder input N0 = 11", 74.5, "we_s2_n0_11"),
    _we("supp. Table 2", "decoder input N0 = 12", 74.3, "we_s2_n0_12"),
    # Supp. Table 3: the target of the affinity loss on A_f.
    _we("supp. Table 3", "A_f target M_p (online pseudo labels)", 74.9, "we_s3_mp"),
    _we("supp. Table 3", "A_f target argmax(P) (prediction)", 74.6, "we_s3_pred"),
    _we("supp. Table 3", "A_f target M_p and argmax(P)", 74.8, "we_s3_both"),
    # Supp. Table 4: lambda, the weight of the affinity loss.
    _we("supp. Table 4", "lambda = 0", 73.3, "we_s4_lambda_0"),
    _we("supp. Table 4", "lambda = 0.1", 74.9, "we_s4_lambda_01"),
    _we("supp. Table 4", "lambda = 0.5", 73.6, "we_s4_lambda_05"),
    _we("supp. Table 4", "lambda = 1.0", 72.9, "we_s4_lambda_1"),
    # Supp. Table 5: inference scales.
    _we("supp. Table 5", "scales {1.0}", 74.0, "we_s5_scales_1"),
    _we("supp. Table 5", "scales {0.5, 1.0}", 74.2, "we_s5_scales_05_1"),
    _we("supp. Table 5", "scales {0.75, 1.0}", 74.9, "we_s5_scales_075_1"),
    _we("supp. Table 5", "scales {0.5, 0.75, 1.0}", 74.4, "we_s5_scales_05_075_1"),
    _we("supp. Table 5", "scales {0.75, 1.0, 1.25}", 74.8, "we_s5_scales_075_1_125"),
    _we("supp. Table 5", "scales {0.75, 1.0, 1.5}", 74.5, "we_s5_scales_075_1_15"),
    # Main paper (not in shared/papers; quoted in specs/methods.md section 2).
    _we("main paper (via specs)", "final, VOC test", 77.2, "we_main_test", split="VOC12 test"),
    _we("main paper (via specs)", "final, COCO val", 47.1, "we_main_coco", split="COCO14 val"),
)

# reference.PAPER name -> (key, split, metric) for WeakCLIP's single numbers.
_WEAKCLIP_ROWS: dict[str, tuple[str, str, str]] = {
    "pseudo-mask mIoU, VOC train": ("wk_pseudo_voc", "VOC12 train", _MIOU),
    "pseudo-mask mIoU, COCO train": ("wk_pseudo_coco", "COCO14 train", _MIOU),
    "final mIoU, VOC val (WR38)": ("wk_final_val", _VOC_VAL, _MIOU),
    "final mIoU, VOC test (WR38)": ("wk_final_test", "VOC12 test", _MIOU),
    "final mIoU, COCO val (WR38)": ("wk_final_coco", "COCO14 val", _MIOU),
    "MCTformer baseline, VOC val": ("wk_mct_val", _VOC_VAL, _MIOU),
    "MCTformer baseline, COCO val": ("wk_mct_coco", "COCO14 val", _MIOU),
    "trainable parameters (M)": ("wk_params_trainable", "ViT-B/16, VOC", "parameters (M)"),
    "total parameters (M)": ("wk_params_total", "ViT-B/16, VOC", "parameters (M)"),
    "trainable share (%)": ("wk_params_share", "ViT-B/16, VOC", "% trainable"),
}
# reference.PAPER name of an ablation -> key prefix; its source lists the whole sweep.
_WEAKCLIP_SWEEPS = {
    "mIoU at N = 8 learnable embeddings": "wk_abl_n",
    "mIoU at gamma/beta init 0.1": "wk_abl_init",
}
_SWEEP = re.compile(r"^ablation, (.+?)(?: =)? ([\d./]+): ([\d./]+)$")


def _sweep_rows(name: str, prefix: str) -> list[PaperNumber]:
    """One row per setting of a sweep that reference.PAPER gives as one string, e.g.
    ``"ablation, N = 2/4/8/16: 72.2/72.3/72.6/72.3"`` -> keys wk_abl_n_2 ... wk_abl_n_16."""
    best, text = WEAKCLIP_REFERENCE[name]
    match = _SWEEP.match(text)
    if match is None:
        raise ValueError(f"WeakCLIP reference {name!r}: cannot read the sweep {text!r}")
    symbol, settings, values = match[1], match[2].split("/"), match[3].split("/")
    if len(settings) != len(values) or float(best) not in map(float, values):
        raise ValueError(f"WeakCLIP reference {name!r}: {text!r} does not match {best}")
    return [
        PaperNumber(
            "WeakCLIP",
            "ablation table",
            f"{symbol} = {s}",
            "VOC12 (split not stated)",
            _MIOU,
            float(v),
            f"{prefix}_{s.replace('.', '')}",
        )
        for s, v in zip(settings, values, strict=True)
    ]


def _weakclip_numbers() -> tuple[PaperNumber, ...]:
    """WeakCLIP's rows from ``methods.weakclip.reference.PAPER`` (every entry used once)."""
    unused = set(WEAKCLIP_REFERENCE) - set(_WEAKCLIP_ROWS) - set(_WEAKCLIP_SWEEPS)
    if unused:
        raise ValueError(f"WeakCLIP reference entries without a ledger key: {sorted(unused)}")
    rows = [
        PaperNumber(
            "WeakCLIP",
            WEAKCLIP_REFERENCE[name][1],
            name,
            split,
            metric,
            WEAKCLIP_REFERENCE[name][0],
            key,
        )
        for name, (key, split, metric) in _WEAKCLIP_ROWS.items()
    ]
    for name, prefix in _WEAKCLIP_SWEEPS.items():
        rows += _sweep_rows(name, prefix)
    return tuple(rows)


WEAKCLIP: tuple[PaperNumber, ...] = _weakclip_numbers()
ALL_NUMBERS: tuple[PaperNumber, ...] = CLIP_ES + WECLIP + WEAKCLIP
PAPERS = ("CLIP-ES", "WeCLIP", "WeakCLIP")


def paper_numbers(paper: str = "CLIP-ES") -> pd.DataFrame:
    """All reported numbers of a paper (one of :data:`PAPERS`) as a table (columns: the
    PaperNumber fields)."""
    rows = [n.__dict__ for n in ALL_NUMBERS if n.paper == paper]
    if not rows:
        raise KeyError(f"no numbers recorded for {paper!r}; papers: {PAPERS}")
    return pd.DataFrame(rows)


def paper_value(key: str) -> float:
    """The paper's value for ``key`` (e.g. "t2_caa", "we_s1_weclip"). KeyError lists close
    keys."""
    for n in ALL_NUMBERS:
        if n.key == key:
            return n.value
    close = [n.key for n in ALL_NUMBERS if n.key.split("_")[0] == key.split("_")[0]]
    raise KeyError(f"unknown paper key {key!r}; keys of that table: {close}")
