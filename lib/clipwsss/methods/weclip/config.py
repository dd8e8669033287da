"""WeCLIP configuration: one frozen dataclass, defaults = the official VOC code.

Paper: WeCLIP (Zhang et al., CVPR 2024) Section 3 and supplementary Tables 2-5; official code
github.com/zbf1991/WeCLIP @0f47db4 (``WeCLIP_model/``, ``clip/clip_tool.py``,
``configs/voc_attn_reg.yaml``). Where the code and the paper differ the default is the code
(it produced the numbers) and a field gives the corrected behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clipwsss.validate import check_bg_exponent, check_box_threshold, check_range

GradcamTarget = Literal["ln_1", "block_output"]
Normalisation = Literal["imagenet", "clip"]
RfmSelection = Literal["official", "abs"]
AffTarget = Literal["pseudo", "prediction", "both"]


@dataclass(frozen=True)
class WeClipConfig:
    """Every switch of the WeCLIP model and its online pseudo labels.

    Defaults reproduce the official VOC code; ``coco()`` gives the COCO values.
    """

    n_classes: int = 21  # background included: 21 VOC, 81 COCO
    # Official: the interpolated positional table is cast to float16 on every forward
    # (clip.dense.official_pos_embed, as CLIP-ES); False keeps it in float32.
    pos_embed_fp16: bool = True
    # Official: every attention out-projection (image and text towers, decoder) is computed in
    # float16, forward and backward, on any device (clip.attention); False: float32 (the
    # fidelity kit's fp32 reference; the float16 backward can flush a GradCAM to zero).
    out_proj_fp16: bool = True
    # Decoder input: outputs of blocks first_block..last_block (1-based, inclusive).
    # Official: blocks 1-11 of 12 (require_all_fts). Supp. Table 2 sweeps N0 = 1, 5, 8, 11, 12;
    # [paper!=code] the paper's N0 = 1 means "all 12 layers", the code feeds 11.
    first_block: int = 1
    last_block: int | None = None  # None: the second-to-last block (11 of ViT-B/16)
    embed_dim: int = 256  # configs/voc_attn_reg.yaml: embedding_dim 256
    dropout: float = 0.1  # segformer_head.py: Dropout2d(0.1) after the 1x1 fuse conv
    decoder_layers: int = 3  # model_attn_aff_voc.py: DecoderTransformer(layers=3)
    decoder_heads: int = 8  # DecoderTransformer(heads=8)
    # GradCAM target. The corrections in specs/methods.md section 2 (running the official
    # model) found block 12's ln_1 on the block-11 output, the CLIP-ES target: "ln_1".
    # "block_output" differentiates w.r.t. the raw block-11 residual stream instead.
    gradcam_target: GradcamTarget = "ln_1"
    box_threshold: float = 0.4  # lambda, clip_tool.py: 0.4 VOC, 0.7 COCO (CLIP-ES supp. C)
    caa_layers: int = 8  # plain CAA before the RFM switch: the last 8 maps (CLIP-ES)
    rfm_layers: int = 6  # RFM: the last 6 attention maps (COCO 10), clip_tool.py L152
    # RFM layer filter: "official" d_l = sum(A_f - W_l) (A_f cancels out of the choice);
    # "abs" d_l = sum |A_f - W_l| (the paper's distance). Both keep d_l <= mean.
    rfm_selection: RfmSelection = "official"
    sinkhorn_iters: int = 3  # compute_trans_mat: 3 rounds
    affinity_power: int = 2  # compute_trans_mat: one T @ T
    # RFM switch: iter_num > 15000 (COCO 40000) in model_attn_aff_voc.py. iter_num also counts
    # the forwards of each in-training validation (1464 VOC train images every 2000 iterations),
    # so on VOC the switch happens at training iteration 9145. count_val_forwards=False
    # switches at training iteration rfm_start (the evident intent).
    rfm_start: int = 15000
    # None: rfm_start as given. A fraction f: rfm_start = round(f * the run's iterations), so a
    # recipe's switch follows --iterations (toy: 9145 / 30000, the official VOC fraction).
    rfm_start_fraction: float | None = None
    count_val_forwards: bool = True
    val_every: int = 2000  # configs/voc_attn_reg.yaml: eval_iters 2000
    val_forwards: int = 1464  # images per validation (VOC train); 0 for COCO (no validation)
    bg_exponent: float = 1.0  # cam_bg_thres = 1: bg = (1 - max cam)^1
    par_iters: int = 20  # PAR(num_iter=20)
    par_dilations: tuple[int, ...] = (1, 2, 4, 8, 12, 24)  # PAR(dilations=[1,2,4,8,12,24])
    par_w1: float = 0.3  # PAR.w1
    par_w2: float = 0.01  # PAR.w2
    # Images are ImageNet-normalised (datasets/transforms.py); the CLIP normaliser is commented
    # out in the official code. "clip" feeds CLIP its own statistics (corrected).
    normalisation: Normalisation = "imagenet"
    # Official: no ignore region, padded crop pixels get pseudo labels too. True marks the
    # padding 255 (corrected).
    ignore_padding: bool = False
    aff_radius: int = 8  # get_mask_by_radius(radius=8)
    aff_weight: float = 0.1  # lambda of the total loss, supp. Table 4 (0, 0.1, 0.5, 1.0)
    # Affinity-loss target, supp. Table 3: "pseudo" M_p (official, 74.9), "prediction"
    # argmax(P) (74.6), "both" their agreement, other pixels ignored (74.8).
    aff_target: AffTarget = "pseudo"

    def __post_init__(self) -> None:
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2 (background + 1), got {self.n_classes}")
        if self.first_block < 1:
            raise ValueError(f"first_block is 1-based, got {self.first_block}")
        if self.gradcam_target not in ("ln_1", "block_output"):
            raise ValueError(
                f"gradcam_target must be 'ln_1' or 'block_output', got {self.gradcam_target!r}"
            )
        if self.normalisation not in ("imagenet", "clip"):
            raise ValueError(
                f"normalisation must be 'imagenet' or 'clip', got {self.normalisation!r}"
            )
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Every numeric field in the range its meaning allows (the flag is named)."""
        check_box_threshold(self.box_threshold)
        check_bg_exponent(self.bg_exponent)
        for name in (
            "embed_dim",
            "decoder_layers",
            "decoder_heads",
            "caa_layers",
            "rfm_layers",
            "affinity_power",
            "aff_radius",
        ):
            check_range(name, getattr(self, name), low=1)
        for name in (
            "sinkhorn_iters",
            "rfm_start",
            "val_every",
            "val_forwards",
            "par_iters",
            "par_w1",
            "par_w2",
            "aff_weight",
        ):
            check_range(name, getattr(self, name), low=0)
        check_range("dropout", self.dropout, low=0, below=1)
        for d in self.par_dilations:
            check_range("par_dilations", d, low=1)
        if self.last_block is not None:
            check_range("last_block", self.last_block, low=self.first_block)
        if self.rfm_start_fraction is not None and not 0 <= self.rfm_start_fraction <= 1:
            raise ValueError(f"rfm_start_fraction must be in [0, 1], got {self.rfm_start_fraction}")

    def blocks(self, n_blocks: int) -> range:
        """0-based indices into ``DenseOutput.block_tokens`` of the decoder's input blocks."""
        last = n_blocks - 1 if self.last_block is None else self.last_block
        if not 1 <= self.first_block <= last <= n_blocks:
            raise ValueError(f"decoder blocks {self.first_block}..{last} not within 1..{n_blocks}")
        return range(self.first_block - 1, last)

    def rfm_switch_iteration(self, iterations: int | None = None) -> int:
        """First training iteration (1-based optimizer step) that uses the RFM, not plain CAA.

        Official: ``iter_num > rfm_start`` with ``iter_num`` = training iterations plus the
        validation forwards run so far (one validation after every ``val_every`` iterations).

        Args:
            iterations: the run's length; needed (and only used) with ``rfm_start_fraction``.
        """
        start = self.rfm_start
        if self.rfm_start_fraction is not None:
            if iterations is None:
                raise ValueError(
                    "rfm_start_fraction places the RFM switch at a fraction of the "
                    "run: pass the run's iterations (the engine does)"
                )
            start = round(self.rfm_start_fraction * iterations)
        if not self.count_val_forwards or self.val_forwards == 0 or self.val_every <= 0:
            return start + 1
        t = 0
        while True:  # smallest t with t + val_forwards * floor(t / val_every) > start
            t += 1
            if t + self.val_forwards * ((t - 1) // self.val_every) > start:
                return t


def coco_config(**overrides) -> WeClipConfig:
    """The official COCO values (model_attn_aff_coco.py, configs/coco_attn_reg.yaml)."""
    values = dict(n_classes=81, box_threshold=0.7, rfm_layers=10, rfm_start=40000, val_forwards=0)
    values.update(overrides)
    return WeClipConfig(**values)
