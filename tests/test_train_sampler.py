"""The iteration-indexed sampler: the batch of step s depends only on (seed, s)."""

import random

import numpy as np
import pytest
import torch

from clipwsss.train import SeededDataset, StepBatchSampler


def _steps(sampler):
    return list(iter(sampler))


def test_resumed_sampler_yields_the_same_batches():
    full = _steps(StepBatchSampler(10, 4, seed=3, total_steps=9))
    tail = _steps(StepBatchSampler(10, 4, seed=3, start_step=5, total_steps=9))
    assert tail == full[5:]
    assert full != _steps(StepBatchSampler(10, 4, seed=4, total_steps=9))


def test_every_epoch_is_a_permutation():
    stream = [
        i for batch in _steps(StepBatchSampler(10, 5, seed=0, total_steps=6)) for i, _ in batch
    ]
    for e in range(3):
        assert sorted(stream[10 * e : 10 * e + 10]) == list(range(10))
    assert stream[:10] != stream[10:20]


def test_processes_and_micro_steps_split_the_global_batch():
    whole = StepBatchSampler(7, 12, seed=1, total_steps=2)
    parts = [
        _steps(
            StepBatchSampler(
                7, 12, seed=1, total_steps=2, grad_accum=2, num_processes=3, process_index=r
            )
        )
        for r in range(3)
    ]
    assert all(len(p) == 4 and all(len(b) == 2 for b in p) for p in parts)
    for step in range(2):
        got = sorted(x for p in parts for b in p[2 * step : 2 * step + 2] for x in b)
        assert got == sorted(whole.step_samples(step))


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="empty"):
        StepBatchSampler(0, 4, seed=0, total_steps=1)
    with pytest.raises(ValueError, match="divisible"):
        StepBatchSampler(5, 4, seed=0, total_steps=1, grad_accum=3)


class _Noise(torch.utils.data.Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        return (torch.rand(()).item(), random.random(), float(np.random.rand()))


def test_seeded_dataset_is_reproducible_and_restores_the_caller_rng():
    data = SeededDataset(_Noise())
    torch.manual_seed(0)
    before = torch.rand(())
    torch.manual_seed(0)
    a = data[(1, 99)]
    after = torch.rand(())
    assert a == data[(1, 99)] and a != data[(1, 98)]
    torch.testing.assert_close(before, after)  # the caller's RNG stream is untouched
