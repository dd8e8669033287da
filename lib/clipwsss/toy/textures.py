"""Procedural "stuff" textures for the toy world: the backgrounds that objects co-occur with.

Every texture is a function ``(rng, height, width, top) -> float32 (3, H, W)`` with values
roughly in [0, 255]; ``top`` is the first row of the ground region (the horizon), so that
features such as the dashed road line or the railway tracks land where they are visible.
All randomness comes from ``rng``.

Images are channel-planar (3, H, W) while they are built: numpy broadcasting of an (H, W, 3)
array against a per-channel colour runs an inner loop of length 3 and was ~20x slower. Each
texture takes about 0.05-0.15 ms at 128 x 128.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Texture = Callable[[np.random.Generator, int, int, int], np.ndarray]

_NOISE_SIDE = 1024
_noise_table: np.ndarray | None = None


def noise_patch(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Standard normal noise, (H, W) float32: a window of a fixed table at an ``rng`` offset.

    Fresh per-pixel normals were a third of the sampling time; a window of a table built once
    from a fixed seed is as good for texture grain and stays deterministic.
    """
    global _noise_table
    if height > _NOISE_SIDE or width > _NOISE_SIDE:
        return rng.standard_normal((height, width), dtype=np.float32)
    if _noise_table is None:
        table = np.random.default_rng(20230618).standard_normal((_NOISE_SIDE,) * 2, np.float32)
        _noise_table = table
    y = int(rng.integers(0, _NOISE_SIDE - height + 1))
    x = int(rng.integers(0, _NOISE_SIDE - width + 1))
    return _noise_table[y : y + height, x : x + width]


def lowfreq_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1], (H, W) float32: a ``cells x cells`` uniform grid, upsampled.

    Bicubic to 4x the grid, then bilinear: as smooth as bicubic all the way, 8x cheaper.
    """
    grid = rng.random((cells, cells), dtype=np.float32)
    mid = cv2.resize(grid, (4 * cells, 4 * cells), interpolation=cv2.INTER_CUBIC)
    out = cv2.resize(mid, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def colour(rgb, jitter: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """An RGB colour as a (3, 1, 1) float32 column, with multiplicative jitter of +-``jitter``."""
    c = np.asarray(rgb, np.float32)
    if rng is not None and jitter:
        c = c * rng.uniform(1 - jitter, 1 + jitter, 3).astype(np.float32)
    return c[:, None, None]


def _grain(rng: np.random.Generator, height: int, width: int, amp: float) -> np.ndarray:
    """Per-pixel grey noise, (1, H, W) float32 with standard deviation ``amp``."""
    return noise_patch(rng, height, width)[None] * np.float32(amp)


def _base(rng, h: int, w: int, rgb, jitter: float, cells: int, amp: float) -> np.ndarray:
    """A jittered base colour modulated by smooth brightness variation of amplitude ``amp``."""
    shade = 1.0 + amp * (lowfreq_noise(rng, h, w, cells) - 0.5)
    return shade[None] * colour(rgb, jitter, rng)


def _fill(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, rgb) -> None:
    """Paint the rectangle [y0, y1) x [x0, x1), clipped to the image, in place."""
    _, h, w = img.shape
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 < x1 and y0 < y1:
        img[:, y0:y1, x0:x1] = np.asarray(rgb, np.float32).reshape(3, 1, 1)


def grass(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Green field with patches and vertical blade streaks."""
    rgb = [(70, 140, 50), (95, 150, 55), (60, 120, 45), (120, 150, 60)][rng.integers(4)]
    img = _base(rng, height, width, rgb, 0.08, 4, 0.45)
    # Blades: noise stretched vertically (few rows, full width) gives short vertical streaks.
    rows = max(2, height // 5)
    blades = cv2.resize(rng.random((rows, width), dtype=np.float32), (width, height))
    return img * (0.75 + 0.5 * blades)[None] + _grain(rng, height, width, 6.0)


def sky(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Blue gradient (lighter near the horizon) with soft white clouds."""
    zenith = colour([(70, 130, 215), (95, 155, 225), (120, 165, 210)][rng.integers(3)], 0.06, rng)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[None, :, None]
    gradient = zenith * (1 - t) + colour((200, 220, 240)) * t  # (3, H, 1)
    # Clouds: a few ellipses drawn at quarter resolution, blurred by the upsampling.
    small = np.zeros((max(4, height // 4), max(4, width // 4)), np.float32)
    sh, sw = small.shape
    for _ in range(rng.integers(1, 5)):
        cx, cy = int(rng.integers(0, sw)), int(rng.integers(0, max(1, sh * 3 // 4)))
        for _ in range(rng.integers(2, 5)):
            ax = int(rng.integers(max(2, sw // 10), max(3, sw // 4)))
            ay = max(1, int(ax * rng.uniform(0.35, 0.6)))
            c = (cx + int(rng.integers(-ax, ax + 1)), cy + int(rng.integers(-ay, ay + 1)))
            cv2.ellipse(small, c, (ax, ay), 0, 0, 360, float(rng.uniform(0.6, 1.0)), -1)
    cloud = cv2.resize(cv2.GaussianBlur(small, (3, 3), 0), (width, height))[None]
    return gradient + cloud * (np.float32(245) - gradient) + _grain(rng, height, width, 2.0)


def water(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Blue-green water with horizontal wavy bands and bright crests."""
    rgb = [(40, 90, 150), (30, 110, 140), (50, 80, 120), (60, 120, 170)][rng.integers(4)]
    img = _base(rng, height, width, rgb, 0.08, 3, 0.3)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    wavelength = rng.uniform(0.05, 0.09) * height
    wobble = rng.uniform(0.2, 0.5) * np.sin(2 * np.pi * x / (rng.uniform(0.2, 0.4) * width))
    waves = np.sin(2 * np.pi * (y / wavelength + wobble + rng.random()))
    img = img * (1.0 + 0.12 * waves)[None]
    img = np.where((waves > 0.93)[None], img * 0.4 + np.float32(0.6 * 230), img)  # crests
    return img + _grain(rng, height, width, 3.0)


def road(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Grey asphalt with a dashed centre line and sometimes a pavement edge at the top."""
    grey = float(rng.uniform(70, 110))
    img = _base(rng, height, width, (grey, grey, grey * 1.03), 0.04, 5, 0.2)
    img += _grain(rng, height, width, 9.0)
    span = height - top
    thick = max(2, round(0.025 * height))
    yc = top + int(span * rng.uniform(0.45, 0.75))
    dash, gap = int(0.11 * width), int(0.08 * width)
    paint = (235, 235, 230) if rng.random() < 0.6 else (230, 190, 40)
    for x in range(-int(rng.integers(0, dash + gap)), width, dash + gap):
        _fill(img, x, yc, x + dash, yc + thick, paint)
    if rng.random() < 0.5:  # pavement / kerb just below the horizon
        kerb = top + max(2, int(0.1 * span))
        img[:, top:kerb] = img[:, top:kerb] * 0.4 + np.float32(0.6 * 175)
    return img


def railway(
    rng: np.random.Generator,
    height: int,
    width: int,
    top: int,
    tracks: list[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Gravel ballast with one or two tracks: brown sleepers and two light steel rails.

    Args:
        tracks: rows ``(upper_rail, lower_rail)`` per track; drawn by :func:`railway_tracks`
            when None. The world passes its own so that train wheels sit on a lower rail.
    """
    if tracks is None:
        tracks = railway_tracks(rng, height, top)
    img = _base(rng, height, width, (120, 110, 100), 0.06, 6, 0.25)
    img += _grain(rng, height, width, 16.0)
    pitch = max(4, int(0.06 * width))
    sleeper = max(2, int(0.02 * width))
    rail = max(1, round(0.012 * height))
    for y0, y1 in tracks:
        wood = (colour((95, 65, 40), 0.1, rng)).ravel()
        over = max(1, (y1 - y0) // 4)
        for x in range(-int(rng.integers(0, pitch)), width, pitch):
            _fill(img, x, y0 - over, x + sleeper, y1 + over + 1, wood)
        for y in (y0, y1):
            _fill(img, 0, y - rail, width, y + rail, (200, 200, 205))
    return img


def railway_tracks(rng: np.random.Generator, height: int, top: int) -> list[tuple[int, int]]:
    """Rows ``(upper_rail, lower_rail)`` of one or two tracks below the horizon ``top``."""
    span = height - top
    gauge = max(6, int(0.1 * height))
    lows = [rng.uniform(0.5, 0.9)]
    if span > 3.5 * gauge and rng.random() < 0.4:
        lows = [rng.uniform(0.3, 0.45), rng.uniform(0.8, 0.95)]
    return [(top + int(c * span) - gauge, min(height - 2, top + int(c * span))) for c in lows]


def sand(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Beige sand with diagonal ripples and grain noise."""
    rgb = [(215, 190, 140), (200, 175, 125), (225, 205, 160)][rng.integers(3)]
    img = _base(rng, height, width, rgb, 0.05, 4, 0.2)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    slope = rng.uniform(-0.5, 0.5)
    ripples = np.sin(2 * np.pi * (y + slope * x) / (rng.uniform(0.04, 0.07) * height))
    return img * (1.0 + 0.06 * ripples)[None] + _grain(rng, height, width, 7.0)


def snow(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Near-white snow with bluish shadows and sparkle."""
    img = _base(rng, height, width, (235, 240, 248), 0.03, 4, 0.12)
    shadow = lowfreq_noise(rng, height, width, 3)[None]
    img = img * (1 - 0.15 * shadow) + np.float32(0.15) * shadow * colour((170, 185, 215))
    grain = noise_patch(rng, height, width)[None]
    return np.where(grain > 2.2, np.float32(255), img + grain * np.float32(3.0))  # sparkle


def wall(rng: np.random.Generator, height: int, width: int, top: int) -> np.ndarray:
    """Brick wall: staggered rows of bricks with per-brick colour and light mortar."""
    rgb = [(160, 70, 50), (175, 95, 60), (140, 60, 50), (150, 130, 110)][rng.integers(4)]
    bh = max(4, int(rng.uniform(0.06, 0.09) * height))
    bw = int(bh * rng.uniform(2.0, 2.8))
    y = np.arange(height)[:, None]
    x = np.arange(width)[None, :]
    row = y // bh
    shifted = x + (row % 2) * (bw // 2)
    col = shifted // bw
    tones = rng.uniform(0.8, 1.15, (int(row.max()) + 1, int(col.max()) + 1)).astype(np.float32)
    img = tones[row, col][None] * colour(rgb, 0.06, rng)
    mortar = ((y % bh) < max(1, bh // 6)) | ((shifted % bw) < max(1, bh // 6))
    img = np.where(mortar[None], np.float32(200), img)
    return img + _grain(rng, height, width, 5.0)


TEXTURES: dict[str, Texture] = {
    "grass": grass,
    "sky": sky,
    "water": water,
    "road": road,
    "railway": railway,
    "sand": sand,
    "snow": snow,
    "wall": wall,
}
"""Stuff textures by name; the names are the background classes of the toy world."""
