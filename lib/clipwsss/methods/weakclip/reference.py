"""WeakCLIP's published numbers (the paper's, never ours), with where each comes from.

Paper: Zhu et al., IJCV 2025 (``../shared/papers/004``); README of github.com/hustvl/WeakCLIP
for the pseudo-mask mIoU. Seeds in the paper are MCTformer's; the final numbers are DeepLab
(WR38) retrained on WeakCLIP's pseudo masks.
"""

from __future__ import annotations

#: (value, source). mIoU in %, parameters in millions.
PAPER: dict[str, tuple[float, str]] = {
    "pseudo-mask mIoU, VOC train": (77.2, "official README"),
    "pseudo-mask mIoU, COCO train": (48.4, "official README"),
    "final mIoU, VOC val (WR38)": (74.0, "VOC 2012 table"),
    "final mIoU, VOC test (WR38)": (73.8, "VOC 2012 table"),
    "final mIoU, COCO val (WR38)": (46.1, "COCO 2014 table"),
    "MCTformer baseline, VOC val": (71.9, "VOC 2012 table"),
    "MCTformer baseline, COCO val": (42.0, "COCO 2014 table"),
    "trainable parameters (M)": (21.2, "efficiency table"),
    "total parameters (M)": (171.5, "efficiency table"),
    "trainable share (%)": (12.4, "efficiency table"),
    "mIoU at N = 8 learnable embeddings": (
        72.6,
        "ablation, N = 2/4/8/16: 72.2/72.3/72.6/72.3",
    ),
    "mIoU at gamma/beta init 0.1": (
        72.6,
        "ablation, init 1/0.1/0.01/0.001: 72.5/72.6/72.3/72.2",
    ),
}
