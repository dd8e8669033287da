"""WeakCLIP inference: flip/scale averaging, sliding windows, CRF labels, PNG output."""

import numpy as np
import pytest
import torch

from clipwsss.clip.loading import load_clip
from clipwsss.data import VOCDataset, load_label_png
from clipwsss.experiments.profiles import get_profile
from clipwsss.methods.weakclip import build_weakclip
from clipwsss.methods.weakclip.infer import InferenceConfig
from clipwsss.pipelines.predict import predict_dataset
from clipwsss.pipelines.tta import (
    scores_to_label,
    slide_logits,
    tta_scores,
    weakclip_tta,
    window_logits,
)
from clipwsss.toy import generate_toy_voc
from clipwsss.train.tasks.weakclip_recipes import get_recipe

RECIPE = get_recipe("toy")


@pytest.fixture(scope="module")
def model():
    profile = get_profile("toy")
    clip = load_clip(profile.model, profile.pretrained)
    torch.manual_seed(0)
    net = build_weakclip(
        clip,
        ["background", *profile.class_names()],
        RECIPE.model,
        pixel_mean=RECIPE.data.mean,
        pixel_std=RECIPE.data.std,
    )
    with torch.no_grad():  # a non-zero classifier, so that classes differ
        net.head.conv_seg.weight.normal_(std=0.5)
    return net.eval()


def test_flip_averaging_is_flip_symmetric(model):
    inference = InferenceConfig(short_side=96, scales=(0.5, 1.0), flip=True, crop=96, crf=False)
    config = weakclip_tta(inference)
    x = torch.randn(1, 3, 96, 96)
    probs = tta_scores(model, x, config)[0]
    assert probs.shape == (11, 96, 96)
    torch.testing.assert_close(probs.sum(0), torch.ones(96, 96), atol=1e-5, rtol=0)
    mirrored = tta_scores(model, x.flip(-1), config)[0]
    torch.testing.assert_close(mirrored, probs.flip(-1), atol=1e-5, rtol=1e-4)
    no_flip = tta_scores(model, x, weakclip_tta({**inference.__dict__, "flip": False}))[0]
    assert (no_flip - probs).abs().max() > 1e-4


def test_slide_windows_equal_whole_image_where_one_window_covers(model):
    x = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        slid = slide_logits(model, x, crop=96, stride=64)  # windows at x = 0 and 64
        left = slide_logits(model, x[..., :96], crop=96, stride=64)
    assert slid.shape == (1, 11, 96, 160)
    torch.testing.assert_close(slid[..., :64], left[..., :64], atol=1e-5, rtol=1e-4)


def test_crf_labels_keep_only_predicted_classes():
    probs = torch.full((4, 8, 8), 0.05)
    probs[2, :, :4], probs[3, :, 4:] = 0.85, 0.85  # classes 0 and 1 never win
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, 4:] = 255
    label = scores_to_label(probs, image, weakclip_tta(InferenceConfig()))
    assert label.dtype == np.uint8 and set(np.unique(label)) == {2, 3}
    assert (label[:, :4] == 2).all() and (label[:, 4:] == 3).all()


def test_predict_dataset_writes_pngs_and_resumes(model, tmp_path):
    generate_toy_voc(tmp_path / "toy", n_train=2, n_val=0, seed=5, image_size=96)
    data = VOCDataset(tmp_path / "toy", "train", class_names=get_profile("toy").class_names())
    config = weakclip_tta(InferenceConfig(short_side=96, scales=(1.0,), flip=False, crop=96))
    kw = dict(method="weakclip", trained={"weights_sha256": "x"}, progress=False)
    first = predict_dataset(model, data, tmp_path / "out", config, **kw)
    assert first.done == 2 and first.skipped_existing == 0
    mask = load_label_png(tmp_path / "out" / f"{data.ids[0]}.png")
    assert mask.shape == (96, 96) and mask.max() < 11
    again = predict_dataset(model, data, tmp_path / "out", config, **kw)
    assert again.done == 0 and again.skipped_existing == 2


def test_windows_off_the_patch_grid_run_unpadded(model):
    """A window that is not a multiple of the patch runs as it is (the patch convolution
    floors the grid) and its logits are resized to the window, as mmseg's encode_decode."""
    x = torch.randn(1, 3, 60, 85)  # patch 8: a 7 x 10 token grid, 4 and 5 px never seen
    with torch.no_grad():
        out = window_logits(model, x)
        raw = model(x).logits
    assert raw.shape[-2:] == (28, 40) and out.shape == (1, 11, 60, 85)
    expected = torch.nn.functional.interpolate(raw, size=(60, 85), mode="bilinear")
    torch.testing.assert_close(out, expected)
    edge = x.clone()
    edge[..., 56:, :], edge[..., 80:] = 9.0, -9.0  # the pixels no token sees
    with torch.no_grad():
        torch.testing.assert_close(window_logits(model, edge), out)
    with pytest.raises(ValueError, match="smaller than one"):
        window_logits(model, torch.randn(1, 3, 7, 40))
