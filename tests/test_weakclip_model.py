"""WeakCLIP model: parameter counts, shapes at 512, gradient flow, prompts, tower quirks."""

import pytest
import torch

from clipwsss.clip.loading import load_clip
from clipwsss.data.classes import VOC_CLASSES
from clipwsss.methods.weakclip import build_weakclip, corrected, faithful, parameter_counts
from clipwsss.methods.weakclip.prompts import LearnablePrompts, tokenize_names
from clipwsss.methods.weakclip.vision import DenseClipVisual, visual_features

VOC_K = ["background", *VOC_CLASSES]
DEAD = (
    "coattention.decoder.0.",
    "coattention.decoder.1.",
    "coattention.anti_decoder.0.",
    "coattention.anti_decoder.1.",
)


@pytest.fixture(scope="module")
def vitb16():
    torch.manual_seed(0)
    return load_clip("ViT-B-16-quickgelu", pretrained=None)


def test_parameter_counts_match_the_official_model(vitb16):
    counts = parameter_counts(build_weakclip(vitb16, VOC_K, faithful()))
    assert counts.trainable == 21_240_853  # WeakCLIP Table 9: 21.2M
    assert counts.total == 171_464_725  # 171.5M
    assert counts.by_part == {
        "adapter": 7_087_872,
        "coattention": 6_840_832,
        "neck": 3_169_280,
        "head": 4_137_749,
        "text_encoder": 4_096,
        "gamma": 512,
        "beta": 512,
    }
    assert parameter_counts(build_weakclip(vitb16, VOC_K, corrected())).trainable == 21_240_853


def _grad_names(vitb16, config) -> tuple[set[str], int, set[str]]:
    torch.manual_seed(0)
    model = build_weakclip(vitb16, VOC_K, config)
    out = model(torch.randn(2, 3, 64, 64))  # 4 x 4 grid: gradient flow does not need 512
    (out.logits.square().mean() + out.scores.square().mean()).backward()
    named = dict(model.named_parameters())
    with_grad = {n for n, p in named.items() if p.grad is not None and p.grad.abs().sum() > 0}
    trainable = {n for n, p in named.items() if p.requires_grad}
    return with_grad, sum(named[n].numel() for n in with_grad), trainable


def test_faithful_gradients_skip_exactly_the_dead_coattention_layers(vitb16):
    with_grad, n_grad, trainable = _grad_names(vitb16, faithful())
    assert with_grad <= trainable  # nothing of the frozen CLIP
    dead = trainable - with_grad
    assert dead and all(n.startswith(DEAD) for n in dead)
    assert {n for n in trainable if n.startswith(DEAD)} == dead
    # Measured: 21,240,853 - 4 x 1,051,904 = 17,033,237 receive a gradient; of these the
    # adapter's 7,087,872 have lr_mult 0, so 9,945,365 learn at the base lr.
    assert n_grad == 17_033_237


def test_corrected_gradients_reach_every_trainable_parameter(vitb16):
    with_grad, n_grad, trainable = _grad_names(vitb16, corrected())
    assert with_grad == trainable
    assert n_grad == 21_240_853


@pytest.mark.slow
def test_shapes_at_512(vitb16):
    model = build_weakclip(vitb16, VOC_K).eval()
    pixels = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        feats = visual_features(model.visual, pixels, model.config.feature_blocks)
        pyramid = model.adapter(feats.maps)
        out = model(pixels)
    assert model.visual.positional_embedding.shape == (1025, 768)
    assert [tuple(p.shape) for p in pyramid] == [(1, 768, s, s) for s in (128, 64, 32, 16)]
    assert feats.pixel_embedding.shape == (1, 512, 32, 32)
    assert out.scores.shape == (1, 21, 32, 32)
    assert out.logits.shape == (1, 21, 128, 128)
    assert out.scores.abs().max() <= 1 + 1e-5  # cosine similarities


def test_single_class_embedding_reproduces_open_clip(tiny_vit):
    visual = tiny_vit.model.visual
    view = DenseClipVisual(visual, input_resolution=64, double_class=False)
    pixels = torch.randn(2, 3, 64, 64)
    feats = visual_features(view, pixels, (1, 2, 3, 3))
    torch.testing.assert_close(feats.global_embedding, visual(pixels), atol=1e-5, rtol=1e-4)
    doubled = DenseClipVisual(visual, input_resolution=64, double_class=True)
    torch.testing.assert_close(doubled.class_embedding, 2 * visual.class_embedding)
    other = visual_features(doubled, pixels, (1, 2, 3, 3)).global_embedding
    assert (other - feats.global_embedding).abs().max() > 1e-3


def test_positional_table_is_resized_for_the_training_grid(tiny_vit):
    view = DenseClipVisual(tiny_vit.model.visual, input_resolution=128, double_class=True)
    assert view.positional_embedding.shape == (1 + 8 * 8, 48)
    assert not view.positional_embedding.requires_grad
    with pytest.raises(ValueError, match="multiple"):
        DenseClipVisual(tiny_vit.model.visual, input_resolution=100, double_class=True)


def test_prompt_embeddings_reproduce_encode_text(tiny_vit):
    """Contexts set to the embedding of real words give CLIP's own text feature."""
    model, tok = tiny_vit.model, tiny_vit.tokenizer
    ids = tokenize_names(tok, ["cat", "dog"], context=5)
    prompts = LearnablePrompts(model, ids, n_prompts=2)
    words = tok(["a photo"])[0, 1:3]
    with torch.no_grad():
        prompts.contexts.copy_(model.token_embedding(words)[None])
        expected = model.encode_text(tok(["a photo cat", "a photo dog"]))
    torch.testing.assert_close(prompts(), expected, atol=1e-5, rtol=1e-4)
    assert prompts.positional_embedding.shape[0] == 1 + 2 + 4


def test_prompt_gradients_reach_only_the_contexts(tiny_vit):
    ids = tokenize_names(tiny_vit.tokenizer, ["cat", "dog"], context=5)
    prompts = LearnablePrompts(tiny_vit.model, ids, n_prompts=8)
    prompts().square().sum().backward()
    assert prompts.contexts.grad is not None and prompts.contexts.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in prompts.named_parameters() if n != "contexts")


def test_long_class_names_are_refused(tiny_vit):
    with pytest.raises(ValueError, match="more than 5 tokens"):
        tokenize_names(tiny_vit.tokenizer, ["cat", "a very long class name"], context=5)


def test_toy_model_uses_all_four_blocks_of_the_micro_clip():
    from clipwsss.experiments.profiles import get_profile
    from clipwsss.train.tasks.weakclip_recipes import get_recipe

    profile = get_profile("toy")
    clip = load_clip(profile.model, profile.pretrained)
    recipe = get_recipe("toy")
    model = build_weakclip(clip, ["background", *profile.class_names()], recipe.model)
    out = model(torch.randn(2, 3, 96, 96))
    assert recipe.model.feature_blocks == (1, 2, 3, 4)
    assert out.logits.shape == (2, 11, 48, 48) and out.scores.shape == (2, 11, 12, 12)


def test_voc_and_coco_names_fit_the_official_name_context(vitb16):
    from clipwsss.data.classes import COCO_CLASSES

    for classes in (VOC_CLASSES, COCO_CLASSES):
        ids = tokenize_names(vitb16.tokenizer, ["background", *classes], context=5)
        assert ids.shape == (1 + len(classes), 5)
        assert (ids.argmax(dim=1) <= 4).all()  # EOT (the largest id) inside the 5 slots


def test_drop_path_is_official_and_only_trains(tiny_vit):
    """Stochastic depth: rates linspace(0, 0.1, L), masks per token position shared by the
    batch (the official sequence-first tower), off in eval mode; the shared CLIP is untouched."""
    from clipwsss.methods.weakclip.vision import DropPath, drop_path_rates

    assert faithful().drop_path == 0.1 and faithful().drop_path_per_token
    visual = tiny_vit.model.visual
    view = DenseClipVisual(visual, input_resolution=64, double_class=True, drop_path=0.1)
    drops = [m for m in view.modules() if isinstance(m, DropPath)]
    rates = drop_path_rates(0.1, len(visual.transformer.resblocks))
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)
    assert [d.p for d in drops] == rates[1:]  # block 1 has rate 0: no module
    assert all(isinstance(b.ls_1, torch.nn.Identity) for b in visual.transformer.resblocks)
    assert (
        dict(view.state_dict()).keys()
        == dict(DenseClipVisual(visual, input_resolution=64, double_class=True).state_dict()).keys()
    )  # same parameter names as without drop path
    view.train()
    assert not view.ln_pre.training and all(d.training for d in drops)
    torch.manual_seed(0)
    x = torch.ones(3, 50, 4)
    y = DropPath(0.5, per_token=True).train()(x)
    assert (y[0] == y[1]).all() and (y[0] == y[2]).all()  # one mask for the batch
    assert set(y.unique().tolist()) == {0.0, 2.0} and (y[0, :, 0] == 0).any()
    per_image = DropPath(0.5, per_token=False).train()(torch.ones(64, 5, 4))
    assert (per_image == per_image[:, :1]).all() and per_image[:, 0, 0].unique().numel() == 2
    view.eval()
    pixels = torch.randn(2, 3, 64, 64)
    plain = DenseClipVisual(visual, input_resolution=64, double_class=True)
    torch.testing.assert_close(
        visual_features(view, pixels, (1, 2, 3, 3)).global_embedding,
        visual_features(plain, pixels, (1, 2, 3, 3)).global_embedding,
    )


def test_default_init_is_the_official_construction_time_init(vitb16):
    """The official run never calls init_weights(): Kaiming fan-out neck/head convs with zero
    bias, PyTorch's default classifier (non-zero bias). init_weights=True: mmseg's init_cfg."""
    import math

    torch.manual_seed(0)
    model = build_weakclip(vitb16, VOC_K, faithful(neck_channels=64, head_channels=64))
    lateral = model.neck.lateral[0]
    assert lateral.weight.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.05)
    assert model.neck.fpn[0].weight.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.05)
    assert (lateral.bias == 0).all()
    conv = model.head.scale_heads[0][0][0]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.05)
    seg = model.head.conv_seg
    assert seg.bias.abs().max() > 0 and seg.weight.std().item() > 0.05  # U(+-1/sqrt(64))
    mmseg = build_weakclip(
        vitb16, VOC_K, faithful(neck_channels=64, head_channels=64, init_weights=True)
    )
    assert (mmseg.head.conv_seg.bias == 0).all()
    assert mmseg.head.conv_seg.weight.std().item() == pytest.approx(0.01, rel=0.1)
    bound = math.sqrt(6 / (64 + 789))  # Xavier uniform of the 1x1 lateral conv
    assert mmseg.neck.lateral[0].weight.abs().max() <= bound
