"""Image and label-map file I/O: reading RGB images, palette label PNGs, atomic writes.

Everything that touches image files on disk lives here so that method modules stay pure
(tensors in, tensors out). Conventions:

* An RGB image is an ``(H, W, 3)`` uint8 array, values in [0, 255], channels in RGB order.
* A label map is an ``(H, W)`` uint8 array of class ids: 0 = background, ``k`` = foreground
  class ``k - 1``, 255 = ignore (the VOC ``SegmentationClass`` convention).
* Label PNGs are written as *palette* PNGs: the pixel values are the class ids and the VOC
  colour map makes them visible. A plain greyscale PNG of class ids looks all black in an
  image viewer (the "my pseudo-labels are all black" question; user-needs item 16).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "CorruptImageError",
    "atomic_path",
    "finished_files",
    "atomic_write_bytes",
    "atomic_write_text",
    "colorize",
    "load_image",
    "load_label_png",
    "overlay",
    "save_label_png",
    "voc_palette",
]

PathLike = str | os.PathLike

# PIL modes holding 16-bit (or wider) integers; scaled to 8 bits by 65535 -> 255.
_WIDE_INT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class CorruptImageError(ValueError):
    """An image file exists but cannot be decoded (truncated, garbage bytes, wrong format)."""


# --------------------------------------------------------------------------- atomic writes


def _current_umask() -> int:
    """The process umask (there is no getter: set it and put it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only on success.

    The temporary file lives in the same directory (so ``os.replace`` is an atomic rename on
    the same file system) and keeps the final suffix (``.npy``, ``.png``), so writers that
    pick a format from the extension (``np.save``, ``cv2.imwrite``) still work. If the
    ``with`` body raises, the temporary file is removed and an existing ``path`` is left
    untouched, so a crashed or interrupted run never leaves a half-written output that a
    resumed run would take for finished. A SIGKILL (or power loss) between creating and
    renaming the temporary file leaves it behind as a hidden ``.STEM.XXXX.tmp.SUFFIX``: it is
    never read as an output (list outputs with :func:`finished_files`) and is safe to delete.
    Parent directories are created. No ``fsync``: the
    rename is atomic for other processes, not durable across a power loss. The file gets
    the mode a plain ``open(path, "w")`` would give (0o666 less the umask), not
    ``mkstemp``'s private 0o600.

    Args:
        path: The final destination.

    Yields:
        The temporary path to write to.

    Example:
        >>> with atomic_path("out/cams/2007_000032.npy") as tmp:  # doctest: +SKIP
        ...     np.save(tmp, cams)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp made it 0o600: others could not read it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def finished_files(folder: PathLike, suffix: str) -> list[Path]:
    """The outputs ``folder/*SUFFIX``, sorted, without hidden files (an unfinished
    :func:`atomic_path` temporary left by a killed process starts with a dot).

    Example:
        >>> finished_files("out/cams", ".npy")  # doctest: +SKIP
        [PosixPath('out/cams/2007_000032.npy'), ...]
    """
    return sorted(p for p in Path(folder).glob(f"*{suffix}") if not p.name.startswith("."))


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`).

    Args:
        path: The destination file.
        data: The bytes to write.

    Returns:
        ``path`` as a ``Path``.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`).

    Args:
        path: The destination file.
        text: The text to write.
        encoding: The text encoding.

    Returns:
        ``path`` as a ``Path``.
    """
    return atomic_write_bytes(path, text.encode(encoding))


# --------------------------------------------------------------------------- reading images


def _open_decoded(path: PathLike) -> Image.Image:
    """Open and fully decode an image, turning decoder failures into ``CorruptImageError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            # load() forces the full decode: a truncated JPEG raises here ("image file is
            # truncated") as long as PIL.ImageFile.LOAD_TRUNCATED_IMAGES stays False, which
            # we never change. Image.open() alone only reads the header. The decoded pixels
            # stay valid after the file is closed.
            img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise CorruptImageError(f"cannot decode image file {path}: {err}") from err
    return img


def _to_rgb_array(img: Image.Image, path: Path) -> np.ndarray:
    """Convert a decoded PIL image of any common mode to an ``(H, W, 3)`` uint8 RGB array."""
    mode = img.mode
    if mode in _WIDE_INT_MODES:
        # 16-bit greyscale: scale the full 16-bit range to 8 bits (65535 -> 255); 32-bit "I"
        # images are first clipped to [0, 65535]. We do not stretch by the image's own max,
        # so an image's brightness does not depend on its content.
        wide = np.asarray(img).astype(np.float64)
        grey = np.clip(np.rint(np.clip(wide, 0, 65535) * (255.0 / 65535.0)), 0, 255)
        return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # avoids PIL's palette-transparency warning
    try:
        # RGBA/LA/PA: the alpha channel is dropped, not composited (the colour values under
        # transparent pixels are kept). L, 1, P, CMYK, YCbCr: PIL's standard conversion.
        rgb = img.convert("RGB")
    except (ValueError, OSError) as err:
        raise CorruptImageError(
            f"cannot convert image {path} (PIL mode {mode!r}) to RGB: {err}"
        ) from err
    return np.asarray(rgb, dtype=np.uint8).copy()


def load_image(path: PathLike) -> np.ndarray:
    """Read an image file as an 8-bit RGB array.

    Greyscale (``L``, ``1``), palette (``P``), ``RGBA``/``LA`` (alpha dropped, not
    composited), ``CMYK`` and 16-bit (``I;16``, ``I``; scaled by 65535 -> 255) images are
    all converted to RGB. Multi-frame files give their first frame. The EXIF orientation
    tag is deliberately **not** applied: VOC/COCO masks are aligned to the raw pixel grid,
    and the official CLIP-ES code (PIL ``Image.open().convert("RGB")``) does not transpose
    either.

    Args:
        path: The image file.

    Returns:
        The image. Shape ``(H, W, 3)``, uint8, values in [0, 255], RGB order.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message names it).
        CorruptImageError: The file cannot be decoded, e.g. a truncated JPEG (the message
            names it).
    """
    path = Path(path)
    return _to_rgb_array(_open_decoded(path), path)


# --------------------------------------------------------------------------- palettes


def voc_palette(n: int = 256) -> list[int]:
    """The PASCAL VOC colour map as a flat ``[r0, g0, b0, r1, ...]`` list of ``3 * n`` ints.

    Class id ``i`` gets a colour whose bits interleave the bits of ``i``: bit ``3k`` of
    ``i`` goes to bit ``7 - k`` of red, bit ``3k + 1`` to green, bit ``3k + 2`` to blue.
    Id 0 is black, 1 (aeroplane) is (128, 0, 0), 15 (person) is (192, 128, 128) and 255
    (ignore) is (224, 224, 192).

    Args:
        n: Number of colours.

    Returns:
        ``3 * n`` ints in [0, 255], ready for ``PIL.Image.putpalette``.
    """
    palette: list[int] = []
    for index in range(n):
        rgb = [0, 0, 0]
        value = index
        for shift in range(7, -1, -1):  # the lowest bits of the id go to the highest colour bit
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette.extend(rgb)
    return palette


def _palette_array(palette: Sequence[int] | None) -> np.ndarray:
    """A ``(256, 3)`` uint8 colour table from a flat palette (padded with black)."""
    flat = np.zeros(256 * 3, dtype=np.uint8)
    values = np.asarray(voc_palette() if palette is None else palette, dtype=np.int64)
    values = values[: 256 * 3]
    flat[: values.size] = np.clip(values, 0, 255)
    return flat.reshape(256, 3)


def colorize(label: np.ndarray, palette: Sequence[int] | None = None) -> np.ndarray:
    """Map a class-id label map to RGB colours for viewing.

    Args:
        label: Class ids in [0, 255]; 255 = ignore.
        palette: Flat ``[r, g, b, ...]`` palette; the VOC colour map if ``None``.

    Returns:
        The coloured label map.

    Shapes:
        label: (H, W) integer. Returns: (H, W, 3) uint8 RGB.
    """
    label = _as_label_array(label)
    return _palette_array(palette)[label]


def overlay(
    image: np.ndarray,
    label: np.ndarray,
    *,
    alpha: float = 0.5,
    palette: Sequence[int] | None = None,
) -> np.ndarray:
    """Blend a coloured label map over an image; background (0) pixels show the image only.

    Args:
        image: RGB image, uint8.
        label: Class ids, same ``H, W`` as ``image``; 255 = ignore (drawn in its colour).
        alpha: Weight of the label colour in [0, 1].
        palette: Flat palette; the VOC colour map if ``None``.

    Returns:
        The blended image, uint8 RGB.

    Shapes:
        image: (H, W, 3). label: (H, W). Returns: (H, W, 3).
    """
    label = _as_label_array(label)
    if image.shape[:2] != label.shape:
        raise ValueError(f"image {image.shape[:2]} and label {label.shape} sizes differ")
    colour = colorize(label, palette).astype(np.float32)
    out = image.astype(np.float32).copy()
    fg = label != 0
    out[fg] = (1.0 - alpha) * out[fg] + alpha * colour[fg]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- label PNGs


def _as_label_array(label: np.ndarray) -> np.ndarray:
    """Check a label map is 2-D with integer values in [0, 255] and return it as uint8."""
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"a label map must be 2-D (H, W), got shape {label.shape}")
    if label.dtype == np.uint8:
        return label
    if not np.issubdtype(label.dtype, np.integer) and label.dtype != np.bool_:
        raise ValueError(f"a label map must hold integers, got dtype {label.dtype}")
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f"label values must lie in [0, 255], got [{label.min()}, {label.max()}]")
    return label.astype(np.uint8)


def _rgb_to_ids(rgb: np.ndarray, path: Path) -> np.ndarray:
    """Map an RGB-coloured mask back to class ids through the VOC colour map."""
    table = _palette_array(None).astype(np.int64)
    codes = (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2]
    lookup = {int(code): index for index, code in enumerate(codes)}
    rgb = rgb.astype(np.int64)
    pix = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    uniques, inverse = np.unique(pix, return_inverse=True)
    unknown = [u for u in uniques.tolist() if u not in lookup]
    if unknown:
        first = unknown[0]
        raise ValueError(
            f"RGB label image {path} has colour {(first >> 16, (first >> 8) & 255, first & 255)}"
            " that is not in the VOC colour map; save label maps as palette or greyscale PNGs"
        )
    ids = np.array([lookup[u] for u in uniques.tolist()], dtype=np.uint8)
    return ids[inverse.reshape(pix.shape)]


def load_label_png(path: PathLike) -> np.ndarray:
    """Read a class-id label PNG (VOC ``SegmentationClass`` / ``SegmentationClassAug``).

    Palette (``P``) PNGs give their palette *indices* (the class ids, as in VOC
    ``SegmentationClass``); greyscale (``L``) PNGs give their values (as in
    ``SegmentationClassAug``); 16-bit greyscale is accepted when all values are <= 255;
    RGB(A) masks painted with the VOC colour map are mapped back to ids.

    Args:
        path: The PNG file.

    Returns:
        Class ids; 0 = background, 255 = ignore. Shape ``(H, W)``, uint8.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CorruptImageError: The file cannot be decoded.
        ValueError: Values above 255, or RGB colours outside the VOC colour map.
    """
    path = Path(path)
    img = _open_decoded(path)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8).copy()
    if img.mode in _WIDE_INT_MODES:
        wide = np.asarray(img)
        if wide.size and (wide.min() < 0 or wide.max() > 255):
            raise ValueError(f"label image {path} has values outside [0, 255]")
        return wide.astype(np.uint8)
    if img.mode in ("RGB", "RGBA"):
        return _rgb_to_ids(np.asarray(img)[..., :3], path)
    raise ValueError(f"unsupported label image mode {img.mode!r} in {path}")


def save_label_png(path: PathLike, label: np.ndarray, palette: Sequence[int] | None = None) -> Path:
    """Write a class-id label map as a palette PNG, atomically.

    The stored pixel values are exactly ``label`` (255 stays 255); the palette only colours
    them for viewing, so :func:`load_label_png` returns the same array.

    Args:
        path: Destination ``.png``; parent directories are created.
        label: Class ids in [0, 255]; 255 = ignore.
        palette: Flat ``[r, g, b, ...]`` palette; the VOC colour map if ``None``.

    Returns:
        ``path`` as a ``Path``.

    Shapes:
        label: (H, W) integer.
    """
    label = _as_label_array(label)
    img = Image.fromarray(np.ascontiguousarray(label))  # mode "L"
    img.putpalette(list(_palette_array(palette).reshape(-1)))  # "L" + palette -> "P"
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
