"""What the command-line faces share: messages on stderr, progress bars, exit statuses, indexing with a bar.

Only the standard library loads here (the CLI imports it before anything heavy, to handle Ctrl-C from its start).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from askbot.indexing import Progress
    from askbot.kb import KnowledgeBase

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_INDEX, EXIT_INPUT = 0, 1, 2, 3, 4
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE, as the shell reports them
T = TypeVar("T")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bounded(minimum: float, maximum: float | None = None, kind: Callable[[str], float] = int) -> Callable[[str], float]:
    """An argparse ``type``: ``kind(text)`` (int or float) from ``minimum`` to ``maximum``, else a sentence saying
    what is wanted (``--batch 0`` silently meant the default, ``--limit 0`` all questions, ``--sample -1`` nothing)."""
    noun = "a whole number" if kind is int else "a number"
    span = f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"wants {noun} {span}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"wants {noun} {span}, got {text}")
        return value

    return parse


def progress_bar(desc: str, unit: str = "passage") -> tuple[Progress, Callable[[], None]]:
    """A tqdm bar (counts, total and rate) fed with (done, total); a line a minute when stderr is a log.

    The bar appears with its first update, so it shows the total from its first frame.
    """
    if not sys.stderr.isatty():
        return progress_lines(desc, unit), lambda: None
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc=desc, unit=unit, total=total, file=sys.stderr, dynamic_ncols=True))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    return update, lambda: bars[0].close() if bars else None


def progress_lines(desc: str, unit: str = "passage", every_s: float = 60.0) -> Progress:
    """Progress for logs (cron, nohup): one line every ``every_s`` seconds with count, rate and time left. An update
    with nothing done yet restarts the clock (what came before it, a model's one-time build, is not work's rate)."""
    started = [time.monotonic()]
    last = [started[0]]

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0:
            started[0] = last[0] = now
            return
        if now - last[0] < every_s or not total:
            return
        last[0] = now
        rate = done / max(now - started[0], 1e-9)
        left = f", ~{(total - done) / rate / 60:.0f} min left" if rate and done < total else ""
        say(f"{desc}: {done:,}/{total:,} {unit}s ({done / total:.0%}), {rate:.1f}/s{left}")

    return update


def interruptible(work: Callable[[], T], interrupted: str) -> T:
    """``work()`` in a worker thread while this one waits for it, so Ctrl-C acts at once (not after the
    encoder's current batch): the message, then exit 130 without waiting. The index allows that at any moment:
    an uncommitted write is never made current, and the next writer clears it away."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            failure.append(exc)

    worker = threading.Thread(target=run, name="askbot-work", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        say(f"\naskbot: interrupted; {interrupted}")
        os._exit(EXIT_INTERRUPTED)
    if failure:
        raise failure[0]
    return result[0]


def index_with_progress(
    kb: KnowledgeBase, paths: list[str], rebuild: bool = False, mapping: dict[str, str] | None = None
) -> int:
    """``kb.add(paths)`` with a bar, Ctrl-C acting at once; what was skipped and the summary on stderr."""
    update, close = progress_bar("indexing", unit="article")
    try:
        report = interruptible(
            lambda: kb.add(paths, rebuild=rebuild, mapping=mapping, progress=update),
            "the index keeps what was committed before (its last checkpoint): the same command resumes",
        )
    finally:
        close()
    for problem in report.problems[:50]:
        say(f"skipped {problem.origin}: {problem.reason}")
    if len(report.problems) > 50:
        say(f"... and {len(report.problems) - 50} more skipped")
    nothing_read = not (report.added or report.updated or report.unchanged)
    if nothing_read and not report.problems:  # an empty folder, or one of READMEs: "added 0" alone puzzled
        say(
            f"no articles in {', '.join(paths)}: askbot reads .txt .md .html .jsonl .jsonl.gz files "
            f"(hidden files and README, LICENSE... are passed over)"
        )
        return EXIT_INPUT
    say(report.summary())
    return EXIT_INPUT if nothing_read and report.problems else EXIT_OK
