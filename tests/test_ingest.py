"""Readers: the seed layout, encodings, JSONL, HTML, Markdown, folders, stdin, and input that must not crash."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askbot.ingest import decode, jsonl, read_paths, read_stream, read_text_document
from askbot.ingest.dates import parse_date
from askbot.ingest.decode import read_limited
from askbot.types import Article, IngestProblem

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_102c93eeae5ae0e9.txt"
TITLE = "قطار تعزيز العلاقات مع دول الجوار يصل الى العراق"
ARABIC = f"{TITLE}\n\nوقع امين المجلس الاعلى للامن القومي المحضر الامني المشترك.\n"
NEWS = {
    "id": "AL-1",
    "url": "http://example.com/a",
    "source": "alarabia",
    "category": "culture",
    "title": "عنوان",
    "published": "2018-02-18T21:35:43+04:00",
    "text": "نص الخبر.",
}


def _read(*paths: str | Path, mapping: dict[str, str] | None = None) -> list[Article | IngestProblem]:
    return list(read_paths(paths, mapping=mapping))


def _one(path: Path) -> Article | IngestProblem:
    (item,) = _read(path)
    return item


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the seed layout -------------------------------------------------------------------------------


def test_seed_article() -> None:
    article = _one(SEED)
    assert isinstance(article, Article)
    assert article.id == "102c93eeae5ae0e9"
    assert article.title == "قطار تعزيز العلاقات مع دول جوار ايران، يصل الی العراق"
    assert article.published == "2023-03-19T04:46:00+00:00"
    assert (article.source, article.place) == ("العالم", "العراق")
    assert article.text.startswith("وقّع امين المجلس")
    assert article.text.endswith("لشعوب المنطقة.")
    assert "شاهد بالفيديو" not in article.text and "العالم - العراق" not in article.text
    assert "بتوقيت غرينتش" not in article.text and article.title not in article.text
    assert "المشترك بين البلدين.\n\nضمن تعزيز" in article.text  # lead, then the paragraphs, as in the file
    assert article.origin == str(SEED)


def test_seed_layout_with_levantine_month_and_western_digits() -> None:
    text = "عاجل\nالعنوان هنا\nالثلاثاء 5 تشرين الأول 2021 - 14:05 بتوقيت غرينتش\nالعالم - سوريا\nالفقرة الأولى.\n"
    article = read_text_document(text, "x.txt")
    assert isinstance(article, Article)
    assert (article.title, article.published) == ("العنوان هنا", "2021-10-05T14:05:00+00:00")
    assert (article.source, article.place, article.text) == ("العالم", "سوريا", "الفقرة الأولى.")


def test_plain_text_title_and_fallbacks(tmp_path: Path) -> None:
    article = read_text_document(ARABIC, "a.txt", name="a")
    assert isinstance(article, Article)
    assert article.title == TITLE
    assert article.text == "وقع امين المجلس الاعلى للامن القومي المحضر الامني المشترك."
    assert article.published == "" and len(article.id) == 16
    long_line = "كلمة " * 60
    only = read_text_document(long_line, "b.txt", name="b")
    assert isinstance(only, Article) and (only.title, only.text) == ("b", long_line.strip())
    assert read_text_document(ARABIC, "a.txt").id == read_text_document(ARABIC + "\n\n", "c.txt").id
    assert isinstance(read_text_document(" \n ", "d.txt"), IngestProblem)
    dated = read_text_document("2023-03-19\nالعنوان\nالنص.", "e.txt")
    assert isinstance(dated, Article) and (dated.published, dated.title, dated.text) == (
        "2023-03-19",
        "العنوان",
        "النص.",
    )


def test_stdin_plain_text_gets_a_title() -> None:
    (one_line,) = read_stream(io.BytesIO("وقع امين المجلس الاعلى للامن القومي المحضر.".encode()), "<stdin>")
    assert isinstance(one_line, Article) and one_line.title == "وقع امين المجلس الاعلى للامن القومي المحضر."
    long_line = "كلمة " * 60
    (long,) = read_stream(io.BytesIO(long_line.encode()), "<stdin>")
    assert isinstance(long, Article) and long.title == ("كلمة " * 16).strip() + "…" and long.text == long_line.strip()


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("الأحد ١٩ مارس ٢٠٢٣ - ٠٤:٤٦ بتوقيت غرينتش", "2023-03-19T04:46:00+00:00"),
        ("١٩ كانون الثاني ٢٠٢٣", "2023-01-19"),
        ("19 آذار/مارس 2023 10:30 م", "2023-03-19T22:30:00"),
        ("2018-02-18T21:35:43+04:00", "2018-02-18T21:35:43+04:00"),
        ("Sun, 19 Mar 2023 04:46:00 +0300", "2023-03-19T04:46:00+03:00"),
        ("31 فبراير 2023", ""),
        ("غير معروف", ""),
    ],
)
def test_parse_date(raw: str, iso: str) -> None:
    assert parse_date(raw) == iso


# --- bytes and encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1256", "utf-16", "utf-8-sig", "utf-8"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    article = _one(_write(tmp_path / "a.txt", ARABIC.encode(encoding)))
    assert isinstance(article, Article) and article.title == TITLE


def test_short_cp1256_and_crlf(tmp_path: Path) -> None:
    article = _one(_write(tmp_path / "a.txt", "عنوان\r\nنص قصير جدا\r\n".encode("cp1256")))
    assert isinstance(article, Article) and (article.title, article.text) == ("عنوان", "نص قصير جدا")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \n\t\n", "empty file"),
        ("\ufeff  \n".encode("utf-16"), "empty file"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), "binary file, skipped"),
        (bytes(range(1, 32)) * 20, "binary file, skipped"),
    ],
)
def test_refused_bytes(tmp_path: Path, data: bytes, reason: str) -> None:
    assert _one(_write(tmp_path / "a.txt", data)) == IngestProblem(str(tmp_path / "a.txt"), reason)


def test_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "MAX_DOCUMENT_BYTES", 100)
    problem = _one(_write(tmp_path / "big.txt", ARABIC.encode() * 10))
    assert isinstance(problem, IngestProblem) and "larger than" in problem.reason
    assert read_limited(io.BytesIO(b"12345"), limit=5) == b"12345"


# --- JSONL ------------------------------------------------------------------------------------------


def _jsonl(*records: object) -> bytes:
    return (
        b"\n".join(r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode() for r in records) + b"\n"
    )


def test_jsonl_reads_the_news_schema_and_reports_bad_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "news.jsonl",
        _jsonl(NEWS, b"{not json", b"", [1, 2], {"id": "x", "title": "no text"}, NEWS | {"id": "AL-2"}, b"\xff{}"),
    )
    items = _read(path)
    assert [type(i).__name__ for i in items] == ["Article", "IngestProblem", "IngestProblem", "IngestProblem"] + [
        "Article",
        "IngestProblem",
    ]
    first = items[0]
    assert first == Article(origin=f"{path}:1", **NEWS)
    assert items[1].origin == f"{path}:2" and items[1].reason.startswith("malformed JSON")
    assert items[2].origin == f"{path}:4" and "not a JSON object" in items[2].reason
    assert items[3] == IngestProblem(f"{path}:5", "no article text")
    assert isinstance(items[4], Article) and items[4].id == "AL-2" and items[4].origin == f"{path}:6"
    assert items[5].origin == f"{path}:7" and "UTF-8" in items[5].reason


def test_jsonl_fields_of_the_wrong_kind_are_reported_by_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "news.jsonl",
        _jsonl(
            NEWS | {"published": "not a date"},
            NEWS | {"id": "n2", "text": 12345},
            NEWS | {"id": "n3", "text": ["أ", "ب"]},
        ),
    )
    bad_date, number, parts = _read(path)
    assert isinstance(bad_date, IngestProblem) and bad_date.origin == f"{path}:1"
    assert "'not a date' is not a date" in bad_date.reason
    assert isinstance(number, IngestProblem) and number.origin == f"{path}:2" and "text is int 12345" in number.reason
    assert isinstance(parts, Article) and parts.text == "أ, ب"


def test_jsonl_mapping_gzip_bom_and_missing_id(tmp_path: Path) -> None:
    record = {"headline": "عنوان", "body": "نص", "date": "2023-03-19", "tags": ["a", "b"], "extra": 1}
    path = tmp_path / "news.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"\xef\xbb\xbf" + _jsonl(record))
    mapping = {"headline": "title", "body": "text", "date": "published", "tags": "category"}
    (article,) = _read(path, mapping=mapping)
    assert isinstance(article, Article)
    assert (article.title, article.text, article.published, article.category) == ("عنوان", "نص", "2023-03-19", "a, b")
    assert len(article.id) == 16 and article.origin == f"{path}:1"


def test_jsonl_without_a_text_field_says_which_field_to_map(tmp_path: Path) -> None:
    path = _write(tmp_path / "other.jsonl", _jsonl({"headline": "عنوان", "body": "نص الخبر هنا"}))
    (problem,) = _read(path)
    assert isinstance(problem, IngestProblem)
    assert problem.reason == (
        "no article text (no 'text' field; its other fields: headline, body; "
        "if body holds the article: --map body=text)"
    )
    (article,) = _read(path, mapping={"body": "text"})
    assert isinstance(article, Article) and article.text == "نص الخبر هنا"


def test_jsonl_corrupt_gzip_and_long_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _write(tmp_path / "bad.jsonl.gz", gzip.compress(_jsonl(NEWS, NEWS))[:-12])
    items = _read(broken)
    assert isinstance(items[-1], IngestProblem) and "cannot read further" in items[-1].reason
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 200)
    long = _write(tmp_path / "long.jsonl", _jsonl(NEWS | {"text": "ن" * 500}, NEWS))
    problem, article = _read(long)
    assert problem == IngestProblem(f"{long}:1", "line longer than 200 bytes, skipped")
    assert isinstance(article, Article) and article.origin == f"{long}:2"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(list(NEWS)) | st.text(), inner),
    max_leaves=8,
)


@settings(max_examples=150)
@given(
    st.lists(st.one_of(st.text().map(str.encode), st.binary(max_size=40), JSON_VALUES.map(json.dumps).map(str.encode)))
)
def test_random_jsonl_lines_never_raise(lines: list[bytes]) -> None:
    for item in jsonl.read_jsonl(io.BytesIO(b"\n".join(lines)), "<test>", mapping={"x": "text"}):
        assert isinstance(item, Article | IngestProblem)


# --- HTML and Markdown ------------------------------------------------------------------------------

HTML = """<html><head><title>عنوان الخبر | العالم</title>
<meta property="og:title" content="عنوان الخبر">
<meta property="og:site_name" content="قناة العالم">
<meta property="og:url" content="https://example.com/news/1">
<meta property="article:published_time" content="2023-03-19T04:46:00+00:00">
</head><body><nav>الرئيسية | سياسة | اقتصاد</nav><article><h1>عنوان الخبر</h1>
<p>وقع امين المجلس الاعلى للأمن القومي الايراني علي شمخاني ومستشار الأمن القومي قاسم الأعرجي المحضر الأمني
المشترك بين البلدين، وذلك بحضور رئيس مجلس الوزراء العراقي في بغداد.</p>
<p>وتعالج الاتفاقية الامنية بين العراق وايران التحدي الامني الناجم عن نشاطات الجماعات المسلحة في المنطقة.</p>
</article><footer>جميع الحقوق محفوظة</footer></body></html>"""


def test_html(tmp_path: Path) -> None:
    article = _one(_write(tmp_path / "page.html", HTML.encode()))
    assert isinstance(article, Article)
    assert article.title == "عنوان الخبر"
    assert article.published.startswith("2023-03-19")
    assert (article.url, article.source) == ("https://example.com/news/1", "قناة العالم")
    assert article.text.startswith("وقع امين المجلس") and "الحقوق محفوظة" not in article.text


def test_html_without_article_text(tmp_path: Path) -> None:
    problem = _one(_write(tmp_path / "empty.htm", b"<html><body><script>x()</script></body></html>"))
    assert isinstance(problem, IngestProblem) and "no article text" in problem.reason


def test_a_broken_html_reader_is_a_per_file_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pip 23 installs lxml 6 without lxml_html_clean (it misses justext's extra): trafilatura fails to import
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    page = _write(tmp_path / "page.html", HTML.encode())
    text = _write(tmp_path / "a.txt", ARABIC.encode())
    problem, article = _read(page, text)
    assert isinstance(problem, IngestProblem) and problem.origin == str(page)
    assert "HTML reader (trafilatura) cannot load" in problem.reason and "ModuleNotFoundError" in problem.reason
    assert isinstance(article, Article) and article.title == TITLE


def test_reading_text_does_not_load_the_html_reader(tmp_path: Path) -> None:
    text = _write(tmp_path / "a.txt", ARABIC.encode())
    code = (
        "import sys; from askbot.ingest import read_paths; items = list(read_paths([sys.argv[1]])); "
        "print(type(items[0]).__name__, 'trafilatura' in sys.modules, 'lxml' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(text)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["Article", "False", "False"], proc.stderr


def test_markdown_front_matter_and_heading(tmp_path: Path) -> None:
    md = '---\ntitle: "عنوان المقال"\ndate: 2023-03-19T04:46:00Z\nsource: العالم\nurl: https://example.com/x\n---\n\n'
    article = _one(_write(tmp_path / "a.md", (md + "# عنوان آخر\n\nالفقرة **الأولى**.\n\nالفقرة الثانية.\n").encode()))
    assert isinstance(article, Article)
    assert (article.title, article.source, article.url) == ("عنوان المقال", "العالم", "https://example.com/x")
    assert article.published == "2023-03-19T04:46:00+00:00"
    assert article.text == "الفقرة الأولى.\n\nالفقرة الثانية."  # no ** in quoted excerpts
    heading_only = _one(_write(tmp_path / "b.markdown", "# العنوان\n\nالنص.".encode()))
    assert isinstance(heading_only, Article) and (heading_only.title, heading_only.text) == ("العنوان", "النص.")


def test_markdown_markup_is_not_part_of_the_text(tmp_path: Path) -> None:
    md = (
        "# **عنوان** المقال\n\n## قسم\n\n> قال **الوزير** إن _الاتفاق_ و*الخطة* جاهزان، كما في [التقرير](https://x.y/r)"
        " و`الملحق`.\n\n---\n\n- بند ~~قديم~~ جديد\n\nالمعادلة 2*3*4 و snake_case_name تبقى.\n"
    )
    article = _one(_write(tmp_path / "a.md", md.encode()))
    assert isinstance(article, Article) and article.title == "عنوان المقال"
    assert article.text == (
        "قسم\n\nقال الوزير إن الاتفاق والخطة جاهزان، كما في التقرير والملحق.\n\n- بند قديم جديد\n\n"
        "المعادلة 2*3*4 و snake_case_name تبقى."
    )


# --- paths, folders and stdin ------------------------------------------------------------------------


def test_folder_recursion_sorted_hidden_unknown_and_symlink_loop(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "b" / "deeper").mkdir(parents=True)
    _write(root / "a.txt", ARABIC.encode())
    _write(root / "b" / "deeper" / "c.md", b"# c\n\ntext c")
    _write(root / "b" / "z.txt", b"z title\nz text")
    _write(root / ".hidden.txt", ARABIC.encode())
    _write(root / "notes.pdf", b"%PDF")
    _write(root / "README.md", b"# not an article\n\nabout this folder")
    (root / "b" / "loop").symlink_to(root, target_is_directory=True)
    (root / "b" / "same.txt").symlink_to(root / "a.txt")
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    items = _read(root)
    articles = [i for i in items if isinstance(i, Article)]
    problems = [i for i in items if isinstance(i, IngestProblem)]
    assert [Path(a.origin).name for a in articles] == ["a.txt", "c.md", "z.txt"]
    reasons = sorted(p.reason.split(" (")[0].split(",")[0].split(";")[0] for p in problems)
    assert reasons == ["broken symlink", "folder already read", "unsupported file type"]
    assert [Path(p.origin).name for p in problems if "unsupported" in p.reason] == ["notes.pdf"]


def test_named_paths(tmp_path: Path) -> None:
    pdf = _write(tmp_path / "notes.pdf", b"%PDF")
    readme = _write(tmp_path / "README.md", b"# Read me\n\nabout")
    missing, unsupported, named_readme = _read(tmp_path / "nope.txt", pdf, readme)
    assert isinstance(missing, IngestProblem) and "No such file" in missing.reason
    assert isinstance(unsupported, IngestProblem) and "unsupported file type" in unsupported.reason
    assert isinstance(named_readme, Article) and named_readme.title == "Read me"
    assert len(_read(SEED, SEED)) == 1  # the same file twice is read once


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    secret = _write(tmp_path / "secret.txt", ARABIC.encode())
    secret.chmod(0)
    try:
        problem = _one(secret)
    finally:
        secret.chmod(0o644)
    assert isinstance(problem, IngestProblem) and "cannot read" in problem.reason


def test_unreadable_file_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = _write(tmp_path / "secret.txt", ARABIC.encode())

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    assert _one(secret) == IngestProblem(str(secret), "cannot read: Permission denied")


def test_stdin_sniffs_jsonl_or_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"\n  " + _jsonl(NEWS, NEWS)))))
    assert [i.origin for i in _read("-")] == ["<stdin>:2", "<stdin>:3"]  # line 1 is blank
    (article,) = read_stream(io.BytesIO(ARABIC.encode("cp1256")), "<stdin>")
    assert isinstance(article, Article) and article.title.startswith("قطار")
    assert list(read_stream(io.BytesIO(b""), "<stdin>")) == [IngestProblem("<stdin>", "empty file")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([".txt", ".md", ".html", ".jsonl", ".jsonl.gz"]))
def test_random_bytes_never_raise(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder) / f"random{suffix}", data)
        for item in read_paths([path]):
            assert isinstance(item, Article | IngestProblem)
