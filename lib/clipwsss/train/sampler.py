"""Iteration-indexed data order: the batch of optimizer step ``s`` is a pure function of
``(seed, s)``, so a resumed run sees exactly the samples (and augmentations) an uninterrupted
run would have seen.

The sample stream is the concatenation of per-epoch permutations (epoch ``e`` shuffled with
seed ``(seed, e)``); step ``s`` takes stream positions ``[s * B, (s + 1) * B)``, so batches may
span an epoch boundary and no sample is dropped. Each position also gets its own
augmentation seed, which ``SeededDataset`` installs before calling the wrapped data set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def _mix(*keys: int) -> int:
    """A 63-bit seed from integer keys (numpy's SeedSequence hashing)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(2, np.uint64)[0] >> np.uint64(1))


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields, for each micro-step of this process, a list of ``(index, sample_seed)``.

    Args:
        num_samples: length of the data set (> 0).
        batch_size: samples per optimizer step over all processes and micro-steps.
        seed: run seed.
        start_step: first optimizer step to yield (the resumed step).
        total_steps: the run's last step (exclusive).
        grad_accum: micro-steps per optimizer step.
        num_processes: data-parallel world size.
        process_index: this process's rank.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        seed: int,
        *,
        start_step: int = 0,
        total_steps: int,
        grad_accum: int = 1,
        num_processes: int = 1,
        process_index: int = 0,
    ) -> None:
        if num_samples < 1:
            raise ValueError("the training data set is empty")
        if batch_size % (grad_accum * num_processes):
            raise ValueError(
                f"batch_size {batch_size} is not divisible by grad_accum x processes "
                f"= {grad_accum} x {num_processes}"
            )
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.start_step, self.total_steps = start_step, total_steps
        self.grad_accum, self.world, self.rank = grad_accum, num_processes, process_index
        self.micro = batch_size // (grad_accum * num_processes)
        self._epoch, self._perm = -1, np.empty(0, dtype=np.int64)

    def _index(self, position: int) -> int:
        epoch = position // self.num_samples
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(_mix(self.seed, epoch))
            self._perm = torch.randperm(self.num_samples, generator=gen).numpy()
            self._epoch = epoch
        return int(self._perm[position % self.num_samples])

    def step_samples(self, step: int) -> list[tuple[int, int]]:
        """All ``(index, sample_seed)`` of optimizer step ``step`` (every process)."""
        start = step * self.batch_size
        return [
            (self._index(p), _mix(self.seed, 1 << 40, p))
            for p in range(start, start + self.batch_size)
        ]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start_step, self.total_steps):
            samples = self.step_samples(step)
            for m in range(self.grad_accum):
                chunk = (m * self.world + self.rank) * self.micro
                yield samples[chunk : chunk + self.micro]

    def __len__(self) -> int:
        return (self.total_steps - self.start_step) * self.grad_accum

    def state_dict(self) -> dict[str, int]:
        """The sampler's state: everything it needs to continue is the seed and the step."""
        return {"seed": self.seed, "start_step": self.start_step}


class SeededDataset(Dataset):
    """Calls ``dataset[index]`` with Python, NumPy and torch RNGs seeded by the sample seed.

    Random augmentation inside the wrapped data set then depends only on the stream position,
    not on the worker or on what ran before; the caller's RNG state is restored afterwards.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: tuple[int, int]):
        index, sample_seed = item
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            random.seed(sample_seed)
            np.random.seed(sample_seed % (2**32))
            try:
                return self.dataset[index]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)
