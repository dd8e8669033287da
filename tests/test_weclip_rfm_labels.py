"""CAA vs RFM pseudo labels of a WeCLIP model and their figure (experiments.weclip_rfm)."""

import numpy as np
import pytest
import torch

from clipwsss.clip.loading import load_clip
from clipwsss.data import VOCDataset, load_image
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, get_profile
from clipwsss.experiments.weclip_rfm import caa_rfm_labels, rfm_label_figure
from clipwsss.methods.weclip.model import WeClip
from clipwsss.methods.weclip.train import TOY_SMALL_DECODER, toy_config, toy_small_config
from clipwsss.toy import generate_toy_voc


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root, n_train=2, n_val=0, seed=0, image_size=TOY_IMAGE_SIZE)
    profile = get_profile("toy", data_root=str(root))
    torch.manual_seed(0)
    model = WeClip(
        load_clip(profile.model, profile.pretrained), profile.vocabulary(), toy_small_config()
    )
    return model, VOCDataset(root, "train", class_names=profile.class_names())


def test_small_decoder_is_smaller_than_the_frozen_clip(toy):
    model, _ = toy
    clip = sum(p.numel() for p in model.clip.model.parameters())
    assert model.trainable_parameters() < clip / 5
    assert all(getattr(model.config, k) == v for k, v in TOY_SMALL_DECODER.items())
    assert toy_config().embed_dim > TOY_SMALL_DECODER["embed_dim"]  # the default is unchanged


def test_labels_use_only_the_image_classes_and_keep_the_mode(toy):
    model, data = toy
    model.train()
    sample = data[0]
    image = load_image(sample.image_path)
    caa, rfm = caa_rfm_labels(model, image, sample.labels)
    assert model.training  # restored
    allowed = {0, *(k + 1 for k in sample.labels)}
    for label in (caa, rfm):
        assert label.shape == image.shape[:2]
        assert set(np.unique(label).tolist()) <= allowed
    # The CAA label does not depend on the decoder; the RFM label does (through A_f).
    with torch.no_grad():
        for p in model.decoder.fuse.parameters():
            p.add_(torch.randn_like(p))
    caa2, _ = caa_rfm_labels(model, image, sample.labels)
    assert np.array_equal(caa, caa2)
    with pytest.raises(ValueError, match="without image-level labels"):
        caa_rfm_labels(model, image, [])


def test_figure_has_one_row_per_image(toy):
    import matplotlib

    matplotlib.use("Agg")
    model, data = toy
    fig = rfm_label_figure(model, data, data.ids[:1], title="t")
    assert len(fig.axes) == 5
    assert fig.axes[3].get_title() == "RFM label"
    # the legend names every colour drawn, the ground truth's ignored border band included
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "ignored" in labels and "background" in labels
