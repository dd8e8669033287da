"""End-to-end tests of the ``clipwsss`` command line (tiny random CLIP, CPU, offline)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import clipwsss.clip.loading
import clipwsss.pipelines.cams
from clipwsss.cli.main import main
from clipwsss.clip.loading import WeightsNotFoundError
from clipwsss.data import VOC_CLASSES, load_label_png

CAT, DOG = VOC_CLASSES.index("cat"), VOC_CLASSES.index("dog")
H, W = 64, 80
TINY = [
    "--model",
    "clipwsss-tiny-vit",
    "--pretrained",
    "none",
    "--allow-random-weights",
    "--caa-layers",
    "2",
    "--quiet",
]


@pytest.fixture()
def voc(tmp_path, make_rect_voc) -> Path:
    """A VOC2012 folder with 4 images of 64x80 (cat; cat and dog in odd ones)."""
    return make_rect_voc(tmp_path / "VOC2012", 4, seed=1).root


def _data(root: Path) -> list[str]:
    return ["--dataset", "voc12", "--root", str(root), "--split", "train"]


def test_cams_masks_eval_end_to_end(voc, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cams", *_data(voc), "--out", str(out / "cams"), *TINY]) == 0
    err = capsys.readouterr().err
    assert "RANDOM weights" in err
    for i in range(4):
        record = np.load(out / "cams" / f"img_{i}.npy", allow_pickle=True).item()
        keys = [CAT, DOG] if i % 2 else [CAT]
        assert record["keys"].tolist() == keys
        for key in ("attn_highres", "highres"):
            assert record[key].dtype == np.float16 and record[key].shape == (len(keys), H, W)

    masks = ["masks", "--cams", str(out / "cams"), *_data(voc), "--out", str(out / "masks")]
    assert main([*masks, "--workers", "0", "--overlays", "--quiet"]) == 0
    assert "4 written" in capsys.readouterr().out
    for i in range(4):
        with Image.open(out / "masks" / f"img_{i}.png") as img:
            assert img.mode == "P" and img.size == (W, H)
        allowed = {0, 255, CAT + 1} | ({DOG + 1} if i % 2 else set())
        assert set(np.unique(load_label_png(out / "masks" / f"img_{i}.png"))) <= allowed
        assert (out / "masks" / "overlays" / f"img_{i}.jpg").is_file()

    js = out / "cams_metrics.json"
    argv = [
        "eval",
        "--pred",
        str(out / "cams"),
        *_data(voc),
        "--choose-exponent-on-gt",
        "--json",
        str(js),
        "--quiet",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "chosen on ground truth" in text and "leaks labels" in text and "k fixed" in text
    payload = json.loads(js.read_text())
    assert payload["kind"] == "cams" and payload["split"] == "train"
    assert payload["chosen_on_gt"]["exponents"] == [1, 2]
    assert 0 <= payload["miou"] <= 1 and payload["pred_run"]["model"] == "clipwsss-tiny-vit"

    assert main(["eval", "--pred", str(out / "masks"), *_data(voc), "--quiet"]) == 0
    assert "ignored:" in capsys.readouterr().out


def test_random_weights_need_explicit_consent(voc, tmp_path, capsys):
    argv = [
        "cams",
        *_data(voc),
        "--out",
        str(tmp_path / "c"),
        "--model",
        "clipwsss-tiny-vit",
        "--pretrained",
        "none",
    ]
    assert main(argv) == 2
    assert "--allow-random-weights" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_missing_weights_is_a_clean_error(voc, tmp_path, capsys, monkeypatch):
    argv = ["cams", *_data(voc), "--out", str(tmp_path / "c"), "--model", "clipwsss-tiny-vit"]
    assert main([*argv, "--pretrained", str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err
    assert "Could not load CLIP weights" in err and "missing.pt" in err
    assert "Traceback" not in err

    def no_weights(*args, **kwargs):
        raise WeightsNotFoundError("Could not load CLIP weights for 'ViT-B-16': offline")

    monkeypatch.setattr(clipwsss.clip.loading, "load_clip", no_weights)
    assert main(argv) == 2
    assert "clipwsss cams: error: Could not load CLIP weights for 'ViT-B-16': offline" in (
        capsys.readouterr().err
    )


def test_bad_image_exit_status_and_skip(voc, tmp_path, capsys):
    (voc / "JPEGImages" / "img_1.jpg").write_bytes(b"not a jpeg")
    argv = ["cams", *_data(voc), *TINY]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "img_1.jpg" in err and "--skip-bad-images" in err and "Traceback" not in err
    assert main([*argv, "--out", str(tmp_path / "b"), "--skip-bad-images"]) == 0
    assert "1 failed" in capsys.readouterr().out
    assert (tmp_path / "b" / "failed.txt").read_text().startswith("img_1\tCorruptImageError")
    assert len(list((tmp_path / "b").glob("*.npy"))) == 3


def test_shard_and_limit_flags(voc, tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, "--shard", "1/2"]) == 0
    assert sorted(p.stem for p in out.glob("*.npy")) == ["img_1", "img_3"]
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, "--limit", "1"]) == 0
    assert "1 written, 0 already there" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["cams", *_data(voc), "--out", str(out), *TINY, "--shard", "2/2"])
    assert exc.value.code == 2
    assert "0 <= i < n" in capsys.readouterr().err


def test_custom_dataset(tmp_path, capsys):
    images = tmp_path / "my_data" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
            images / f"{name}.png"
        )
    (tmp_path / "labels.txt").write_text("a kitty\nb kitty, puppy\nc\n")
    (tmp_path / "classes.yaml").write_text(
        "classes:\n  kitty: [kitty, cat]\n  puppy: [puppy]\nbackground: [grass, sky]\n"
    )
    data = [
        "--dataset",
        "custom",
        "--root",
        str(images),
        "--labels",
        str(tmp_path / "labels.txt"),
        "--classes",
        str(tmp_path / "classes.yaml"),
    ]
    out = tmp_path / "cams"
    assert main(["cams", *data, "--out", str(out), *TINY]) == 0
    captured = capsys.readouterr()
    assert "1 unlabelled" in captured.out and "no image-level label" in captured.err
    assert (out / "unlabelled.txt").read_text() == "c\n"
    record = np.load(out / "b.npy", allow_pickle=True).item()
    assert record["keys"].tolist() == [0, 1] and record["highres"].shape == (2, 48, 64)
    run = json.loads((out / "run.json").read_text())
    assert run["classes"] == ["kitty", "puppy"] and run["background"] == ["grass", "sky"]

    (tmp_path / "labels.txt").write_text("a kitty\nb zebra\n")
    assert main(["cams", *data, "--out", str(tmp_path / "x"), *TINY]) == 1
    assert "zebra" in capsys.readouterr().err
    assert main(["cams", *data[:-2], "--out", str(tmp_path / "x"), *TINY]) == 2
    assert "needs --classes" in capsys.readouterr().err


def test_refine_none_and_eval_note(voc, tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["cams", *_data(voc), "--out", str(out), *TINY, "--refine", "none"]) == 0
    record = np.load(out / "img_1.npy", allow_pickle=True).item()
    np.testing.assert_array_equal(record["attn_highres"], record["highres"])
    assert main(["eval", "--pred", str(out), *_data(voc), "--quiet"]) == 0
    assert "--refine none" in capsys.readouterr().out


def test_interrupt_exits_130(voc, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(clipwsss.pipelines.cams, "generate_cams", interrupted)
    assert main(["cams", *_data(voc), "--out", str(tmp_path / "c"), *TINY]) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err


# ------------------------------------------------- refused inputs, signals, output folders


@pytest.mark.parametrize("suffix", [".txt", ""])
def test_split_accepts_an_id_list_path_with_or_without_txt(voc, tmp_path, suffix, capsys):
    ids = tmp_path / "lists" / "two.txt"
    ids.parent.mkdir()
    ids.write_text("img_1\nimg_3\n")
    split = str(ids)[: -len(".txt")] + suffix
    data = ["--dataset", "voc12", "--root", str(voc), "--split", split]
    assert main(["cams", *data, "--out", str(tmp_path / "cams"), *TINY]) == 0
    assert sorted(p.stem for p in (tmp_path / "cams").glob("*.npy")) == ["img_1", "img_3"]


def test_split_path_that_does_not_exist_is_a_clear_error(voc, tmp_path, capsys):
    data = ["--dataset", "voc12", "--root", str(voc), "--split", str(tmp_path / "nope.txt")]
    assert main(["cams", *data, "--out", str(tmp_path / "cams"), *TINY]) == 1
    assert "no id list at" in capsys.readouterr().err


def test_split_name_with_txt_is_the_name(voc, tmp_path):
    data = ["--dataset", "voc12", "--root", str(voc), "--split", "train.txt"]
    assert main(["cams", *data, "--out", str(tmp_path / "cams"), *TINY]) == 0
    assert len(list((tmp_path / "cams").glob("*.npy"))) == 4


def test_masks_out_equal_to_the_cams_folder_is_refused(voc, tmp_path, capsys):
    cams = tmp_path / "cams"
    assert main(["cams", *_data(voc), "--out", str(cams), *TINY]) == 0
    capsys.readouterr()
    args = ["masks", "--cams", str(cams), *_data(voc), "--workers", "0", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "." / "cams")]) == 2
    err = capsys.readouterr().err
    assert "is the CAM folder" in err and "run.json" in err
    assert not list(cams.glob("*.png"))


def test_out_that_cannot_be_a_folder_is_refused_before_loading(voc, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    for out, reason in ((a_file, "is a file; give a folder"), (a_file / "cams", "below it")):
        assert main(["cams", *_data(voc), "--out", str(out), *TINY]) == 2
        assert reason in capsys.readouterr().err
    assert main(["cams", *_data(voc), "--out", str(tmp_path / "cams"), *TINY]) == 0
    capsys.readouterr()
    args = ["eval", "--pred", str(tmp_path / "cams"), *_data(voc), "--quiet"]
    assert main([*args, "--json", str(tmp_path)]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err


def test_read_only_out_is_refused(voc, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root may write anyway: make the permission check see it as locked
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: Path(p) != locked and real(p, m))
    assert main(["cams", *_data(voc), "--out", str(locked / "cams"), *TINY]) == 2
    assert "is not writable" in capsys.readouterr().err
