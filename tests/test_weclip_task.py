"""WeCLIP on the shared engine: a toy run trains, and a crashed run resumes to the same weights."""

import dataclasses

import pytest
import torch

import clipwsss.train.tasks.weclip as task_module
from clipwsss.data import VOCDataset
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE, get_profile
from clipwsss.toy import generate_toy_voc
from clipwsss.train import checkpoint_steps, train
from clipwsss.train.tasks.common import clip_name, spec_vocabulary
from clipwsss.train.tasks.weclip import RECIPES, WeClipTask


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    generate_toy_voc(root, n_train=6, n_val=2, seed=0, image_size=TOY_IMAGE_SIZE)
    return root


def _recipe(run_dir, **changes):
    recipe = RECIPES["toy"]
    values = {
        **dict(
            iterations=4,
            batch_size=2,
            warmup_iters=1,
            checkpoint_interval=2,
            run_dir=str(run_dir),
            progress=False,
        ),
        **changes,
    }
    recipe = dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, eval_split="val"))
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, **values))


def _task(root, recipe):
    names = get_profile("toy").class_names()
    split = VOCDataset(root, "train", class_names=names)
    return WeClipTask(recipe, split, eval_dataset=VOCDataset(root, "val", class_names=names))


def _run(root, run_dir, **changes):
    recipe = _recipe(run_dir, **changes)
    return train(_task(root, recipe), recipe.train)


def test_recipe_configs():
    voc = RECIPES["voc12"].train
    assert (voc.iterations, voc.batch_size, voc.lr, voc.optimizer) == (30000, 4, 2e-3, "adamw")
    assert (voc.warmup_iters, voc.power, voc.weight_decay) == (50, 1.0, 0.01)
    assert (voc.schedule, voc.seed, RECIPES["voc12"].data.crop) == ("poly", 1, 320)
    assert RECIPES["coco14"].train.iterations == 80000
    assert RECIPES["coco14"].model.n_classes == 81


def test_crash_then_resume_gives_the_same_weights(toy_root, tmp_path, monkeypatch):
    straight = _run(toy_root, tmp_path / "straight")
    assert straight.step == 4 and "val_miou" in straight.final_eval

    real_step, calls = task_module.training_step, []

    def crash_at_third(model, batch, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("simulated crash in step 3")
        return real_step(model, batch, **kwargs)

    monkeypatch.setattr(task_module, "training_step", crash_at_third)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(toy_root, tmp_path / "resumed")
    assert checkpoint_steps(tmp_path / "resumed") == [2]
    monkeypatch.setattr(task_module, "training_step", real_step)
    resumed = _run(toy_root, tmp_path / "resumed")
    assert resumed.resumed_from == 2
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, atol=0, rtol=0)


def test_toy_recipe_matches_the_toy_profile():
    # train/tasks (layer 4) cannot read experiments.profiles: its copy must stay the same.
    profile = get_profile("toy")
    spec = RECIPES["toy"].clip
    assert (clip_name(spec), spec.pretrained) == (profile.model, profile.pretrained)
    assert spec_vocabulary(spec) == profile.vocabulary()


def test_rfm_switch_counts_optimizer_steps_not_micro_batches(toy_root, tmp_path, monkeypatch):
    """With grad_accum=2 the engine passes each optimizer step (and the run's length) to both
    of its micro-batches: 3 optimizer steps, not 6 micro-batch counts."""
    real_step, seen = task_module.training_step, []

    def spy(model, batch, **kwargs):
        seen.append((kwargs["step"], kwargs["iterations"]))
        return real_step(model, batch, **kwargs)

    monkeypatch.setattr(task_module, "training_step", spy)
    result = _run(toy_root, tmp_path / "run", iterations=3, grad_accum=2)
    assert seen == [(1, 3), (1, 3), (2, 3), (2, 3), (3, 3), (3, 3)]
    assert result.step == 3
