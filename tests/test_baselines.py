import numpy as np

from clipwsss.experiments import baselines


def test_all_background_is_zero():
    gt = np.array([[0, 1], [255, 2]], np.uint8)
    assert (baselines.all_background(gt) == 0).all()


def test_largest_class_picks_the_largest_foreground_area():
    gt = np.array([[1, 2, 2], [2, 0, 0], [255, 255, 255]], np.uint8)
    assert (baselines.largest_class(gt) == 2).all()
    assert (baselines.largest_class(np.zeros((2, 2), np.uint8)) == 0).all()


def test_ceiling_is_exact_on_a_patch_aligned_label():
    gt = np.zeros((16, 24), np.uint8)
    gt[:8, 8:16] = 3
    gt[8:, 16:] = 1
    np.testing.assert_array_equal(baselines.patch_grid_ceiling(gt, 8), gt)


def test_ceiling_majority_vote_ignores_255():
    gt = np.zeros((8, 8), np.uint8)
    gt[:3] = 5  # 24 pixels of class 5
    gt[3:6] = 255  # 24 ignored pixels: no votes; 16 background pixels remain
    assert (baselines.patch_grid_ceiling(gt, 8) == 5).all()
    gt[3:6] = 0  # the same pixels as background: 40 votes beat 24
    assert (baselines.patch_grid_ceiling(gt, 8) == 0).all()


def test_ceiling_maps_a_non_multiple_size_back_to_the_original_pixels():
    gt = np.zeros((10, 13), np.uint8)  # model grid: ceil(10/8)=2 x ceil(13/8)=2
    gt[:5, :7] = 2
    pred = baselines.patch_grid_ceiling(gt, 8)
    assert pred.shape == gt.shape
    assert pred[0, 0] == 2 and pred[9, 12] == 0
