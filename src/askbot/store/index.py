"""Reading a committed generation, and writing the next one."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from askbot.arabic import lexical_terms
from askbot.store import commit_generation, current_generation, dense, metadata, new_generation, sweep_generations
from askbot.store.lexical import LexicalIndex
from askbot.store.lock import WriterLock
from askbot.store.manifest import IndexCorrupt, Manifest
from askbot.types import Article, Filters, IndexInfo, Passage

META, DENSE, LEXICAL = "meta.sqlite", "dense.faiss", "lexical"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tracked_files(generation: Path) -> list[Path]:
    files = [generation / META, generation / DENSE]
    files += sorted(p for p in (generation / LEXICAL).rglob("*") if p.is_file())
    return files


class IndexReader:
    """One committed generation, opened read-only: the manifest, SQLite, FAISS and BM25."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.manifest = Manifest.load(generation)
        for name in (META, DENSE):
            if not (generation / name).is_file():
                raise IndexCorrupt(f"{generation / name} is missing")
        for name, info in self.manifest.files.items():  # stat only: a truncated file is refused before it is read
            try:
                size = (generation / name).stat().st_size
            except OSError as exc:
                raise IndexCorrupt(f"{generation / name} is missing ({exc})") from exc
            if size != info["bytes"]:
                expected = info["bytes"]
                raise IndexCorrupt(f"{generation / name} has {size} bytes, the manifest says {expected}: truncated")
        self.db = metadata.connect(generation / META, readonly=True)
        try:
            self.db.execute("SELECT 1 FROM articles LIMIT 1").fetchall()
        except (sqlite3.DatabaseError, ValueError) as exc:  # ValueError: a garbled schema text fails to decode
            raise IndexCorrupt(f"{generation / META} is not a readable SQLite database ({exc})") from exc
        self.dense = dense.load(generation / DENSE, self.manifest.dim)
        self.lexical = LexicalIndex.load(generation / LEXICAL)

        self._lexical_memo: tuple[tuple[tuple[str, ...], int], np.ndarray | None] | None = None

    @classmethod
    def open(cls, index_dir: Path) -> IndexReader | None:
        generation = current_generation(index_dir)
        return cls(generation) if generation else None

    # ---- the store interface: what the rest of askbot may ask of an index -----------------------
    def info(self) -> IndexInfo:
        return self.describe(self.generation, self.manifest)

    @staticmethod
    def describe(generation: Path, m: Manifest) -> IndexInfo:
        return IndexInfo(
            location=str(generation.parent),
            backend="local",
            articles=m.articles,
            passages=m.passages,
            model=m.model_id,
            dim=m.dim,
            normalizer=m.normalizer_version,
            chunking=m.chunking,
            built=m.built,
            generation=generation.name,
        )

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        """The passages of ``ids`` that exist, with their text, keyed by passage id."""
        rows = metadata.get_passages(self.db, list(ids))
        texts = metadata.passage_texts(self.db, list(rows))
        return {
            pid: Passage(article_id, ordinal, start, end, texts[pid])
            for pid, (article_id, ordinal, start, end) in rows.items()
        }

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        """The articles of ``ids`` that exist, keyed by id."""
        return {aid: a for aid in dict.fromkeys(ids) if (a := metadata.get_article(self.db, aid)) is not None}

    def content_hashes(self) -> dict[str, str]:
        """Article id -> content hash of every indexed article (what ``add`` compares to skip unchanged ones)."""
        return metadata.article_hashes(self.db)

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Passage ids of the articles ``filters`` lets through; None when nothing is filtered."""
        if not filters:
            return None
        return np.asarray(metadata.filtered_pids(self.db, **vars(filters)), np.int64)

    def dense_search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (cosines, passage ids) for a query vector, among ``allowed`` when given."""
        return dense.search(self.dense, vector, k, None if allowed is None else allowed.tolist())

    def dense_scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosines of the query vector with the passages ``ids``."""
        return dense.scores_of(self.dense, vector, ids)

    def _lexical_all(self, terms: Sequence[str], allowed: np.ndarray | None) -> np.ndarray | None:
        key = (tuple(terms), id(allowed) if allowed is not None else -1)
        if self._lexical_memo is None or self._lexical_memo[0] != key:  # search then scores: one pass over BM25
            self._lexical_memo = (key, self.lexical.scores(terms, allowed))
        return self._lexical_memo[1]

    def lexical_search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (BM25 scores, passage ids) with a positive score for lexical ``terms``."""
        return self.lexical.top(self._lexical_all(terms, allowed), k)

    def lexical_scores(self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 scores of the passages ``ids`` (0 for those without a query term)."""
        return self.lexical.scores_of(self._lexical_all(terms, allowed), np.asarray(ids, np.int64))

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each lexical term (unseen terms get the rarest-term idf)."""
        return self.lexical.idf(terms)

    def iter_articles(self) -> Iterator[tuple[Article, list[Passage], np.ndarray, list[list[str]]]]:
        """Every article with its passages (by ordinal), their vectors and lexical terms: a copy needs no encoder.

        Terms are re-derived from the passage texts by today's text rules (``lexical_terms``), which are the
        index's own when its manifest's normalizer is the current ``TEXT_VERSION`` (else relex it first).
        """
        ids = [aid for (aid,) in self.db.execute("SELECT id FROM articles ORDER BY id")]
        for aid in ids:
            article = metadata.get_article(self.db, aid)
            rows = self.db.execute(
                'SELECT pid, ordinal, start, "end" FROM passages WHERE article_id = ? ORDER BY ordinal', (aid,)
            ).fetchall()
            if article is None:
                continue
            passages = [Passage(aid, ordinal, start, end, article.text[start:end]) for _, ordinal, start, end in rows]
            pids = np.asarray([pid for pid, *_ in rows], np.int64)
            vectors = self.dense.reconstruct_batch(pids) if len(pids) else np.empty((0, self.manifest.dim), np.float32)
            yield article, passages, vectors, [lexical_terms(p.text) for p in passages]

    def verify(self) -> list[str]:
        """Deep check: checksums, counts, every id resolvable. Returns the problems found."""
        problems: list[str] = []
        try:
            self._verify(problems)
        except (sqlite3.DatabaseError, ValueError) as exc:  # a damaged meta.sqlite fails queries, or decoding
            problems.append(f"{self.generation / META} is damaged ({exc})")
        return problems

    def _verify(self, problems: list[str]) -> None:
        for name, info in self.manifest.files.items():
            path = self.generation / name
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif path.stat().st_size != info["bytes"] or file_digest(path) != info["sha256"]:
                problems.append(f"{path} does not match its checksum in the manifest")
        articles, passages = metadata.counts(self.db)
        if (articles, passages) != (self.manifest.articles, self.manifest.passages):
            problems.append(
                f"manifest counts {self.manifest.articles}/{self.manifest.passages} != "
                f"stored {articles}/{passages} (articles/passages)"
            )
        if self.dense.ntotal != passages:
            problems.append(f"{self.dense.ntotal} vectors for {passages} passages")
        pids = np.asarray(metadata.all_pids(self.db), np.int64)
        vector_ids = np.sort(dense.vectors_of(self.dense)[0])
        if not np.array_equal(pids, vector_ids):
            problems.append("vector ids and passage ids differ (orphan vectors or passages without vectors)")
        if not np.array_equal(np.sort(self.lexical.pids), pids):
            problems.append("the lexical index does not cover exactly the stored passages")
        (orphans,) = self.db.execute(
            "SELECT count(*) FROM passages p LEFT JOIN articles a ON a.id = p.article_id WHERE a.id IS NULL"
        ).fetchone()
        if orphans:
            problems.append(f"{orphans} passages belong to no article")

    def close(self) -> None:
        self.db.close()


class IndexWriter:
    """Builds the next generation from the current one; ``commit()`` makes it current atomically.

    Use as a context manager: the writer lock is held from entry to exit, and an exit without
    ``commit()`` (an error, a crash) abandons the new generation and leaves the index as it was.
    """

    def __init__(self, index_dir: Path, manifest: Manifest, rebuild: bool = False, fresh_lexical: bool = False) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.rebuild = rebuild
        self.fresh_lexical = fresh_lexical  # relex: the old lexical files are not read (they may be of an old format)
        self._lock = WriterLock(index_dir)

    def __enter__(self) -> IndexWriter:
        self._lock.__enter__()
        try:
            self._begin()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def _begin(self) -> None:
        previous = None if self.rebuild else current_generation(self.index_dir)
        self.generation = new_generation(self.index_dir)
        if previous is not None:
            old = Manifest.load(previous)
            self.manifest.next_passage_id = old.next_passage_id
            shutil.copyfile(previous / META, self.generation / META)
            self.dense = dense.load(previous / DENSE, old.dim)
            self.lexical = (
                LexicalIndex.empty() if self.fresh_lexical else LexicalIndex.load(previous / LEXICAL, mmap=False)
            )
        else:
            self.dense = dense.empty(self.manifest.dim)
            self.lexical = LexicalIndex.empty()
        self.db = metadata.connect(self.generation / META, readonly=False)
        self.hashes = metadata.article_hashes(self.db)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if getattr(self, "db", None) is not None:
                self.db.close()
            if not getattr(self, "committed", False) and getattr(self, "generation", None) is not None:
                shutil.rmtree(self.generation, ignore_errors=True)
        finally:
            self._lock.__exit__(None, None, None)

    def status(self, article: Article) -> str:
        """'new', 'changed' or 'unchanged' relative to what is indexed."""
        old = self.hashes.get(article.id)
        return "new" if old is None else ("unchanged" if old == article.content_hash else "changed")

    def upsert(
        self,
        article: Article,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        terms: Sequence[Sequence[str]],
    ) -> None:
        """Insert or replace one article with its passages, their vectors and lexical terms."""
        if article.id in self.hashes:
            self.remove([article.id])
        start = self.manifest.next_passage_id
        pids = np.arange(start, start + len(passages), dtype=np.int64)
        self.manifest.next_passage_id = start + len(passages)
        metadata.put_article(self.db, article, passages, pids.tolist())
        dense.add(self.dense, vectors, pids)
        self.lexical.add(pids.tolist(), terms)
        self.hashes[article.id] = article.content_hash

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles; returns the ids that were indexed."""
        present = [a for a in article_ids if a in self.hashes]
        gone = metadata.delete_articles(self.db, present)
        self.dense = dense.remove(self.dense, gone)
        self.lexical.remove(gone)
        for a in present:
            del self.hashes[a]
        return present

    def checkpoint(self) -> None:
        """Commit what is written so far and go on in a fresh generation: an interrupted run resumes from here."""
        self.commit()
        self.committed = self.rebuild = False
        self._begin()

    def relex(self) -> int:
        """Re-tokenize every stored passage into a new lexical index (text rules changed); vectors stay."""
        self.lexical = LexicalIndex.empty()
        rows = self.db.execute(
            'SELECT p.pid, substr(a.text, p.start + 1, p."end" - p.start) FROM passages p '
            "JOIN articles a ON a.id = p.article_id ORDER BY p.pid"
        )
        count = 0
        while batch := rows.fetchmany(1000):
            self.lexical.add([pid for pid, _ in batch], [lexical_terms(text) for _, text in batch])
            count += len(batch)
        return count

    def commit(self) -> IndexInfo:
        self.db.commit()
        self.manifest.articles, self.manifest.passages = metadata.counts(self.db)
        self.db.close()
        self.db = None  # type: ignore[assignment]
        dense.save(self.dense, self.generation / DENSE)
        self.lexical.save(self.generation / LEXICAL)
        self.manifest.built = datetime.now(UTC).isoformat(timespec="seconds")
        self.manifest.files = {
            str(p.relative_to(self.generation)): {"bytes": p.stat().st_size, "sha256": file_digest(p)}
            for p in _tracked_files(self.generation)
        }
        self.manifest.save(self.generation)
        commit_generation(self.index_dir, self.generation)
        self.committed = True
        sweep_generations(self.index_dir)
        return IndexReader.describe(self.generation, self.manifest)
