"""The sample type, the dataset base class, the data-layer errors and split-list helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AnnotationError",
    "DatasetLayoutError",
    "Sample",
    "SegmentationDataset",
    "UnknownClassError",
    "read_id_list",
    "shipped_split_file",
    "shipped_splits",
]

PathLike = str | os.PathLike

#: Folder of the split lists shipped with the package (``clipwsss/splits/<dataset>/*.txt``).
SPLITS_DIR = Path(__file__).resolve().parent.parent / "splits"


class DatasetLayoutError(FileNotFoundError):
    """A dataset root, folder or split list is missing; the message says the expected layout."""


class AnnotationError(ValueError):
    """An annotation or label file cannot be parsed."""


class UnknownClassError(AnnotationError):
    """An annotation names a class that is not in the dataset's class list."""


@dataclass(frozen=True)
class Sample:
    """One image of a dataset with its image-level labels.

    Attributes:
        image_id: The id used in split lists and output file names (``2007_000032``).
        image_path: The image file.
        labels: 0-based foreground class ids present in the image, in the dataset's own
            order (VOC: first occurrence in the XML, as the official code; COCO: the split
            list's order; PNG-derived: ascending). No duplicates. Empty when the image has
            no foreground label (see ``SegmentationDataset.unlabelled_ids``).
        gt_path: The ground-truth label PNG (0 = bg, ``k + 1`` = class ``k``, 255 = ignore),
            or ``None`` when there is none.
    """

    image_id: str
    image_path: Path
    labels: tuple[int, ...]
    gt_path: Path | None = None


class SegmentationDataset:
    """Base class: an ordered list of image ids with image-level labels and optional GT.

    Subclasses set ``class_names``, ``label_source`` and ``ids`` and implement
    :meth:`sample`. Indexing accepts a position (``ds[0]``) or an image id
    (``ds["2007_000032"]``).

    Attributes:
        class_names: Foreground class names; index ``k`` is label ``k`` and pixel ``k + 1``.
        label_source: Where the image-level labels come from (``"xml"``, ``"png"``,
            ``"list"``, ``"file"``).
        ids: The image ids in split-list order.
    """

    class_names: list[str]
    label_source: str
    ids: list[str]

    @property
    def n_classes(self) -> int:
        """Number of segmentation classes including background (21 for VOC, 81 for COCO)."""
        return len(self.class_names) + 1

    def sample(self, image_id: str) -> Sample:
        """The sample of one image id."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: int | str) -> Sample:
        if isinstance(key, str):
            return self.sample(key)
        return self.sample(self.ids[key])

    def __iter__(self) -> Iterator[Sample]:
        for image_id in self.ids:
            yield self.sample(image_id)

    def label_names(self, sample: Sample) -> list[str]:
        """The class names of ``sample.labels``, in the same order."""
        return [self.class_names[k] for k in sample.labels]

    def unlabelled_ids(self) -> list[str]:
        """Ids whose image-level label set is empty.

        Such images stay in the dataset (so id lists and evaluation keep their length), but
        a CAM method has no class to explain in them; the official CLIP-ES VOC script hits
        ``return`` on them. Runners report them and skip or write an all-background mask.
        """
        return [sample.image_id for sample in self if not sample.labels]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_images={len(self)}, n_classes={self.n_classes}, "
            f"label_source={self.label_source!r})"
        )


def _id_from_token(token: str) -> str:
    """``/JPEGImages/2007_000032.jpg`` or ``2007_000032`` -> ``2007_000032``."""
    name = token.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return stem if dot and ext.lower() in {"jpg", "jpeg", "png"} else name


def read_id_list(path: PathLike) -> list[str]:
    """Read a split list: one image per line; blank lines and ``#`` comments are skipped.

    Only the first whitespace-separated token of a line is used and reduced to a bare id,
    so all the list formats in circulation work: ``2007_000032`` (VOC ImageSets),
    ``/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png`` (DeepLab
    ``train_aug.txt``) and ``COCO_train2014_000000000009 45 49 50`` (CLIP-ES COCO lists).

    Args:
        path: The list file.

    Returns:
        Image ids in file order.
    """
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                ids.append(_id_from_token(line.split()[0]))
    return ids


def shipped_splits(dataset: str) -> list[str]:
    """Names of the split lists shipped for ``dataset`` (``"voc12"`` or ``"coco14"``)."""
    return sorted(p.stem for p in (SPLITS_DIR / dataset).glob("*.txt"))


def shipped_split_file(dataset: str, split: str) -> Path:
    """Path of a shipped split list, e.g. ``shipped_split_file("voc12", "train_aug")``.

    The lists are those of the CLIP-ES evaluation (VOC train 1,464, train_aug 10,582,
    trainval 2,913, val 1,449; COCO train 82,081 and val 40,137 lines with labels).

    Raises:
        DatasetLayoutError: No such shipped list.
    """
    path = SPLITS_DIR / dataset / f"{split}.txt"
    if not path.is_file():
        raise DatasetLayoutError(
            f"no shipped split list {dataset}/{split}.txt; shipped: {shipped_splits(dataset)}"
        )
    return path


def dedupe(values: Sequence[int]) -> tuple[int, ...]:
    """Drop repeated values, keeping the first occurrence order."""
    return tuple(dict.fromkeys(values))
