"""DeepLabV2 trained on CLIP-ES pseudo-masks (CLIP-ES Sec. 3.4, Tables 4, 5, 7, S3).

See docs/training.md (the engine) and docs/deeplab.md (this stage). Layer 3: the engine task
and the named recipes are ``clipwsss.train.tasks.deeplab`` (layer 4).
"""

from .data import AugmentConfig, MaskDataError, PseudoMaskDataset, check_pseudo_masks
from .deeplab import ASPP, DeepLabConfig, DeepLabV2, build_deeplab, dilated_resnet, load_weights
from .infer import (
    InferConfig,
    evaluate_segmenter,
    image_confusions,
    predict_dataset,
    predict_label,
    predict_probs,
)
from .losses import balanced_cross_entropy, segmentation_loss

__all__ = [
    "ASPP",
    "AugmentConfig",
    "DeepLabConfig",
    "DeepLabV2",
    "InferConfig",
    "MaskDataError",
    "PseudoMaskDataset",
    "balanced_cross_entropy",
    "build_deeplab",
    "check_pseudo_masks",
    "dilated_resnet",
    "evaluate_segmenter",
    "image_confusions",
    "load_weights",
    "predict_dataset",
    "predict_label",
    "predict_probs",
    "segmentation_loss",
]
