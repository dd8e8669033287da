"""A new trained method needs only its model, loss and recipe: registered once, it trains with
`clipwsss train NAME` (flags from its nested Recipe) and its run reads back with `load_run`."""

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from clipwsss.cli.main import main
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE
from clipwsss.toy import generate_toy_voc
from clipwsss.train.recipe import from_dict, to_dict
from clipwsss.train.registry import TRAINED_METHODS, register_method
from clipwsss.train.runs import load_run

sys.path.insert(0, str(Path(__file__).parent / "methods"))


@pytest.fixture
def pixel(monkeypatch):
    monkeypatch.setitem(TRAINED_METHODS, "pixel", "pixel_method")
    import pixel_method

    return pixel_method


def test_from_dict_round_trips_nested_dataclasses_and_tuples(pixel):
    recipe = dataclasses.replace(
        pixel.RECIPES["toy"], train=pixel.TrainConfig(betas=(0.5, 0.25), lr=1)
    )
    data = json.loads(json.dumps(to_dict(recipe)))  # as config.json stores it
    back = pixel.Recipe.from_dict(data)
    assert back == recipe and back.train.betas == (0.5, 0.25) and type(back.train.lr) is float
    with pytest.raises(ValueError, match=r"Recipe.model: unknown setting\(s\) \['width'\]"):
        pixel.Recipe.from_dict({**data, "model": {"width": 3}})
    with pytest.raises(ValueError, match="betas: expected 2 values"):
        from_dict(pixel.TrainConfig, {"betas": [0.1]})


def test_a_fourth_method_trains_from_the_cli_and_loads_back(pixel, tmp_path, capsys):
    root = tmp_path / "toy"
    generate_toy_voc(root, n_train=4, n_val=0, seed=0, image_size=TOY_IMAGE_SIZE)
    assert "pixel" not in TRAINED_METHODS or TRAINED_METHODS["pixel"] == "pixel_method"
    run = tmp_path / "run"
    argv = [
        "train",
        "pixel",
        "--recipe",
        "toy",
        "--profile",
        "toy",
        "--root",
        str(root),
        "--run-dir",
        str(run),
        "--iterations",
        "3",
        "--hidden",
        "4",
        "--size",
        "24",
        "--label-smoothing",
        "0.1",
        "--betas",
        "0.8",
        "0.9",
    ]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["step"] == 3
    recipe, model = load_run(run)
    want = pixel.RECIPES["toy"]
    want = dataclasses.replace(
        want,
        model=pixel.PixelConfig(hidden=4),
        data=pixel.PixelData(size=24),
        loss=pixel.PixelLoss(label_smoothing=0.1),
        train=dataclasses.replace(want.train, iterations=3, run_dir=str(run), betas=(0.8, 0.9)),
    )
    assert recipe == want
    assert model[0].out_channels == 4 and not model.training
    trained = load_file(run / "model.safetensors")
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, trained[key], rtol=0, atol=0)
    out = tmp_path / "pred"  # the one predict pipeline serves it too, without code of its own
    assert (
        main(
            [
                "predict",
                "--run-dir",
                str(run),
                "--profile",
                "toy",
                "--root",
                str(root),
                "--split",
                "train",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert len(list(out.glob("*.png"))) == 4
    assert json.loads((out / "run.json").read_text())["method"] == "pixel"


def test_help_lists_the_recipe_flags(pixel, capsys):
    with pytest.raises(SystemExit):
        main(["train", "pixel", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--recipe",
        "--profile",
        "--root",
        "--split",
        "--limit",
        "--hidden",
        "--iterations",
        "--label-smoothing",
        "--flip",
    ):
        assert flag in text, flag


def test_old_records_get_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"train": {}, "task": {"class": "X"}}))
    with pytest.raises(ValueError, match="records task 'X' without a registered method"):
        load_run(tmp_path)


def test_register_method_adds_a_name(monkeypatch):
    monkeypatch.setattr("clipwsss.train.registry.TRAINED_METHODS", {})
    from clipwsss.train import registry

    register_method("x", "some.module")
    assert registry.TRAINED_METHODS == {"x": "some.module"}


def test_shared_field_names_get_their_section_as_prefix():
    """DeepLab's data and tta configs both have ``scales``: ``--data-scales`` and
    ``--tta-scales``; the engine's fields keep their spelling (``--seed``)."""
    from clipwsss.cli.config_flags import recipe_from_args
    from clipwsss.cli.main import build_parser
    from clipwsss.train.tasks.deeplab import RECIPES

    args = build_parser("train").parse_args(
        [
            "train",
            "deeplab",
            "--profile",
            "toy",
            "--masks",
            "m",
            "--data-scales",
            "1.0",
            "--tta-scales",
            "0.5",
            "1.0",
            "--seed",
            "3",
            "--loss",
            "ce",
        ]
    )
    recipe = recipe_from_args(RECIPES["toy"], args)
    assert recipe.data.scales == (1.0,) and recipe.tta.scales == (0.5, 1.0)
    assert recipe.train.seed == 3 and recipe.loss.kind == "ce"
    assert recipe.model == RECIPES["toy"].model  # flags not given keep the recipe's values
    with pytest.raises(SystemExit):
        build_parser("train").parse_args(["train", "deeplab", "--masks", "m", "--scales", "1"])
