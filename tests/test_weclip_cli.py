"""`clipwsss train weclip` and `clipwsss predict` end to end on a tiny toy set."""

import json

from clipwsss.cli.main import main
from clipwsss.data import load_label_png
from clipwsss.experiments.profiles import TOY_IMAGE_SIZE
from clipwsss.toy import generate_toy_voc


def test_train_then_predict(tmp_path, capsys):
    root = tmp_path / "toy"
    generate_toy_voc(root, n_train=4, n_val=2, seed=0, image_size=TOY_IMAGE_SIZE)
    run = tmp_path / "run"
    argv = [
        "train",
        "weclip",
        "--recipe",
        "toy",
        "--root",
        str(root),
        "--split",
        "train",
        "--iterations",
        "2",
        "--warmup-iters",
        "1",
        "--batch-size",
        "2",
        "--aff-weight",
        "0.5",
        "--run-dir",
        str(run),
        "--progress",
        "false",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 2 and (run / "model.safetensors").is_file()
    saved = json.loads((run / "config.json").read_text())
    # a generated model flag reached the run
    assert saved["task"]["recipe"]["model"]["aff_weight"] == 0.5
    assert saved["train"]["iterations"] == 2 and saved["train"]["optimizer"] == "adamw"
    pred = tmp_path / "pred"
    argv = [
        "predict",
        "--run-dir",
        str(run),
        "--root",
        str(root),
        "--split",
        "val",
        "--out",
        str(pred),
        "--quiet",
    ]
    assert main(argv) == 0
    pngs = sorted(pred.glob("*.png"))
    assert len(pngs) == 2 and load_label_png(pngs[0]).shape == (96, 96)
