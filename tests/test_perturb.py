"""The stand-in for another CPU: off by default, tiny, seeded, and kept out of autograd's way."""

import numpy as np
import pytest
import torch

from clipwsss import perturb as pt


def test_off_by_default_returns_the_input_itself(monkeypatch):
    monkeypatch.delenv(pt.PERTURB_ENV, raising=False)
    x = torch.rand(3, 4)
    assert pt.perturb(x, "cams") is x
    monkeypatch.setenv(pt.PERTURB_ENV, "0")
    a = np.ones((2, 2), np.float32)
    assert pt.perturb(a, "crf unary") is a


def test_noise_is_relative_a_function_of_the_input_and_keeps_dtype_and_graph(monkeypatch):
    monkeypatch.setenv(pt.PERTURB_ENV, "1e-6")
    x = torch.full((1000,), 3.0, dtype=torch.float64, requires_grad=True)
    y = pt.perturb(x, "image features")
    rel = (y / x - 1).detach()
    assert 2e-7 < rel.std() < 5e-6 and rel.abs().max() < 1e-5 and y.dtype == x.dtype
    y.sum().backward()  # the noise is a constant factor: the graph goes through
    assert torch.allclose(x.grad, (y / x).detach())
    a = np.ones(1000, np.float32)
    assert pt.perturb(a, "crf unary").dtype == np.float32
    assert torch.equal(pt.perturb(x, "image features"), y)  # same input, seed, site: same noise
    assert not torch.equal(pt.perturb(x + 1, "image features") - 1, y)  # other input
    assert not torch.equal(pt.perturb(x, "cams"), y)  # another site: another stream
    monkeypatch.setenv(pt.SEED_ENV, "1")
    assert not torch.equal(pt.perturb(x, "image features"), y)


@pytest.mark.parametrize("bad", ["abc", "-1e-6", "0.5"])
def test_bad_sizes_are_refused(monkeypatch, bad):
    monkeypatch.setenv(pt.PERTURB_ENV, bad)
    with pytest.raises(ValueError, match=pt.PERTURB_ENV):
        pt.perturb(torch.ones(2), "cams")


def test_the_cam_and_crf_paths_move_in_their_last_digits_only(monkeypatch, tiny_vit):
    from clipwsss.cams.crf import crf_posterior
    from clipwsss.methods.clip_es import ClipES, ClipEsConfig
    from clipwsss.vocab import voc_vocabulary

    es = ClipES(tiny_vit, voc_vocabulary(), ClipEsConfig(caa_layers=2))
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)

    def run():
        out = es(image, [7, 14])
        cams = es.upsample(out.refined, image.shape[:2])
        return out.cams, crf_posterior(image, cams)

    monkeypatch.delenv(pt.PERTURB_ENV, raising=False)
    base_cams, base_q = run()
    monkeypatch.setenv(pt.PERTURB_ENV, "1e-6")
    cams, q = run()
    assert 0 < (cams - base_cams).abs().max() < 1e-3
    assert 0 < (q - base_q).abs().max() < 1e-2
