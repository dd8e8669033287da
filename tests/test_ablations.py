"""Ablation helpers on a 4-image toy split with the tiny random models (fast, CPU)."""

from dataclasses import replace

import numpy as np
import pytest

from clipwsss import ClipEsConfig
from clipwsss.data import build_dataset
from clipwsss.experiments import ablations as ab
from clipwsss.experiments.notebooks import Setup
from clipwsss.experiments.profiles import get_profile
from clipwsss.toy import generate_toy_voc
from clipwsss.toy.evaluate import toy_vocabulary
from clipwsss.toy.world import TOY_CLASSES


@pytest.fixture(scope="module")
def toy_setup(tmp_path_factory, tiny_vit):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root, n_train=0, n_val=4, seed=0, image_size=96)
    dataset = build_dataset("voc12", root, "val", class_names=TOY_CLASSES)
    profile = replace(get_profile("toy"), clip_es=ClipEsConfig(caa_layers=2))
    return Setup(profile, tiny_vit, toy_vocabulary(), dataset, tuple(dataset.ids))


def test_build_applies_overrides_and_vocab(toy_setup):
    plain = toy_setup.vocab.without_synonyms()
    es = ab.build(toy_setup, ab.Variant({"softmax": False, "fusion": "feature"}, vocab=plain))
    assert es.config.softmax is False and es.config.fusion == "feature"
    assert es.config.caa_layers == 2  # the rest comes from the profile
    assert es.vocab.sentences == tuple(TOY_CLASSES)
    assert ab.build(toy_setup, {"pooling": "cls"}).config.pooling == "cls"


def test_score_variants_tables(toy_setup):
    variants = {
        "softmax + bg": {},
        "no softmax, classes only": {
            "softmax": False,
            "use_background": False,
            "text_set": "dataset",
            "refine": "none",
        },
    }
    results = ab.score_variants(toy_setup, variants)
    assert list(results) == list(variants)
    assert results["no softmax, classes only"].refined is None
    table = ab.miou_table(results, with_sharpness=True)
    assert list(table.columns) == ["initial", "refined", "sharpness"]
    assert 0 <= table.loc["softmax + bg", "initial"] <= 100
    assert np.isnan(table.loc["no softmax, classes only", "refined"])
    assert (table["sharpness"] >= 0).all()
    iou = ab.per_class_iou(results, TOY_CLASSES, classes=["background", "boat"])
    assert list(iou.index) == ["background", "boat"] and list(iou.columns) == list(variants)
    with pytest.raises(ValueError, match="without refined"):
        ab.per_class_iou(results, TOY_CLASSES, stage="refined")


def test_logit_gradcam_ignores_the_background_set(toy_setup):
    """Without softmax the target logit does not depend on other rows (Table 6: 49.4 twice)."""
    ids = toy_setup.ids[:2]
    a = ab.score_variants(toy_setup, {"a": {"softmax": False, "refine": "none"}}, ids=ids)["a"]
    b = ab.score_variants(
        toy_setup,
        {"b": {"softmax": False, "use_background": False, "text_set": "dataset", "refine": "none"}},
        ids=ids,
    )["b"]
    np.testing.assert_allclose(a.initial.iou, b.initial.iou)


def test_resnet_variant_skipped_on_toy_and_runs_with_a_resnet(toy_setup, tiny_rn):
    assert ab.resnet_variant(toy_setup) is None
    variant = ab.resnet_variant(toy_setup, model="clipwsss-tiny-rn", pretrained=None)
    assert variant.clip is not None and not variant.clip.is_vit
    result = ab.score_variants(toy_setup, {"rn": variant}, ids=toy_setup.ids[:2])["rn"]
    assert result.refined is None and 0 <= result.initial.miou <= 1
    assert ab.target_sharpness(result) >= 0


def test_paper_table_difference():
    table = ab.paper_table(
        {"initial": ("t2_initial", 50.04), "sharp": ("s1_avg_sharpness", 0.01)}, profile="toy"
    )
    assert list(table.columns) == ["paper", "ours (toy)", "difference"]
    assert table.loc["initial", "paper"] == 58.6
    assert table.loc["initial", "difference"] == pytest.approx(-8.6, abs=0.05)
    assert table.loc["sharp", "difference"] == pytest.approx(0.006)


def test_class_cam_and_figure(toy_setup):
    (image_id,) = toy_setup.ids[:1]
    name = TOY_CLASSES[toy_setup.dataset.sample(image_id).labels[0]]
    assert ab.ids_with_class(toy_setup, name)[0] == image_id
    cam = ab.class_cam(toy_setup, {}, image_id, name)
    assert cam.shape == (96, 96) and 0 <= cam.min() and cam.max() <= 1
    fig = ab.cam_grid_figure(
        toy_setup, {"default": {}, "cls": {"pooling": "cls"}}, [(image_id, name)]
    )
    assert len(fig.axes) == 3


def test_scene_backgrounds_guide_the_choice_of_images(toy_setup):
    scenes = ab.scene_backgrounds(toy_setup.dataset)
    assert set(scenes) >= set(toy_setup.ids)
    image_id = toy_setup.ids[-1]
    name = TOY_CLASSES[toy_setup.dataset.sample(image_id).labels[0]]
    assert image_id in ab.ids_with_class(toy_setup, name, n=4, background=scenes[image_id])
    # An unknown texture is ignored rather than leaving no image.
    assert ab.ids_with_class(toy_setup, name, background="lava")
