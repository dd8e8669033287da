"""WeakCLIP's component switches (``use_adapter``, ``use_coattention``): on by default and then
the forward is the official one, step by step; off, each changes the output exactly as its
docstring says, with the same weights elsewhere."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from clipwsss.cli.main import build_parser
from clipwsss.clip.loading import load_clip
from clipwsss.experiments.profiles import get_profile
from clipwsss.methods.weakclip import build_weakclip, faithful, parameter_counts
from clipwsss.methods.weakclip.decoder import resize_scores
from clipwsss.methods.weakclip.train import param_groups
from clipwsss.methods.weakclip.vision import resize_pyramid, visual_features
from clipwsss.train.tasks.weakclip_recipes import get_recipe


@pytest.fixture(scope="module")
def toy():
    profile = get_profile("toy")
    clip = load_clip(profile.model, profile.pretrained)
    names = ["background", *profile.class_names()]
    torch.manual_seed(0)
    return clip, names, torch.randn(2, 3, 96, 96)


def _model(toy, **switches):
    """The toy recipe's model in eval mode, every shared weight copied from the default's."""
    clip, names, _ = toy
    config = dataclasses.replace(get_recipe("toy").model, **switches)
    torch.manual_seed(0)
    default = build_weakclip(clip, names, get_recipe("toy").model)
    model = build_weakclip(clip, names, config)
    missing, unexpected = model.load_state_dict(default.state_dict(), strict=False)
    assert not missing
    return model.eval(), default.eval()


def _written_out(model, x, *, adapter: bool, coattention: bool):
    """WeakCLIP's forward step by step (module docstring of ``model.py``)."""
    feats = visual_features(model.visual, x, model.config.feature_blocks)
    text = model.text_encoder()[None].expand(x.shape[0], -1, -1)
    visual = torch.cat(
        [feats.global_embedding[:, None], feats.pixel_embedding.flatten(2).transpose(1, 2)], 1
    )
    if coattention:
        d_text, d_visual = model.coattention(text, visual)
        text, visual = text + model.gamma * d_text, visual + model.beta * d_visual
    h, w = feats.pixel_embedding.shape[-2:]
    scores = torch.einsum(
        "bnc,bkc->bkn", F.normalize(visual[:, 1:], dim=-1), F.normalize(text, dim=-1)
    ).reshape(x.shape[0], -1, h, w)
    pyramid = model.adapter(feats.maps) if adapter else resize_pyramid(feats.maps)
    sized = resize_scores(scores, [p.shape[-2:] for p in pyramid])
    fused = tuple(torch.cat([p, s], dim=1) for p, s in zip(pyramid, sized, strict=True))
    return model.head(model.neck(fused)), scores


@torch.no_grad()
def test_default_is_on_and_equals_the_official_forward_exactly(toy):
    assert faithful().use_adapter and faithful().use_coattention
    model, _ = _model(toy)
    logits, scores = _written_out(model, toy[2], adapter=True, coattention=True)
    out = model(toy[2])
    assert torch.equal(out.logits, logits) and torch.equal(out.scores, scores)
    assert {"adapter", "coattention", "gamma", "beta"} <= set(parameter_counts(model).by_part)
    assert [g.name for g in param_groups(model)] == ["decoder", "adapter"]


@torch.no_grad()
def test_adapter_off_resizes_the_frozen_maps_and_changes_only_the_logits(toy):
    model, default = _model(toy, use_adapter=False)
    x = toy[2]
    out, ref = model(x), default(x)
    assert model.adapter is None and "adapter" not in parameter_counts(model).by_part
    assert torch.equal(out.scores, ref.scores)  # the score map does not see the adapter
    assert (out.logits - ref.logits).abs().max() > 1e-3
    logits, _ = _written_out(model, x, adapter=False, coattention=True)
    assert torch.equal(out.logits, logits)
    maps = visual_features(model.visual, x, model.config.feature_blocks).maps
    sizes = [tuple(p.shape[-2:]) for p in resize_pyramid(maps)]
    assert (
        sizes
        == [tuple(p.shape[-2:]) for p in default.adapter(maps)]
        == [
            (48, 48),
            (24, 24),
            (12, 12),
            (6, 6),
        ]
    )


@torch.no_grad()
def test_coattention_off_matches_the_frozen_features_unchanged(toy):
    model, default = _model(toy, use_coattention=False)
    x = toy[2]
    out, ref = model(x), default(x)
    assert model.coattention is None and model.gamma is None and model.beta is None
    assert not {"coattention", "gamma", "beta"} & set(parameter_counts(model).by_part)
    assert (out.scores - ref.scores).abs().max() > 1e-4
    assert (out.logits - ref.logits).abs().max() > 1e-4
    logits, scores = _written_out(model, x, adapter=True, coattention=False)
    assert torch.equal(out.scores, scores) and torch.equal(out.logits, logits)
    default.gamma.zero_()  # no update scaled in: the same as no co-attention
    default.beta.zero_()
    assert torch.allclose(default(x).scores, out.scores, atol=1e-6)


def test_both_off_still_trains(toy):
    model, _ = _model(toy, use_adapter=False, use_coattention=False)
    model.train()
    groups = param_groups(model)
    assert [g.name for g in groups] == ["decoder"]
    optimizer = torch.optim.AdamW([{"params": g.params} for g in groups], lr=1e-3)
    out = model(toy[2])
    (out.logits.square().mean() + out.scores.square().mean()).backward()
    assert model.text_encoder.contexts.grad.abs().sum() > 0  # prompts learn through Eq. 4
    optimizer.step()


def test_cli_flags_switch_the_components_off():
    args = build_parser().parse_args(["train", "weakclip", "--no-adapter", "--no-coattention"])
    assert (getattr(args, "model.use_adapter"), getattr(args, "model.use_coattention")) == (
        False,
        False,
    )
    args = build_parser().parse_args(["train", "weakclip"])
    assert getattr(args, "model.use_adapter") is None  # unset: the recipe's (on)


def test_ablation_script_puts_added_rows_into_the_kept_table():
    import importlib.util
    from pathlib import Path

    import pandas as pd

    path = Path(__file__).resolve().parents[1] / "scripts" / "weakclip_ablations.py"
    spec = importlib.util.spec_from_file_location("weakclip_ablations", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cols = ["run", "mIoU", "minus default"]
    default, labels = "default (N 8, init 0.1, faithful)", "CLIP-ES dCRF (the seeds' labels)"
    old = pd.DataFrame(
        [[default, 68.5, 0.0], ["N 2", 65.5, -2.9], [labels, 52.8, -15.6]], columns=cols
    )
    new = pd.DataFrame(
        [[default, 68.5, 0.0], ["no adapter", 66.2, -2.2], [labels, 52.8, -15.6]], columns=cols
    )
    merged = script.merge(old, new)
    assert list(merged.run) == [default, "N 2", "no adapter", labels]
    changed = new.copy()
    changed.loc[0, "mIoU"] = 68.6  # the rerun default differs: the kept rows are not paired
    with pytest.raises(ValueError, match="changed rows"):
        script.merge(old, changed)
