"""Named DeepLabV2 recipes: the CLIP-ES supplementary E settings, with a source per field.

Sources: **S-E** = CLIP-ES supplementary E (DeepLabV2 training details); **S-D** = its
section D (mu); **DLP** = deeplab-pytorch (kazuto1011), the code the CLIP-ES repository
points to for this stage, whose VOC config holds the usual DeepLabV2 values the
supplementary leaves out; **ours** = our choice, no source.

| field | VOC | COCO | source |
| --- | --- | --- | --- |
| crop | 321 | 481 | S-E |
| scales | 0.5-1.5 step 0.25 | 0.5-2.0 step 0.25 | S-E |
| batch size | 10 | 5 | S-E |
| iterations | 20k | 100k | S-E |
| lr | 2e-4 ImageNet init, 2.5e-5 COCO init | same | S-E |
| schedule | poly, power 0.9 | same | S-E |
| mu | 0.95 | 0.95 | S-D, S-E |
| loss | CGL | balanced CE (after the CGL mask) | S-E |
| optimizer | SGD, momentum 0.9 | same | DLP |
| weight decay | 5e-4 | same | DLP |
| lr multipliers | backbone 1x, ASPP weights 10x, ASPP biases 20x (no decay) | same | DLP |
| frozen BN | yes | yes | DLP |
| flip | yes | yes | DLP |
| normalisation | torchvision ImageNet mean/std | same | ours (torchvision weights) |
| labels resized to the 1/8 logits (nearest) | yes | yes | DLP |
| COCO "strong augment following [7]" | not implemented (scale/crop/flip only) | | open |

The toy recipe (ResNet-18, random init, 96 px images) is ours throughout: crop and ASPP
rates scaled to the small images, AdamW 1e-3 and logits upsampled to the labels for a
randomly initialised network.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from clipwsss.seg.data import AugmentConfig
from clipwsss.seg.deeplab import DeepLabConfig
from clipwsss.seg.infer import InferConfig
from clipwsss.train import TrainConfig
from clipwsss.validate import check_range, check_unit_interval


@dataclass(frozen=True)
class DeepLabRecipe:
    """Everything one DeepLab training run needs besides the data."""

    name: str
    model: DeepLabConfig
    augment: AugmentConfig
    train: TrainConfig
    loss: str = "cgl"  # cgl | ce | balanced_ce (S-E)
    mu: float = 0.95  # S-D, S-E
    head_lr_mult: float = 10.0  # DLP: ASPP weights 10x (biases 2x that)
    resize: str = "labels"  # DLP: labels shrunk to the 1/8 logits; "logits": upsample logits
    infer: InferConfig = field(default_factory=InferConfig)

    def __post_init__(self) -> None:
        check_unit_interval("mu (--mu)", self.mu)
        check_range("head_lr_mult", self.head_lr_mult, above=0)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["train"] = self.train.to_dict()
        return data


def _train(**changes) -> TrainConfig:
    base = dict(
        optimizer="sgd",
        momentum=0.9,
        weight_decay=5e-4,
        schedule="poly",
        power=0.9,
        log_interval=20,
        checkpoint_interval=1000,
        seed=0,
    )
    return TrainConfig(**{**base, **changes})


def voc_recipe(init: str = "imagenet", weights: str | None = None) -> DeepLabRecipe:
    """PASCAL VOC 2012 (CLIP-ES Table 4 and 7): crop 321, batch 10, 20k iterations."""
    return DeepLabRecipe(
        name="voc12",
        model=DeepLabConfig(n_classes=21, init=init, weights=weights),
        augment=AugmentConfig(crop=321, scales=(0.5, 0.75, 1.0, 1.25, 1.5)),
        train=_train(iterations=20_000, batch_size=10, lr=2e-4 if init != "coco" else 2.5e-5),
    )


def coco_recipe(init: str = "imagenet", weights: str | None = None) -> DeepLabRecipe:
    """MS COCO 2014 (CLIP-ES Table 5): crop 481, batch 5, 100k iterations, balanced CE."""
    return DeepLabRecipe(
        name="coco14",
        model=DeepLabConfig(n_classes=81, init=init, weights=weights),
        augment=AugmentConfig(crop=481, scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)),
        train=_train(
            iterations=100_000,
            batch_size=5,
            lr=2e-4 if init != "coco" else 2.5e-5,
            checkpoint_interval=5000,
        ),
        loss="balanced_ce",
    )


def toy_recipe(init: str = "random", weights: str | None = None) -> DeepLabRecipe:
    """Toy world (ours): ResNet-18 from random weights on 96 px images, CPU minutes.

    AdamW and full-resolution supervision (logits upsampled to the labels) because a
    randomly initialised network on 12 x 12 logits learned much less in 300 SGD steps with
    labels shrunk to the logits (a trial run of ours; its numbers are not kept in the repo).
    """
    return DeepLabRecipe(
        name="toy",
        model=DeepLabConfig(
            n_classes=11,
            backbone="resnet18",
            aspp_rates=(1, 2, 3, 4),
            init=init,
            weights=weights,
            freeze_bn=False,
        ),
        augment=AugmentConfig(crop=64, scales=(0.75, 1.0, 1.25)),
        train=_train(
            iterations=300,
            batch_size=10,
            optimizer="adamw",
            lr=1e-3,
            weight_decay=1e-4,
            warmup_iters=30,
            log_interval=20,
            checkpoint_interval=100,
        ),
        head_lr_mult=1.0,
        resize="logits",
        infer=InferConfig(scales=(1.0,), flip=True),
    )


RECIPES = {"voc12": voc_recipe, "coco14": coco_recipe, "toy": toy_recipe}


def get_recipe(profile: str, *, init: str | None = None, weights: str | None = None):
    """The named recipe of a profile ("toy", "voc12", "coco14"), optionally re-initialised."""
    if profile not in RECIPES:
        raise KeyError(f"no DeepLab recipe for profile {profile!r}; known: {list(RECIPES)}")
    kwargs = {"weights": weights}
    if init is not None:
        kwargs["init"] = init
    return RECIPES[profile](**kwargs)
