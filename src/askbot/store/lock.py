"""One writer at a time: an flock'd file that the kernel releases if the writer dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class IndexBusy(RuntimeError):
    """Another process holds the writer lock."""


class WriterLock:
    """Exclusive, non-blocking writer lock on ``<index>/.writer.lock`` holding the writer's PID."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ".writer.lock"
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise IndexBusy(
                f"the index in {self.path.parent} is being updated by PID {holder}; "
                "wait for it to finish (readers keep answering meanwhile)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
