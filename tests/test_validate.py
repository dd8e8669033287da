"""Out-of-range switches are refused at the config level (issue 12, #5)."""

from __future__ import annotations

import pytest

from clipwsss.cli import main
from clipwsss.clip_es import ClipEsConfig
from clipwsss.runner import MaskOptions

TINY = ["--model", "clipwsss-tiny-vit", "--pretrained", "none", "--allow-random-weights",
        "--caa-layers", "2", "--quiet"]  # fmt: skip


@pytest.mark.parametrize("value", [1.5, 1.0, -0.1])
def test_box_threshold_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match="box_threshold"):
        ClipEsConfig(box_threshold=value)


def test_box_thresholds_of_the_paper_sweep_are_accepted():
    for value in (0.0, 0.4, 0.7, 0.8):  # Fig. S2 starts at 0
        assert ClipEsConfig(box_threshold=value).box_threshold == value


@pytest.mark.parametrize("template", ["a clean origami.", "a photo of {name}", "{1}"])
def test_template_without_a_placeholder_is_refused(template):
    with pytest.raises(ValueError, match="template"):
        ClipEsConfig(template=template)


def test_mask_options_ranges():
    with pytest.raises(ValueError, match="threshold"):
        MaskOptions(threshold=2)
    for k in (-1, 0):
        with pytest.raises(ValueError, match="bg_exponent"):
            MaskOptions(bg_exponent=k)
    assert MaskOptions(threshold=0.0, bg_exponent=2).threshold == 0.0


def test_cli_refuses_before_writing(tmp_path, make_rect_voc, capsys):
    voc = make_rect_voc(tmp_path / "VOC2012", 1, seed=0).root
    data = ["--dataset", "voc12", "--root", str(voc), "--split", "train", "--quiet"]
    cams = tmp_path / "cams"
    assert main(["cams", *data, "--out", str(cams), *TINY, "--box-threshold", "1.5"]) == 1
    assert "box_threshold" in capsys.readouterr().err and not cams.exists()
    assert main(["cams", *data, "--out", str(cams), *TINY, "--template", "a photo"]) == 1
    assert "placeholder" in capsys.readouterr().err and not cams.exists()
    assert main(["cams", *data, "--out", str(cams), *TINY]) == 0
    masks = tmp_path / "masks"
    args = ["masks", "--cams", str(cams), *data, "--out", str(masks), "--workers", "0"]
    assert main([*args, "--threshold", "2"]) == 1
    assert "threshold" in capsys.readouterr().err and not masks.exists()
    assert main(["eval", "--pred", str(cams), *data, "--bg-exponent", "-1"]) == 1
    assert "bg_exponent" in capsys.readouterr().err
