"""DeepLabV2 trained on CLIP-ES pseudo-masks (CLIP-ES Sec. 3.4, Tables 4, 5, 7, S3).

See docs/training.md (the engine) and docs/deeplab.md (this stage). Layer 3: the engine task
and the named recipes are ``clipwsss.train.tasks.deeplab`` (layer 4).
"""

from .caffe import MSC, CaffeDeepLabV2
from .data import (
    AugmentConfig,
    MaskDataError,
    PseudoMaskDataset,
    caffe_normalize,
    check_pseudo_masks,
    preprocess,
)
from .deeplab import (
    ASPP,
    CaffeDeepLab,
    DeepLabConfig,
    DeepLabV2,
    build_deeplab,
    deeplab_network,
    dilated_resnet,
    load_deeplab_pytorch,
    load_weights,
)
from .infer import InferConfig, set_normalization
from .losses import balanced_cross_entropy, msc_loss, segmentation_loss

__all__ = [
    "ASPP",
    "MSC",
    "AugmentConfig",
    "CaffeDeepLab",
    "CaffeDeepLabV2",
    "DeepLabConfig",
    "DeepLabV2",
    "InferConfig",
    "MaskDataError",
    "PseudoMaskDataset",
    "balanced_cross_entropy",
    "build_deeplab",
    "caffe_normalize",
    "check_pseudo_masks",
    "deeplab_network",
    "dilated_resnet",
    "load_deeplab_pytorch",
    "load_weights",
    "msc_loss",
    "preprocess",
    "segmentation_loss",
    "set_normalization",
]
