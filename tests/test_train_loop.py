"""The shared training loop: the loss goes down, a killed run resumes to the same weights,
checkpoints are atomic, a mismatched run directory is refused."""

import json
import signal

import pytest
import torch
from tiny_runs import model_weights, run_tiny, same_weights, sigint_task

from clipwsss.train import ConfigMismatchError, checkpoint_steps, load_trained, train
from clipwsss.train.tiny import TinyRegression, tiny_config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted tiny run (in this process)."""
    run_dir = tmp_path_factory.mktemp("ref")
    return train(TinyRegression(), tiny_config(str(run_dir)))


def test_loss_goes_down_and_files_are_written(reference):
    rows = [r for r in reference.history if r["kind"] == "train"]
    evals = [r for r in reference.history if r["kind"] == "eval"]
    assert rows[-1]["loss"] < 0.5 * rows[0]["loss"]
    assert evals[-1]["mse"] < 0.5 * evals[0]["mse"]
    assert reference.final_eval == {"mse": evals[-1]["mse"]}
    run = reference.run_dir
    record = json.loads((run / "config.json").read_text())
    assert record["seed"] == 0 and record["train"]["iterations"] == 40
    assert checkpoint_steps(run) == [36, 40]  # keep_checkpoints = 2
    assert (run / "log.csv").read_text().startswith("kind,step,loss,")
    assert len((run / "log.jsonl").read_text().splitlines()) == len(reference.history)
    model = load_trained(run, TinyRegression().build_model())
    assert same_weights(model.state_dict(), reference.model.state_dict())


def test_sigkill_mid_step_then_resume_gives_the_same_weights(reference, tmp_path):
    killed = run_tiny(tmp_path, "--kill-at-step", "15")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint_steps(tmp_path) == [6, 12]
    resumed = run_tiny(tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert same_weights(model_weights(tmp_path), model_weights(reference.run_dir))
    assert (tmp_path / "log.jsonl").read_text().count('"step": 15,') == 1
    ref_log = [json.loads(x) for x in (reference.run_dir / "log.jsonl").read_text().splitlines()]
    new_log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    drop = lambda rows: [{k: v for k, v in r.items() if k != "samples_per_s"} for r in rows]  # noqa: E731
    assert drop(new_log) == drop(ref_log)


@pytest.mark.slow  # two subprocesses: ~10-20 s on 2 shared cores
def test_sigkill_while_saving_leaves_the_previous_checkpoint(reference, tmp_path):
    killed = run_tiny(tmp_path, "--kill-while-saving", "12")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert checkpoint_steps(tmp_path) == [6]  # step 12 never got its final name
    assert (tmp_path / "checkpoints" / ".tmp-step-00000012").is_dir()
    assert run_tiny(tmp_path).returncode == 0
    assert same_weights(model_weights(tmp_path), model_weights(reference.run_dir))


def test_sigint_checkpoints_the_current_step_then_resume_is_exact(reference, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(sigint_task(9), tiny_config(str(tmp_path)))
    assert checkpoint_steps(tmp_path)[-1] == 9
    result = train(TinyRegression(), tiny_config(str(tmp_path)))
    assert result.resumed_from == 9
    assert same_weights(result.model.state_dict(), reference.model.state_dict())


def test_finished_run_is_not_retrained_and_other_settings_are_refused(reference):
    again = train(TinyRegression(), tiny_config(str(reference.run_dir), progress=True))
    assert again.resumed_from == 40 and again.final_eval["mse"] == reference.final_eval["mse"]
    with pytest.raises(ConfigMismatchError, match="lr"):
        train(TinyRegression(), tiny_config(str(reference.run_dir), lr=0.1))


def test_fp16_on_cpu_is_refused(tmp_path):
    with pytest.raises(ValueError, match="fp16"):
        train(TinyRegression(), tiny_config(str(tmp_path), mixed_precision="fp16"))


def test_bf16_autocast_runs_on_cpu(tmp_path):
    result = train(
        TinyRegression(), tiny_config(str(tmp_path), iterations=4, mixed_precision="bf16")
    )
    assert result.step == 4 and all(torch.isfinite(p).all() for p in result.model.parameters())


class _TupleSettings(TinyRegression):
    """A task whose settings hold tuples (as every DeepLab recipe does: scales, mean)."""

    def config(self):
        return {"scales": (0.75, 1.0), "mean": (0.5, 0.5, 0.5)}


def test_a_finished_run_with_tuple_settings_resumes(tmp_path):
    """config.json stores tuples as lists; the rerun of the same command must not be
    refused as "different task settings" (it was, for every DeepLab run)."""
    first = train(_TupleSettings(), tiny_config(str(tmp_path), iterations=4))
    again = train(_TupleSettings(), tiny_config(str(tmp_path), iterations=4))
    assert again.resumed_from == 4
    assert same_weights(again.model.state_dict(), first.model.state_dict())
