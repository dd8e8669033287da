"""A stand-in for another CPU: tiny multiplicative noise at the steps that differ by machine.

Another CPU runs other BLAS kernels (another summation order) and a dense CRF compiled by
another compiler, so the image features, the CAMs and the CRF unaries differ in their last
digits. A value that rides on a few contested pixels (a confidence bin of 67 pixels, the IoU
of a rare class) can then move far more than its last digit. To check on one machine that
every checked notebook value holds anyway, set ``CLIPWSSS_PERTURB`` to a relative size ε
(e.g. ``1e-6``): :func:`perturb` then multiplies its input by ``1 + ε·N(0, 1)``, drawn from
a generator seeded by the input itself, the step and ``CLIPWSSS_PERTURB_SEED`` (default 0).
Unset or ``0``: the input is returned as it is (the default; every result of the repository).

``make perturb`` executes every notebook in this mode (docs/checks.md).

Layer 1: imports nothing of the package.
"""

from __future__ import annotations

import hashlib
import os
from typing import TypeVar

import numpy as np
import torch

PERTURB_ENV = "CLIPWSSS_PERTURB"  # relative size ε of the noise; unset or 0: off
SEED_ENV = "CLIPWSSS_PERTURB_SEED"  # seed of the noise generator (default 0)
MAX_EPS = 1e-2  # larger is no longer "another CPU"

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)


def perturb_eps() -> float:
    """The ε of ``CLIPWSSS_PERTURB`` (0 when unset); raises on a value outside [0, 1e-2]."""
    text = os.environ.get(PERTURB_ENV, "").strip()
    if not text:
        return 0.0
    try:
        eps = float(text)
    except ValueError:
        raise ValueError(f"{PERTURB_ENV}={text!r} is not a number (e.g. 1e-6)") from None
    if not 0.0 <= eps <= MAX_EPS:
        raise ValueError(f"{PERTURB_ENV}={text!r} must be in [0, {MAX_EPS:g}]")
    return eps


def _noise(x: np.ndarray, site: str, eps: float) -> np.ndarray:
    """``1 + eps * N(0, 1)`` drawn from a generator seeded by the seed, the site and ``x``
    itself: the same input gets the same noise, as the same input gets the same rounding on
    another CPU (two calls that must agree still agree)."""
    seed = int(os.environ.get(SEED_ENV, "0") or 0)
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=8)
    digest.update(f"{site}/{seed}/{x.shape}".encode())
    rng = np.random.default_rng(int.from_bytes(digest.digest(), "little"))
    return 1.0 + eps * rng.standard_normal(x.shape)


def perturb(x: ArrayOrTensor, site: str) -> ArrayOrTensor:
    """``x * (1 + ε·N(0, 1))`` when ``CLIPWSSS_PERTURB`` is set, else ``x`` itself.

    A tensor keeps its autograd graph (the noise is a constant factor), dtype and device.

    Args:
        x: Any float array or tensor.
        site: Name of the step ("image features", "cams", "crf unary"): each gets its own
            noise.

    Shapes:
        x: any; output: the same.
    """
    eps = perturb_eps()
    if eps == 0.0:
        return x
    if isinstance(x, torch.Tensor):
        noise = _noise(x.detach().cpu().numpy(), site, eps)
        return x * torch.as_tensor(noise, dtype=x.dtype, device=x.device)
    return (x * _noise(x, site, eps)).astype(x.dtype, copy=False)
