"""The data layer: datasets with image-level labels, image and label-PNG I/O, atomic writes.

File I/O lives here so that method modules stay pure. Datasets yield :class:`Sample`
records (paths and labels, not pixels); read pixels with :func:`load_image` and
:func:`load_label_png`.

Example:
    >>> ds = build_dataset("voc12", "data/VOCdevkit/VOC2012", "train")  # doctest: +SKIP
    >>> s = ds[0]; image = load_image(s.image_path)  # doctest: +SKIP
    >>> ds.label_names(s)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from .base import (
    AnnotationError,
    DatasetLayoutError,
    Sample,
    SegmentationDataset,
    UnknownClassError,
    read_id_list,
    shipped_split_file,
    shipped_splits,
)
from .classes import COCO_CATEGORY_ID_TO_INDEX, COCO_CATEGORY_IDS, COCO_CLASSES, VOC_CLASSES
from .coco import COCODataset, coco_json_to_pngs, coco_label_map, read_label_list
from .custom import CustomDataset, read_class_list, read_labels_file
from .images import (
    CorruptImageError,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    colorize,
    finished_files,
    load_image,
    load_label_png,
    overlay,
    save_label_png,
    voc_palette,
)
from .voc import (
    VOCDataset,
    labels_from_label_map,
    read_voc_object_names,
    write_split,
    write_voc_sample,
)

__all__ = [
    "COCO_CATEGORY_IDS",
    "COCO_CATEGORY_ID_TO_INDEX",
    "COCO_CLASSES",
    "VOC_CLASSES",
    "AnnotationError",
    "COCODataset",
    "CorruptImageError",
    "CustomDataset",
    "DATASETS",
    "DatasetLayoutError",
    "Sample",
    "SegmentationDataset",
    "UnknownClassError",
    "VOCDataset",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "finished_files",
    "build_dataset",
    "coco_json_to_pngs",
    "coco_label_map",
    "colorize",
    "labels_from_label_map",
    "load_image",
    "load_label_png",
    "overlay",
    "read_class_list",
    "read_id_list",
    "read_label_list",
    "read_labels_file",
    "read_voc_object_names",
    "save_label_png",
    "shipped_split_file",
    "shipped_splits",
    "voc_palette",
    "write_split",
    "write_voc_sample",
]

#: Dataset names accepted by :func:`build_dataset`.
DATASETS = ("voc12", "coco14", "custom")


def build_dataset(
    name: str, root: str | os.PathLike, split: str | None = None, **kwargs: Any
) -> SegmentationDataset:
    """Build a dataset by name.

    Args:
        name: ``"voc12"`` (:class:`VOCDataset`), ``"coco14"`` (:class:`COCODataset`) or
            ``"custom"`` (:class:`CustomDataset`).
        root: The ``VOC2012`` folder, the COCO 2014 folder, or (custom) the image folder.
        split: ``train`` / ``train_aug`` / ``val`` / ... for VOC, ``train`` / ``val`` for
            COCO (default ``train`` for both); for ``custom``, the labels file (or pass
            ``labels_file=``).
        **kwargs: Passed to the dataset class (``label_source``, ``gt_dir``,
            ``class_list``, ...).

    Returns:
        The dataset.
    """
    if name == "voc12":
        return VOCDataset(root, split or "train", **kwargs)
    if name == "coco14":
        return COCODataset(root, split or "train", **kwargs)
    if name == "custom":
        labels_file = kwargs.pop("labels_file", split)
        if labels_file is None:
            raise ValueError("build_dataset('custom', ...) needs a labels file (split=...)")
        return CustomDataset(root, labels_file, **kwargs)
    raise ValueError(f"unknown dataset {name!r}; known: {list(DATASETS)}")
