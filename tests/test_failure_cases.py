"""Per-image mIoU, toy object statistics and the rank correlation of notebook 20."""

import numpy as np

from clipwsss.experiments.failure_cases import image_mious, rank_correlation, toy_object_stats


def test_image_mious():
    perfect = np.diag([5, 3, 0])
    half = np.array([[2, 2, 0], [0, 0, 0], [0, 0, 0]])  # bg half right, class 1 predicted only
    m = image_mious(np.stack([perfect, half]))
    np.testing.assert_allclose(m, [100.0, 100 * (0.5 + 0.0) / 2])


def test_toy_object_stats_match_the_written_split(tmp_path):
    from clipwsss.data import build_dataset, load_label_png
    from clipwsss.toy import generate_toy_voc
    from clipwsss.toy.world import TOY_CLASSES

    generate_toy_voc(tmp_path, n_train=0, n_val=4, seed=3, image_size=96)
    ds = build_dataset("voc12", tmp_path, "val", class_names=TOY_CLASSES)
    stats = toy_object_stats(ds.ids, seed=3, image_size=96)
    for image_id in ds.ids:
        gt = load_label_png(ds.sample(image_id).gt_path)
        fg = ((gt > 0) & (gt < 255)).sum()
        # the smallest object is at most the whole foreground, and the classes agree
        assert (
            0
            < stats.loc[image_id, "smallest object (%)"]
            <= 100 * (fg + (gt == 255).sum()) / gt.size
        )
        assert stats.loc[image_id, "classes"] == len(ds.sample(image_id).labels)
    assert (stats["occluded share (%)"] >= 0).all()


def test_rank_correlation():
    x = np.arange(50.0)
    rho, lo, hi = rank_correlation(x, x + np.random.default_rng(0).normal(0, 1, 50))
    assert rho > 0.9 and lo > 0.8 and hi <= 1.0
    rho, lo, hi = rank_correlation(x, -x)
    assert abs(rho + 1) < 1e-9
