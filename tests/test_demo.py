"""`make demo` (scripts/demo.py) runs offline and writes its table and figure."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


def test_demo_runs_offline_and_writes_results(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("demo", SCRIPT)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    code = demo.main(
        [
            "--n-val",
            "6",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for stage in ("initial CAM", "+ CAA", "+ CAA + dCRF", "pseudo-mask", "all background"):
        assert stage in printed
    assert (tmp_path / "out" / "toy_stages.csv").is_file()
    assert (tmp_path / "out" / "toy_overlays.png").stat().st_size > 10_000
    assert len(list((tmp_path / "out" / "toy_run").glob("*/masks/*.png"))) == 6
