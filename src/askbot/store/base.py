"""The store interface: all that the rest of askbot may ask of an index, whichever backend holds it.

Retrieval, answering, evaluation and the faces talk to a ``StoreReader`` and never to SQLite, FAISS or BM25
objects; a backend proves itself by passing the contract tests (tests/test_store_contract.py) unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from askbot.types import Article, Filters, IndexInfo, Passage


def facets_of(rows: Iterable[tuple[str, str, str]]) -> dict[str, object]:
    """``StoreReader.facets()`` from each live article's (source, category, published): every backend's summary."""
    sources: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    dates: list[str] = []
    undated = 0
    for source, category, published in rows:
        sources[source] += 1
        categories[category] += 1
        if published:
            dates.append(published)
        else:
            undated += 1
    return {
        "sources": dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
        "categories": dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))),
        "published": {
            "first": min(dates, default=None),
            "last": max(dates, default=None),
            "dated": len(dates),
            "undated": undated,
        },
    }


def article_statuses(hashes: dict[str, str], articles: Sequence[Article]) -> dict[str, str]:
    """Article id -> 'new', 'changed' or 'unchanged': each of ``articles`` against the content hashes of what is
    indexed (``hashes`` holds at least theirs)."""
    out = {}
    for article in articles:
        old = hashes.get(article.id)
        out[article.id] = "new" if old is None else ("unchanged" if old == article.content_hash else "changed")
    return out


class StoreReader(Protocol):
    """One consistent, read-only view of an index (a committed state: a writer's later commit is not seen)."""

    def info(self) -> IndexInfo: ...

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]: ...

    def passage_ids(self) -> np.ndarray:
        """Every indexed passage id, ascending (what a benchmark or a consistency check walks)."""
        ...

    def articles(self, ids: Sequence[str]) -> dict[str, Article]: ...

    def content_hashes(self, ids: Sequence[str] | None = None) -> dict[str, str]:
        """Article id -> content hash of the indexed articles among ``ids`` (those not indexed are left out), or of
        every indexed article when ``ids`` is None: an ``add`` asks for its own articles' only."""
        ...

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None: ...

    def facets(self) -> dict[str, object]:
        """{"sources": {name: articles}, "categories": {...}, "published": {"first", "last", "dated", "undated"}}"""
        ...

    def dense_search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def dense_scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray: ...

    def lexical_search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def lexical_scores(
        self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None
    ) -> np.ndarray: ...

    def idf(self, terms: Sequence[str]) -> dict[str, float]: ...

    def words(self, min_df: int = 1) -> list[str]:
        """The content words (single-word lexical terms) held by at least ``min_df`` passages, sorted: what a
        question in another language is translated into (askbot.lexicon). A passage removed since the last
        compaction may still count."""
        ...

    def iter_articles(self) -> Iterator[tuple[Article, list[Passage], np.ndarray, list[list[str]]]]:
        """Every article with its passages, their vectors and lexical terms (a migration copies these as they are)."""
        ...

    def verify(self) -> list[str]: ...

    def close(self) -> None: ...


class StoreWriter(Protocol):
    """The one writer of an index (others get IndexBusy). Use as a context manager: leaving it without
    ``commit()`` (an error, a kill) abandons everything written since the last commit; readers never see half a
    write. ``terms`` are each passage's lexical terms (``askbot.arabic.lexical_terms``): the Arabic rules stay in
    askbot, a backend only stores and scores them."""

    def __enter__(self) -> StoreWriter: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None: ...

    def statuses(self, articles: Sequence[Article]) -> dict[str, str]:
        """Article id -> 'new', 'changed' or 'unchanged' of each of ``articles``, against what is indexed now (by
        content hash; this writer's own upserts and removals included)."""
        ...

    def upsert(
        self,
        article: Article,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        terms: Sequence[Sequence[str]],
    ) -> None:
        """Insert ``article`` with its passages, their vectors and lexical terms, replacing an older version."""
        ...

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles with their passages; returns the ids that were indexed."""
        ...

    def checkpoint(self) -> None:
        """Commit what is written so far and go on writing: an interrupted run resumes from here."""
        ...

    def commit(self) -> IndexInfo:
        """Make everything written visible to new readers, atomically."""
        ...

    def relex(self) -> int:
        """Re-tokenize every stored passage from its text (the text rules changed), keep the vectors, and commit;
        returns the number of passages."""
        ...

    def compact(self) -> IndexInfo:
        """Reclaim what deletions and many small writes left (local: merge every segment into one), and commit."""
        ...
