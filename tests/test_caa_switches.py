"""The ablation switches of notebook 19: symmetrisation off, Sinkhorn off, the GradCAM block."""

import pytest
import torch

from clipwsss.cams.caa import attention_affinity, symmetric_affinity
from clipwsss.clip.dense import dense_forward, preprocess


def _attn(n=6, layers=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(layers, 1 + n, 1 + n, generator=g).softmax(-1)


def test_symmetrize_off_keeps_sinkhorn_matrix():
    attn = _attn()[-1, 1:, 1:]
    a = symmetric_affinity(attn, power=1, symmetrize=False)
    torch.testing.assert_close(a.sum(1), torch.ones(a.shape[0]))  # rows of D sum to 1
    assert not torch.allclose(a, a.T)  # not symmetric: the switch did something
    b = symmetric_affinity(attn, power=1)
    torch.testing.assert_close(b, (a + a.T) / 2)


def test_defaults_unchanged():
    maps = _attn()
    new = attention_affinity(maps, n_layers=2, symmetrize=True)
    d = maps[-2:, 1:, 1:].mean(0)
    for _ in range(3):
        d = d / d.sum(0, keepdim=True)
        d = d / d.sum(1, keepdim=True)
    a = (d + d.T) / 2
    assert torch.equal(new, a @ a)


def test_sinkhorn_off_is_the_raw_attention():
    maps = _attn()
    a = attention_affinity(maps, n_layers=1, n_iters=0, power=1, symmetrize=False)
    torch.testing.assert_close(a, maps[-1, 1:, 1:])


def _pixels(clip, size=32):
    g = torch.Generator().manual_seed(1)
    image = (torch.rand(size, size, 3, generator=g) * 255).to(torch.uint8).numpy()
    return preprocess(image, patch_size=clip.patch_size, mean=clip.mean, std=clip.std)[None]


def test_gradcam_block_last_equals_default(tiny_vit):
    px = _pixels(tiny_vit)
    a, b = dense_forward(tiny_vit, px), dense_forward(tiny_vit, px, gradcam_block=2)
    assert torch.equal(a.activation, b.activation)
    assert torch.equal(a.image_embedding, b.image_embedding)


def test_gradcam_block_early_target(tiny_vit):
    px = _pixels(tiny_vit)
    base = dense_forward(tiny_vit, px)
    early = dense_forward(tiny_vit, px, gradcam_block=0)
    # same forward (fused kernel from block 1 on, not only in the last), another target
    torch.testing.assert_close(early.image_embedding, base.image_embedding, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(early.attn, base.attn, atol=1e-5, rtol=1e-4)
    assert early.activation.shape == base.activation.shape
    assert not torch.allclose(early.activation, base.activation)
    (g,) = torch.autograd.grad(early.image_embedding.sum(), early.activation)
    assert g.abs().sum() > 0  # the embedding depends on the block-1 target
    assert len(early.block_tokens) == len(base.block_tokens)


def test_gradcam_block_shares_the_no_grad_prefix(tiny_vit):
    px = _pixels(tiny_vit)
    base, mid = dense_forward(tiny_vit, px), dense_forward(tiny_vit, px, gradcam_block=1)
    assert torch.equal(mid.attn[:, 0], base.attn[:, 0])  # block 1 runs as in the default
    assert torch.equal(mid.last_block_input, base.block_tokens[0])  # the stream entering block 2
    assert not mid.block_tokens[1].requires_grad and mid.block_tokens[-1].requires_grad


def test_gradcam_block_out_of_range(tiny_vit):
    with pytest.raises(ValueError, match="gradcam_block"):
        dense_forward(tiny_vit, _pixels(tiny_vit), gradcam_block=3)
