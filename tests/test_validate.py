"""Out-of-range switches are refused at the config level; files with errors name the file."""

from __future__ import annotations

import pytest

from clipwsss.cli.main import main
from clipwsss.methods.clip_es import ClipEsConfig
from clipwsss.pipelines.masks import MaskOptions

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


# ----------------------------------------- YAML/JSON errors name the file; word lists


def test_background_string_is_refused_not_split_into_letters(tmp_path):
    from clipwsss.vocab import load_vocabulary, make_vocabulary

    path = tmp_path / "vocab.yaml"
    path.write_text("classes: [cat, dog]\nbackground: sky\n")
    with pytest.raises(ValueError, match=r"vocab.yaml: background must be a list.*\[sky\]"):
        load_vocabulary(path)
    with pytest.raises(ValueError, match="background"):
        make_vocabulary(["cat"], background="sky")
    path.write_text("classes: [cat, dog]\nbackground: [sky, 3]\n")
    with pytest.raises(ValueError, match="list of strings"):
        load_vocabulary(path)
    path.write_text("classes: {cat: 5}\n")
    with pytest.raises(ValueError, match="synonyms of 'cat'"):
        load_vocabulary(path)


@pytest.mark.parametrize(
    "body", ["classes: [cat]\nsentences: {cow: a cow}\n", "classes: [cat]\nsentences: [a cat]\n"]
)
def test_bad_sentences_are_value_errors_naming_the_file(tmp_path, body):
    from clipwsss.vocab import load_vocabulary

    path = tmp_path / "vocab.yaml"
    path.write_text(body)
    with pytest.raises(ValueError, match="vocab.yaml: sentences"):
        load_vocabulary(path)


@pytest.mark.parametrize("name", ["vocab.yaml", "vocab.json"])
def test_vocabulary_syntax_error_names_the_file(tmp_path, name):
    from clipwsss.vocab import load_vocabulary

    path = tmp_path / name
    path.write_text("classes: [cat, dog\n" if name.endswith("yaml") else '{"classes": [cat]}')
    with pytest.raises(ValueError, match=rf"{name}:\d+:\d+: (YAML|JSON) syntax error"):
        load_vocabulary(path)


@pytest.mark.parametrize("name", ["labels.yaml", "labels.json"])
def test_labels_file_syntax_error_names_the_file(tmp_path, name):
    from clipwsss.data import AnnotationError, read_labels_file

    path = tmp_path / name
    path.write_text("a: [cat\n" if name.endswith("yaml") else '{"a": ["cat"],}')
    with pytest.raises(AnnotationError, match=rf"{name}:\d+:\d+: (YAML|JSON) syntax error"):
        read_labels_file(path, ["cat"])


def test_cli_vocabulary_syntax_error_is_a_message(tmp_path, make_rect_voc, capsys):
    voc = make_rect_voc(tmp_path / "VOC2012", 1, seed=0).root
    vocab = tmp_path / "classes.yaml"
    vocab.write_text("classes: [cat, dog\n")
    data = ["--dataset", "voc12", "--root", str(voc), "--split", "train", "--quiet"]
    args = ["cams", *data, "--classes", str(vocab), "--out", str(tmp_path / "cams"), *TINY]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "classes.yaml:" in err and "syntax error" in err and "Traceback" not in err
