"""Folder locks: an exclusive ``flock`` on a lock file inside a folder.

One copy for every stage that must not share a folder with another process: the CAM and mask
pipelines hold ``.run.lock`` while they check and write ``run.json`` (waiting for each other),
and a training run holds ``.train.lock`` for its whole life (a second process is refused at
once, and the message names the process that holds the folder). The lock is the kernel's: a
process that dies (even by SIGKILL) releases it, so no stale lock file ever blocks a rerun.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock (the message names it)."""


def _holder() -> str:
    command = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    return f"process {os.getpid()} on {socket.gethostname()} ({command})"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, name: str, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/name`` while the ``with`` body runs.

    Args:
        folder: An existing folder.
        name: The lock file's name (created; left in place, it holds no state).
        wait: Block until the lock is free; False: raise at once if another process holds it.

    Raises:
        FolderLockedError: ``wait=False`` and another process holds the lock (the message
            names its process id, host and command, as it wrote them into the lock file).
    """
    import fcntl  # POSIX; the pipelines and the engine run on Linux and macOS

    path = Path(folder) / name
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            who = path.read_text(encoding="utf-8", errors="replace").strip()
            raise FolderLockedError(
                f"{folder} is in use by {who or 'another process'}; wait for it to finish, "
                "or use another folder"
            ) from None
        with contextlib.suppress(OSError):  # a full disk must not stop the lock itself
            os.ftruncate(fd, 0)
            os.pwrite(fd, _holder().encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
