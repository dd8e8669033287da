"""Tests for clipwsss.data.images: image decoding, label PNGs, palettes, atomic writes."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipwsss.data import (
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


def _save(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


# --------------------------------------------------------------------------- load_image


def test_load_image_rgb_roundtrip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = load_image(_save(Image.fromarray(rgb), tmp_path / "a.png"))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, rgb)


def test_load_image_grayscale_repeats_channel(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = load_image(_save(Image.fromarray(grey), tmp_path / "g.png"))
    assert out.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_load_image_rgba_drops_alpha(tmp_path):
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 20, 30)
    rgba[0, 0, 3] = 0  # fully transparent pixel keeps its colour: alpha dropped, not composited
    rgba[1, :, 3] = 255
    out = load_image(_save(Image.fromarray(rgba), tmp_path / "rgba.png"))
    assert out.shape == (2, 3, 3)
    assert (out == np.array([10, 20, 30], dtype=np.uint8)).all()


def test_load_image_la(tmp_path):
    la = Image.fromarray(np.full((2, 2), 77, dtype=np.uint8)).convert("LA")
    out = load_image(_save(la, tmp_path / "la.png"))
    assert out.shape == (2, 2, 3) and (out == 77).all()


def test_load_image_palette_gives_palette_colours(tmp_path):
    idx = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    img = Image.fromarray(idx)
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (253 * 3))
    out = load_image(_save(img, tmp_path / "p.png"))
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 255])
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])


def test_load_image_16bit_scaled_by_full_range(tmp_path):
    wide = np.array([[0, 65535], [32768, 257]], dtype=np.uint16)
    path = _save(Image.fromarray(wide), tmp_path / "w16.png")
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[..., 0], [[0, 255], [128, 1]])


def test_load_image_32bit_int_clipped(tmp_path):
    wide = np.array([[-5, 70000], [65535, 0]], dtype=np.int32)
    path = _save(Image.fromarray(wide), tmp_path / "i32.tif")
    with Image.open(path) as img:
        assert img.mode == "I"
    np.testing.assert_array_equal(load_image(path)[..., 1], [[0, 255], [255, 0]])


def test_load_image_cmyk(tmp_path):
    cmyk = np.zeros((2, 2, 4), dtype=np.uint8)
    cmyk[0, 0] = (0, 0, 0, 0)  # no ink: white
    cmyk[0, 1] = (0, 0, 0, 255)  # full black
    cmyk[1, 0] = (255, 0, 0, 0)  # cyan
    img = Image.frombytes("CMYK", (2, 2), cmyk.tobytes())
    out = load_image(_save(img, tmp_path / "c.tif"))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [0, 0, 0])
    np.testing.assert_array_equal(out[1, 0], [0, 255, 255])


def test_load_image_ignores_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img = Image.fromarray(np.zeros((10, 20, 3), dtype=np.uint8))
    out = load_image(_save(img, tmp_path / "rot.jpg", exif=exif.tobytes()))
    assert out.shape == (10, 20, 3)  # raw pixel grid, as the VOC/COCO masks


def test_load_image_truncated_jpeg_raises_naming_path(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    path = tmp_path / "truncated.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(CorruptImageError, match="truncated.jpg"):
        load_image(path)


def test_load_image_garbage_raises_corrupt(tmp_path):
    path = tmp_path / "garbage.jpg"
    path.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(CorruptImageError, match="garbage.jpg"):
        load_image(path)
    assert issubclass(CorruptImageError, ValueError)


def test_load_image_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope_123.jpg"):
        load_image(tmp_path / "nope_123.jpg")


# ----------------------------------------------------------------- palettes and label PNGs


def test_voc_palette_known_colours():
    pal = voc_palette()
    assert len(pal) == 768 and all(0 <= v <= 255 for v in pal)
    colour = {i: tuple(pal[3 * i : 3 * i + 3]) for i in (0, 1, 2, 15, 20, 255)}
    assert colour[0] == (0, 0, 0)
    assert colour[1] == (128, 0, 0)  # aeroplane
    assert colour[2] == (0, 128, 0)  # bicycle
    assert colour[15] == (192, 128, 128)  # person
    assert colour[20] == (0, 64, 128)  # tvmonitor
    assert colour[255] == (224, 224, 192)  # ignore
    assert len({tuple(pal[3 * i : 3 * i + 3]) for i in range(256)}) == 256
    assert voc_palette(21) == pal[:63]


def test_label_png_roundtrip_keeps_ids_and_ignore(tmp_path):
    label = np.arange(0, 22, dtype=np.uint8).reshape(2, 11)
    label[1, -1] = 255
    path = save_label_png(tmp_path / "sub" / "lab.png", label)
    with Image.open(path) as img:
        assert img.mode == "P"  # viewable: not "all black"
        assert img.getpalette()[:6] == voc_palette()[:6]
    back = load_label_png(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, label)


def test_label_png_accepts_wider_ints_and_rejects_out_of_range(tmp_path):
    label = np.array([[0, 3], [255, 1]], dtype=np.int64)
    np.testing.assert_array_equal(load_label_png(save_label_png(tmp_path / "a.png", label)), label)
    with pytest.raises(ValueError, match="0, 255"):
        save_label_png(tmp_path / "b.png", np.array([[0, 256]]))
    with pytest.raises(ValueError, match="2-D"):
        save_label_png(tmp_path / "c.png", np.zeros((2, 2, 3), dtype=np.uint8))


def test_load_label_png_greyscale_and_rgb(tmp_path):
    label = np.array([[0, 15], [255, 20]], dtype=np.uint8)
    grey = _save(Image.fromarray(label), tmp_path / "aug.png")  # SegmentationClassAug style
    np.testing.assert_array_equal(load_label_png(grey), label)
    rgb = _save(Image.fromarray(colorize(label)), tmp_path / "rgb.png")
    np.testing.assert_array_equal(load_label_png(rgb), label)
    bad = np.zeros((1, 1, 3), dtype=np.uint8) + 7
    with pytest.raises(ValueError, match="colour map"):
        load_label_png(_save(Image.fromarray(bad), tmp_path / "bad.png"))


def test_colorize_and_overlay():
    label = np.array([[0, 1], [15, 255]], dtype=np.uint8)
    col = colorize(label)
    assert col.shape == (2, 2, 3) and col.dtype == np.uint8
    np.testing.assert_array_equal(col[1, 0], [192, 128, 128])
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    out = overlay(image, label, alpha=0.5)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])  # background shows the image
    np.testing.assert_array_equal(out[0, 1], [114, 50, 50])
    with pytest.raises(ValueError, match="sizes differ"):
        overlay(image, label[:1])


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_no_temp_file(tmp_path):
    target = tmp_path / "deep" / "out.json"
    atomic_write_bytes(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_atomic_path_keeps_old_file_when_writer_raises(tmp_path):
    target = tmp_path / "cams.npy"
    np.save(target, np.ones(3))
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".npy"
            tmp.write_bytes(b"half-written")
            raise RuntimeError("crash midway")
    np.testing.assert_array_equal(np.load(target), np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["cams.npy"]


def test_finished_files_skip_the_temporary_of_a_killed_writer(tmp_path):
    """A SIGKILL inside the ``with`` body leaves the hidden temporary; listings skip it."""
    with atomic_path(tmp_path / "a.npy") as tmp:
        np.save(tmp, np.arange(2))
    gen = atomic_path(tmp_path / "b.npy")
    killed = gen.__enter__()  # entered, never exited: as a process killed mid-write
    killed.write_bytes(b"half")
    assert killed.name.startswith(".b.") and killed.exists()
    assert finished_files(tmp_path, ".npy") == [tmp_path / "a.npy"]


def test_atomic_path_works_with_np_save(tmp_path):
    target = tmp_path / "x.npy"
    with atomic_path(target) as tmp:
        np.save(tmp, np.arange(4))  # suffix kept: np.save does not append another ".npy"
    np.testing.assert_array_equal(np.load(target), np.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_apply_the_umask(tmp_path, umask):
    """Outputs are readable as the umask allows, not mkstemp's 0o600."""
    old = os.umask(umask)
    try:
        text = atomic_write_text(tmp_path / "run.json", "{}")
        with atomic_path(tmp_path / "cams.npy") as tmp:
            np.save(tmp, np.zeros(2))
    finally:
        os.umask(old)
    for path in (text, tmp_path / "cams.npy"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
