"""Shared fixtures: offline, CPU, tiny random-init open_clip models."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One thread: on 2 shared cores, 2 torch threads make the tiny-model tests 10-20x slower.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_vit():
    """A 3-block random ViT (patch 16, width 48, embed 32) registered by clipwsss."""
    import clipwsss as cw

    torch.manual_seed(0)
    return cw.load_clip("clipwsss-tiny-vit", pretrained=None)


@pytest.fixture(scope="session")
def tiny_rn():
    """A random ModifiedResNet with one block per stage (stride 32)."""
    import clipwsss as cw

    torch.manual_seed(0)
    return cw.load_clip("clipwsss-tiny-rn", pretrained=None)
