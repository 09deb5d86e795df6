"""Bad input end to end: random bytes, Unicode, broken JSONL and HTML through kb.add; size limits; odd questions."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import askbot
from askbot.ingest import read_paths
from askbot.kb import KnowledgeBase

SEED_QUESTION = "من وقّع المحضر الأمني المشترك مع شمخاني؟"
SEED_ID = "102c93eeae5ae0e9"

sys.path.insert(0, str(Path(__file__).parent))  # cli_run, under pytest's importlib import mode
from cli_run import Ran, run_cli  # noqa: E402

# Examples per property: few by default, many when the benchmark sets BAD_INPUT_PROFILE=reliability.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile("bad-input", max_examples=15, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile(
    "reliability",
    max_examples=int(os.environ.get("BAD_INPUT_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=_SLOW_OK,
)
PROFILE = settings.get_profile(os.environ.get("BAD_INPUT_PROFILE", "bad-input"))

WORDS = ["الأمن", "بغداد", "شمخاني", "الاقتصاد", "وقّع", "مدينة", "news", "خبر", "١٩", "2023", "قال", "إيران"]
INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u061c",
    "\ufeff",
    "\u00ad",
    "\u2060",
]
_SURROGATE = re.compile("[\ud800-\udfff]")
_numbers = itertools.count()


@pytest.fixture(scope="module")
def kb(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """A private copy of the session index that every example of this module adds to."""
    target = tmp_path_factory.mktemp("bad-input") / "vectors"
    shutil.copytree(built_index, target, ignore=shutil.ignore_patterns(".writer.lock"))
    return askbot.open(target)


def stored(kb: KnowledgeBase) -> dict[str, str]:
    """Article id -> text of everything indexed."""
    assert kb.reader is not None
    articles = kb.reader.articles(list(kb.reader.content_hashes()))
    return {aid: a.text for aid, a in articles.items()}


def add_with_a_good_article(kb: KnowledgeBase, files: dict[str, bytes]) -> tuple[askbot.IndexReport, Path]:
    """``files`` plus one well-formed article in a fresh folder, through kb.add; nothing indexed may be lost."""
    number = next(_numbers)
    folder = Path(tempfile.mkdtemp(prefix="bad-", dir=kb.index_dir.parent))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    good = {"id": f"good-{number}", "title": "خبر سليم", "text": f"افتتحت مكتبة عامة جديدة رقم {number} في المدينة."}
    (folder / "good.jsonl").write_text(json.dumps(good, ensure_ascii=False) + "\n", encoding="utf-8")
    items = list(read_paths([folder]))
    before = stored(kb)
    report = kb.add([folder])
    after = stored(kb)
    outcomes = report.added + report.updated + report.unchanged + report.problems
    assert len(outcomes) == len(items), "an item was neither indexed nor reported"
    assert {a: t for a, t in before.items() if a not in report.updated} == {
        a: after.get(a) for a in before if a not in report.updated
    }, "previously indexed articles were lost or changed"
    assert good["id"] in report.added and after[good["id"]] == good["text"]
    for problem in report.problems:
        assert problem.origin.startswith(str(folder)) and problem.reason.strip(), problem
        assert "good.jsonl" not in problem.origin
    assert kb.check() == []
    shutil.rmtree(folder)
    return report, folder


# --- properties: whatever the bytes, each item is indexed or reported, and the rest goes in ----------------


@PROFILE
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".md", ".html", ".jsonl", ".jsonl.gz"]))
def test_random_bytes_in_any_format(kb: KnowledgeBase, data: bytes, suffix: str) -> None:
    raw = gzip.compress(data) if suffix == ".jsonl.gz" and data[:1] != b"\x1f" else data
    add_with_a_good_article(kb, {f"random{suffix}": raw})


_TEXT = st.lists(
    st.one_of(
        st.sampled_from(WORDS),
        st.sampled_from(INVISIBLE + [" ", "\n", "\t", "\r", "\x00", "\x85", "\u2028", "\u0651", "\u0640"]),
        st.text(st.characters(exclude_categories=()), max_size=12),  # any code point
        st.characters(categories=["Cs"]),  # an unpaired surrogate: what a "\\ud800" JSON escape gives
    ),
    max_size=40,
).map("".join)


@PROFILE
@given(title=_TEXT, text=_TEXT, ascii_json=st.booleans())
def test_random_unicode_as_text_and_as_jsonl(kb: KnowledgeBase, title: str, text: str, ascii_json: bool) -> None:
    record_id = f"u-{next(_numbers)}"
    line = json.dumps({"id": record_id, "title": title, "text": text}, ensure_ascii=ascii_json)
    files = {
        "unicode.txt": f"{title}\n\n{text}".encode("utf-8", "surrogatepass"),
        "unicode.jsonl": line.encode("utf-8", "surrogatepass") + b"\n",
    }
    report, folder = add_with_a_good_article(kb, files)
    problems = {p.origin for p in report.problems}
    if record_id in report.added:  # stored as JSON means it; unpaired surrogates (not Unicode) as U+FFFD
        assert stored(kb)[record_id] == _SURROGATE.sub("\ufffd", json.loads(line)["text"])
    else:
        assert f"{folder / 'unicode.jsonl'}:1" in problems, report


def _record(number: int) -> dict[str, object]:
    return {"id": f"j-{number}", "title": "عنوان", "text": f"خبر رقم {number} عن الاقتصاد في بغداد.", "source": "t"}


@st.composite
def jsonl_lines(draw: st.DrawFn) -> tuple[list[bytes], list[str]]:
    """Lines of a JSONL file and what each must give: "article", "problem", "either" or "" (blank)."""
    lines, expect = [], []
    for number in range(draw(st.integers(1, 12))):
        record = _record(number)  # the same id and text in every example: indexed once, then unchanged
        valid = json.dumps(record, ensure_ascii=False).encode()
        kind = draw(st.sampled_from(["valid", "truncated", "garbage", "nested", "not-utf8", "odd-types", "blank"]))
        if kind == "valid":
            line, outcome = valid, "article"
        elif kind == "truncated":
            line, outcome = valid[: draw(st.integers(1, len(valid) - 1))], "problem"
        elif kind == "garbage":
            line, outcome = draw(st.binary(min_size=1, max_size=60)).replace(b"\n", b" "), "either"
        elif kind == "nested":
            depth = draw(st.integers(1, 200_000))
            line, outcome = b"[" * depth + b"]" * draw(st.sampled_from([0, depth])), "problem"
        elif kind == "not-utf8":
            line, outcome = b"\xff" + valid, "problem"
        elif kind == "odd-types":
            odd = draw(st.sampled_from([None, 7, 1e308, [], {"a": 1}, True, float("nan"), "  ", ["نص", 1]]))
            field = draw(st.sampled_from(["text", "title", "published", "id", "source"]))
            if field == "id" and odd is not None:
                odd = [odd]  # a list id: unlikely to collide with another line's
            line, outcome = json.dumps(record | {field: odd}, ensure_ascii=False).encode(), "either"
        else:
            line, outcome = draw(st.sampled_from([b"", b"   ", b"\t\r"])), ""
        if not line.strip():
            outcome = ""
        lines.append(line)
        expect.append(outcome if outcome != "article" else str(record["id"]))
    return lines, expect


@PROFILE
@given(jsonl=jsonl_lines(), bom=st.booleans())
def test_malformed_jsonl_lines_are_reported_by_number_and_the_rest_indexed(
    kb: KnowledgeBase, jsonl: tuple[list[bytes], list[str]], bom: bool
) -> None:
    lines, expect = jsonl
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + b"\n"
    if bom and not expect[0]:
        expect[0] = "either"  # known: a BOM alone on line 1 is reported as malformed JSON (askbot.ingest.jsonl)
    report, folder = add_with_a_good_article(kb, {"news.jsonl": data})
    reported = {p.origin.rsplit(":", 1)[1] for p in report.problems if p.origin.startswith(str(folder / "news.jsonl"))}
    indexed = set(report.added + report.updated + report.unchanged)
    for number, outcome in enumerate(expect, 1):
        if outcome == "problem":
            assert str(number) in reported, (number, lines[number - 1][:80], report)
        elif outcome not in ("", "either"):
            assert outcome in indexed and str(number) not in reported, (number, report)
        elif outcome == "":
            assert str(number) not in reported


_ELEMENT_TEXT = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(["&amp;", "&#0;", "&#x110000;", "&bogus;", "&", "<", "]]>", "<!--", "-->", "\x00"]),
    _TEXT,
)
_TAGS = ["p", "div", "article", "h1", "script", "style", "title", "span", "table", "td", "br", "meta", "a", "svg"]


def _html(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    attribute = st.one_of(st.just(""), st.sampled_from([' class="x"', " href='", ' content="2023-03-19"', " x=<>"]))
    return st.builds(
        lambda tag, attr, body, close: f"<{tag}{attr}>{''.join(body)}" + (f"</{tag}>" if close else ""),
        st.sampled_from(_TAGS),
        attribute,
        st.lists(children, max_size=4),
        st.booleans(),
    )


_HTML = st.recursive(_ELEMENT_TEXT, _html, max_leaves=30)


@PROFILE
@given(body=st.lists(_HTML, max_size=6).map("".join), wrap=st.booleans(), depth=st.integers(0, 3000))
def test_malformed_html(kb: KnowledgeBase, body: str, wrap: bool, depth: int) -> None:
    page = "<div>" * depth + body + ("</div>" * depth if wrap else "")
    if wrap:
        page = f"<html><head><title>عنوان</title></head><body>{page}</body></html>"
    add_with_a_good_article(kb, {"page.html": page.encode("utf-8", "surrogatepass")})


# --- limits: refused quickly with a message, never a crash --------------------------------------------------


def _cli(*args: str, index: Path, stdin: str | None = None) -> Ran:
    """``askbot --index INDEX ARGS``, run in this process."""
    return run_cli("--index", str(index), *args, stdin=stdin)


def test_a_200_mb_file_is_refused_quickly(kb: KnowledgeBase, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    block = ("سطر مكرر من خبر طويل جدا عن الاقتصاد.\n" * 16_000).encode()[: 1 << 20]
    with big.open("wb") as out:
        for _ in range(200):
            out.write(block)
    assert big.stat().st_size == 200 << 20
    started = time.monotonic()
    report = kb.add([big])
    assert time.monotonic() - started < 20
    (problem,) = report.problems
    assert problem.origin == str(big) and "larger than 50 MB" in problem.reason and not report.added
    proc = _cli("index", str(big), index=kb.index_dir)
    assert proc.returncode == 4 and "larger than 50 MB" in proc.stderr
    assert kb.check() == [] and kb.ask(SEED_QUESTION).found


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_a_million_character_line_is_refused_with_a_message(kb: KnowledgeBase, suffix: str) -> None:
    line = ("كلمة عربية " * 100_000)[:1_000_000]
    data = line if suffix == ".txt" else json.dumps({"id": "long", "title": "طويل", "text": line}, ensure_ascii=False)
    started = time.monotonic()
    report, folder = add_with_a_good_article(kb, {f"long{suffix}": data.encode() + b"\n"})
    assert time.monotonic() - started < 60
    (problem,) = report.problems
    assert problem.origin.startswith(str(folder / f"long{suffix}")) and "1,000,000 characters" in problem.reason


def test_loops_dead_links_unreadable_and_undecodable_names_via_cli(kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "self.txt").symlink_to(folder / "self.txt")  # a link to itself: ELOOP
    (folder / "dangling.txt").symlink_to(folder / "missing.txt")
    (folder / "mem.txt").symlink_to("/proc/self/mem")  # unreadable even for root: EIO
    (folder / "folder.txt").mkdir()
    locked = folder / "locked.txt"
    locked.write_text("عنوان\n\nنص لا يقرأ.", encoding="utf-8")
    locked.chmod(0)
    name = os.fsencode(folder) + b"/\xff\xfe-name.txt"  # not UTF-8: Python sees surrogate escapes
    Path(os.fsdecode(name)).write_text("عنوان الخبر\n\nوصل وفد تجاري إلى ميناء العقبة صباح اليوم.", encoding="utf-8")
    proc = _cli("index", str(folder), index=kb.index_dir)
    assert proc.returncode == 0, proc.stderr
    for reason in ("symlink loop", "Too many levels of symbolic links", "broken symlink", "Input/output error"):
        assert reason in proc.stderr, proc.stderr
    assert f"added {2 if os.geteuid() == 0 else 1}," in proc.stderr  # root reads locked.txt all the same
    answer = kb.ask("متى وصل الوفد التجاري إلى ميناء العقبة؟", k=1)
    assert answer.found and "العقبة" in answer.excerpts[0].sentence
    assert kb.check() == []


# --- questions: any text, any length, invisible characters anywhere; never an exception -----------------------


@pytest.mark.parametrize(
    "question",
    [
        ("شمخاني " * 15_000)[:100_000],
        "ب" * 100_000,
        "\u200b" * 100_000,
        "\u202e" * 49_980 + SEED_QUESTION + "\u2069" * (50_020 - len(SEED_QUESTION)),
        "\u064e" * 100_000,
        "\ud800" * 100_000,
        "".join(chr(c) for c in range(0x20, 0x20 + 102_048) if not 0xD800 <= c < 0xE000),
    ],
    ids=["words", "one-word", "zero-width", "bidi", "diacritics", "surrogates", "every-code-point"],
)
def test_a_100_000_character_question_gets_an_answer_or_a_message(kb: KnowledgeBase, question: str) -> None:
    assert len(question) == 100_000
    answer = kb.ask(question)
    assert answer.found or answer.message
    if answer.found:
        assert all(e.text and e.citation.article_id for e in answer.excerpts)


@settings(PROFILE, max_examples=max(PROFILE.max_examples, 30))
@given(data=st.data())
def test_invisible_characters_between_words_change_nothing(kb: KnowledgeBase, data: st.DataObject) -> None:
    words = SEED_QUESTION.split(" ")
    separators = data.draw(
        st.lists(
            st.lists(st.sampled_from(INVISIBLE + [" "]), min_size=1, max_size=3).map("".join),
            min_size=len(words) + 1,
            max_size=len(words) + 1,
        )
    )
    question = separators[0] + "".join(w + s for w, s in zip(words, separators[1:], strict=True))
    clean, noisy = kb.ask(SEED_QUESTION, k=2), kb.ask(question, k=2)
    assert noisy.question == question
    assert [(e.passage_id, e.sentence) for e in noisy.excerpts] == [(e.passage_id, e.sentence) for e in clean.excerpts]


@settings(PROFILE, max_examples=max(PROFILE.max_examples, 30))
@given(question=st.text(st.characters(exclude_categories=()), max_size=300) | _TEXT)
def test_any_question_gets_an_answer_or_a_message(kb: KnowledgeBase, question: str) -> None:
    answer = kb.ask(question, k=2)
    assert answer.found or answer.message


def test_cli_never_prints_a_traceback_for_odd_questions(kb: KnowledgeBase) -> None:
    odd = "\u202b" + "\u200f\u200b".join(SEED_QUESTION.split(" ")) + "\u202c"
    proc = _cli("ask", odd, "--json", index=kb.index_dir)
    assert proc.returncode == 0 and json.loads(proc.stdout)["excerpts"][0]["citation"]["article_id"] == SEED_ID
    proc = _cli("ask", "-", index=kb.index_dir, stdin="\u2067" + "ب" * 100_000 + "\u2069")  # past argv's limit
    assert proc.returncode in (0, 1) and (proc.stdout.strip() or proc.stderr.strip())
