import pytest

from clipwsss.experiments.profiles import PROFILE_NAMES, get_profile


def test_every_profile_resolves_with_its_vocabulary():
    sizes = {"toy": 10, "voc12": 20, "coco14": 80}
    for name in PROFILE_NAMES:
        profile = get_profile(name)
        assert len(profile.vocabulary()) == sizes[name] == profile.n_classes - 1


def test_real_profiles_use_openai_vit_b16_and_the_papers_lambda():
    assert get_profile("voc12").model == "ViT-B-16"
    assert get_profile("voc12").pretrained == "openai"
    assert get_profile("voc12").clip_es.box_threshold == 0.4
    assert get_profile("coco14").clip_es.box_threshold == 0.7


def test_toy_profile_points_at_the_shipped_open_clip_folder():
    profile = get_profile("toy")
    assert profile.model.startswith("local-dir:")
    assert profile.pretrained is None


def test_overrides_and_unknown_names():
    assert get_profile("voc12", data_root="/x").data_root == "/x"
    with pytest.raises(KeyError, match="known profiles"):
        get_profile("pascal")


def test_pretrained_is_honoured_by_the_real_profiles_and_refused_by_toy():
    for name in ("voc12", "coco14"):
        assert get_profile(name, pretrained="/w/ViT-B-16.pt").pretrained == "/w/ViT-B-16.pt"
        assert get_profile(name, pretrained="env").pretrained == "env"
        assert get_profile(name, pretrained="").pretrained == "openai"  # '' keeps the profile's
    assert get_profile("toy", pretrained="").pretrained is None
    with pytest.raises(ValueError, match="toy world runs the shipped micro-CLIP"):
        get_profile("toy", pretrained="/w/ViT-B-16.pt")
