"""Tests for clipwsss.cams.gradcam: Softmax-GradCAM (CLIP-ES Eq. 1-4) on a tiny random ViT.

The central check is Eq. 4 against autograd: the Jacobian of the logits Y (all R text rows)
with respect to the GradCAM activation, combined by hand with the softmax Jacobian
ds_c/dY_c' = s_c (delta_cc' - s_c'), gives the same channel weights and CAMs as the batched
backward of ``softmax_gradcam``.
"""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from clipwsss.cams.gradcam import (
    build_text_setup,
    gradcam_from_grads,
    gradcam_per_class_loop,
    softmax_gradcam,
    target_scores,
)
from clipwsss.cams.labels import min_max_normalize, upsample_cams
from clipwsss.clip.dense import preprocess, vit_dense_forward

N_CLASSES, N_BG = 6, 5
LABELS = (4, 1, 2)


def _text_features(e: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cls = F.normalize(torch.randn(N_CLASSES, e, generator=g), dim=-1)
    bg = F.normalize(torch.randn(N_BG, e, generator=g), dim=-1)
    return cls, bg


def _pixels(h: int = 80, w: int = 96, seed: int = 0) -> torch.Tensor:
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return preprocess(image, patch_size=16)[None]


def _scale(clip) -> float:
    return float(clip.model.logit_scale.exp())


# --------------------------------------------------------------------------- Eq. 4


@pytest.mark.parametrize("text_set", ["image", "dataset"])
def test_softmax_gradcam_equals_eq4_built_from_the_logit_jacobian(tiny_vit, text_set):
    visual, scale = tiny_vit.model.visual, _scale(tiny_vit)
    cls, bg = _text_features()
    text = build_text_setup(cls, bg, LABELS, text_set=text_set)
    pixels = _pixels()

    dense = vit_dense_forward(visual, pixels)
    logits = scale * F.normalize(dense.image_embedding, dim=-1) @ text.features.T  # (1, R)
    r = logits.shape[1]
    jac = torch.stack(  # (R, T, D): dY_r / dA by autograd, one row at a time
        [
            torch.autograd.grad(logits[0, i], dense.activation, retain_graph=True)[0][0]
            for i in range(r)
        ]
    )
    s = logits.softmax(dim=-1)[0].detach()
    ds_dy = s[:, None] * (torch.eye(r) - s[None, :])  # Eq. 4: s_c (delta_cc' - s_c')
    grads = torch.einsum("kr,rtd->ktd", ds_dy[text.targets], jac)  # (K, T, D)
    hand_weights = grads[:, 1:].mean(dim=1)  # Eq. 1: spatial mean over patch tokens

    # The same weights straight from autograd on the softmax scores.
    scores = logits.softmax(dim=-1)[0, text.targets]
    auto = torch.stack(
        [torch.autograd.grad(sc, dense.activation, retain_graph=True)[0][0] for sc in scores]
    )
    tol = 1e-5 * float(hand_weights.abs().max())
    assert_close(hand_weights, auto[:, 1:].mean(dim=1), rtol=1e-4, atol=tol)

    act = dense.activation[0, 1:].detach()
    hand_cams = gradcam_from_grads(act, grads[:, 1:], dense.grid)
    cams = softmax_gradcam(vit_dense_forward(visual, pixels), text, logit_scale=scale)
    assert cams.shape == (3, 5, 6)
    assert_close(cams, hand_cams, rtol=0, atol=1e-5)


def test_gradcam_from_grads_is_eq1_eq2(tiny_vit):
    g = torch.Generator().manual_seed(3)
    act, grads = torch.randn(12, 8, generator=g), torch.randn(2, 12, 8, generator=g)
    cams = gradcam_from_grads(act, grads, (3, 4))
    raw = torch.relu(torch.einsum("kd,nd->kn", grads.mean(1), act)).view(2, 3, 4)
    assert_close(cams, min_max_normalize(raw))


def test_gradcam_is_scaled_twice_like_the_official_helper():
    """A CAM whose range is near the 1e-7 eps: one min-max pass peaks far below 1, the
    official two passes (per layer, then the layer mean) bring it to about 1."""
    g = torch.Generator().manual_seed(3)
    act, grads = torch.rand(12, 8, generator=g), torch.rand(1, 12, 8, generator=g) * 1e-8
    raw = torch.relu(grads.mean(1) @ act.T).view(1, 3, 4)
    once = min_max_normalize(raw)
    assert float(once.max()) < 0.5
    cams = gradcam_from_grads(act, grads, (3, 4))
    assert_close(cams, min_max_normalize(once))
    assert float(cams.max()) > 0.99


# --------------------------------------------------------------------------- batched vs loop


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("pooling", ["avg", "cls"])
def test_batched_cams_equal_the_official_per_class_loop(tiny_vit, k, pooling):
    visual, scale = tiny_vit.model.visual, _scale(tiny_vit)
    text = build_text_setup(*_text_features(), LABELS[:k])
    dense = vit_dense_forward(visual, _pixels(), pooling=pooling)
    batched, scores = softmax_gradcam(dense, text, logit_scale=scale, return_scores=True)
    loop = gradcam_per_class_loop(visual, dense, text, logit_scale=scale, pooling=pooling)
    assert batched.shape == loop.shape == (k, 5, 6)
    assert_close(batched, loop, rtol=0, atol=1e-5)
    assert scores.shape == (k,)


def test_per_class_loop_needs_a_vit(tiny_rn, tiny_vit):
    from clipwsss.clip.dense import dense_forward

    dense = dense_forward(tiny_rn, preprocess(np.zeros((64, 64, 3), np.uint8), patch_size=32)[None])
    text = build_text_setup(*_text_features(), [0])
    with pytest.raises(ValueError):
        gradcam_per_class_loop(tiny_vit.model.visual, dense, text, logit_scale=1.0)


def test_softmax_gradcam_takes_one_image(tiny_vit):
    dense = vit_dense_forward(tiny_vit.model.visual, torch.cat([_pixels(), _pixels(seed=1)]))
    with pytest.raises(ValueError):
        softmax_gradcam(dense, build_text_setup(*_text_features(), [0]), logit_scale=1.0)


# --------------------------------------------------------------------------- softmax switch


def test_without_softmax_is_plain_logit_gradcam(tiny_vit):
    visual, scale = tiny_vit.model.visual, _scale(tiny_vit)
    text = build_text_setup(*_text_features(), LABELS)
    pixels = _pixels()
    plain = softmax_gradcam(
        vit_dense_forward(visual, pixels), text, logit_scale=scale, softmax=False
    )
    soft = softmax_gradcam(vit_dense_forward(visual, pixels), text, logit_scale=scale)

    dense = vit_dense_forward(visual, pixels)
    logits = scale * F.normalize(dense.image_embedding, dim=-1) @ text.features.T
    grads = torch.stack(
        [
            torch.autograd.grad(logits[0, t], dense.activation, retain_graph=True)[0][0, 1:]
            for t in text.targets
        ]
    )
    expected = gradcam_from_grads(dense.activation[0, 1:].detach(), grads, dense.grid)
    assert_close(plain, expected, rtol=0, atol=1e-5)
    assert (plain - soft).abs().max() > 1e-2  # the softmax changes the CAMs


def test_target_scores_softmax_and_logits(tiny_vit):
    text = build_text_setup(*_text_features(), LABELS)
    emb = torch.randn(1, 32, generator=torch.Generator().manual_seed(2))
    logits = 10.0 * F.normalize(emb, dim=-1) @ text.features.T
    assert_close(target_scores(emb, text, logit_scale=10.0, softmax=False), logits[0, :3])
    soft = target_scores(emb, text, logit_scale=10.0)
    assert_close(soft, logits.softmax(-1)[0, :3])
    assert float(soft.sum()) < 1


def test_return_scores_are_the_softmax_of_the_targets(tiny_vit):
    visual, scale = tiny_vit.model.visual, _scale(tiny_vit)
    text = build_text_setup(*_text_features(), LABELS)
    dense = vit_dense_forward(visual, _pixels())
    expected = target_scores(dense.image_embedding.detach(), text, logit_scale=scale)
    _, scores = softmax_gradcam(dense, text, logit_scale=scale, return_scores=True)
    assert_close(scores, expected)
    assert not scores.requires_grad


# --------------------------------------------------------------------------- text setup


def test_build_text_setup_image_set():
    cls, bg = _text_features()
    text = build_text_setup(cls, bg, [4, 1])
    assert_close(text.features, torch.cat([cls[[4, 1]], bg]))
    assert text.targets.tolist() == [0, 1] and text.n_foreground == 2


def test_build_text_setup_dataset_set():
    cls, bg = _text_features()
    text = build_text_setup(cls, bg, [4, 1], text_set="dataset")
    assert_close(text.features, torch.cat([cls, bg]))
    assert text.targets.tolist() == [4, 1] and text.n_foreground == N_CLASSES


def test_build_text_setup_without_background():
    cls, _ = _text_features()
    text = build_text_setup(cls, torch.zeros(0, 32), [3])
    assert text.features.shape == (1, 32)


@pytest.mark.parametrize(
    ("labels", "error"), [([], ValueError), ([N_CLASSES], IndexError), ([0, -1], IndexError)]
)
def test_build_text_setup_rejects_bad_labels(labels, error):
    with pytest.raises(error):
        build_text_setup(*_text_features(), labels)


def test_build_text_setup_rejects_unknown_text_set():
    with pytest.raises(ValueError):
        build_text_setup(*_text_features(), [0], text_set="all")


# --------------------------------------------------------------------------- scaling, resize


def test_min_max_normalize_range_and_independence():
    cams = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0)) * torch.tensor(
        [1.0, 100.0, 0.01]
    ).view(3, 1, 1)
    out = min_max_normalize(cams)
    flat = out.flatten(1)
    assert_close(flat.min(1).values, torch.zeros(3), rtol=0, atol=0)
    assert (flat.max(1).values <= 1).all() and (flat.max(1).values > 0.999).all()
    # eps = 1e-7 keeps the max below 1 only where the range is small (float32 rounding):
    assert float(flat[2].max()) < 1
    assert_close(min_max_normalize(cams[1:2]), out[1:2])  # each class on its own
    assert_close(min_max_normalize(torch.full((1, 2, 2), 7.0)), torch.zeros(1, 2, 2))


def test_upsample_cams_size_and_cv2_bilinear():
    cams = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(0))
    up = upsample_cams(cams, (75, 93))
    assert up.shape == (2, 75, 93)
    ref = np.stack([cv2.resize(c.numpy(), (93, 75), interpolation=cv2.INTER_LINEAR) for c in cams])
    assert_close(up, torch.from_numpy(ref), rtol=0, atol=1e-5)
    assert upsample_cams(torch.zeros(0, 5, 6), (10, 12)).shape == (0, 10, 12)
