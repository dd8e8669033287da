"""Many processes, GPUs or machines for the data-set loops, through ``accelerate launch``.

``accelerate launch [--multi_gpu] [--num_machines N ...] -m clipwsss.cli cams ...`` starts
one process per device; each takes ``ids[rank::world]`` of its ``--shard`` (so ``--shard``
still splits the work between separate launches), runs on its own device and writes its own
atomic files into the shared folders. ``run.json`` is checked and written under a file lock,
so all processes share one. A killed process loses only its unfinished images; a rerun of
the same command skips what exists and completes the set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clipwsss.pipelines.common import RunReport, check_shard


@dataclass(frozen=True)
class Launch:
    """This process's place in a launch.

    Attributes:
        rank: process index, 0 ... n - 1 (0 without a launcher).
        n: number of processes (1 without a launcher).
        device: the device accelerate gives this process (None without a launcher).
        state: accelerate's ``PartialState`` (None without a launcher).
    """

    rank: int = 0
    n: int = 1
    device: str | None = None
    state: Any = None

    def shard(self, shard: tuple[int, int]) -> tuple[int, int]:
        """This process's part of ``shard``: ``ids[i::k][rank::n] == ids[i + k*rank :: k*n]``."""
        i, k = check_shard(shard)
        return i + k * self.rank, k * self.n

    @property
    def note(self) -> str:
        """`` [process r/n]`` for log lines of a launched process, else empty."""
        return f" [process {self.rank}/{self.n}]" if self.n > 1 else ""

    def finish(self, reports: Sequence[RunReport]) -> None:
        """Wait for every process; process 0 prints the totals of each stage."""
        if self.n <= 1:
            return
        import torch.distributed as dist

        counts = [(r.done, r.skipped_existing, len(r.failed), len(r.unlabelled)) for r in reports]
        gathered: list = [None] * self.n
        dist.all_gather_object(gathered, counts)
        if self.rank != 0:
            return
        for stage, report in enumerate(reports):
            done, skipped, failed, unlabelled = (
                sum(g[stage][j] for g in gathered) for j in range(4)
            )
            print(
                f"all {self.n} processes: {done} written, {skipped} already there, "
                f"{failed} failed, {unlabelled} unlabelled -> {report.out_dir}",
                file=sys.stdout,
            )


def launched_processes() -> Launch:
    """The launch this process belongs to: accelerate's (or torchrun's) ``WORLD_SIZE`` > 1
    starts accelerate's ``PartialState`` (gloo on CPU, NCCL on GPUs); else one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Launch()
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # CPU processes: gloo
    return Launch(state.process_index, state.num_processes, str(state.device), state)
