"""WeakCLIP configuration: one frozen dataclass, faithful (official code) by default.

Paper: Zhu et al., "WeakCLIP: Adapting CLIP for Weakly-Supervised Semantic Segmentation",
IJCV 2025 (Section 3; ablations of N and of the "temperature" init). Official code:
github.com/hustvl/WeakCLIP @b72d559
(``configs/_base_/models/weakclip_vitb.py``, ``weakclip/weakclip.py``, ``weakclip/models.py``).

[paper≠code] The official code differs from the paper in three places, each one field here:

* ``chain_coattention``: the co-attention loops call every layer on the *un-updated*
  inputs, so only the last of each stack of 3 layers is live (official: False).
* ``adapter_lr_mult``: mmcv's ``custom_keys={'backbone': lr_mult 0}`` also matches the
  adapter (``backbone.fpn1..4``), so the paper's trainable adapter is not trained (0.0).
* ``double_class_embedding``: the DenseCLIP vision tower adds ``class_embedding`` to the class
  token twice (official: True).

:func:`corrected` flips all three. ``use_adapter`` and ``use_coattention`` switch a component
off for the component ablation (both on in the official model).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clipwsss.validate import check_range


@dataclass(frozen=True)
class WeakClipConfig:
    """Architecture and loss switches of WeakCLIP (defaults = official ViT-B/16 VOC code).

    Attributes:
        n_prompts: learnable context vectors N before the class name (best of 2/4/8/16 in
            the paper's ablation: 8).
        name_context: tokens of a tokenised class name incl. SOT/EOT (official 5; the text
            context is then 1 + N + name_context - 1 = 13).
        feature_blocks: 1-based ViT blocks whose outputs feed the pyramid adapter
            (official ``out_indices=[3, 5, 7, 11]``: blocks 4, 6, 8, 12).
        input_resolution: the square input the positional table is resized to when the
            model is built (official 512: a 1025-row table).
        double_class_embedding: add ``class_embedding`` to the class token twice
            (DenseCLIP quirk, official True).
        coattn_width: width of the co-attention layers (official 256).
        coattn_heads: heads of the co-attention layers (official 4).
        coattn_layers: layers per stack, text and visual stack (official 3).
        coattn_dropout: dropout in the co-attention layers (official 0.1).
        chain_coattention: feed each layer the previous layer's output (paper); official
            False calls every layer on the stack input, so only the last one is live.
        residual_init: initial value of the 512-vectors gamma (text) and beta (pixels)
            scaling the co-attention updates (ablation of the "learnable temperature" init: 0.1).
        neck_channels: FPN neck width (official 256).
        head_channels: Semantic-FPN head width (official 256).
        head_dropout: dropout before the classifier (official 0.1).
        adapter_lr_mult: learning-rate multiplier of the pyramid adapter (official 0.0,
            see the module docstring; the paper trains it: 1.0).
        aux_temperature: temperature tau of the score map in the auxiliary loss (0.07).
        drop_path: stochastic-depth rate of the last CLIP image block, rising linearly from 0
            at block 1, on both residual branches, active in training only (official 0.1;
            0 keeps the tower deterministic).
        drop_path_per_token: the official tower runs sequence-first (L, B, D), so timm's
            per-sample mask is drawn per token position, shared by the batch (True);
            False draws one mask per image, as timm intends.
        init_weights: apply mmseg's ``init_cfg`` (Xavier FPN neck, Normal(0.01) classifier
            with zero bias). Official False: ``tools/train.py`` never calls
            ``init_weights()``, so the neck and head keep their construction-time init
            (mmcv ``ConvModule`` Kaiming fan-out, PyTorch's default classifier with a bias).
        use_adapter: the pyramid adapter (official True). False builds no adapter: the four
            frozen block maps go to the neck only resized to the pyramid's strides, without
            learned layers (bilinear x4 and x2, as they are, 2 x 2 max pool;
            :func:`~clipwsss.methods.weakclip.vision.resize_pyramid`).
        use_coattention: co-attention matching (official True). False builds no co-attention
            layers and no gamma/beta: the text features t_p and the pixel embeddings f_p go
            into the score map unchanged, lambda' = cos(f_p, t_p) (Eq. 3 skipped, Eq. 4 kept).
    """

    n_prompts: int = 8  # N ablation; weakclip_vitb.py context_length=8
    name_context: int = 5  # weakclip.py: tokenize(c, context_length=5)
    feature_blocks: tuple[int, ...] = (4, 6, 8, 12)  # out_indices=[3, 5, 7, 11]
    input_resolution: int = 512  # weakclip_vitb.py input_resolution=512
    double_class_embedding: bool = True  # models.py L573 and L577
    coattn_width: int = 256  # ContextDecoder transformer_width
    coattn_heads: int = 4  # ContextDecoder transformer_heads
    coattn_layers: int = 3  # two stacks of 3
    coattn_dropout: float = 0.1  # ContextDecoder dropout
    chain_coattention: bool = False  # official bug: only the last layer is live
    residual_init: float = 0.1  # gamma/beta init, "temperature" ablation
    neck_channels: int = 256  # mmseg FPN out_channels
    head_channels: int = 256  # FPNHeadDGCN channels
    head_dropout: float = 0.1  # FPNHeadDGCN dropout_ratio
    adapter_lr_mult: float = 0.0  # custom_keys 'backbone' matches backbone.fpn1..4
    aux_temperature: float = 0.07  # identity_head: score map / 0.07
    drop_path: float = 0.1  # weakclip_vitb.py backbone drop_path_rate=0.1
    drop_path_per_token: bool = True  # timm drop_path on an (L, B, D) tensor
    init_weights: bool = False  # tools/train.py never calls model.init_weights()
    use_adapter: bool = field(default=True, metadata={"flag": "adapter"})  # --no-adapter: off
    use_coattention: bool = field(default=True, metadata={"flag": "coattention"})

    def __post_init__(self) -> None:
        if len(self.feature_blocks) != 4:
            raise ValueError(
                f"the pyramid adapter needs 4 feature blocks, got {self.feature_blocks}"
            )
        if self.n_prompts < 1 or self.name_context < 3:
            raise ValueError("n_prompts must be >= 1 and name_context >= 3 (SOT, name, EOT)")
        for name in (
            "input_resolution",
            "coattn_width",
            "coattn_heads",
            "coattn_layers",
            "neck_channels",
            "head_channels",
        ):
            check_range(name, getattr(self, name), low=1)
        for name in ("coattn_dropout", "head_dropout"):
            check_range(name, getattr(self, name), low=0, below=1)
        check_range("adapter_lr_mult", self.adapter_lr_mult, low=0)
        check_range("aux_temperature", self.aux_temperature, above=0)
        check_range("drop_path", self.drop_path, low=0, below=1)
        if self.coattn_width % self.coattn_heads:
            raise ValueError("coattn_width must be a multiple of coattn_heads")


def faithful(**overrides) -> WeakClipConfig:
    """The official code's behaviour (the default config), with optional overrides."""
    return replace(WeakClipConfig(), **overrides)


def corrected(**overrides) -> WeakClipConfig:
    """The paper's model: chained co-attention, trained adapter, class embedding added once."""
    fixed = dict(chain_coattention=True, adapter_lr_mult=1.0, double_class_embedding=False)
    return replace(WeakClipConfig(), **{**fixed, **overrides})
