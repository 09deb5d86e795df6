"""Where the benchmark and evaluation scripts find the real data, and the options that say so.

The data folder holds news/ant-v2.1.jsonl.gz (the ANT news corpus) and xquad-ar/xquad.{ar,en}.json (XQuAD). By
default it is ../shared/data beside the clone (the parent of the repository root), which a user's clone does not
have: every script takes ``--data DIR``, some also a file option such as ``--news FILE`` that overrides one file, and
a missing file ends the script with one line naming it and the option, not a traceback.

Usage in a script (python benchmarks/NAME.py puts benchmarks/ on sys.path; a script loaded by importlib adds it)::

    shared_data.add_options(parser, news=shared_data.NEWS)  # --data DIR and --news FILE
    args = shared_data.resolve(parser.parse_args())  # args.news: the --news file, else DIR/news/ant-v2.1.jsonl.gz
    shared_data.need(args.news, "--news")  # exits in one line when it is missing
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from askbot.evaluation import open_text  # a news file, gzipped or plain: the one opener, as askbot eval's

__all__ = ["DATA", "NEWS", "XQUAD_AR", "XQUAD_EN", "add_options", "need", "open_text", "resolve"]

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"  # ../shared/data beside the clone
NEWS = Path("news") / "ant-v2.1.jsonl.gz"  # the files, under the data folder
XQUAD_AR = Path("xquad-ar") / "xquad.ar.json"
XQUAD_EN = Path("xquad-ar") / "xquad.en.json"


@dataclass(frozen=True)
class UnderData:
    """A file option's default: this path under --data, filled in by resolve()."""

    path: Path

    def __str__(self) -> str:
        return f"DIR/{self.path.as_posix()}"


def add_options(parser: argparse.ArgumentParser, **files: Path) -> None:
    """``--data DIR`` and, for each ``name=path`` (a path under the data folder), ``--name FILE`` defaulting to it."""
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA,
        metavar="DIR",
        help="the folder with news/ and xquad-ar/ (default: ../shared/data beside the clone)",
    )
    for name, path in files.items():
        option = "--" + name.replace("_", "-")
        parser.add_argument(option, type=Path, default=UnderData(path), metavar="FILE", help="default: %(default)s")


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with every file option left at its default set to that file under ``args.data``."""
    for name, value in list(vars(args).items()):
        if isinstance(value, UnderData):
            setattr(args, name, args.data / value.path)
    return args


def need(path: Path, option: str | None = None) -> Path:
    """``path`` when it is a file; else exit with one line naming it and the option(s) that set it."""
    if not path.is_file():
        options = f"{option} FILE, or --data DIR" if option else "--data DIR"
        raise SystemExit(f"missing data file {path}: give {options} (the folder with news/ and xquad-ar/)")
    return path
