"""Named DeepLabV2 recipes: the CLIP-ES supplementary E settings, with a source per field.

Sources: **S-E** = CLIP-ES supplementary E (DeepLabV2 training details); **S-D** = its
section D (mu); **DLP** = deeplab-pytorch (kazuto1011), the code the CLIP-ES repository
points to for this stage, whose VOC config holds the usual DeepLabV2 values the
supplementary leaves out; **ours** = our choice, no source.

| field | VOC | COCO | source |
| --- | --- | --- | --- |
| network | deeplab-pytorch's DeepLabV2-R101 (Caffe ResNet), MSC 1/0.5/0.75 + max | same | DLP |
| crop | 321 | 481 | S-E |
| scales | 0.5-1.5 step 0.25 | 0.5-2.0 step 0.25 | S-E |
| batch size | 10 = 5 x 2 accumulated (DLP's ITER_SIZE 2) | 5 | S-E, DLP |
| iterations | 20k | 100k | S-E |
| lr | 2e-4 ImageNet init, 2.5e-5 COCO init (DLP's config: 2.5e-4) | same | S-E |
| schedule | poly, power 0.9, updated every 10 steps | same | S-E, DLP |
| mu | 0.95 | 0.95 | S-D, S-E |
| loss | CGL, summed over the 4 MSC outputs | balanced CE (after the CGL mask), same | S-E, DLP |
| optimizer | SGD, momentum 0.9 | same | DLP |
| weight decay | 5e-4 | same | DLP |
| lr multipliers | backbone 1x, ASPP weights 10x, ASPP biases 20x (no decay) | same | DLP |
| frozen BN | yes, in no optimizer group | yes | DLP |
| flip | yes | yes | DLP |
| normalisation | BGR minus the Caffe mean, no std | same | DLP |
| labels resized to each output (nearest-exact = PIL NEAREST) | yes | yes | DLP |
| test | MSC at the original size, no flip; CRF with ``--crf`` (wrapped image) | same | DLP |
| COCO "strong augment following [7]" | not implemented (scale/crop/flip only) | | open |

``arch="torchvision"`` (``with_torchvision``) is our option: torchvision's ResNet-101 with
its ImageNet weights, single scale, torchvision normalisation.

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
from clipwsss.train.config import TrainConfig
from clipwsss.train.recipe import Recipe
from clipwsss.validate import check_choice, check_range, check_unit_interval


@dataclass(frozen=True)
class DeepLabLoss:
    """The training loss (CLIP-ES Sec. 3.4, supp. E) and its parameter groups."""

    kind: str = field(default="cgl", metadata={"flag": "loss"})  # cgl | ce | balanced_ce (S-E)
    mu: float = 0.95  # CGL confidence threshold (S-D, S-E)
    # labels: DLP, labels shrunk to the 1/8 logits; logits: logits upsampled to the labels
    resize: str = "labels"
    head_lr_mult: float = 10.0  # DLP: ASPP weights 10x (biases 2x that)

    def __post_init__(self) -> None:
        check_choice("loss (--loss)", self.kind, ("cgl", "ce", "balanced_ce"))
        check_unit_interval("mu (--mu)", self.mu)
        check_choice("resize", self.resize, ("labels", "logits"))
        check_range("head_lr_mult", self.head_lr_mult, above=0)


@dataclass(frozen=True)
class DeepLabRecipe(Recipe):
    """Everything one DeepLab training run needs besides the data."""

    model: DeepLabConfig = field(default_factory=DeepLabConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: AugmentConfig = field(default_factory=AugmentConfig)  # paired augmentation
    tta: InferConfig = field(default_factory=InferConfig)  # test-time scales, flip, CRF
    loss: DeepLabLoss = field(default_factory=DeepLabLoss)


# The engine settings every DeepLab recipe shares (DLP's SGD and poly schedule).
_SGD = dict(
    momentum=0.9,
    schedule="poly",
    power=0.9,
    lr_every=10,
    log_interval=20,
    checkpoint_interval=1000,
    seed=0,
)

RECIPES: dict[str, DeepLabRecipe] = {
    # PASCAL VOC 2012 (CLIP-ES Table 4 and 7): crop 321, batch 5 x 2, 20k iterations.
    "voc12": DeepLabRecipe(
        name="voc12",
        model=DeepLabConfig(n_classes=21),
        data=AugmentConfig(crop=321, scales=(0.5, 0.75, 1.0, 1.25, 1.5)),
        # DLP: BATCH_SIZE 5 x ITER_SIZE 2; lr S-E (DLP's voc12.yaml: 2.5e-4)
        train=TrainConfig(
            **_SGD,
            optimizer="sgd",
            weight_decay=5e-4,
            iterations=20_000,
            batch_size=10,
            grad_accum=2,
            lr=2e-4,
        ),
        tta=InferConfig(scales=(1.0,), flip=False),  # DLP main.py test: MSC inside the model
    ),
    # MS COCO 2014 (CLIP-ES Table 5): crop 481, batch 5, 100k iterations, balanced CE.
    "coco14": DeepLabRecipe(
        name="coco14",
        model=DeepLabConfig(n_classes=81),
        data=AugmentConfig(crop=481, scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)),
        train=TrainConfig(
            **{**_SGD, "checkpoint_interval": 5000},
            optimizer="sgd",
            weight_decay=5e-4,
            iterations=100_000,
            batch_size=5,
            lr=2e-4,
        ),
        tta=InferConfig(scales=(1.0,), flip=False),
        loss=DeepLabLoss(kind="balanced_ce"),
    ),
    # Toy world (ours): ResNet-18 from random weights on 96 px images, CPU minutes. AdamW and
    # full-resolution supervision (logits upsampled to the labels) because a randomly
    # initialised network on 12 x 12 logits learned much less in 300 SGD steps with labels
    # shrunk to the logits (a trial run of ours; its numbers are not kept in the repo).
    "toy": DeepLabRecipe(
        name="toy",
        model=DeepLabConfig(
            n_classes=11,
            backbone="resnet18",
            arch="torchvision",
            aspp_rates=(1, 2, 3, 4),
            init="random",
            freeze_bn=False,
            msc_scales=(),
        ),
        data=AugmentConfig(
            crop=64, scales=(0.75, 1.0, 1.25), normalization="torchvision", resize="round"
        ),
        train=TrainConfig(
            **{**_SGD, "lr_every": 1, "checkpoint_interval": 100},
            optimizer="adamw",
            weight_decay=1e-4,
            iterations=300,
            batch_size=10,
            lr=1e-3,
            warmup_iters=30,
        ),
        tta=InferConfig(scales=(1.0,), flip=True, normalization="torchvision", crf_image="rgb"),
        loss=DeepLabLoss(head_lr_mult=1.0, resize="logits"),
    ),
}
COCO_INIT_LR = 2.5e-5  # S-E: DeepLab fine-tuned from COCO weights


def with_torchvision(recipe: DeepLabRecipe) -> DeepLabRecipe:
    """The recipe on our option ``arch="torchvision"``: torchvision's ResNet (ImageNet weights
    from torchvision), single scale, torchvision normalisation, our multi-scale + flip test."""
    model = dataclasses.replace(recipe.model, arch="torchvision", msc_scales=())
    data = dataclasses.replace(recipe.data, normalization="torchvision")
    tta = InferConfig(normalization="torchvision", crf_image="rgb")
    return dataclasses.replace(recipe, model=model, data=data, tta=tta)


def get_recipe(
    profile: str, *, init: str | None = None, weights: str | None = None, arch: str | None = None
) -> DeepLabRecipe:
    """The named recipe of a profile ("toy", "voc12", "coco14"), optionally re-initialised
    (``init="coco"`` also lowers the lr to ``COCO_INIT_LR``, S-E) or on another ``arch``
    ("torchvision": :func:`with_torchvision`)."""
    if profile not in RECIPES:
        raise KeyError(f"no DeepLab recipe for profile {profile!r}; known: {list(RECIPES)}")
    recipe = RECIPES[profile]
    model = dataclasses.replace(
        recipe.model, weights=weights, **({} if init is None else {"init": init})
    )
    recipe = dataclasses.replace(recipe, model=model)
    if init == "coco" and profile != "toy":
        train = dataclasses.replace(recipe.train, lr=COCO_INIT_LR)
        recipe = dataclasses.replace(recipe, train=train)
    if arch is None or arch == recipe.model.arch:
        return recipe
    if arch != "torchvision":
        raise ValueError(f"the {profile} recipe has no arch={arch!r} variant")
    return with_torchvision(recipe)
