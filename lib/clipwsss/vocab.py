"""Class vocabularies of CLIP-ES: class names, synonyms, background sets and prompt templates.

Paper: CLIP-ES Section 3.1 (class-related background set), 3.2.1 (prompt choice),
3.2.2 (synonym fusion), supplementary B (Table S2, fusion levels) and G (background sets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from clipwsss.data.classes import COCO_CLASSES, VOC_CLASSES
from clipwsss.validate import VocabularyError, check_words, read_yaml_or_json

# Section 3.2.1: the prompt with the lowest sharpness on VOC train.
CLIP_ES_TEMPLATE = "a clean origami {}."

# Supplementary G: the class-related background set for VOC (25 words) and COCO (23: VOC's
# minus "keyboard" and "sign", which are COCO classes).
VOC_BACKGROUND = (
    "ground",
    "land",
    "grass",
    "tree",
    "building",
    "wall",
    "sky",
    "lake",
    "water",
    "river",
    "sea",
    "railway",
    "railroad",
    "keyboard",
    "helmet",
    "cloud",
    "house",
    "mountain",
    "ocean",
    "road",
    "rock",
    "street",
    "valley",
    "bridge",
    "sign",
)
COCO_BACKGROUND = tuple(w for w in VOC_BACKGROUND if w not in ("keyboard", "sign"))

# Synonym substitutions of the official code (clip_text.py). The sentence-level text is kept
# verbatim: some entries are space-joined ("bird avian"), others comma-joined without spaces.
_VOC_SENTENCE = {
    "bird": "bird avian",
    "chair": "chair seat",
    "person": "person with clothes,people,human",
    "tvmonitor": "tvmonitor screen",
}
_VOC_SYNONYMS = {
    "bird": ("bird", "avian"),
    "chair": ("chair", "seat"),
    "person": ("person with clothes", "people", "human"),
    "tvmonitor": ("tvmonitor", "screen"),
}
_COCO_SENTENCE = {
    **_VOC_SENTENCE,
    "backpack": "backpack,bag",
    "umbrella": "umbrella,parasol",
    "handbag": "handbag,purse",
    "tie": "necktie",
    "snowboard": "sknowboard",  # sic: the official code's typo, reproduced by default
    "baseball glove": "glove",
    "spoon": "dessertspoon",
    "remote": "remote control",
    "hair drier": "hairdrier,blowdrier",
}
_COCO_SYNONYMS = {
    **_VOC_SYNONYMS,
    "backpack": ("backpack", "bag"),
    "umbrella": ("umbrella", "parasol"),
    "handbag": ("handbag", "purse"),
    "tie": ("necktie",),
    "snowboard": ("sknowboard",),
    "baseball glove": ("glove",),
    "spoon": ("dessertspoon",),
    "remote": ("remote control",),
    "hair drier": ("hairdrier", "blowdrier"),
}

Fusion = Literal["sentence", "feature", "cam"]


def imagenet_templates() -> tuple[str, ...]:
    """The 80 ImageNet prompt templates of CLIP, from which Fig. 3 drew its 20 prompts."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return tuple(t("{}") for t in OPENAI_IMAGENET_TEMPLATES)


@dataclass(frozen=True)
class ClassVocabulary:
    """Class names with their synonyms and the background word set.

    Attributes:
        names: canonical class names; index i is class id i (0-based, background excluded).
        synonyms: per class, the words for feature- and CAM-level fusion (Table S2).
        sentences: per class, the text put in the template for sentence-level fusion
            (the default, Section 3.2.2), e.g. "person with clothes,people,human".
        background: background words competing in the softmax (Section 3.1).
    """

    names: tuple[str, ...]
    synonyms: tuple[tuple[str, ...], ...]
    sentences: tuple[str, ...]
    background: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("a class vocabulary needs at least one class")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate class names in {self.names}")
        if not (len(self.synonyms) == len(self.sentences) == len(self.names)):
            raise ValueError("names, synonyms and sentences must have the same length")
        if any(len(s) == 0 for s in self.synonyms):
            raise ValueError("every class needs at least one synonym (its own name)")

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """0-based id of a class name; a clear error lists the known names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"unknown class name {name!r}; known classes: {list(self.names)}"
            ) from None

    def without_synonyms(self) -> ClassVocabulary:
        """The same classes named by their plain names only (Table 8's "w/o synonyms")."""
        return ClassVocabulary(
            self.names, tuple((n,) for n in self.names), self.names, self.background
        )

    def with_background(self, background: Sequence[str]) -> ClassVocabulary:
        """A copy with another background set (``()`` for dataset classes only, Table 6)."""
        return ClassVocabulary(self.names, self.synonyms, self.sentences, tuple(background))


def make_vocabulary(
    classes: Sequence[str] | Mapping[str, Sequence[str] | str | None],
    *,
    background: Sequence[str] = (),
    sentences: Mapping[str, str] | None = None,
) -> ClassVocabulary:
    """Build a vocabulary for your own classes (open-vocabulary use, no code edits).

    Args:
        classes: a list of names, a comma-separated string of names, or a mapping
            name -> synonyms (a list, a comma-separated string, or None for the name alone).
        background: background words (e.g. ``VOC_BACKGROUND``); empty for none.
        sentences: optional sentence-level text per class; default: synonyms joined by ",".

    Returns:
        The vocabulary.
    """
    if isinstance(classes, str):  # "cat,dog": one comma-separated string of names
        classes = [w.strip() for w in classes.split(",") if w.strip()]
    if isinstance(classes, Mapping):
        items = list(classes.items())
    else:
        items = [(name, None) for name in classes]
    names, syns = [], []
    for name, value in items:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"class names must be non-empty strings, got {name!r}")
        words = check_words(f"synonyms of {name!r}", value, allow_comma_string=True)  # #8
        names.append(name)
        syns.append(words or (name,))
    background = check_words("background", background)  # a list of words, not a bare string
    if sentences is not None and not isinstance(sentences, Mapping):
        raise VocabularyError(f"sentences must be a mapping class -> text, got {sentences!r}")
    sentences = dict(sentences or {})
    unknown = set(sentences) - set(names)
    if unknown:
        raise VocabularyError(f"sentences given for unknown classes {sorted(unknown)}")
    bad = {k: v for k, v in sentences.items() if not isinstance(v, str)}
    if bad:
        raise VocabularyError(f"sentences must be strings, got {bad}")
    sent = tuple(sentences.get(n, ",".join(s)) for n, s in zip(names, syns, strict=True))
    return ClassVocabulary(tuple(names), tuple(syns), sent, tuple(background))


def _with_synonyms(classes: Any, synonyms: Any) -> Any:
    """A class list plus a separate ``synonyms`` mapping -> one mapping name -> synonyms."""
    if synonyms is None:
        return classes
    if not isinstance(synonyms, Mapping) or isinstance(classes, Mapping | str):
        raise VocabularyError(
            "'synonyms' must be a mapping class -> words, beside a list of 'classes'"
        )
    unknown = sorted(set(synonyms) - set(classes))
    if unknown:
        raise VocabularyError(f"'synonyms' for classes not in 'classes': {unknown}")
    return {name: synonyms.get(name) for name in classes}


def load_vocabulary(path: str | Path) -> ClassVocabulary:
    """Read a vocabulary from YAML or JSON.

    The file holds ``classes`` (a list of names, or a mapping name -> synonyms), and
    optionally ``background`` (a list of words) and ``sentences`` (name -> text)::

        classes:
          cat: [cat, kitty]
          person: [person with clothes, people, human]
        background: [grass, sky, wall]

    A list of ``classes`` may come with a top-level ``synonyms`` mapping (name -> words), as
    the toy world's ``classes.yaml`` writes it; a ``synonyms`` entry for no class is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class list not found: {path}")
    spec = read_yaml_or_json(path)  # a syntax error names the file
    if not isinstance(spec, Mapping) or "classes" not in spec:
        raise ValueError(f"{path}: expected a mapping with a 'classes' key")
    try:
        classes = _with_synonyms(spec["classes"], spec.get("synonyms"))
        return make_vocabulary(
            classes, background=spec.get("background"), sentences=spec.get("sentences")
        )
    except VocabularyError as err:
        raise VocabularyError(f"{path}: {err}") from None


def voc_vocabulary(*, background: Sequence[str] = VOC_BACKGROUND) -> ClassVocabulary:
    """PASCAL VOC's 20 classes with the official synonyms and background set."""
    syn = tuple(_VOC_SYNONYMS.get(n, (n,)) for n in VOC_CLASSES)
    sent = tuple(_VOC_SENTENCE.get(n, n) for n in VOC_CLASSES)
    return ClassVocabulary(tuple(VOC_CLASSES), syn, sent, tuple(background))


def coco_vocabulary(
    *, background: Sequence[str] = COCO_BACKGROUND, fix_typos: bool = False
) -> ClassVocabulary:
    """COCO's 80 classes (VOC-style names) with the official substitutions.

    Args:
        fix_typos: the official code writes "sknowboard"; True uses "snowboard".
    """
    sentences = dict(_COCO_SENTENCE)
    synonyms = dict(_COCO_SYNONYMS)
    if fix_typos:
        sentences["snowboard"], synonyms["snowboard"] = "snowboard", ("snowboard",)
    syn = tuple(synonyms.get(n, (n,)) for n in COCO_CLASSES)
    sent = tuple(sentences.get(n, n) for n in COCO_CLASSES)
    return ClassVocabulary(tuple(COCO_CLASSES), syn, sent, tuple(background))
