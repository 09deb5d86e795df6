"""askbot's CLI run inside the test process: ``askbot.cli.main`` with its stdin, stdout and stderr captured.

For the tests that check what a command prints and returns: ~1 CPU s less a command than a subprocess (interpreter,
imports, the model's load: the session shares one encoder). What only a process shows (a cold start's imports,
signals, closed pipes, a terminal, the ``python -m askbot.cli`` entry point) is still tested with real processes.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Ran:
    """What a command returned and printed (the fields a ``subprocess.CompletedProcess`` has)."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*argv: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Ran:
    """``askbot ARGV...`` with ``env`` added to the environment for the command; never a traceback."""
    from askbot.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in env or {}}
    handler, reader = signal.getsignal(signal.SIGINT), sys.stdin
    os.environ.update(env or {})
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse: usage errors, --help, --version
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.stdin = reader
        if handler is not None:
            signal.signal(signal.SIGINT, handler)  # main() sets its own
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    ran = Ran(code, out.getvalue(), err.getvalue())
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran
