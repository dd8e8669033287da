"""WeCLIP as a task of the shared training engine (``clipwsss.train``; docs/training.md).

    task = WeClipTask(WeClipData("voc12", "data/VOCdevkit/VOC2012", "train_aug"))
    result = train(task, recipe_train_config("voc12", run_dir="runs/weclip_voc"))

The engine owns the loop, the optimizer (AdamW), the poly + warm-up schedule, checkpoints and
exact resume; this module supplies the model, the data and the loss (``training_step``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from clipwsss.clip.loading import load_clip
from clipwsss.data import SegmentationDataset, build_dataset, load_image, load_label_png
from clipwsss.methods.weclip.config import WeClipConfig, coco_config
from clipwsss.methods.weclip.model import WeClip
from clipwsss.methods.weclip.samples import WeClipTrainSet
from clipwsss.methods.weclip.train import RECIPES, toy_config, training_step
from clipwsss.metrics import confusion_matrix, mean_iou
from clipwsss.pipelines.tta import predict_label, weclip_tta
from clipwsss.train import ParamGroup, TrainConfig, TrainTask
from clipwsss.vocab import ClassVocabulary, coco_vocabulary, voc_vocabulary

# The shipped micro-CLIP, as the toy profile names it (experiments.profiles, a layer above).
TOY_CLIP = f"local-dir:{Path(__file__).resolve().parents[2] / 'assets' / 'toy_clip'}"


@dataclass(frozen=True)
class WeClipData:
    """Where the training (and optional in-training validation) images come from."""

    dataset: str  # "voc12" | "coco14" | "custom" (clipwsss.data.build_dataset)
    root: str  # the VOC2012 / COCO 2014 folder
    split: str = "train_aug"  # official VOC training split (10,582 images)
    class_names: tuple[str, ...] | None = None  # e.g. the toy classes; None: the data set's
    # Official: image labels from the GT PNGs; default: the data set's label source (XML).
    labels_from_gt: bool = False
    eval_split: str | None = None  # official: validation on VOC train every 2000 iterations
    eval_limit: int | None = None  # score only the first N images of eval_split

    def build(self, split: str) -> SegmentationDataset:
        kwargs = {} if self.class_names is None else {"class_names": list(self.class_names)}
        return build_dataset(self.dataset, self.root, split, **kwargs)


@dataclass
class WeClipTask(TrainTask):
    """WeCLIP training: frozen CLIP + decoder, online pseudo labels, seg + 0.1 aff loss."""

    data: WeClipData
    vocab: ClassVocabulary = field(default_factory=voc_vocabulary)
    model_config: WeClipConfig = field(default_factory=WeClipConfig)
    clip_name: str = "ViT-B-16"
    pretrained: str | None = "openai"  # None (random CLIP) only for tests and timing
    crop: int = 320  # configs/voc_attn_reg.yaml: crop_size 320
    recipe: str = "voc12"  # the named recipe this task came from (recorded, for ``predict``)
    # (optimizer step, run length) from the engine: the CAA -> RFM switch follows them
    _progress: tuple[int, int] | None = field(default=None, init=False, repr=False,
                                              compare=False)  # fmt: skip

    def build_model(self) -> nn.Module:
        clip = load_clip(self.clip_name, self.pretrained)
        return WeClip(clip, self.vocab, self.model_config)

    def param_groups(self, model: nn.Module) -> list[ParamGroup]:
        # Official: the decoder is param group 3 with lr x 10 of config lr 2e-4; the recipes
        # give lr 2e-3 directly, the same effective rate without a hidden multiplier.
        return [ParamGroup(list(model.decoder.parameters()), name="decoder")]

    def train_dataset(self) -> Dataset:
        return WeClipTrainSet(self.data.build(self.data.split), crop=self.crop,
                              normalisation=self.model_config.normalisation,
                              labels_from_gt=self.data.labels_from_gt)  # fmt: skip

    def begin_step(self, step: int, iterations: int) -> None:
        self._progress = (step, iterations)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        step, iterations = (None, None) if self._progress is None else self._progress
        out = training_step(model, batch, step=step, iterations=iterations)
        return out.total, {"seg": out.seg.item(), "aff": out.aff.item()}

    def evaluate(self, model: nn.Module) -> dict[str, float] | None:
        """Single-scale mIoU of the predictions on ``eval_split`` (None without one)."""
        if self.data.eval_split is None:
            return None
        dataset = self.data.build(self.data.eval_split)
        n = len(dataset) if self.data.eval_limit is None else self.data.eval_limit
        cfg = weclip_tta({"scales": (1.0,), "flip": False, "long_side": None})
        hist = np.zeros((dataset.n_classes,) * 2, np.int64)
        for i in range(min(n, len(dataset))):
            sample = dataset[i]
            image = load_image(sample.image_path)
            pred = predict_label(model, image, cfg)
            hist += confusion_matrix(pred, load_label_png(sample.gt_path), dataset.n_classes)
        return {"val_miou": 100 * mean_iou(hist)}

    def paths(self) -> dict[str, Any]:
        return {"root": self.data.root}  # a moved data set still resumes

    def config(self) -> dict[str, Any]:
        data = {k: v for k, v in dataclasses.asdict(self.data).items() if k != "root"}
        record = {"data": data, "model": dataclasses.asdict(
            self.model_config), "vocab": list(self.vocab.names), "clip": self.clip_name,
            "pretrained": self.pretrained, "crop": self.crop,
            "recipe": self.recipe}  # fmt: skip
        return json.loads(json.dumps(record))  # tuples -> lists: equal to config.json read back


def recipe_train_config(name: str, **overrides) -> TrainConfig:
    """The engine settings of a named recipe ("voc12", "coco14", "toy")."""
    if name not in RECIPES:
        raise KeyError(f"unknown WeCLIP recipe {name!r}; known: {list(RECIPES)}")
    r = RECIPES[name]
    values = dict(iterations=r.iterations, batch_size=r.batch_size, lr=r.lr,
                  weight_decay=r.weight_decay, optimizer="adamw", betas=r.betas,
                  schedule="poly", power=r.power, warmup_iters=r.warmup_iters,
                  warmup_ratio=r.warmup_ratio, seed=r.seed)  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


def recipe_task(name: str, data: WeClipData, **overrides) -> WeClipTask:
    """The task of a named recipe: model config, vocabulary, CLIP and crop."""
    if name == "toy":
        from clipwsss.toy.evaluate import toy_vocabulary

        vocab = toy_vocabulary()
        if data.class_names is None:  # toy XMLs name toy classes, not VOC's
            data = dataclasses.replace(data, class_names=tuple(vocab.names))
        base = dict(vocab=vocab, model_config=toy_config(), clip_name=TOY_CLIP, pretrained=None,
                    crop=RECIPES["toy"].crop)  # fmt: skip
    elif name == "coco14":
        base = dict(vocab=coco_vocabulary(), model_config=coco_config())
    elif name == "voc12":
        base = {}
    else:
        raise KeyError(f"unknown WeCLIP recipe {name!r}; known: {list(RECIPES)}")
    base.update(overrides)
    return WeClipTask(data=data, recipe=name, **base)
