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


def write_rect_voc(
    root,
    n: int = 4,
    *,
    size: tuple[int, int] = (64, 80),
    seed: int = 0,
    ignore_row: bool = False,
    empty: tuple[str, ...] = (),
):
    """A VOC2012-layout folder of ``n`` noise images with a cat rectangle, plus a dog rectangle
    in every odd image; ``empty`` adds images whose XML lists no object (inserted second).

    Returns the ``train`` split as a ``VOCDataset``. Shapes: images (H, W, 3) = ``size``.
    """
    import numpy as np

    from clipwsss.data import VOC_CLASSES, VOCDataset, write_split, write_voc_sample

    cat, dog = VOC_CLASSES.index("cat") + 1, VOC_CLASSES.index("dog") + 1
    h, w = size
    rng = np.random.default_rng(seed)
    ids = []
    for i in range(n):
        image = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        label = np.zeros((h, w), np.uint8)
        box = np.s_[h // 8 : 5 * h // 8, w // 8 : w // 2]
        image[box], label[box] = (200, 60, 60), cat
        if i % 2:
            box = np.s_[15 * h // 32 : 15 * h // 16, 9 * w // 16 : 15 * w // 16]
            image[box], label[box] = (60, 200, 60), dog
        if ignore_row:
            label[h // 8, w // 8 : w // 2] = 255
        write_voc_sample(root, f"img_{i}", image, label)
        ids.append(f"img_{i}")
    for image_id in empty:
        write_voc_sample(root, image_id, image, np.zeros((h, w), np.uint8), objects=[])
        ids.insert(1, image_id)
    write_split(root, "train", ids)
    return VOCDataset(root, "train")


@pytest.fixture(scope="session")
def make_rect_voc():
    """The :func:`write_rect_voc` factory (shared by the runner, CLI and sweep tests)."""
    return write_rect_voc


@pytest.fixture(scope="session")
def tiny_es(tiny_vit):
    """CLIP-ES on the tiny random ViT with CAA over its two blocks (the sweep, diagnostics
    and efficiency tests)."""
    import clipwsss as cw

    return cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))


@pytest.fixture(scope="module")
def rect_voc_48x64(tmp_path_factory, make_rect_voc):
    """4 images of 48x64: a cat rectangle, and a dog rectangle in every odd image."""
    return make_rect_voc(tmp_path_factory.mktemp("rect48x64") / "VOC2012", 4, size=(48, 64))
