"""The CLI face: askbot index | ask | chat | info | remove | check | migrate (thin over askbot.kb)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from askbot import present
from askbot.config import Settings
from askbot.kb import KnowledgeBase, Progress
from askbot.retrieval import METHODS, Filters
from askbot.store.lock import IndexBusy
from askbot.store.manifest import IndexCorrupt, IndexMismatch
from askbot.store.milvus.connection import MilvusUnavailable

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_INDEX, EXIT_INPUT = 0, 1, 2, 3, 4


STORE_HELP = "milvus:PATH.db (Milvus Lite) or milvus://HOST:PORT[/DB][?token=..] instead of --index (env ASKBOT_STORE)"


def _say(msg: str) -> None:
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
        _say(f"{desc}: {done:,}/{total:,} {unit}s ({done / total:.0%}), {rate:.1f}/s{left}")

    return update


def _kb(args: argparse.Namespace) -> KnowledgeBase:
    return KnowledgeBase(Settings.from_env(index=args.index, model=args.model, store=getattr(args, "store", None)))


def _index(kb: KnowledgeBase, paths: list[str], rebuild: bool = False, mapping: dict[str, str] | None = None) -> int:
    update, close = progress_bar("embedding", unit="article")
    try:
        report = kb.add(paths, rebuild=rebuild, mapping=mapping, progress=update)
    finally:
        close()
    for problem in report.problems[:50]:
        _say(f"skipped {problem.origin}: {problem.reason}")
    if len(report.problems) > 50:
        _say(f"... and {len(report.problems) - 50} more skipped")
    _say(report.summary())
    nothing_read = not (report.added or report.updated or report.unchanged)
    return EXIT_INPUT if nothing_read and report.problems else EXIT_OK


def _ensure_built(kb: KnowledgeBase) -> None:
    if kb.is_empty:
        seeds = Path(kb.settings.seeds)
        if not seeds.exists():
            raise IndexCorrupt(
                f"the index {kb.index_dir} is empty and there is no {seeds}/ to build it from; "
                "run: askbot index PATH..."
            )
        _say(f"the index {kb.index_dir}/ is empty: building it from {seeds}/ first (once)")
        _index(kb, [str(seeds)])


def cmd_index(args: argparse.Namespace) -> int:
    if args.relex:
        _say(f"re-tokenized {_kb(args).relex()} passages for the lexical index (vectors kept)")
        if not args.paths:
            return EXIT_OK
    elif not args.paths:
        raise ValueError("askbot index: give files or folders to index (or --relex)")
    mapping = dict(pair.split("=", 1) for pair in args.map) if args.map else None
    return _index(_kb(args), args.paths, rebuild=args.rebuild, mapping=mapping)


def cmd_migrate(args: argparse.Namespace) -> int:
    from askbot.store.migrate import migrate

    update, close = progress_bar("migrate", unit="article")
    try:
        report = migrate(args.source, args.target, progress=update, sample=args.sample)
    finally:
        close()
    _say(report.summary())
    for line in report.differing[:20]:
        _say(f"  {line}")
    return EXIT_OK if not report.differing else EXIT_INDEX


def _filters(args: argparse.Namespace) -> Filters | None:
    f = Filters(args.source, args.category, args.since, args.until)
    return f if f else None


def _print_answer(kb: KnowledgeBase, question: str, args: argparse.Namespace) -> int:
    answer = kb.ask(question, args.k, filters=_filters(args), method=args.method)
    if args.json:
        print(present.as_json(answer))
    else:
        print(present.as_text(answer, color=sys.stdout.isatty()))
    return EXIT_OK if answer.found else EXIT_NOT_FOUND


def cmd_ask(args: argparse.Namespace) -> int:
    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    kb = _kb(args)
    _ensure_built(kb)
    return _print_answer(kb, question, args)


def cmd_chat(args: argparse.Namespace) -> int:
    kb = _kb(args)
    _ensure_built(kb)
    kb.encoder.encode_queries(["warm up"])
    _say("askbot chat — اكتب سؤالك (Ctrl-D للخروج / Ctrl-D to quit)")
    while True:
        try:
            question = input("؟ ")
        except (EOFError, KeyboardInterrupt):
            print()
            return EXIT_OK
        if question.strip():
            t0 = time.perf_counter()
            _print_answer(kb, question, args)
            _say(f"({(time.perf_counter() - t0) * 1e3:.0f} ms)")


def cmd_info(args: argparse.Namespace) -> int:
    info = _kb(args).info()
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>11}: {value}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    removed = _kb(args).remove(args.ids)
    missing = sorted(set(args.ids) - set(removed))
    _say(f"removed {len(removed)} article(s)" + (f"; not indexed: {', '.join(missing)}" if missing else ""))
    return EXIT_OK if removed or not missing else EXIT_INPUT


def cmd_check(args: argparse.Namespace) -> int:
    problems = _kb(args).check()
    for p in problems:
        _say(f"problem: {p}")
    if problems:
        _say(f"repair: askbot index --rebuild --index {args.index or 'vectors'} PATH...")
        return EXIT_INDEX
    _say("index is sound")
    return EXIT_OK


def _retrieval_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, default=None, help="number of excerpts (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object (see README)")
    p.add_argument("--method", choices=METHODS, default="hybrid", help="retrieval method (default hybrid)")
    p.add_argument("--source", help="only articles from this source (e.g. bbc)")
    p.add_argument("--category", help="only articles of this category")
    p.add_argument("--since", help="only articles published on/after this ISO date (2018-03-01)")
    p.add_argument("--until", help="only articles published on/before this ISO date")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="askbot", description="Ask Arabic news articles; get cited excerpts.")
    # --index/--model work before the command and after it (askbot ask "..." --index DIR)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", type=Path, default=argparse.SUPPRESS, help="index folder (env ASKBOT_INDEX)")
    common.add_argument("--model", default=argparse.SUPPRESS, help="model name or path (env ASKBOT_MODEL)")
    common.add_argument("--store", default=argparse.SUPPRESS, help=STORE_HELP)
    parser.add_argument("--index", type=Path, default=None, help="index folder (env ASKBOT_INDEX, default vectors/)")
    parser.add_argument(
        "--model",
        default=None,
        help="sentence-transformers model name or path (env ASKBOT_MODEL; default: bundled e5-small)",
    )
    parser.add_argument("--store", default=None, help=STORE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="add new or changed articles from files/folders ('-' = stdin)")
    p.add_argument("paths", nargs="*")
    p.add_argument("--rebuild", action="store_true", help="start a fresh index (e.g. after changing model)")
    p.add_argument(
        "--relex",
        action="store_true",
        help="re-tokenize stored passages after a change of text rules (no re-embedding)",
    )
    p.add_argument(
        "--map",
        action="append",
        metavar="FIELD=ASKBOT_FIELD",
        help="JSONL field mapping, e.g. --map body=text --map headline=title",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", parents=[common], help="answer a question with cited excerpts")
    p.add_argument("question", nargs="+", help="the question ('-' reads it from stdin)")
    _retrieval_flags(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="ask questions one after another, model kept loaded")
    _retrieval_flags(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("info", parents=[common], help="what is indexed, with which model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("remove", parents=[common], help="delete articles by id")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("check", parents=[common], help="verify the index: checksums, counts, ids")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("migrate", help="copy an index to another store (vectors/ <-> milvus:...) without re-embedding")
    p.add_argument("--from", dest="source", required=True, help="index folder or milvus: location to copy")
    p.add_argument("--to", dest="target", required=True, help="where to copy it (replaced)")
    p.add_argument("--sample", type=int, default=200, help="queries whose rankings are compared (default 200)")
    p.set_defaults(func=cmd_migrate)

    for module, name in (("askbot.telegram.cli", "add_telegram_parser"), ("askbot.evaluation_cli", "add_eval_parser")):
        try:
            adder = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):
            continue
        adder(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except IndexBusy as exc:
        _say(f"askbot: {exc}")
        return EXIT_INDEX
    except (IndexMismatch, MilvusUnavailable) as exc:
        _say(f"askbot: {exc}")
        return EXIT_INDEX
    except (IndexCorrupt, sqlite3.DatabaseError) as exc:
        where = args.index or "vectors"
        if isinstance(exc, sqlite3.OperationalError) and args.command in ("index", "remove"):  # disk full, I/O error
            _say(f"askbot: cannot write the index ({exc}); it is as it was before this command")
            return EXIT_INDEX
        if isinstance(exc, sqlite3.DatabaseError):  # a damaged meta.sqlite the reader's first query did not catch
            exc = IndexCorrupt(f"the index's meta.sqlite is damaged ({exc})")
        _say(
            f"askbot: {exc}\nrepair: askbot check --index {where}; "
            f"to rebuild: askbot index --rebuild --index {where} PATH..."
        )
        return EXIT_INDEX
    except (ValueError, OSError) as exc:
        _say(f"askbot: {exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        _say("askbot: interrupted; the index is as it was before this command")
        return 130


if __name__ == "__main__":
    sys.exit(main())
