"""What the command-line faces share: messages on stderr, progress bars, exit statuses, indexing with a bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from askbot.indexing import Progress
from askbot.kb import KnowledgeBase

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_INDEX, EXIT_INPUT = 0, 1, 2, 3, 4


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def progress_bar(desc: str, unit: str = "passage") -> tuple[Progress, Callable[[], None]]:
    """A tqdm bar (counts and rate) fed with (done, total); a line a minute when stderr is a log, not a terminal."""
    if not sys.stderr.isatty():
        return progress_lines(desc, unit), lambda: None
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update, bar.close


def progress_lines(desc: str, unit: str = "passage", every_s: float = 60.0) -> Progress:
    """Progress for logs (cron, nohup): one line every ``every_s`` seconds with count, rate and time left."""
    started = time.monotonic()
    last = [started]

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < every_s or not total:
            return
        last[0] = now
        rate = done / max(now - started, 1e-9)
        left = f", ~{(total - done) / rate / 60:.0f} min left" if rate and done < total else ""
        say(f"{desc}: {done:,}/{total:,} {unit}s ({done / total:.0%}), {rate:.1f}/s{left}")

    return update


def index_with_progress(
    kb: KnowledgeBase, paths: list[str], rebuild: bool = False, mapping: dict[str, str] | None = None
) -> int:
    update, close = progress_bar("embedding", unit="article")
    try:
        report = kb.add(paths, rebuild=rebuild, mapping=mapping, progress=update)
    finally:
        close()
    for problem in report.problems[:50]:
        say(f"skipped {problem.origin}: {problem.reason}")
    if len(report.problems) > 50:
        say(f"... and {len(report.problems) - 50} more skipped")
    say(report.summary())
    nothing_read = not (report.added or report.updated or report.unchanged)
    return EXIT_INPUT if nothing_read and report.problems else EXIT_OK
