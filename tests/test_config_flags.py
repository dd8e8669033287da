"""Tests for clipwsss.cli.config_flags: CLI flags generated from config dataclasses."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Literal

import pytest

from clipwsss.cli.config_flags import add_config_arguments, config_from_args, field_comments
from clipwsss.cli.main import build_parser
from clipwsss.methods.clip_es import ClipEsConfig
from clipwsss.pipelines.masks import MaskOptions


@dataclass(frozen=True)
class NewSwitches:
    alpha: float = 0.5  # the new knob, Eq. 3
    mode: Literal["a", "b"] = "a"  # which mode
    # a comment above the field
    flag_on: bool = field(default=True, metadata={"flag": "on", "negations": {"--off": False}})
    steps: int = 3  # how many


def _parse(cls, argv, **kw):
    p = argparse.ArgumentParser()
    add_config_arguments(p, cls, **kw)
    return p, p.parse_args(argv)


def test_a_new_field_is_one_flag_with_its_comment_as_help():
    p, args = _parse(NewSwitches, [])
    assert config_from_args(NewSwitches, args) == NewSwitches()
    helps = {a.dest: a.help for a in p._actions if a.help != argparse.SUPPRESS}
    assert helps["alpha"].startswith("the new knob, Eq. 3") and "0.5" in helps["alpha"]
    assert helps["flag_on"].startswith("a comment above the field")
    _, args = _parse(NewSwitches, ["--alpha", "0.25", "--mode", "b", "--no-on", "--steps", "7"])
    assert config_from_args(NewSwitches, args) == NewSwitches(0.25, "b", False, 7)
    _, args = _parse(NewSwitches, ["--off"])
    assert config_from_args(NewSwitches, args).flag_on is False
    with pytest.raises(SystemExit):
        _parse(NewSwitches, ["--mode", "c"])
    _, args = _parse(NewSwitches, [], skip=("steps",))
    assert not hasattr(args, "steps")


def test_every_config_field_has_a_commented_flag():
    for cls in (ClipEsConfig, MaskOptions):
        comments = field_comments(cls)
        assert set(comments) == {f.name for f in fields(cls)}, cls
        assert all(len(c) > 5 for c in comments.values())


def _cams_config(argv):
    from clipwsss.cli.config_flags import config_from_args as build

    argv = argv if "--dataset" in argv else ["--dataset", "voc12", *argv]
    args = build_parser().parse_args(["cams", "--root", "r", "--out", "o", *argv])
    return build(ClipEsConfig, args, ClipEsConfig.for_dataset(args.dataset))


def test_cams_flags_build_the_config_and_keep_the_old_spellings():
    assert _cams_config([]) == ClipEsConfig()
    assert _cams_config(["--dataset", "coco14"]).box_threshold == 0.7  # supp. C
    assert _cams_config(["--dataset", "coco14", "--box-threshold", "0.5"]).box_threshold == 0.5
    cfg = _cams_config(
        [
            "--no-softmax",
            "--no-background",
            "--corrected-boxes",
            "--refine",
            "mhsa",
            "--caa-layers",
            "4",
            "--template",
            "a photo of {}.",
        ]
    )
    assert cfg == ClipEsConfig(
        softmax=False,
        use_background=False,
        official_boxes=False,
        refine="mhsa",
        caa_layers=4,
        template="a photo of {}.",
    )
    assert _cams_config(["--no-official-boxes"]).official_boxes is False


def test_float16_pos_embed_is_on_by_default_and_both_spellings_turn_it_off():
    """ClipEsConfig.pos_embed_fp16: the official float16 positional table."""
    assert _cams_config([]).pos_embed_fp16 is True
    assert _cams_config(["--no-pos-embed-fp16"]).pos_embed_fp16 is False
    assert _cams_config(["--float32-pos-embed"]).pos_embed_fp16 is False  # docs/fidelity.md
    assert (
        "--pos-embed-fp16"
        in build_parser()._subparsers._group_actions[0].choices["cams"].format_help()
    )


@dataclass(frozen=True)
class TrainLike:
    resume: bool = True  # continue from the last checkpoint
    betas: tuple[float, float] = (0.9, 0.999)  # two values
    dilations: tuple[int, ...] = (1, 2)  # one or more values
    limit: int | None = None  # optional int


def test_bools_take_a_switch_or_a_value_and_tuples_several_values():
    for argv, want in (
        (["--resume"], True),
        (["--no-resume"], False),
        (["--resume", "false"], False),
        (["--resume", "yes"], True),
    ):
        assert config_from_args(TrainLike, _parse(TrainLike, argv)[1]).resume is want, argv
    base = TrainLike(resume=False)
    assert config_from_args(TrainLike, _parse(TrainLike, [])[1], base) == base
    cfg = config_from_args(
        TrainLike,
        _parse(TrainLike, ["--betas", "0.5", "0.6", "--dilations", "4", "8", "12", "--limit", "3"])[
            1
        ],
    )
    assert (cfg.betas, cfg.dilations, cfg.limit) == ((0.5, 0.6), (4, 8, 12), 3)
    with pytest.raises(SystemExit):
        _parse(TrainLike, ["--resume", "maybe"])
    with pytest.raises(SystemExit):
        _parse(TrainLike, ["--betas", "0.5"])


def test_a_field_without_a_flag_type_is_refused():
    @dataclass(frozen=True)
    class Nested:
        pairs: tuple[tuple[str, float], ...] = ()  # nested: no flag

    with pytest.raises(TypeError, match="no flag"):
        _parse(Nested, [])
