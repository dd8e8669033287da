"""MS COCO 2014 with CLIP-ES image-level label lists, and a JSON -> GT PNG converter.

Layout (``root`` is the COCO 2014 folder)::

    coco2014/
      train2014/COCO_train2014_<12-digit id>.jpg
      val2014/COCO_val2014_<12-digit id>.jpg
      SegmentationClass/train2014/COCO_train2014_<id>.png   GT (optional), 81 classes
      SegmentationClass/val2014/COCO_val2014_<id>.png
      annotations/instances_{train,val}2014.json            only to make the GT PNGs

GT PNGs hold 0 = background, ``k + 1`` = class ``k`` of ``COCO_CLASSES`` (1..80) and
255 = ignore, i.e. 81 classes, not COCO's 91 category ids (user-needs item 15). COCO ships
only the JSON; :func:`coco_json_to_pngs` makes the PNGs::

    coco_json_to_pngs("coco2014/annotations/instances_val2014.json",
                      "coco2014/SegmentationClass/val2014")

The image-level labels come from the shipped CLIP-ES lists (``splits/coco14/*.txt``, lines
``COCO_train2014_000000000009 45 49 50``: the name, then 0-based class ids).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .base import (
    AnnotationError,
    DatasetLayoutError,
    Sample,
    SegmentationDataset,
    dedupe,
    shipped_split_file,
)
from .classes import COCO_CATEGORY_ID_TO_INDEX, COCO_CLASSES
from .images import save_label_png

__all__ = ["COCODataset", "coco_json_to_pngs", "coco_label_map", "read_label_list"]

PathLike = str | os.PathLike

_LAYOUT = (
    "expected a COCO 2014 folder holding train2014/<name>.jpg and val2014/<name>.jpg, and "
    "optionally SegmentationClass/{train2014,val2014}/<name>.png (see coco_json_to_pngs)"
)


def read_label_list(path: PathLike, n_classes: int = 80) -> dict[str, tuple[int, ...]]:
    """Parse a label list of ``<name> <id> <id> ...`` lines (0-based class ids).

    Blank lines and ``#`` comments are skipped; a name without ids gets an empty label set.

    Args:
        path: The list file.
        n_classes: Number of foreground classes; ids must lie in ``[0, n_classes)``.

    Returns:
        Name -> labels (file order, duplicates dropped), in file order.

    Raises:
        AnnotationError: A token is not an integer or is out of range (names file and line).
    """
    labels: dict[str, tuple[int, ...]] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            try:
                ids = [int(t) for t in tokens[1:]]
            except ValueError as err:
                raise AnnotationError(f"{path}:{line_no}: non-integer class id: {err}") from err
            bad = [k for k in ids if not 0 <= k < n_classes]
            if bad:
                raise AnnotationError(f"{path}:{line_no}: class ids {bad} outside [0, {n_classes})")
            labels[tokens[0]] = dedupe(ids)
    return labels


class COCODataset(SegmentationDataset):
    """MS COCO 2014 images with the CLIP-ES image-level labels (80 classes + background).

    Args:
        root: The COCO 2014 folder (see the module docstring for the layout).
        split: ``"train"`` (82,081 images) or ``"val"`` (40,137); ``"train2014"`` and
            ``"val2014"`` are accepted too.
        split_file: A label list in the same format, overriding the shipped one (for a
            subset, say); the images are still looked up in ``root/<split>2014``.
        gt_dir: GT PNG folder; default ``root/SegmentationClass/<split>2014``. Images
            without a PNG there get ``gt_path=None``.

    Raises:
        DatasetLayoutError: ``root`` or its image folder is missing.
    """

    label_source = "list"

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        split_file: PathLike | None = None,
        gt_dir: PathLike | None = None,
    ) -> None:
        split = split.removesuffix("2014")
        if split not in ("train", "val"):
            raise ValueError(f"COCO split must be 'train' or 'val', got {split!r}")
        self.root = Path(root)
        self.split = split
        self.image_dir = self.root / f"{split}2014"
        if not self.root.is_dir():
            raise DatasetLayoutError(f"COCO root not found: {self.root}; {_LAYOUT}")
        if not self.image_dir.is_dir():
            raise DatasetLayoutError(f"missing image folder {self.image_dir}; {_LAYOUT}")
        self.gt_dir = Path(gt_dir) if gt_dir else self.root / "SegmentationClass" / f"{split}2014"
        if split_file is None:
            split_file = shipped_split_file("coco14", split)
        elif not Path(split_file).is_file():
            raise DatasetLayoutError(f"label list not found: {split_file}")
        self.split_file = Path(split_file)
        self.class_names = list(COCO_CLASSES)
        self._labels = read_label_list(self.split_file, len(self.class_names))
        self.ids = list(self._labels)

    def gt_path(self, image_id: str) -> Path | None:
        """The GT PNG of ``image_id``, or ``None`` if there is none."""
        path = self.gt_dir / f"{image_id}.png"
        return path if path.is_file() else None

    def sample(self, image_id: str) -> Sample:
        """The sample of ``image_id``: image path, labels and GT path."""
        return Sample(
            image_id=image_id,
            image_path=self.image_dir / f"{image_id}.jpg",
            labels=self._labels[image_id],
            gt_path=self.gt_path(image_id),
        )


# --------------------------------------------------------------------------- JSON -> PNG


def coco_label_map(coco, image_id: int) -> np.ndarray:
    """Rasterise one image's instance annotations into an 81-class label map.

    Crowd regions (``iscrowd=1``) are painted 255 (ignore) first; the non-crowd instances
    are then painted in order of decreasing mask area, so where instances overlap the
    **smaller one wins** (a cup in front of a dining table keeps its pixels; the result
    does not depend on the JSON's annotation order; equal areas keep JSON order). An
    instance pixel inside a crowd region takes the instance's class.

    Args:
        coco: A loaded ``pycocotools.coco.COCO`` object.
        image_id: The COCO image id.

    Returns:
        0 = background, ``k + 1`` = ``COCO_CLASSES[k]``, 255 = crowd; uint8.

    Shapes:
        Returns: (H, W), the image's ``height`` and ``width`` in the JSON.
    """
    info = coco.imgs[image_id]
    label = np.zeros((info["height"], info["width"]), dtype=np.uint8)
    instances = []
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id], iscrowd=None)):
        if ann["category_id"] not in COCO_CATEGORY_ID_TO_INDEX:
            raise AnnotationError(
                f"annotation {ann.get('id')} of image {image_id} has unknown category_id "
                f"{ann['category_id']}"
            )
        mask = coco.annToMask(ann).astype(bool)
        if ann.get("iscrowd", 0):
            label[mask] = 255
        else:
            instances.append((int(mask.sum()), mask, COCO_CATEGORY_ID_TO_INDEX[ann["category_id"]]))
    for _, mask, index in sorted(instances, key=lambda item: -item[0]):
        label[mask] = index + 1
    return label


# COCO annotation-file names that COCO_CLASSES spells the VOC way (official CLIP-ES names).
_JSON_RENAMES = {
    "motorcycle": "motorbike",
    "airplane": "aeroplane",
    "couch": "sofa",
    "potted plant": "pottedplant",
    "dining table": "diningtable",
    "tv": "tvmonitor",
}


def _check_categories(coco) -> None:
    """Refuse annotation files whose category ids do not mean the COCO 2014 classes."""
    for cid, cat in coco.cats.items():
        index = COCO_CATEGORY_ID_TO_INDEX.get(cid)
        name = _JSON_RENAMES.get(cat.get("name", ""), cat.get("name", ""))
        expected = "no category" if index is None else repr(COCO_CLASSES[index])
        if index is None or name != COCO_CLASSES[index]:
            raise AnnotationError(
                f"category id {cid} ({cat.get('name')!r}) is {expected} in COCO 2014; this "
                "converter expects the 80 COCO 'instances' categories"
            )


def _select_images(coco, image_ids: Iterable[int | str] | None) -> list[int]:
    """COCO image ids to convert: all, or those named by id or by file stem."""
    if image_ids is None:
        return sorted(coco.imgs)
    by_stem = {Path(info["file_name"]).stem: i for i, info in coco.imgs.items()}
    selected = []
    for key in image_ids:
        image_id = by_stem.get(key) if isinstance(key, str) else key
        if image_id not in coco.imgs:
            raise KeyError(f"image {key!r} is not in the annotation file")
        selected.append(image_id)
    return selected


def coco_json_to_pngs(
    instances_json: PathLike,
    out_dir: PathLike,
    *,
    image_ids: Iterable[int | str] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Convert a COCO ``instances_*.json`` into 81-class palette GT PNGs.

    Each image gets ``out_dir/<file_name stem>.png`` (e.g. ``COCO_val2014_000000000042.png``)
    written atomically, including images without annotations (all background). See
    :func:`coco_label_map` for the overlap and crowd rules. The file's categories must be
    the COCO 2014 ones (ids 1..90 with their standard names); anything else raises
    ``AnnotationError`` rather than writing wrongly numbered masks.

    Args:
        instances_json: The COCO instances annotation file.
        out_dir: Output folder, created if missing.
        image_ids: Only these images: COCO integer ids or file stems. ``None``: all.
        progress: Show pycocotools' loading messages and a tqdm bar (if tqdm is installed).

    Returns:
        The written PNG paths, in image-id order (or the order of ``image_ids``).
    """
    from pycocotools.coco import COCO

    quiet = contextlib.nullcontext() if progress else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        coco = COCO(str(instances_json))
    _check_categories(coco)
    selected = _select_images(coco, image_ids)
    iterator: Iterable[int] = selected
    if progress:
        with contextlib.suppress(ImportError):
            from tqdm.auto import tqdm

            iterator = tqdm(selected, desc="COCO GT PNGs", unit="img")
    out_dir = Path(out_dir)
    written = []
    with warnings.catch_warnings():
        # pycocotools 2.0.x under numpy 2 warns on every mask decode; the masks are correct.
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        for image_id in iterator:
            stem = Path(coco.imgs[image_id]["file_name"]).stem
            label = coco_label_map(coco, image_id)
            written.append(save_label_png(out_dir / f"{stem}.png", label))
    return written
