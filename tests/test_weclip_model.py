"""WeCLIP model: shapes at crop 320 with a random ViT-B/16, parameter counts, bad input."""

import pytest
import torch

from clipwsss.cams.gradcam import build_text_setup, softmax_gradcam
from clipwsss.clip.loading import load_clip
from clipwsss.methods.weclip.config import WeClipConfig, coco_config
from clipwsss.methods.weclip.model import WeClip
from clipwsss.methods.weclip.pseudo import batch_gradcam
from clipwsss.vocab import coco_vocabulary, make_vocabulary, voc_vocabulary


@pytest.fixture(scope="module")
def vit_b16():
    torch.manual_seed(0)
    return load_clip("ViT-B-16-quickgelu", pretrained=None)


def test_shapes_at_crop_320(vit_b16):
    model = WeClip(vit_b16, voc_vocabulary()).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 320, 320))
    assert model.block_ids == list(range(11))  # blocks 1-11 of 12
    layers = [out.dense.block_tokens[i][:, 1:] for i in model.block_ids]
    assert len(layers) == 11 and all(t.shape == (1, 400, 768) for t in layers)
    assert out.decoder.fused.shape == (1, 256, 20, 20)
    assert out.decoder.logits.shape == (1, 21, 20, 20)
    assert out.decoder.affinity.shape == (1, 400, 400)
    a = out.decoder.affinity[0]
    assert bool(((a > 0) & (a < 1)).all())
    torch.testing.assert_close(a, a.T)


def test_parameter_counts(vit_b16):
    voc = WeClip(vit_b16, voc_vocabulary())
    coco = WeClip(vit_b16, coco_vocabulary(), coco_config())
    assert voc.trainable_parameters() == 5_985_045
    assert coco.trainable_parameters() == 6_000_465
    assert sum(p.numel() for p in vit_b16.model.parameters()) == 149_620_737
    assert not any(p.requires_grad for p in vit_b16.model.parameters())
    # The official model leaves every CLIP parameter named "*11*" (block 11 of both towers,
    # for its GradCAM hooks) requires_grad=True: counting requires_grad there gives 16,225,301.
    official_extra = {n: p.numel() for n, p in vit_b16.model.named_parameters() if "11" in n}
    assert sum(v for n, v in official_extra.items() if n.startswith("visual.")) == 7_087_872
    assert sum(v for n, v in official_extra.items() if not n.startswith("visual.")) == 3_152_384
    assert voc.trainable_parameters() + sum(official_extra.values()) == 16_225_301
    assert set(voc.state_dict()) == {f"decoder.{k}" for k in voc.decoder.state_dict()}


def test_decoder_block_range(tiny_vit):
    vocab = make_vocabulary(["cat", "dog"])
    model = WeClip(tiny_vit, vocab, WeClipConfig(n_classes=3, first_block=2, last_block=3))
    assert model.block_ids == [1, 2]
    with pytest.raises(ValueError, match="not within"):
        WeClip(tiny_vit, vocab, WeClipConfig(n_classes=3, first_block=2, last_block=4))


def test_vocabulary_mismatch_and_empty_labels(tiny_vit):
    vocab = make_vocabulary(["cat", "dog"])
    with pytest.raises(ValueError, match="n_classes"):
        WeClip(tiny_vit, vocab, WeClipConfig(n_classes=21))
    model = WeClip(tiny_vit, vocab, WeClipConfig(n_classes=3, first_block=1))
    x = torch.randn(1, 3, 64, 64)
    out = model(x)
    with pytest.raises(ValueError, match="empty label set"):
        model.pseudo_labels(x, out, [[]], use_rfm=False)
    with pytest.raises(IndexError, match="outside"):
        model.pseudo_labels(x, out, [[5]], use_rfm=False)


def test_batched_gradcam_equals_per_image(tiny_vit):
    """One batched backward over all classes of all images == CLIP-ES per image."""
    from clipwsss.clip.dense import vit_dense_forward

    vocab = make_vocabulary(["cat", "dog", "cow"], background=["sky", "grass"])
    model = WeClip(tiny_vit, vocab, WeClipConfig(n_classes=4))
    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 80)
    labels = [[0, 2], [1]]
    dense = vit_dense_forward(tiny_vit.model.visual, x)
    fg, bg = model.text_features()
    texts = [build_text_setup(fg, bg, lab) for lab in labels]
    cams = batch_gradcam(
        dense.activation,
        dense.image_embedding,
        texts,
        grid=dense.grid,
        logit_scale=model.logit_scale,
    )
    for i in range(2):
        single = vit_dense_forward(tiny_vit.model.visual, x[i : i + 1])
        ref = softmax_gradcam(single, texts[i], logit_scale=model.logit_scale)
        torch.testing.assert_close(cams[i], ref, atol=1e-4, rtol=1e-4)


def test_rfm_switch_counts_validation_forwards():
    assert WeClipConfig().rfm_switch_iteration() == 9145  # specs/methods.md section 2
    assert WeClipConfig(count_val_forwards=False).rfm_switch_iteration() == 15001
    assert coco_config().rfm_switch_iteration() == 40001  # no validation during COCO training


def test_gradcam_target_option_changes_the_cams(tiny_vit):
    from clipwsss.clip.dense import vit_dense_forward
    from clipwsss.methods.weclip.pseudo import gradcam_inputs

    vocab = make_vocabulary(["cat", "dog"], background=["sky"])
    model = WeClip(tiny_vit, vocab, WeClipConfig(n_classes=3))
    torch.manual_seed(2)
    dense = vit_dense_forward(tiny_vit.model.visual, torch.randn(1, 3, 64, 64))
    fg, bg = model.text_features()
    texts = [build_text_setup(fg, bg, [0, 1])]
    cams = {}
    for target in ("ln_1", "block_output"):
        act, emb = gradcam_inputs(tiny_vit.model.visual, dense, target)
        torch.testing.assert_close(emb, dense.image_embedding)  # same forward, other leaf
        cams[target] = batch_gradcam(
            act, emb, texts, grid=dense.grid, logit_scale=model.logit_scale
        )[0]
    assert cams["ln_1"].shape == cams["block_output"].shape == (2, 4, 4)
    assert not torch.allclose(cams["ln_1"], cams["block_output"], atol=1e-3)
