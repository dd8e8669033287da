"""Tests for clipwsss.cams.crf (official dense-CRF image quirk and posterior)."""

import numpy as np
import pytest
import torch

from clipwsss.cams.crf import crf_image, crf_posterior, dense_crf


def test_crf_image_wraps_mean_subtracted_bgr():
    rgb = np.array([[[0, 0, 94], [255, 255, 255], [123, 117, 104]]], dtype=np.uint8)
    out = crf_image(rgb)
    # pixel 0, BGR (94, 0, 0) - (104.008, 116.669, 122.675) = (-10.0, -116.7, -122.7)
    # -> truncated towards zero, low byte kept: (246, 140, 134)
    assert out[0, 0].tolist() == [246, 140, 134]
    assert out[0, 1].tolist() == [150, 138, 132]  # 150.992, 138.331, 132.325
    assert out[0, 2].tolist() == [0, 0, 0]  # -0.008, 0.331, 0.325 truncate to 0
    assert out.dtype == np.uint8 and out.flags.c_contiguous


def test_crf_image_matches_numpy_cast_where_it_wraps():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    ref = rgb[..., ::-1].astype(np.float32) - np.array([104.008, 116.669, 122.675])
    with np.errstate(invalid="ignore"):
        native = ref.astype(np.float32).astype(np.uint8)  # x86-64 behaviour
    if not (native[ref < 0] != 0).any():
        pytest.skip("this platform saturates float -> uint8 casts")
    np.testing.assert_array_equal(crf_image(rgb), native)


def test_crf_image_corrected_is_plain_rgb():
    rgb = np.random.default_rng(1).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crf_image(rgb, official=False), rgb)
    with pytest.raises(ValueError):
        crf_image(rgb.astype(np.float32))


def _two_region_image() -> np.ndarray:
    image = np.zeros((8, 10, 3), dtype=np.uint8)
    image[:, :5] = (200, 30, 30)
    image[:, 5:] = (30, 30, 200)
    return image


def test_dense_crf_posterior_normalised_and_keeps_confident_unary():
    probs = np.full((2, 8, 10), 0.02, dtype=np.float32)
    probs[0, :, :5] = 0.98
    probs[1, :, 5:] = 0.98
    q = dense_crf(crf_image(_two_region_image()), probs)
    assert q.shape == (2, 8, 10) and q.dtype == np.float32
    np.testing.assert_allclose(q.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(q.argmax(axis=0), probs.argmax(axis=0))
    assert q.max(axis=0).min() > 0.9


def test_dense_crf_unary_is_clipped_log_without_renormalisation():
    rng = np.random.default_rng(2)
    probs = rng.random((3, 6, 7)).astype(np.float32) * 0.5  # channels do not sum to 1
    probs[0, 0, 0] = 0.0  # clipped to 1e-5
    q = dense_crf(crf_image(_two_region_image()[:6, :7]), probs, n_iters=0)
    p = np.clip(probs, 1e-5, 1.0)
    np.testing.assert_allclose(q, p / p.sum(axis=0), rtol=1e-5, atol=1e-7)


def test_dense_crf_rejects_mismatched_image():
    with pytest.raises(ValueError):
        dense_crf(_two_region_image(), np.ones((2, 7, 10), dtype=np.float32))


def test_crf_posterior_background_first():
    cams = torch.zeros(1, 8, 10)
    cams[0, :, 5:] = 0.99  # background score (1 - max) is high on the left half
    q = crf_posterior(_two_region_image(), cams)
    assert q.shape == (2, 8, 10) and q.dtype == torch.float32
    label = q.argmax(0)
    assert (label[:, :5] == 0).all() and (label[:, 5:] == 1).all()
