"""A segment's lexical vocabulary: term -> id in ``vocab.sqlite``, read one indexed lookup at a time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from askbot.store.metadata import rows_in

VOCAB = "vocab.sqlite"


class StoredVocabulary:
    """Term -> id, read from ``vocab.sqlite`` one lookup at a time.

    At the whole news corpus the vocabulary (words and word pairs) holds millions of terms: parsing it
    whole would cost seconds of every cold ``askbot ask``; a question needs a dozen indexed lookups.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._db.execute("SELECT id FROM terms LIMIT 1").fetchall()  # a damaged header fails here, not mid-answer

    def get(self, term: str, default: int | None = None) -> int | None:
        row = self._db.execute("SELECT id FROM terms WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else default

    def ids_of(self, terms: list[str]) -> dict[str, int]:
        """Term -> id of those of ``terms`` held, in one query (a question's dozen terms, in each segment)."""
        return dict(rows_in(self._db, "SELECT term, id FROM terms WHERE term IN ({marks})", terms))

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __getitem__(self, term: str) -> int:
        tid = self.get(term)
        if tid is None:
            raise KeyError(term)
        return tid

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM terms").fetchone()[0])

    def as_dict(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT term, id FROM terms"))

    def words(self) -> list[tuple[str, int]]:
        """(term, id) of the single words, word pairs ("a_b") left out."""
        return self._db.execute("SELECT term, id FROM terms WHERE instr(term, '_') = 0").fetchall()

    def close(self) -> None:
        self._db.close()


def save_vocabulary(vocab: dict[str, int], path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE terms (term TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID")
        db.executemany("INSERT INTO terms VALUES (?, ?)", vocab.items())
        db.commit()
    finally:
        db.close()
