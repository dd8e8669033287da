"""WeakCLIP training pieces on the toy world: seeds, augmentation, groups, one step."""

import numpy as np
import pytest
import torch

from clipwsss.clip.loading import load_clip
from clipwsss.data import VOCDataset, save_label_png
from clipwsss.experiments.profiles import get_profile
from clipwsss.methods.weakclip import build_weakclip, corrected
from clipwsss.methods.weakclip.data import BadSeedError, SeedDataset, augment, load_seed
from clipwsss.methods.weakclip.train import param_groups, training_step
from clipwsss.toy import generate_toy_voc
from clipwsss.train.tasks.weakclip_recipes import get_recipe, with_run

RECIPE = get_recipe("toy")


@pytest.fixture(scope="module")
def toy():
    profile = get_profile("toy")
    clip = load_clip(profile.model, profile.pretrained)
    return clip, ["background", *profile.class_names()]


@pytest.fixture(scope="module")
def toy_voc(tmp_path_factory, toy):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root, n_train=4, n_val=0, seed=3, image_size=96)
    return VOCDataset(root, "train", class_names=toy[1][1:])


def _seed_dataset(toy_voc, seed_dir):
    r = RECIPE.data
    return SeedDataset(
        toy_voc, seed_dir, crop_size=r.crop_size, scale_range=r.scale_range, mean=r.mean, std=r.std
    )


def test_one_training_step_lowers_the_loss(toy, toy_voc):
    clip, names = toy
    torch.manual_seed(0)
    np.random.seed(0)
    model = build_weakclip(clip, names, RECIPE.model)
    data = _seed_dataset(toy_voc, toy_voc.root / "SegmentationClass")  # GT as seeds
    batch = torch.utils.data.default_collate([data[i] for i in range(4)])
    groups = param_groups(model)
    opt = torch.optim.AdamW([{"params": g.params, "lr": 1e-3 * g.lr_mult} for g in groups])
    kw = dict(mean=RECIPE.data.mean, std=RECIPE.data.std)
    torch.manual_seed(1)
    before = training_step(model, batch, RECIPE.loss, **kw)
    assert before.seed > 0 and before.boundary > 0 and before.aux > 0
    before.total.backward()
    opt.step()
    torch.manual_seed(1)  # same dropout masks
    after = training_step(model, batch, RECIPE.loss, **kw)
    assert after.total.item() < before.total.item() - 1e-3


def test_param_groups_follow_the_mode(toy):
    clip, names = toy
    for config, adapter_mult in ((RECIPE.model, 0.0), (corrected(**_toy_arch()), 1.0)):
        model = build_weakclip(clip, names, config)
        groups = {g.name: g for g in param_groups(model)}
        assert groups["adapter"].lr_mult == adapter_mult and groups["decoder"].lr_mult == 1.0
        ids = [id(p) for g in groups.values() for p in g.params]
        assert len(ids) == len(set(ids))
        assert set(ids) == {id(p) for p in model.parameters() if p.requires_grad}


def _toy_arch():
    m = RECIPE.model
    keep = (
        "feature_blocks",
        "input_resolution",
        "name_context",
        "coattn_width",
        "neck_channels",
        "head_channels",
    )
    return {k: getattr(m, k) for k in keep}


def test_bad_seeds_get_a_clear_error(tmp_path):
    path = tmp_path / "a.png"
    save_label_png(path, np.zeros((10, 12), np.uint8))
    with pytest.raises(BadSeedError, match="12x10 pixels but its image is 14x10"):
        load_seed(path, shape=(10, 14), n_classes=3)
    label = np.zeros((10, 12), np.uint8)
    label[0, 0], label[1, 1] = 7, 255
    save_label_png(path, label)
    with pytest.raises(BadSeedError, match=r"class ids \[7\] outside 0..2"):
        load_seed(path, shape=(10, 12), n_classes=3)
    with pytest.raises(FileNotFoundError, match="seed mask not found"):
        load_seed(tmp_path / "missing.png", shape=(10, 12), n_classes=3)


def test_seed_dataset_reads_the_seed_folder(toy_voc, tmp_path):
    sample = toy_voc[0]
    save_label_png(tmp_path / f"{sample.image_id}.png", np.full((50, 50), 1, np.uint8))
    with pytest.raises(BadSeedError, match="50x50 pixels"):
        _seed_dataset(toy_voc, tmp_path)[0]


def test_augment_pads_seeds_with_ignore():
    rng = np.random.default_rng(0)
    pixels, seed = torch.randn(3, 20, 30), torch.ones(20, 30, dtype=torch.long)
    p, s = augment(pixels, seed, crop=48, scale_range=(1.0, 1.0), rng=rng)
    assert p.shape == (3, 48, 48) and s.shape == (48, 48)
    assert set(s.unique().tolist()) == {1}  # short side 48, long side 72: cropped, no pad
    p, s = augment(pixels, seed, crop=48, scale_range=(0.5, 0.5), rng=rng)
    assert (s == 255).float().mean() > 0.5 and (p[:, s == 255] == 0).all()


def test_engine_task_trains_and_resumes_exactly(toy, toy_voc, tmp_path):
    import shutil

    from clipwsss.train import checkpoint_steps, train
    from clipwsss.train.tasks.weakclip import WeakClipTask, with_run

    def train_weakclip(clip, names, dataset, seeds, recipe, run_dir, **kw):
        recipe = with_run(recipe, run_dir, **kw)
        assert WeakClipTask(recipe, dataset, seed_dir=seeds).config()["recipe"]["clip"] == {
            "model": "toy",
            "pretrained": None,
            "classes": "toy",
        }  # the CLIP by name
        return train(WeakClipTask(recipe, dataset, seed_dir=seeds, clip=clip), recipe.train)

    clip, names = toy
    seeds = toy_voc.root / "SegmentationClass"
    kw = dict(
        iterations=3,
        batch_size=2,
        checkpoint_interval=1,
        log_interval=1,
        device="cpu",
        progress=False,
    )
    full = train_weakclip(clip, names, toy_voc, seeds, RECIPE, tmp_path / "a", **kw)
    losses = [r["loss"] for r in full.history if r["kind"] == "train"]
    assert len(losses) == 3 and all(np.isfinite(losses))
    # A run killed after step 2: its step-3 checkpoint and final model never got written.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "step-00000003")
    (tmp_path / "b" / "model.safetensors").unlink()
    assert checkpoint_steps(tmp_path / "b") == [2]
    resumed = train_weakclip(clip, names, toy_voc, seeds, RECIPE, tmp_path / "b", **kw)
    assert resumed.resumed_from == 2
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    # Faithful: the adapter's group has lr_mult 0, so only its BN statistics move.
    from safetensors.torch import load_file

    step2 = load_file(tmp_path / "a" / "checkpoints" / "step-00000002" / "model.safetensors")
    moved = {n for n in step2 if not torch.equal(step2[n], a[n])}
    assert {n for n in moved if n.startswith("adapter.")} == {
        "adapter.fpn1.2.running_mean",
        "adapter.fpn1.2.running_var",
        "adapter.fpn1.2.num_batches_tracked",
    }
    assert {"gamma", "beta", "text_encoder.contexts", "head.conv_seg.weight"} <= moved
    assert not any(n.startswith(("visual.", "text_encoder.transformer.")) for n in moved)
    # The frozen CLIP towers are not copied into checkpoints or the final weights: rebuilt
    # from the recipe's CLIP (checked by fingerprint), they load back all the same.
    final = load_file(tmp_path / "a" / "model.safetensors")
    assert (
        set(final)
        == set(step2)
        == {
            n
            for n in a
            if not n.startswith(("visual.", "text_encoder.")) or n == "text_encoder.contexts"
        }
    )
    from clipwsss.train.runs import load_run

    recipe, loaded = load_run(tmp_path / "a")
    assert recipe.train.iterations == 3
    for name, value in loaded.state_dict().items():
        torch.testing.assert_close(value, a[name].cpu(), rtol=0, atol=0, msg=name)


def test_voc_recipe_maps_to_the_official_schedule(tmp_path):
    from clipwsss.train import lr_factor

    config = get_recipe("voc12").train
    assert (config.optimizer, config.schedule, config.iterations) == ("adamw", "cosine", 20_000)
    assert (config.lr, config.weight_decay, config.warmup_iters) == (1e-4, 3e-5, 1500)
    assert config.lr * lr_factor(0, config) == pytest.approx(1e-10)  # warm-up ratio 1e-6
    assert config.lr * lr_factor(20_000, config) == pytest.approx(1e-6)  # absolute min_lr
    assert get_recipe("coco14").train.iterations == 40_000
    assert get_recipe("coco14").train.batch_size == 24 and config.batch_size == 16
    assert with_run(get_recipe("voc12"), "r", iterations=100).train.warmup_iters == 100
