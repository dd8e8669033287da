"""Profiles: model, data and hyperparameters resolved in one place.

``"toy"`` is the offline synthetic world with the shipped micro-CLIP (runs anywhere on CPU);
``"voc12"`` and ``"coco14"`` are the real settings (OpenAI CLIP ViT-B/16 and the real data).
Methods never look at the profile: they receive the model, the vocabulary and the config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from clipwsss.methods.clip_es import ClipEsConfig
from clipwsss.vocab import ClassVocabulary, coco_vocabulary, voc_vocabulary

TOY_MODEL_DIR = Path(__file__).parents[1] / "assets" / "toy_clip"
TOY_IMAGE_SIZE = 96  # toy images: a 12 x 12 grid of the micro-CLIP's 8 px patches


@dataclass(frozen=True)
class Profile:
    """Everything a notebook or the CLI needs to run CLIP-ES on one setting.

    Attributes:
        name: "toy", "voc12" or "coco14".
        model: open_clip model name or ``local-dir:`` folder.
        pretrained: weights tag or file (``None`` when the folder holds them); the real
            profiles default to ``"openai"`` and take a local file or ``"env"`` instead.
        dataset: data set kind for ``clipwsss.data.build_dataset``.
        data_root: default data folder (override with the ``data_root`` argument).
        split: default split to score (Tables 1-2 use VOC train, per CLIP-ES#30).
        clip_es: CAM-stage switches, with the profile's lambda and CAA depth.
        n_classes: classes including background (21 VOC, 81 COCO).
    """

    name: str
    model: str
    pretrained: str | None
    dataset: str
    data_root: str
    split: str
    clip_es: ClipEsConfig = field(default_factory=ClipEsConfig)
    n_classes: int = 21

    def vocabulary(self) -> ClassVocabulary:
        """The class names, synonyms and background words of this profile."""
        if self.name == "coco14":
            return coco_vocabulary()
        if self.name == "toy":
            from clipwsss.toy.evaluate import toy_vocabulary

            return toy_vocabulary()
        return voc_vocabulary()

    def class_names(self) -> list[str]:
        return list(self.vocabulary().names)


def default_data_dir() -> Path:
    """``$CLIPWSSS_DATA``; else ``data/`` at the repository root when running from a checkout
    (so notebooks, which run in ``notebooks/``, and scripts share one folder); else ./data."""
    if os.environ.get("CLIPWSSS_DATA"):
        return Path(os.environ["CLIPWSSS_DATA"])
    repo = Path(__file__).resolve().parents[3]
    return repo / "data" if (repo / "pyproject.toml").is_file() else Path("data")


def _profiles() -> dict[str, Profile]:
    data = default_data_dir()
    return {
        "toy": Profile(
            name="toy",
            model=f"local-dir:{TOY_MODEL_DIR}",
            pretrained=None,
            dataset="voc12",
            data_root=str(data / "toy"),
            split="val",
            # The micro-CLIP has 4 blocks: the last 3 play the role of ViT-B/16's last 8 of 12.
            clip_es=ClipEsConfig(caa_layers=3),
            n_classes=11,
        ),
        "voc12": Profile(
            name="voc12",
            model="ViT-B-16",
            pretrained="openai",
            dataset="voc12",
            data_root=str(data / "VOCdevkit" / "VOC2012"),
            split="train",
            clip_es=ClipEsConfig.for_dataset("voc12"),  # lambda 0.4, supp. C
            n_classes=21,
        ),
        "coco14": Profile(
            name="coco14",
            model="ViT-B-16",
            pretrained="openai",
            dataset="coco14",
            data_root=str(data / "coco2014"),
            split="train",
            clip_es=ClipEsConfig.for_dataset("coco14"),  # lambda 0.7, supp. C
            n_classes=81,
        ),
    }


PROFILE_NAMES = ("toy", "voc12", "coco14")


def get_profile(name: str, **overrides) -> Profile:
    """Resolve a profile by name, optionally overriding fields (e.g. ``data_root=...``).

    ``pretrained`` ('' or None keeps the profile's) takes a local checkpoint file (the
    OpenAI ``ViT-B-16.pt``), an open_clip tag such as ``"openai"`` (downloads), or ``"env"``
    (the file named by ``$CLIPWSSS_PRETRAINED``). The toy profile's micro-CLIP folder holds
    its own weights, so it accepts none of them.

    Raises:
        KeyError: for an unknown profile name (the message lists the known ones).
        ValueError: ``pretrained`` given for the toy profile.
    """
    profiles = _profiles()
    if name not in profiles:
        raise KeyError(f"unknown profile {name!r}; known profiles: {list(profiles)}")
    if not overrides.get("pretrained", "x"):
        overrides.pop("pretrained")  # '' / None: the profile's own weights
    if name == "toy" and "pretrained" in overrides:
        raise ValueError(
            f"pretrained={overrides['pretrained']!r} with the toy profile: the toy world runs "
            "the shipped micro-CLIP, whose folder holds its weights; pretrained applies to "
            "voc12 and coco14 (leave it empty for toy)"
        )
    return replace(profiles[name], **overrides)
