"""The local store's reader: one committed generation, every live segment searched as one index."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from askbot.arabic import lexical_terms
from askbot.store import current_generation, dense, metadata
from askbot.store.base import facets_of
from askbot.store.lexical import TEXT_VERSION
from askbot.store.live_segments import close_all, describe, open_segments
from askbot.store.local_dense import SegmentedDense
from askbot.store.local_lexical import SegmentedLexical
from askbot.store.manifest import IndexCorrupt, IndexMismatch, Manifest
from askbot.store.pooled import Pool, search_units
from askbot.store.segment import Segment, forget_unused
from askbot.types import Article, Filters, IndexInfo, Passage

ArticleCopy = tuple[Article, list[Passage], np.ndarray, list[list[str]]]


class IndexReader:
    """One committed generation, opened read-only: every live segment, searched as one index."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.manifest = Manifest.load(generation)
        self.segments = open_segments(generation, self.manifest, full=True)
        forget_unused({str(s.folder) for s in self.segments})
        self._units = search_units(self.segments)  # the small segments pooled: one search for all of them
        self._dense = SegmentedDense(self._units, self.manifest.dim)
        self._lexical = SegmentedLexical(self._units, legacy=self.manifest.format == 1)
        self._home: dict[str, Segment] = {}  # article id -> the segment its live passages were last read from

    @classmethod
    def open(cls, index_dir: Path) -> IndexReader | None:
        generation = current_generation(index_dir)
        return cls(generation) if generation else None

    # ---- the store interface: what the rest of askbot may ask of an index -----------------------
    def info(self) -> IndexInfo:
        return describe(self.generation, self.manifest)

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        """The passages of ``ids`` that exist, with their text, keyed by passage id."""
        wanted = np.unique(np.asarray([int(i) for i in ids], np.int64))
        out: dict[int, Passage] = {}
        for segment, here in (found for unit in self._units for found in unit.holding(wanted)):
            rows = metadata.get_passages(segment.db, here)
            texts = metadata.passage_texts(segment.db, list(rows))
            for pid, (article_id, ordinal, start, end) in rows.items():
                out[pid] = Passage(article_id, ordinal, start, end, texts[pid])
                self._home[article_id] = segment
        return out

    def passage_ids(self) -> np.ndarray:
        """Every indexed passage id, ascending."""
        parts = [s.pids if s.live_rows is None else s.pids[s.live_rows] for s in self.segments]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every indexed passage: for benchmarks that reuse real vectors (local store only)."""
        return self._dense.vectors()

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        """The articles of ``ids`` that exist, keyed by id."""
        out: dict[str, Article] = {}
        for aid in dict.fromkeys(ids):
            home = self._home.get(aid)
            for segment in [home] if home is not None else reversed(self.segments):
                if aid not in segment.dead and (article := metadata.get_article(segment.db, aid)) is not None:
                    out[aid] = article
                    break
        return out

    def latest(self, limit: int) -> list[Article]:
        """The ``limit`` most recently published live articles (undated ones never), newest first."""
        found: dict[str, Article] = {}
        for segment in reversed(self.segments):  # newest segment first: its copy of an article is the live one
            for article in metadata.latest_articles(segment.db, limit + len(segment.dead)):
                if article.id not in segment.dead:
                    found.setdefault(article.id, article)
        return sorted(found.values(), key=lambda a: a.published, reverse=True)[:limit]

    def content_hashes(self, ids: Sequence[str] | None = None) -> dict[str, str]:
        """Article id -> content hash of the indexed articles among ``ids``, or of every one when None (what ``add``
        compares to skip unchanged ones)."""
        wanted = None if ids is None else list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        for segment in self.segments:
            try:
                hashes = metadata.article_hashes(segment.db, wanted)
            except (sqlite3.DatabaseError, ValueError) as exc:
                where = segment.folder / "meta.sqlite"
                raise IndexCorrupt(f"{where} is an unreadable SQLite database ({exc})") from exc
            out.update((a, h) for a, h in hashes.items() if a not in segment.dead)
        return out

    def facets(self) -> dict[str, object]:
        """Sources and categories with their article counts, and the first and last publication dates."""
        return facets_of(
            (source, category, published)
            for segment in self.segments
            for aid, source, category, published in segment.db.execute(
                "SELECT id, source, category, published FROM articles"
            )
            if aid not in segment.dead
        )

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Passage ids of the articles ``filters`` lets through; None when nothing is filtered."""
        if not filters:
            return None
        parts = [
            unit.live(np.sort(np.asarray(metadata.filtered_pids(unit.db, **vars(filters)), np.int64)))
            for unit in self._units
        ]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def dense_search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (cosines, passage ids) for a query vector, among ``allowed`` when given."""
        return self._dense.search(vector, k, allowed)

    def dense_scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosines of the query vector with the passages ``ids`` (0 for those not indexed)."""
        return self._dense.scores(vector, ids)

    def lexical_search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (BM25 scores, passage ids) with a positive score for lexical ``terms``."""
        return self._lexical.search(terms, k, allowed)

    def lexical_scores(self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 scores of the passages ``ids`` (0 for those without a query term)."""
        return self._lexical.scores(terms, ids, allowed)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each lexical term over all live passages (unseen terms get the rarest-term idf)."""
        return self._lexical.idf(terms)

    def words(self, min_df: int = 1) -> list[str]:
        return self._lexical.words(min_df)

    def iter_articles(self) -> Iterator[ArticleCopy]:
        """Every live article with its passages (by ordinal), their vectors and lexical terms: a copy to another
        backend needs no encoder. Segment by segment (one segment's vectors in memory at a time).

        Terms are re-derived from the passage texts by today's text rules (``lexical_terms``), which are the
        index's own only when its normalizer is the current ``TEXT_VERSION``: an older index is refused (relex it).
        """
        _refuse_other_text_rules(self.manifest, self.generation.parent)
        for segment in self.segments:
            yield from _articles_of(segment)

    def verify(self) -> list[str]:
        """Deep check: checksums, counts, every id resolvable. Returns the problems found."""
        problems: list[str] = []
        for segment in self.segments:
            segment.verify(problems)
        articles = len(self.content_hashes())
        passages = sum(s.live_passages for s in self.segments)
        if (articles, passages) != (self.manifest.articles, self.manifest.passages):
            problems.append(
                f"manifest counts {self.manifest.articles}/{self.manifest.passages} != "
                f"stored {articles}/{passages} (articles/passages)"
            )
        return problems + _live_twice(self.segments)

    def close(self) -> None:
        close_all(self.segments)
        for unit in self._units:
            if isinstance(unit, Pool):
                unit.close()


def _live_twice(segments: list[Segment]) -> list[str]:
    """A problem for each segment holding live articles that an earlier segment holds too."""
    problems: list[str] = []
    seen: set[str] = set()
    for segment in segments:
        live = {a for a in metadata.article_hashes(segment.db) if a not in segment.dead}
        if live & seen:
            problems.append(f"{segment.folder}: articles live in two segments: {sorted(live & seen)[:5]}")
        seen |= live
    return problems


def _refuse_other_text_rules(manifest: Manifest, where: Path) -> None:
    """IndexMismatch unless the index's text rules are today's (its terms can then be re-derived from texts)."""
    if manifest.normalizer_version != TEXT_VERSION:
        raise IndexMismatch(
            f"the index in {where} has text rules v{manifest.normalizer_version} (this askbot has "
            f"v{TEXT_VERSION}); re-tokenize it first: askbot index --relex --index {where}"
        )


def _articles_of(segment: Segment) -> Iterator[ArticleCopy]:
    """:meth:`IndexReader.iter_articles` of one segment."""
    ids, vectors = dense.vectors_of(segment.dense)
    order = np.argsort(ids)
    ids, vectors = ids[order], vectors[order]
    live = [aid for (aid,) in segment.db.execute("SELECT id FROM articles ORDER BY id") if aid not in segment.dead]
    for aid in live:
        article = metadata.get_article(segment.db, aid)
        if article is None:
            continue
        rows = segment.db.execute(
            'SELECT pid, ordinal, start, "end" FROM passages WHERE article_id = ? ORDER BY ordinal', (aid,)
        ).fetchall()
        pids = np.asarray([pid for pid, *_ in rows], np.int64)
        at = np.searchsorted(ids, pids)
        if len(pids) and (at.max() >= len(ids) or not np.array_equal(ids[at], pids)):
            raise IndexCorrupt(f"{segment.folder}: passages of article {aid!r} have no stored vector")
        passages = [Passage(aid, ordinal, start, end, article.text[start:end]) for _, ordinal, start, end in rows]
        yield article, passages, vectors[at], [lexical_terms(p.text) for p in passages]
