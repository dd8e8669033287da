"""PASCAL VOC 2012 (with the SBD ``SegmentationClassAug`` extension): reading and writing.

Layout (``root`` is the ``VOC2012`` folder; a ``VOCdevkit`` folder holding ``VOC2012`` is
accepted too)::

    VOC2012/
      JPEGImages/<id>.jpg
      Annotations/<id>.xml              image-level labels (label_source="xml", the default)
      SegmentationClass/<id>.png        GT, palette PNG, 2,913 train+val images
      SegmentationClassAug/<id>.png     GT, greyscale PNG, 12,031 images (SBD; optional)
      ImageSets/Segmentation/<split>.txt  optional; else the shipped list is used

``SegmentationClassAug`` is the SBD re-annotation used by every WSSS paper for the
``train_aug`` split (10,582 ids = VOC train + SBD train/val minus VOC val). It is not part
of the VOC download; VOC ``ImageSets/Segmentation`` has no ``train_aug.txt``, so that list
is shipped with the package (user-needs item 14).
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .base import (
    AnnotationError,
    DatasetLayoutError,
    Sample,
    SegmentationDataset,
    UnknownClassError,
    dedupe,
    read_id_list,
    shipped_split_file,
    shipped_splits,
)
from .classes import VOC_CLASSES
from .images import atomic_write_bytes, atomic_write_text, load_label_png, save_label_png

__all__ = [
    "VOCDataset",
    "labels_from_label_map",
    "read_voc_object_names",
    "write_split",
    "write_voc_sample",
]

PathLike = str | os.PathLike
Box = tuple[int, int, int, int]

_LAYOUT = (
    "expected a VOC2012 folder holding JPEGImages/<id>.jpg, Annotations/<id>.xml, "
    "SegmentationClass/<id>.png and optionally SegmentationClassAug/<id>.png and "
    "ImageSets/Segmentation/<split>.txt"
)
_GT_DIRS = ("SegmentationClassAug", "SegmentationClass")


def read_voc_object_names(xml_path: PathLike) -> list[str]:
    """The ``<object><name>`` of every object in a VOC XML file, in file order.

    Difficult and truncated objects are included, as in the official CLIP-ES code.

    Raises:
        FileNotFoundError: The file is missing.
        AnnotationError: The XML cannot be parsed.
    """
    xml_path = Path(xml_path)
    if not xml_path.is_file():
        raise FileNotFoundError(f"annotation file not found: {xml_path}")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as err:
        raise AnnotationError(f"cannot parse VOC XML {xml_path}: {err}") from err
    return [(obj.findtext("name") or "").strip() for obj in root.iter("object")]


def labels_from_label_map(label: np.ndarray, n_classes: int | None = None) -> tuple[int, ...]:
    """Image-level labels of a GT label map: its values except 0 and 255, minus 1, ascending.

    Args:
        label: Class ids; 0 = background, 255 = ignore.
        n_classes: If given (background included), values ``>= n_classes`` raise.

    Returns:
        0-based foreground class ids.

    Shapes:
        label: (H, W).
    """
    values = [int(v) for v in np.unique(label) if v not in (0, 255)]
    if n_classes is not None and values and values[-1] >= n_classes:
        raise AnnotationError(f"label value {values[-1]} >= n_classes={n_classes}")
    return tuple(v - 1 for v in values)


class VOCDataset(SegmentationDataset):
    """PASCAL VOC 2012 segmentation images with image-level labels.

    Args:
        root: The ``VOC2012`` folder (see the module docstring for the layout).
        split: ``train`` (1,464; CLIP-ES Tables 1-2), ``train_aug`` (10,582), ``val``
            (1,449), ``trainval`` (2,913), or any ``ImageSets/Segmentation/<split>.txt``.
        label_source: ``"xml"`` (official: ``Annotations/<id>.xml``, all objects including
            difficult ones, deduplicated in XML order) or ``"png"`` (the GT PNG's values
            except 0 and 255, minus 1, ascending).
        gt_dir: Folder name (under ``root``) or path of the GT PNGs. ``None``: per image,
            ``SegmentationClassAug/<id>.png`` if it exists, else
            ``SegmentationClass/<id>.png``, else no GT.
        class_names: Foreground class names; the 20 VOC classes by default. Other lists
            serve VOC-format data sets such as the synthetic toy world.
        split_file: An explicit id list, overriding ``split``.

    Raises:
        DatasetLayoutError: ``root``, a required folder or the split list is missing.
    """

    def __init__(
        self,
        root: PathLike,
        split: str = "train",
        *,
        label_source: str = "xml",
        gt_dir: PathLike | None = None,
        class_names: Sequence[str] = VOC_CLASSES,
        split_file: PathLike | None = None,
    ) -> None:
        if label_source not in ("xml", "png"):
            raise ValueError(f"label_source must be 'xml' or 'png', got {label_source!r}")
        self.root = _find_voc_root(Path(root))
        self.split = split
        self.label_source = label_source
        self.class_names = list(class_names)
        self._class_index = {name: k for k, name in enumerate(self.class_names)}
        self._gt_dirs = self._resolve_gt_dirs(gt_dir)
        needed = "Annotations" if label_source == "xml" else None
        for folder in ("JPEGImages", needed):
            if folder and not (self.root / folder).is_dir():
                raise DatasetLayoutError(f"missing folder {self.root / folder}; {_LAYOUT}")
        self.split_file = self._resolve_split_file(split, split_file)
        self.ids = read_id_list(self.split_file)
        self._labels: dict[str, tuple[int, ...]] = {}

    def _resolve_gt_dirs(self, gt_dir: PathLike | None) -> tuple[Path, ...]:
        if gt_dir is None:
            return tuple(self.root / name for name in _GT_DIRS)
        path = Path(gt_dir)
        path = path if path.is_absolute() else self.root / path
        if not path.is_dir():
            raise DatasetLayoutError(f"GT folder not found: {path}; {_LAYOUT}")
        return (path,)

    def _resolve_split_file(self, split: str, split_file: PathLike | None) -> Path:
        if split_file is not None:
            if not Path(split_file).is_file():
                raise DatasetLayoutError(f"split list not found: {split_file}")
            return Path(split_file)
        local = self.root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if local.is_file():
            return local
        if split in shipped_splits("voc12"):
            return shipped_split_file("voc12", split)
        raise DatasetLayoutError(
            f"no split list for split {split!r}: {local} does not exist and the package "
            f"ships only {shipped_splits('voc12')}"
        )

    def gt_path(self, image_id: str) -> Path | None:
        """The GT PNG of ``image_id`` (see ``gt_dir``), or ``None`` if there is none."""
        for folder in self._gt_dirs:
            path = folder / f"{image_id}.png"
            if path.is_file():
                return path
        return None

    def labels(self, image_id: str) -> tuple[int, ...]:
        """The 0-based image-level labels of ``image_id`` (cached).

        Raises:
            UnknownClassError: An XML object name is not in ``class_names``.
            FileNotFoundError: The XML (or, for ``label_source="png"``, the GT PNG) is
                missing.
        """
        if image_id not in self._labels:
            self._labels[image_id] = self._read_labels(image_id)
        return self._labels[image_id]

    def _read_labels(self, image_id: str) -> tuple[int, ...]:
        if self.label_source == "png":
            gt = self.gt_path(image_id)
            if gt is None:
                folders = " or ".join(str(d / f"{image_id}.png") for d in self._gt_dirs)
                raise FileNotFoundError(f"label_source='png' but no GT PNG: {folders}")
            try:
                return labels_from_label_map(load_label_png(gt), self.n_classes)
            except AnnotationError as err:
                raise AnnotationError(f"{gt}: {err}") from err
        xml_path = self.root / "Annotations" / f"{image_id}.xml"
        ids = []
        for name in read_voc_object_names(xml_path):
            if name not in self._class_index:
                raise UnknownClassError(
                    f"{xml_path}: object name {name!r} is not one of the {len(self.class_names)}"
                    f" classes {self.class_names}"
                )
            ids.append(self._class_index[name])
        return dedupe(ids)

    def sample(self, image_id: str) -> Sample:
        """The sample of ``image_id``: image path, labels and GT path."""
        return Sample(
            image_id=image_id,
            image_path=self.root / "JPEGImages" / f"{image_id}.jpg",
            labels=self.labels(image_id),
            gt_path=self.gt_path(image_id),
        )


def _find_voc_root(root: Path) -> Path:
    """``root`` itself, or ``root/VOC2012`` when given the enclosing ``VOCdevkit`` folder."""
    if not root.is_dir():
        raise DatasetLayoutError(f"VOC root not found: {root}; {_LAYOUT}")
    nested = root / "VOC2012"
    if not (root / "JPEGImages").is_dir() and (nested / "JPEGImages").is_dir():
        return nested
    return root


# --------------------------------------------------------------------------- writing


def _boxes_from_label(label: np.ndarray, class_names: Sequence[str]) -> list[tuple[str, Box]]:
    """One object per class present in ``label``: its pixels' bounding box, 1-based."""
    objects = []
    for k in labels_from_label_map(label, len(class_names) + 1):
        ys, xs = np.nonzero(label == k + 1)
        box = (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1)
        objects.append((class_names[k], box))
    return objects


def _voc_xml(
    image_id: str, size: tuple[int, int], objects: Sequence, segmented: bool, database: str | None
) -> str:
    """A standard VOC annotation XML document."""
    height, width = size
    ann = ET.Element("annotation")
    ET.SubElement(ann, "folder").text = "VOC2012"
    ET.SubElement(ann, "filename").text = f"{image_id}.jpg"
    if database is not None:
        ET.SubElement(ET.SubElement(ann, "source"), "database").text = database
    size_el = ET.SubElement(ann, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size_el, tag).text = str(value)
    ET.SubElement(ann, "segmented").text = str(int(segmented))
    for name, box, *rest in objects:
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = str(int(len(rest) > 1 and bool(rest[1])))
        ET.SubElement(obj, "difficult").text = str(int(bool(rest and rest[0])))
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
            ET.SubElement(bndbox, tag).text = str(int(value))
    ET.indent(ann)
    return ET.tostring(ann, encoding="unicode") + "\n"


def write_voc_sample(
    root: PathLike,
    image_id: str,
    image: np.ndarray,
    label: np.ndarray | None,
    class_names: Sequence[str] = VOC_CLASSES,
    objects: Sequence[tuple] | None = None,
    *,
    jpeg_subsampling: int | None = None,  # PIL's default (4:2:0); 0 = 4:4:4 (the toy world)
    database: str | None = None,  # optional <source><database> of the XML
) -> Sample:
    """Write one image in VOC format (JPEG, palette GT PNG, XML), each file atomically.

    Args:
        root: The ``VOC2012``-style folder; sub-folders are created.
        image_id: File stem, e.g. ``"toy_000001"``.
        image: RGB image, uint8; written as ``JPEGImages/<id>.jpg`` at quality 95.
        label: GT class ids (0 = bg, ``k + 1`` = ``class_names[k]``, 255 = ignore) written
            as ``SegmentationClass/<id>.png``; ``None`` writes no PNG.
        class_names: Foreground class names that ``label`` and ``objects`` refer to.
        objects: ``(name, (xmin, ymin, xmax, ymax))``, ``(name, box, difficult)`` or
            ``(name, box, difficult, truncated)`` per object, written in this order (VOC
            boxes are 1-based, inclusive). ``None``: one object per class in ``label``,
            ascending, boxing its pixels.
        jpeg_subsampling: PIL's JPEG ``subsampling`` (``None``: PIL's default).
        database: Written as ``<source><database>`` when given.

    Returns:
        The written sample (labels as a ``label_source="xml"`` reader returns them).

    Shapes:
        image: (H, W, 3). label: (H, W).
    """
    root = Path(root)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if label is not None and label.shape != image.shape[:2]:
        raise ValueError(f"label {label.shape} and image {image.shape[:2]} sizes differ")
    if objects is None:
        objects = [] if label is None else _boxes_from_label(label, class_names)
    index = {name: k for k, name in enumerate(class_names)}
    unknown = [obj[0] for obj in objects if obj[0] not in index]
    if unknown:
        raise UnknownClassError(f"objects name unknown classes {unknown}; known: {class_names}")

    buffer = io.BytesIO()
    jpeg = {} if jpeg_subsampling is None else {"subsampling": jpeg_subsampling}
    Image.fromarray(image).save(buffer, format="JPEG", quality=95, **jpeg)
    image_path = atomic_write_bytes(root / "JPEGImages" / f"{image_id}.jpg", buffer.getvalue())
    gt_path = None
    if label is not None:
        gt_path = save_label_png(root / "SegmentationClass" / f"{image_id}.png", label)
    xml = _voc_xml(image_id, image.shape[:2], objects, label is not None, database)
    atomic_write_text(root / "Annotations" / f"{image_id}.xml", xml)
    labels = dedupe([index[obj[0]] for obj in objects])
    return Sample(image_id=image_id, image_path=image_path, labels=labels, gt_path=gt_path)


def write_split(root: PathLike, split: str, ids: Sequence[str]) -> Path:
    """Write ``ImageSets/Segmentation/<split>.txt`` (one id per line) atomically.

    Returns:
        The written list's path.
    """
    path = Path(root) / "ImageSets" / "Segmentation" / f"{split}.txt"
    return atomic_write_text(path, "".join(f"{image_id}\n" for image_id in ids))
