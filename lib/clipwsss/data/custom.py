"""A user's own images with image-level class names (user-needs item 17, CLIP-ES#22).

Layout::

    my_data/
      images/<id>.jpg            (.jpeg, .png, .bmp, .webp, .tif also found; sub-folders ok)
      labels.txt                 or labels.json / labels.yaml
      classes.txt                one class name per line (or pass a list of names)
      masks/<id>.png             optional GT label PNGs (0 = bg, k + 1 = class k, 255 = ignore)

Labels file formats (class *names*, not ids)::

    # labels.txt: an id, then its class names: whitespace-separated, or comma-separated
    # when the line holds a comma (needed for names with spaces)
    cat_001 cat dog
    street_07 traffic light, person
    empty_03

    # labels.json / labels.yaml: id -> list of names (or one comma-separated string)
    {"cat_001": ["cat", "dog"], "street_07": ["traffic light", "person"], "empty_03": []}

Quote ids in YAML (``"007": [cat]``) or YAML reads ``007`` as the integer 7.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from clipwsss.validate import read_yaml_or_json

from .base import (
    AnnotationError,
    DatasetLayoutError,
    Sample,
    SegmentationDataset,
    UnknownClassError,
    dedupe,
)

__all__ = ["CustomDataset", "read_class_list", "read_labels_file"]

PathLike = str | os.PathLike

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_class_list(class_list: Sequence[str] | PathLike) -> list[str]:
    """Class names from a sequence of names or from a file with one name per line.

    A ``str`` or ``Path`` is read as a file; blank lines and ``#`` comments are skipped.

    Raises:
        ValueError: The list is empty or holds a name twice.
    """
    if isinstance(class_list, str | os.PathLike):
        lines = Path(class_list).read_text(encoding="utf-8").splitlines()
        names = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    else:
        names = [str(name).strip() for name in class_list]
    if not names:
        raise ValueError("the class list is empty")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"class names listed more than once: {repeated}")
    return names


def _split_names(text: str) -> list[str]:
    """``"a b"`` -> [a, b]; ``"traffic light, person"`` -> [traffic light, person]."""
    parts = text.split(",") if "," in text else text.split()
    return [part.strip() for part in parts if part.strip()]


def _read_text_labels(path: Path) -> dict[str, tuple[list[str], str]]:
    entries: dict[str, tuple[list[str], str]] = {}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            image_id, rest = (line.split(maxsplit=1) + [""])[:2]
            where = f"{path}:{line_no}"
            if image_id in entries:
                raise AnnotationError(f"{where}: image id {image_id!r} listed twice")
            entries[image_id] = (_split_names(rest), where)
    return entries


def _read_mapping_labels(path: Path) -> dict[str, tuple[list[str], str]]:
    data = read_yaml_or_json(path, error=AnnotationError)  # names the file
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a mapping image id -> class names")
    entries: dict[str, tuple[list[str], str]] = {}
    for key, value in data.items():
        where = f"{path}: image {key!r}"
        if value is None:
            names = []
        elif isinstance(value, str):
            names = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            names = [v.strip() for v in value]
        else:
            raise AnnotationError(f"{where}: expected a list of class names, got {value!r}")
        entries[str(key)] = (names, where)
    return entries


def read_labels_file(path: PathLike, class_names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Parse a labels file (text, JSON or YAML; see the module docstring) into class ids.

    Args:
        path: The labels file; ``.json`` / ``.yaml`` / ``.yml`` are mappings, anything
            else is the text format.
        class_names: The known class names.

    Returns:
        Image id -> 0-based class ids (file order, duplicates dropped), in file order.

    Raises:
        UnknownClassError: A name is not in ``class_names`` (names the file, line or id,
            the name and the known names).
        AnnotationError: Malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"labels file not found: {path}")
    is_mapping = path.suffix.lower() in (".json", ".yaml", ".yml")
    entries = _read_mapping_labels(path) if is_mapping else _read_text_labels(path)
    index = {name: k for k, name in enumerate(class_names)}
    labels: dict[str, tuple[int, ...]] = {}
    for image_id, (names, where) in entries.items():
        for name in names:
            if name not in index:
                raise UnknownClassError(
                    f"{where}: unknown class name {name!r}; known names: {list(class_names)}"
                )
        labels[image_id] = dedupe([index[name] for name in names])
    return labels


def _find_image(image_dir: Path, image_id: str) -> Path | None:
    """``image_dir/<image_id>`` with the first image extension that exists."""
    for ext in IMAGE_EXTENSIONS:
        for suffix in (ext, ext.upper()):
            path = image_dir / f"{image_id}{suffix}"
            if path.is_file():
                return path
    return None


def _strip_extension(image_id: str) -> str:
    stem, dot, ext = image_id.rpartition(".")
    return stem if dot and f".{ext.lower()}" in IMAGE_EXTENSIONS else image_id


class CustomDataset(SegmentationDataset):
    """Images in a folder with image-level class names from a labels file.

    Images with an empty label set stay in the dataset but are flagged by
    :meth:`unlabelled_ids` (a CAM method has nothing to explain there; the runner reports
    them). An id may carry its image extension (``cat_001.jpg``); it is dropped from the id.

    Args:
        image_dir: Folder of the images (``<id>.jpg``, ``.png``, ...).
        labels_file: Text, JSON or YAML labels file (see the module docstring).
        class_list: Class names, or a file with one name per line. The order fixes the
            label ids and the GT pixel values (``k + 1``).
        gt_dir: Optional folder of GT label PNGs ``<id>.png``.
        missing_ok: Keep ids whose image is missing; their :meth:`sample` raises
            ``FileNotFoundError`` (a bad input that ``skip_bad`` / ``--skip-bad-images``
            skips). Default: refuse at once, listing the missing images.

    Raises:
        DatasetLayoutError: A folder, the labels file or (without ``missing_ok``) an image
            is missing.
        UnknownClassError: The labels file names a class not in ``class_list``.
    """

    label_source = "file"

    def __init__(
        self,
        image_dir: PathLike,
        labels_file: PathLike,
        class_list: Sequence[str] | PathLike,
        *,
        gt_dir: PathLike | None = None,
        missing_ok: bool = False,
    ) -> None:
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise DatasetLayoutError(f"image folder not found: {self.image_dir}")
        self.gt_dir = Path(gt_dir) if gt_dir is not None else None
        if self.gt_dir is not None and not self.gt_dir.is_dir():
            raise DatasetLayoutError(f"GT folder not found: {self.gt_dir}")
        self.labels_file = Path(labels_file)
        self.class_names = read_class_list(class_list)
        raw = read_labels_file(self.labels_file, self.class_names)
        self._labels = {_strip_extension(image_id): ids for image_id, ids in raw.items()}
        if len(self._labels) != len(raw):
            raise AnnotationError(f"{self.labels_file}: two ids differ only by their extension")
        self._images = {
            image_id: _find_image(self.image_dir, image_id) for image_id in self._labels
        }
        missing = [image_id for image_id, path in self._images.items() if path is None]
        if missing and not missing_ok:
            raise DatasetLayoutError(
                f"{len(missing)} image(s) listed in {self.labels_file} not found in "
                f"{self.image_dir} (tried {', '.join(IMAGE_EXTENSIONS)}): {missing[:5]}"
            )
        self.ids = list(self._labels)

    def unlabelled_ids(self) -> list[str]:
        """Ids listed with no class name (kept in the dataset, flagged for the runner)."""
        return [image_id for image_id, ids in self._labels.items() if not ids]

    def sample(self, image_id: str) -> Sample:
        """The sample of ``image_id``: image path, labels and GT path."""
        if self._images[image_id] is None:  # kept with missing_ok
            raise FileNotFoundError(
                f"image {image_id!r} listed in {self.labels_file} not found in {self.image_dir} "
                f"(tried {', '.join(IMAGE_EXTENSIONS)})"
            )
        gt_path = None
        if self.gt_dir is not None and (self.gt_dir / f"{image_id}.png").is_file():
            gt_path = self.gt_dir / f"{image_id}.png"
        return Sample(
            image_id=image_id,
            image_path=self._images[image_id],  # type: ignore[arg-type]
            labels=self._labels[image_id],
            gt_path=gt_path,
        )
