"""The batched CAM path (one forward, one GradCAM backward and one CAA for a batch) and the
one-pass `cams --masks`: equal to the one-image path and to the two commands."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import clipwsss as cw
from clipwsss.cli.main import main
from clipwsss.clip.dense import padded_grid
from clipwsss.data import build_dataset, load_image, load_label_png
from clipwsss.io.camfiles import load_cams, read_run_record
from clipwsss.pipelines.cams import _grid_batches, _Loaded
from clipwsss.pipelines.masks import MASKS_COMPARE

KIT = Path(__file__).parent / "fidelity"
FIXTURE, REFERENCE = KIT / "fixture", KIT / "reference"
WEIGHTS = FIXTURE / "weights" / "ViT-16-small-random.pt"


@pytest.fixture(scope="module")
def tiny_file(tiny_vit, tmp_path_factory) -> Path:
    """The tiny random ViT as a checkpoint file: every run loads the same weights."""
    path = tmp_path_factory.mktemp("weights") / "tiny_vit.pt"
    torch.save(tiny_vit.model.state_dict(), path)
    return path


@pytest.fixture()
def tiny(tiny_file) -> list[str]:
    return [
        "--model",
        "clipwsss-tiny-vit",
        "--pretrained",
        str(tiny_file),
        "--caa-layers",
        "2",
        "--quiet",
    ]


def _data(root: Path) -> list[str]:
    return ["--dataset", "voc12", "--root", str(root), "--split", "train"]


def test_batched_forward_equals_the_one_image_path_on_the_fidelity_kit():
    """fp32: every CAM, refined CAM and kept attention map within 1e-5 of ``es(image)``
    (measured 1.7e-6 on x86-64), images grouped by padded grid as the pipeline does."""
    torch.manual_seed(0)
    es = cw.ClipES(cw.load_clip("ViT-B-16", WEIGHTS), cw.voc_vocabulary())
    dataset = build_dataset("voc12", FIXTURE, "train")
    groups: dict = {}
    for image_id in dataset.ids:
        sample = dataset.sample(image_id)
        image = load_image(sample.image_path)
        groups.setdefault(padded_grid(image.shape[:2], 16), []).append((image, sample.labels))
    assert all(len(g) == 2 for g in groups.values())  # 4 grids of 2 images: real batches
    worst = 0.0
    for members in groups.values():
        outs = es.batched([m[0] for m in members], [list(m[1]) for m in members])
        for (image, labels), out in zip(members, outs, strict=True):
            one = es(image, list(labels))
            assert out.keys.tolist() == one.keys.tolist()
            assert out.attn.shape == (8, *one.attn.shape[1:])  # only the maps CAA reads
            pairs = [
                (out.cams, one.cams),
                (out.refined, one.refined),
                (out.attn, one.attn[-8:]),
                (out.scores, one.scores),
                (
                    es.upsample(out.refined, image.shape[:2]),
                    es.upsample(one.refined, image.shape[:2]),
                ),
            ]
            worst = max(worst, *[float((a - b).abs().max()) for a, b in pairs])
    assert worst <= 1e-5, worst


def _compare_main():
    spec = importlib.util.spec_from_file_location("fidelity_compare", KIT / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_batched_cli_passes_the_fidelity_kit(tmp_path):
    """`cams --batch-size 4` (DataLoader workers, grouping by grid) at the kit's tolerance."""
    out = tmp_path / "cams"
    argv = [
        "cams",
        *_data(FIXTURE),
        "--out",
        str(out),
        "--pretrained",
        str(WEIGHTS),
        "--batch-size",
        "4",
        "--loader-workers",
        "2",
        "--quiet",
    ]
    assert main(argv) == 0
    assert _compare_main()([str(REFERENCE), str(out), "--cams-only"]) == 0


def test_grid_batches_groups_by_padded_grid_and_flushes():
    def item(i: int, h: int, w: int) -> _Loaded:
        return _Loaded(f"i{i}", Path(), (0,), image=np.zeros((h, w, 3), np.uint8))

    items = [item(0, 64, 80), item(1, 50, 70), item(2, 64, 64), item(3, 60, 78), item(4, 64, 80)]
    err = _Loaded("bad", Path(), (0,), error=FileNotFoundError("x"))
    groups = list(_grid_batches(iter([*items[:2], err, *items[2:]]), 2, 16, 100))
    names = [[it.image_id for it in g] for g in groups]
    # 64x80 and 50x70 share the 4x5 grid; the error passes at once; the rest at the end.
    assert names == [["i0", "i1"], ["bad"], ["i3", "i4"], ["i2"]]
    capped = list(_grid_batches(iter(items), 4, 16, 3))  # 3 waiting: the largest group goes
    assert [it.image_id for it in capped[0]] == ["i0", "i1"]
    assert sorted(it.image_id for g in capped for it in g) == [f"i{i}" for i in range(5)]


@pytest.fixture()
def voc(tmp_path, make_rect_voc) -> Path:
    """6 images of 64x80 plus one without objects; img_2's JPEG is corrupt."""
    root = make_rect_voc(tmp_path / "VOC2012", 6, seed=1, empty=("empty_0",)).root
    (root / "JPEGImages" / "img_2.jpg").write_bytes(b"not a jpeg")
    return root


def _same_cams(a: Path, b: Path, ids: list[str], atol: float = 0.0) -> None:
    for image_id in ids:
        fa, fb = load_cams(a / f"{image_id}.npy"), load_cams(b / f"{image_id}.npy")
        assert fa.keys.tolist() == fb.keys.tolist()
        for key in ("attn_highres", "highres"):
            np.testing.assert_allclose(
                fa.get(key).astype(np.float32), fb.get(key).astype(np.float32), atol=atol, rtol=0
            )


DONE = ["img_0", "img_1", "img_3", "img_4", "img_5"]


def test_one_pass_gives_the_files_of_the_two_commands_and_resumes(voc, tiny, tmp_path, capsys):
    two, one = tmp_path / "two", tmp_path / "one"
    skip = "--skip-bad-images"
    assert main(["cams", *_data(voc), "--out", str(two / "cams"), *tiny, skip]) == 0
    masks = ["masks", "--cams", str(two / "cams"), *_data(voc), "--out", str(two / "masks")]
    assert main([*masks, "--workers", "0", "--quiet", skip]) == 0
    argv = [
        "cams",
        *_data(voc),
        "--out",
        str(one / "cams"),
        "--masks",
        str(one / "masks"),
        "--workers",
        "2",
        *tiny,
        skip,
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cams: 5 written" in out and "masks: 5 written" in out
    _same_cams(two / "cams", one / "cams", DONE)
    for image_id in DONE:
        np.testing.assert_array_equal(
            load_label_png(two / "masks" / f"{image_id}.png"),
            load_label_png(one / "masks" / f"{image_id}.png"),
        )
    for name in ("failed.txt", "unlabelled.txt"):
        for stage in ("cams", "masks"):
            assert (one / stage / name).read_text() == (two / stage / name).read_text()
    assert (one / "masks" / "failed.txt").read_text().startswith("img_2\t")
    rec_two, rec_one = read_run_record(two / "masks"), read_run_record(one / "masks")
    for key in MASKS_COMPARE:
        if key != "cams_dir":
            assert rec_one[key] == rec_two[key], key
    # Resume: a lost CAM and two lost masks are made again, nothing else.
    (one / "cams" / "img_0.npy").unlink()
    (one / "masks" / "img_0.png").unlink()
    (one / "masks" / "img_3.png").unlink()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cams: 1 written, 4 already there" in out
    assert "masks: 2 written, 3 already there" in out
    _same_cams(two / "cams", one / "cams", ["img_0"])


def test_batched_cli_matches_batch_size_one(voc, tiny, tmp_path, capsys):
    """Same files (to float16 rounding; the tiny random ViT's CAA amplifies the 1e-7 batch
    rounding, as the kit README describes for near-uniform attention), same failure lists."""
    a, b = tmp_path / "a", tmp_path / "b"
    common = [*_data(voc), *tiny, "--skip-bad-images"]
    assert main(["cams", *common, "--out", str(a)]) == 0
    assert (
        main(["cams", *common, "--out", str(b), "--batch-size", "3", "--loader-workers", "1"]) == 0
    )
    assert "5 written, 0 already there, 1 failed, 1 unlabelled" in capsys.readouterr().out
    _same_cams(a, b, DONE, atol=1e-3)
    for name in ("failed.txt", "unlabelled.txt"):
        assert (a / name).read_text() == (b / name).read_text()
    assert read_run_record(a)["config"] == read_run_record(b)["config"]
    shutil.rmtree(b)
    assert main(["cams", *common, "--out", str(b), "--precision", "fp16"]) == 2  # CUDA only
    assert "fp16 needs a CUDA device" in capsys.readouterr().err


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"fusion": "cam"},
        {"text_set": "dataset"},
        {"softmax": False},
        {"refine": "mhsa"},
        {"refine": "none"},
        {"pooling": "cls", "gradcam_block": -2},
    ],
)
def test_batched_equals_one_image_for_every_switch(tiny_vit, changes):
    """Initial CAMs and scores within 1e-5 of ``es(image)`` for each ablation switch (the
    refined CAMs within 1e-3: CAA on the tiny random ViT amplifies the batch rounding)."""
    es = cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2, **changes))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (70, 90, 3), dtype=np.uint8) for _ in range(3)]
    labels = [[7, 14], [3], [1, 2, 5]]
    for out, image, lab in zip(es.batched(images, labels), images, labels, strict=True):
        one = es(image, lab)
        torch.testing.assert_close(out.cams, one.cams, rtol=0, atol=1e-5)
        torch.testing.assert_close(out.scores, one.scores, rtol=0, atol=1e-5)
        if one.refined is None:
            assert out.refined is None
        else:
            torch.testing.assert_close(out.refined, one.refined, rtol=0, atol=1e-3)


def test_batched_resnet_and_label_errors(tiny_rn, tiny_vit):
    es = cw.ClipES(tiny_rn, cw.voc_vocabulary())
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(2)]
    for out, image in zip(es.batched(images, [[7], [2, 9]]), images, strict=True):
        one = es(image, out.keys.tolist())
        assert out.refined is None and out.attn is None
        torch.testing.assert_close(out.cams, one.cams, rtol=0, atol=1e-5)
    vit = cw.ClipES(tiny_vit, cw.voc_vocabulary(), cw.ClipEsConfig(caa_layers=2))
    with pytest.raises(IndexError, match="unknown class ids"):
        vit.batched(images, [[7], [25]])
    with pytest.raises(ValueError, match="one padded patch grid"):
        vit.batched([images[0], images[0][:40]], [[7], [7]])
