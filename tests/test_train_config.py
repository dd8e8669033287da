"""TrainConfig validation, the lr schedules and the generated CLI flags."""

import argparse
import math

import pytest

from clipwsss.cli.config_flags import add_config_arguments, config_from_args
from clipwsss.train import TrainConfig, lr_factor


def test_poly_schedule_values():
    cfg = TrainConfig(iterations=100, schedule="poly", power=0.9)
    assert lr_factor(0, cfg) == pytest.approx(1.0)
    assert lr_factor(50, cfg) == pytest.approx(0.5**0.9, rel=1e-12)
    assert lr_factor(99, cfg) == pytest.approx(0.01**0.9, rel=1e-12)
    assert lr_factor(100, cfg) == pytest.approx(0.0)


def test_poly_floor_and_cosine():
    cfg = TrainConfig(iterations=10, schedule="poly", power=1.0, min_lr_ratio=0.1)
    assert lr_factor(5, cfg) == pytest.approx(0.1 + 0.9 * 0.5)
    cos = TrainConfig(iterations=10, schedule="cosine")
    assert lr_factor(5, cos) == pytest.approx(0.5)
    assert lr_factor(10, cos) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(2, cos) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))
    assert lr_factor(7, TrainConfig(iterations=10, schedule="constant")) == 1.0


def test_warmup_multiplies_the_schedule():
    cfg = TrainConfig(iterations=100, power=1.0, warmup_iters=10, warmup_ratio=0.01)
    assert lr_factor(0, cfg) == pytest.approx(0.01)
    # mmcv linear warm-up: regular * (1 - (1 - k / w) * (1 - ratio))
    assert lr_factor(5, cfg) == pytest.approx(0.95 * (1 - 0.5 * 0.99))
    assert lr_factor(10, cfg) == pytest.approx(0.9)


@pytest.mark.parametrize(
    "changes",
    [
        dict(schedule="step"),
        dict(batch_size=10, grad_accum=3),
        dict(mixed_precision="fp8"),
        dict(iterations=0),
        dict(warmup_iters=11, iterations=10),
        dict(device="tpu"),
        dict(lr=0.0),
        dict(lr=float("nan")),
        dict(momentum=5.0),
        dict(weight_decay=-1.0),
        dict(power=-2.0),
        dict(warmup_ratio=-1.0),
        dict(min_lr_ratio=1.5),
        dict(betas=(0.9, 1.0)),
        dict(keep_checkpoints=-1),
        dict(seed=-1),
        dict(num_workers=-1),
        dict(max_grad_norm=-1.0),
        dict(log_interval=0),
    ],
)
def test_bad_config_is_refused(changes):
    with pytest.raises(ValueError):
        TrainConfig(**changes)


def test_cli_flags_are_generated_from_fields():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, TrainConfig, skip=("run_dir",))
    args = parser.parse_args(["--lr", "0.01", "--betas", "0.8", "0.9", "--resume", "false"])
    cfg = config_from_args(TrainConfig, args, TrainConfig(batch_size=4))
    assert (cfg.lr, cfg.betas, cfg.resume, cfg.batch_size) == (0.01, (0.8, 0.9), False, 4)
    with pytest.raises(SystemExit):
        parser.parse_args(["--run-dir", "x"])
