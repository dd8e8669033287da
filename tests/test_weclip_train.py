"""WeCLIP training step, samples and inference on the toy world with the micro-CLIP."""

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from clipwsss.clip.loading import load_clip
from clipwsss.data import VOCDataset, load_label_png
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, get_profile
from clipwsss.io.camfiles import OutputMismatchError
from clipwsss.methods.weclip.config import WeClipConfig
from clipwsss.methods.weclip.infer import InferenceConfig
from clipwsss.methods.weclip.model import WeClip
from clipwsss.methods.weclip.samples import WeClipTrainSet, random_rescale_flip_crop
from clipwsss.methods.weclip.train import toy_config, training_step
from clipwsss.pipelines.predict import predict_dataset
from clipwsss.pipelines.tta import predict_label, scale_inputs, tta_scores, weclip_tta
from clipwsss.toy import generate_toy_voc
from clipwsss.train.tasks.weclip import RECIPES

TOY_ITERS = RECIPES["toy"].train.iterations  # toy_config() switches at a fraction of the run


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root, n_train=4, n_val=2, seed=0, image_size=TOY_IMAGE_SIZE)
    profile = get_profile("toy", data_root=str(root))
    clip = load_clip(profile.model, profile.pretrained)
    train = VOCDataset(root, "train", class_names=profile.class_names())
    val = VOCDataset(root, "val", class_names=profile.class_names())
    return profile, clip, train, val


def _batch(train, crop=96, seed=0):
    np.random.seed(seed)
    items = WeClipTrainSet(train, crop=crop)
    return default_collate([items[i] for i in range(len(train))])


def test_one_step_lowers_the_loss(toy):
    profile, clip, train, _ = toy
    torch.manual_seed(0)
    model = WeClip(clip, profile.vocabulary(), toy_config()).eval()  # eval: no dropout noise
    batch = _batch(train)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    before = training_step(model, batch, step=1, iterations=TOY_ITERS)
    before.total.backward()
    opt.step()
    with torch.no_grad():
        after = training_step(model, batch, step=2, iterations=TOY_ITERS)
    assert after.total.item() < before.total.item() - 1e-3
    assert "step_count" not in model.state_dict()  # the engine passes the step


def test_padding_ignored_only_when_asked(toy):
    profile, clip, train, _ = toy
    batch = _batch(train, crop=160)  # toy images are 96 px: a 160 crop always has padding
    assert not bool(batch["valid"].all())
    for ignore in (False, True):
        torch.manual_seed(0)
        cfg = toy_config(ignore_padding=ignore)
        model = WeClip(clip, profile.vocabulary(), cfg).eval()
        out = model(batch["pixels"])
        loss = training_step(model, batch, step=1, iterations=TOY_ITERS)
        assert torch.isfinite(loss.total)
        assert out.decoder.logits.shape == (4, 11, 20, 20)


def test_augmentation_shapes_and_padding():
    rng = np.random.default_rng(0)
    image = np.full((50, 70, 3), 200, np.uint8)
    crop, valid = random_rescale_flip_crop(image, rng, crop=64, scale_range=(0.5, 0.5))
    assert crop.shape == (64, 64, 3) and valid.shape == (64, 64)
    assert valid.sum() == 25 * 35 and (crop[~valid] == 0).all() and (crop[valid] == 200).all()


def test_bad_label_sets_get_clear_errors(toy):
    profile, clip, train, _ = toy
    model = WeClip(clip, profile.vocabulary(), toy_config())
    batch = _batch(train)
    batch["labels"][1] = 0
    with pytest.raises(ValueError, match="image 1 of the batch has an empty label set"):
        training_step(model, batch, step=1)


def test_multiscale_flip_inference_and_pngs(toy, tmp_path):
    profile, clip, _, val = toy
    torch.manual_seed(0)
    model = WeClip(clip, profile.vocabulary(), toy_config()).eval()
    x = torch.randn(1, 3, 96, 96)
    single = weclip_tta(InferenceConfig(scales=(1.0,), flip=False, long_side=None))
    one = tta_scores(model, x, single)[0]
    both = tta_scores(model, x, weclip_tta(InferenceConfig(long_side=None)))[0]
    assert one.shape == both.shape == (11, 96, 96)
    assert not torch.allclose(one, both)
    flipped = tta_scores(model, x.flip(-1), weclip_tta(InferenceConfig(long_side=None)))[0]
    torch.testing.assert_close(flipped, both.flip(-1), atol=1e-4, rtol=1e-4)  # flip-symmetric
    cfg = weclip_tta(InferenceConfig(long_side=None))
    kw = {"method": "weclip", "trained": {"weights_sha256": "x"}, "progress": False}
    assert predict_dataset(model, val, tmp_path / "pred", cfg, **kw).done == 2
    assert predict_dataset(model, val, tmp_path / "pred", cfg, **kw).done == 0  # resume
    label = load_label_png(tmp_path / "pred" / f"{val.ids[0]}.png")
    assert label.shape == (96, 96) and label.max() < 11
    with pytest.raises(OutputMismatchError, match="other settings"):
        predict_dataset(model, val, tmp_path / "pred", weclip_tta(InferenceConfig()), **kw)
    with pytest.raises(ValueError, match="positive"):
        weclip_tta(InferenceConfig(scales=(1.0, -1.0)))


def test_recipes():
    voc, coco = RECIPES["voc12"].train, RECIPES["coco14"].train
    assert (voc.iterations, voc.batch_size, RECIPES["voc12"].data.crop, voc.lr) == (
        30000,
        4,
        320,
        2e-3,
    )
    assert (voc.warmup_iters, voc.power, coco.iterations) == (50, 1.0, 80000)


def test_label_sources(tmp_path, make_rect_voc):
    from clipwsss.methods.weclip.samples import image_labels

    ds = make_rect_voc(tmp_path / "voc", n=2)
    assert image_labels(ds, 1) == ds[1].labels  # default: the data set's source (XML)
    assert sorted(image_labels(ds, 1, from_gt=True)) == sorted(ds[1].labels)  # the GT PNG
    empty = make_rect_voc(tmp_path / "voc_empty", n=2, empty=("no_objects",))
    with pytest.raises(ValueError, match="no image-level label.*no_objects"):
        WeClipTrainSet(empty)


def test_rfm_switch_follows_the_optimizer_step(toy, monkeypatch):
    profile, clip, train, _ = toy
    cfg = toy_config(rfm_start=2, rfm_start_fraction=None)  # switch at step 3
    model = WeClip(clip, profile.vocabulary(), cfg)
    seen, real = [], model.pseudo_labels

    def spy(pixels, out, labels, *, use_rfm):
        seen.append(use_rfm)
        return real(pixels, out, labels, use_rfm=use_rfm)

    monkeypatch.setattr(model, "pseudo_labels", spy)
    batch = _batch(train)
    for step in (1, 2, 3, 4):
        training_step(model, batch, step=step)
    assert seen == [False, False, True, True]
    seen.clear()
    for step in (2, 2, 3, 3):  # micro-batches of optimizer steps 2 and 3: the step decides
        training_step(model, batch, step=step)
    assert seen == [False, False, True, True]


def test_checkpoints_with_the_old_step_counter_still_load(toy):
    """Checkpoints written while WeClip kept a ``step_count`` buffer load without it."""
    profile, clip, _, _ = toy
    model = WeClip(clip, profile.vocabulary(), toy_config())
    state = {**model.state_dict(), "step_count": torch.tensor(7)}
    model.load_state_dict(state)  # strict: only the old counter is dropped
    with pytest.raises(RuntimeError, match="Unexpected key"):
        model.load_state_dict({**state, "other": torch.tensor(1)})


def test_toy_rfm_switch_follows_the_run_length(toy, monkeypatch):
    cfg = toy_config()
    assert cfg.rfm_switch_iteration(300) == 92  # round(300 * 9145 / 30000) + 1
    assert cfg.rfm_switch_iteration(600) == 184  # --iterations 600: still 30.5 % of the run
    with pytest.raises(ValueError, match="pass the run's iterations"):
        cfg.rfm_switch_iteration()
    assert WeClipConfig().rfm_switch_iteration() == 9145  # official VOC, validation counted
    profile, clip, train, _ = toy
    model = WeClip(clip, profile.vocabulary(), toy_config(rfm_start_fraction=0.5))
    seen, real = [], model.pseudo_labels
    monkeypatch.setattr(
        model,
        "pseudo_labels",
        lambda *a, use_rfm: (seen.append(use_rfm), real(*a, use_rfm=use_rfm))[1],
    )
    batch = _batch(train)
    for step in (2, 3):  # a 4-step run switches at step 3; a 6-step run at step 4
        training_step(model, batch, step=step, iterations=4)
        training_step(model, batch, step=step, iterations=6)
    assert seen == [False, False, True, False]
    with pytest.raises(ValueError, match="pass the run's iterations"):
        training_step(model, batch, step=1)


def test_crf_inference_option(toy):
    from clipwsss.data import load_image
    from clipwsss.pipelines.tta import scores_to_label

    profile, clip, _, val = toy
    torch.manual_seed(0)
    model = WeClip(clip, profile.vocabulary(), toy_config()).eval()
    image = load_image(val[0].image_path)
    plain = predict_label(model, image, weclip_tta(InferenceConfig(long_side=None)))
    with_crf = weclip_tta(InferenceConfig(long_side=None, crf=True))
    crf = predict_label(model, image, with_crf)
    assert crf.shape == plain.shape == (96, 96) and crf.dtype == np.uint8
    assert crf.max() < 11
    scores = tta_scores(model, model.preprocess(image)[None], with_crf)[0]
    with pytest.raises(ValueError, match="CRF needs the uint8 photo"):
        scores_to_label(scores, None, with_crf)


def test_scale_inputs_follow_the_official_test_script():
    """Sides truncated (no rounding to 16), scale 0.75 made from the 512-long-side image."""
    import torch.nn.functional as F

    for (h, w), sizes in (
        ((375, 500), [(384, 512), (288, 384)]),
        ((500, 333), [(512, 340), (384, 255)]),
    ):
        x = torch.randn(1, 3, h, w)
        xs = scale_inputs(x, weclip_tta(InferenceConfig()))
        assert [tuple(v.shape[-2:]) for v in xs] == sizes
        again = F.interpolate(xs[0], scale_factor=0.75, mode="bilinear", align_corners=False)
        torch.testing.assert_close(xs[1], again, atol=0, rtol=0)
    with pytest.raises(ValueError, match="must include 1.0"):
        weclip_tta(InferenceConfig(scales=(0.75,)))


def test_multiscale_logits_average_on_the_scale1_grid(toy):
    """The scale-0.75 logits are resized to the scale-1 logit grid, averaged there with the
    scale-1 logits (flip-averaged each) and upsampled once to the input size."""
    import torch.nn.functional as F

    profile, clip, _, _ = toy
    torch.manual_seed(0)
    model = WeClip(clip, profile.vocabulary(), toy_config()).eval()
    x = torch.randn(1, 3, 100, 75)  # 75 px: not a multiple of the 8 px patch
    with torch.no_grad():
        one = model(torch.cat([x, x.flip(-1)])).decoder.logits
        small = F.interpolate(x, scale_factor=0.75, mode="bilinear", align_corners=False)
        low = model(torch.cat([small, small.flip(-1)])).decoder.logits
    assert one.shape[-2:] == (12, 9)  # the patch convolution drops the remainder
    low = F.interpolate(low, size=(12, 9), mode="bilinear", align_corners=False)
    mean = ((one[0] + one[1].flip(-1)) / 2 + (low[0] + low[1].flip(-1)) / 2) / 2
    want = F.interpolate(mean[None], size=(100, 75), mode="bilinear", align_corners=False)[0]
    got = tta_scores(model, x, weclip_tta(InferenceConfig(long_side=None)))[0]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
