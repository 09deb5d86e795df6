"""Articles and passages in SQLite: inspectable with any sqlite3 shell, no pickles."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from askbot.store.manifest import IndexCorrupt
from askbot.types import Article, Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    published TEXT NOT NULL,
    category TEXT NOT NULL,
    place TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_article ON passages(article_id);
CREATE INDEX IF NOT EXISTS articles_by_published ON articles(published);
"""

_ARTICLE_FIELDS = ("id", "title", "text", "source", "url", "published", "category", "place", "origin")


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        # a committed generation is never modified again: immutable skips all locking
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    else:
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA journal_mode=DELETE")
            con.execute("PRAGMA foreign_keys=ON")
            con.executescript(SCHEMA)
        except ValueError as exc:  # schema text that no longer decodes: sqlite3 raises UnicodeDecodeError
            con.close()
            raise IndexCorrupt(f"{path} is damaged ({exc})") from exc
    return con


IN_CHUNK = 500  # keys bound in one ``IN (...)``: well under SQLite's variable limit


def rows_in(con: sqlite3.Connection, sql: str, keys: Sequence[object]) -> Iterator[tuple[Any, ...]]:
    """The rows of ``sql``, whose ``{marks}`` stands for the keys' placeholders, for all ``keys``, IN_CHUNK at a
    time."""
    for i in range(0, len(keys), IN_CHUNK):
        chunk = list(keys[i : i + IN_CHUNK])
        yield from con.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


def _ints(ids: Sequence[int]) -> list[int]:
    return [int(i) for i in ids]  # numpy integers are no SQLite parameters


def article_hashes(con: sqlite3.Connection, ids: Sequence[str] | None = None) -> dict[str, str]:
    """Article id -> content hash of the articles among ``ids`` (every one when None)."""
    if ids is None:
        return dict(con.execute("SELECT id, hash FROM articles"))
    return dict(rows_in(con, "SELECT id, hash FROM articles WHERE id IN ({marks})", ids))


def put_article(con: sqlite3.Connection, article: Article, passages: Sequence[Passage], pids: Sequence[int]) -> None:
    con.execute(
        "INSERT OR REPLACE INTO articles (id, hash, title, text, source, url, published, category, place, origin)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            article.id,
            article.content_hash,
            article.title,
            article.text,
            article.source,
            article.url,
            article.published,
            article.category,
            article.place,
            article.origin,
        ),
    )
    con.executemany(
        'INSERT INTO passages (pid, article_id, ordinal, start, "end") VALUES (?,?,?,?,?)',
        [(pid, p.article_id, p.ordinal, p.start, p.end) for pid, p in zip(pids, passages, strict=True)],
    )


def delete_articles(con: sqlite3.Connection, ids: Iterable[str]) -> list[int]:
    """Delete articles and their passages; returns the passage ids that went with them."""
    gone: list[int] = []
    for aid in ids:
        gone.extend(pid for (pid,) in con.execute("SELECT pid FROM passages WHERE article_id=?", (aid,)))
        con.execute("DELETE FROM passages WHERE article_id=?", (aid,))
        con.execute("DELETE FROM articles WHERE id=?", (aid,))
    return gone


def get_article(con: sqlite3.Connection, article_id: str) -> Article | None:
    row = con.execute(f"SELECT {', '.join(_ARTICLE_FIELDS)} FROM articles WHERE id=?", (article_id,)).fetchone()
    return Article(*row) if row else None


def get_passages(con: sqlite3.Connection, pids: Sequence[int]) -> dict[int, tuple[str, int, int, int]]:
    """pid -> (article_id, ordinal, start, end) for the pids that exist."""
    sql = 'SELECT pid, article_id, ordinal, start, "end" FROM passages WHERE pid IN ({marks})'
    return {pid: (aid, ordinal, start, end) for pid, aid, ordinal, start, end in rows_in(con, sql, _ints(pids))}


def passage_texts(con: sqlite3.Connection, pids: Sequence[int]) -> dict[int, str]:
    """pid -> the passage's text, cut from its article's text in SQLite."""
    sql = (
        'SELECT p.pid, substr(a.text, p.start + 1, p."end" - p.start) FROM passages p '
        "JOIN articles a ON a.id = p.article_id WHERE p.pid IN ({marks})"
    )
    return dict(rows_in(con, sql, _ints(pids)))


def filtered_pids(
    con: sqlite3.Connection,
    source: str | None = None,
    category: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[int]:
    """Passage ids whose article matches every given filter (dates compare as ISO strings)."""
    where: list[str] = []
    args: list[str | int] = []
    if source:
        where.append("lower(a.source) = lower(?)")
        args.append(source)
    if category:
        where.append("lower(a.category) = lower(?)")
        args.append(category)
    if since:
        where.append("a.published >= ?")
        args.append(since)
    if until:
        where.append("a.published != '' AND substr(a.published, 1, ?) <= ?")
        args.extend([len(until), until])
    sql = "SELECT p.pid FROM passages p JOIN articles a ON a.id = p.article_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [pid for (pid,) in con.execute(sql, args)]


def published_of(con: sqlite3.Connection, pids: Sequence[int]) -> dict[int, str]:
    """pid -> its article's publication date ("" when unknown)."""
    marks = ",".join("?" * len(pids))
    sql = f"SELECT p.pid, a.published FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.pid IN ({marks})"
    return dict(con.execute(sql, [int(p) for p in pids]))


def latest_articles(con: sqlite3.Connection, limit: int) -> list[Article]:
    """The ``limit`` most recently published articles (undated ones never)."""
    rows = con.execute(
        f"SELECT {', '.join(_ARTICLE_FIELDS)} FROM articles WHERE published != '' ORDER BY published DESC LIMIT ?",
        (limit,),
    )
    return [Article(*row) for row in rows]


def counts(con: sqlite3.Connection) -> tuple[int, int]:
    (articles,) = con.execute("SELECT count(*) FROM articles").fetchone()
    (passages,) = con.execute("SELECT count(*) FROM passages").fetchone()
    return int(articles), int(passages)


def all_pids(con: sqlite3.Connection) -> list[int]:
    return [pid for (pid,) in con.execute("SELECT pid FROM passages ORDER BY pid")]


def titles(con: sqlite3.Connection, article_ids: Sequence[str]) -> dict[str, str]:
    marks = ",".join("?" * len(article_ids))
    return dict(con.execute(f"SELECT id, title FROM articles WHERE id IN ({marks})", list(article_ids)))


def pids_of_articles(con: sqlite3.Connection, article_ids: Sequence[str]) -> list[int]:
    return [pid for (pid,) in rows_in(con, "SELECT pid FROM passages WHERE article_id IN ({marks})", article_ids)]


def copy_articles(source: sqlite3.Connection, target: sqlite3.Connection, exclude: Iterable[str] = ()) -> None:
    """Copy every article of ``source`` but ``exclude``, with its passages, into ``target``."""
    skip = set(exclude)
    columns = "id, hash, title, text, source, url, published, category, place, origin"
    rows = source.execute(f"SELECT {columns} FROM articles")
    while batch := rows.fetchmany(500):
        target.executemany(
            f"INSERT INTO articles ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?)", [r for r in batch if r[0] not in skip]
        )
    rows = source.execute('SELECT pid, article_id, ordinal, start, "end" FROM passages')
    while batch := rows.fetchmany(2000):
        target.executemany(
            'INSERT INTO passages (pid, article_id, ordinal, start, "end") VALUES (?,?,?,?,?)',
            [r for r in batch if r[1] not in skip],
        )
