"""The one core every face calls: a knowledge base over an index folder (open, add, remove, ask)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from askbot import arabic, asking
from askbot.answer import build_excerpts
from askbot.asking import EMPTY_INDEX, EMPTY_QUESTION, clean_question
from askbot.chunking import chunk_article
from askbot.config import DEFAULT_MODEL, Settings
from askbot.store import IndexCorrupt, IndexMismatch, current_generation, lexical, milvus
from askbot.store.base import StoreReader, StoreWriter
from askbot.store.index import IndexReader, IndexWriter
from askbot.store.manifest import Manifest
from askbot.types import Answer, Article, Excerpt, Filters, Hit, IngestProblem, Passage

__all__ = ["EMPTY_INDEX", "EMPTY_QUESTION", "IndexReport", "KnowledgeBase", "clean_question", "open"]

if TYPE_CHECKING:
    from askbot.embedding import Encoder

Progress = Callable[[int, int], None]  # (articles done, articles to do)

CHECKPOINT_SECONDS = 300.0  # a long add commits this often, so an interrupted run resumes instead of starting over
MAX_ARTICLE_CHARS = 200_000  # ~35x the longest sample article; a longer body is a book or a dump: minutes to embed
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class IndexReport:
    """What an ``add`` did, article by article."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[IngestProblem] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0
    encode_seconds: float = 0.0

    def summary(self) -> str:
        rate = f", {self.passages / self.encode_seconds:.1f} passages/s" if self.encode_seconds > 0 else ""
        return (
            f"added {len(self.added)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}, "
            f"skipped {len(self.problems)} ({self.passages} passages embedded in {self.seconds:.1f}s{rate})"
        )


def _valid_unicode(article: Article) -> Article:
    """``article`` with unpaired surrogates (undecodable file names, JSON "\\ud800" escapes) as U+FFFD.

    SQLite and the encoder take only valid Unicode; one-for-one replacement keeps every character offset.
    """
    values = {f.name: getattr(article, f.name) for f in fields(article)}
    bad = {name: _SURROGATE.sub("\ufffd", value) for name, value in values.items() if _SURROGATE.search(value)}
    return replace(article, **bad) if bad else article


def _read_items(
    items: Iterable[str | Path | Article], mapping: dict[str, str] | None
) -> Iterator[Article | IngestProblem]:
    """Articles as given, and what the readers make of paths, in order."""
    paths: list[str | Path] = []
    for item in items:
        if isinstance(item, Article):
            if paths:
                yield from _read_paths(paths, mapping)
                paths = []
            yield item
        else:
            paths.append(item)
    if paths:
        yield from _read_paths(paths, mapping)


def _read_paths(paths: list[str | Path], mapping: dict[str, str] | None) -> Iterator[Article | IngestProblem]:
    from askbot.ingest import read_paths  # readers (trafilatura, ...) load only when files are read

    yield from read_paths(paths, mapping=mapping)


class KnowledgeBase:
    """Articles indexed in ``settings.index``, answering questions with cited excerpts.

    The model loads on first use; the index is read once and re-read by ``refresh()`` when a
    writer (another process, or ``add``) committed a new generation.
    """

    checkpoint_seconds = CHECKPOINT_SECONDS

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        # a store location (milvus:...) when set, else the index folder; shown in messages as the index
        self.index_dir = Path(self.settings.store or self.settings.index)
        if self.settings.store and not milvus.is_milvus(self.settings.store):
            raise ValueError(
                f"store {self.settings.store!r}: give milvus:PATH.db (Milvus Lite) or milvus://HOST:PORT "
                "(a Milvus server); the embedded index is chosen with --index DIR"
            )
        self._milvus = milvus.is_milvus(self.settings.store)
        self.location = self.settings.store or str(self.settings.index)
        self._encoder: Encoder | None = None
        self._reader: StoreReader | None = None
        self._generation: object = None

    # ---- parts, loaded on demand --------------------------------------------------------------
    @property
    def model(self) -> str:
        """The model in use: the one chosen in the settings, else the one the index was built with, else the default."""
        if self.settings.model:
            return self.settings.model
        manifest = self._committed_manifest()
        return manifest.model_id if manifest is not None else DEFAULT_MODEL

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            from askbot.embedding import load_encoder

            model = self.model
            try:
                self._encoder = load_encoder(model, cache_dir=self.settings.cache_dir)
            except FileNotFoundError as exc:
                if self.settings.model:  # the user's own choice: their error as it is
                    raise
                raise IndexMismatch(
                    f"the index in {self.index_dir} was built with model {model!r}, which is not on this machine "
                    f"({exc}). Rebuild it with: askbot index --rebuild --model {DEFAULT_MODEL} "
                    f"--index {self.index_dir} PATH..."
                ) from exc
        return self._encoder

    def _new_manifest(self) -> Manifest:
        enc = self.encoder
        return Manifest(
            model_id=enc.model_id,
            model_fingerprint=enc.fingerprint,
            dim=enc.dim,
            normalizer_version=lexical.TEXT_VERSION,
            chunking=f"sentences<={self.settings.chunk_tokens}tok,overlap={self.settings.chunk_overlap_sentences}",
        )

    # ---- where the index lives: the index folder, or a Milvus store (a stand-in for store/factory.py) ------
    def _state(self) -> object:
        """What changes when a writer commits: the generation folder, or the Milvus head (None: empty)."""
        if not self._milvus:
            return current_generation(self.index_dir)
        if isinstance(self._reader, milvus.MilvusReader):
            return self._reader.latest_state()  # over the open connection: ~1 ms
        return milvus.state_token(self.settings.store)

    def _open_reader(self) -> StoreReader | None:
        if not self._milvus:
            generation = current_generation(self.index_dir)
            if generation is None:
                return None
            self._refuse_if_incompatible(Manifest.load(generation))  # before reading any of its files
            return IndexReader(generation)
        reader = milvus.open_reader(self.settings.store)
        if reader is not None:
            try:
                self._refuse_if_incompatible(reader.head.manifest)
            except IndexMismatch:
                reader.close()
                raise
        return reader

    def _writer(self, rebuild: bool = False) -> StoreWriter:
        if self._milvus:
            return milvus.open_writer(self.settings.store, self._new_manifest(), rebuild=rebuild)
        return IndexWriter(self.index_dir, self._new_manifest(), rebuild=rebuild)

    @property
    def reader(self) -> StoreReader | None:
        if self._reader is None or self._generation != self._state():
            self.refresh()
        return self._reader

    def refresh(self) -> bool:
        """Re-open the index if a writer committed since; True when it changed."""
        state = self._state()
        if state == self._generation and (self._reader is not None or state is None):
            return False
        reader = self._open_reader() if state is not None else None
        old, self._reader, self._generation = self._reader, reader, state
        if old is not None:
            old.close()
        return True

    @property
    def is_empty(self) -> bool:
        return self._state() is None

    # ---- writing ------------------------------------------------------------------------------
    def add(
        self,
        items: Iterable[str | Path | Article],
        *,
        rebuild: bool = False,
        mapping: dict[str, str] | None = None,
        progress: Progress | None = None,
    ) -> IndexReport:
        """Index new or changed articles: ``Article`` objects, files, folders or "-" (stdin); unchanged ones are
        skipped. Articles given as objects are validated like read ones (size, Unicode, duplicate ids)."""
        started = time.perf_counter()
        report = IndexReport()
        articles: dict[str, Article] = {}
        for item in _read_items(items, mapping):
            if isinstance(item, IngestProblem):
                report.problems.append(item)
            elif len(item.text) > MAX_ARTICLE_CHARS:
                report.problems.append(
                    IngestProblem(
                        item.origin,
                        f"{len(item.text):,} characters, longer than the "
                        f"{MAX_ARTICLE_CHARS:,} an article may have: split it; skipped",
                    )
                )
            elif (item := _valid_unicode(item)).id in articles:
                report.problems.append(IngestProblem(item.origin, f"duplicate article id {item.id!r}, kept the first"))
            else:
                articles[item.id] = item
        if not rebuild:
            self._refuse_if_incompatible(self._committed_manifest())
            if self._all_unchanged(articles, report):  # nothing to write: no new generation (~10 s at 100k passages)
                report.seconds = time.perf_counter() - started
                return report
        with self._writer(rebuild=rebuild) as writer:
            todo: list[Article] = []
            for article in articles.values():
                status = writer.status(article)
                if status == "unchanged":
                    report.unchanged.append(article.id)
                    continue
                (report.added if status == "new" else report.updated).append(article.id)
                todo.append(article)
            self._embed_into(writer, todo, report, progress)
            writer.commit()
        report.seconds = time.perf_counter() - started
        self.refresh()
        return report

    def _all_unchanged(self, articles: dict[str, Article], report: IndexReport) -> bool:
        """Whether every article is already indexed as it is (then they are reported unchanged)."""
        reader = self.reader
        if reader is None or not articles:
            return False
        try:
            hashes = reader.content_hashes()
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise IndexCorrupt(f"{reader.info().location} holds an unreadable SQLite database ({exc})") from exc
        if any(hashes.get(a.id) != a.content_hash for a in articles.values()):
            return False
        report.unchanged.extend(articles)
        return True

    def _committed_manifest(self) -> Manifest | None:
        if self._milvus:
            return milvus.committed_manifest(self.settings.store)
        previous = current_generation(self.index_dir)
        return Manifest.load(previous) if previous is not None else None

    def _refuse_if_incompatible(
        self, manifest: Manifest | None, text_version: str | None = lexical.TEXT_VERSION
    ) -> None:
        """Raise IndexMismatch for an index built with another model (or, unless None, other text rules)."""
        if manifest is not None:
            enc = self.encoder
            manifest.refuse_if_incompatible(enc.model_id, enc.fingerprint, text_version, self.index_dir)

    def _chunk(self, article: Article) -> list[Passage]:
        return chunk_article(
            article,
            max_tokens=self.settings.chunk_tokens,
            overlap=self.settings.chunk_overlap_sentences,
            count_tokens=self.encoder.count_tokens,
        )

    def _groups(self, todo: Sequence[Article]) -> Iterator[list[tuple[Article, list[Passage]]]]:
        """``todo`` chunked, in groups of about eight encoder batches of passages."""
        group: list[tuple[Article, list[Passage]]] = []
        pending = 0
        for article in todo:
            passages = self._chunk(article)
            group.append((article, passages))
            pending += len(passages)
            if pending >= 8 * self.settings.batch_size:
                yield group
                group, pending = [], 0
        if group:
            yield group

    def _embed_group(self, group: list[tuple[Article, list[Passage]]], report: IndexReport) -> np.ndarray:
        texts = [p.text for _, ps in group for p in ps]
        if not texts:
            return np.empty((0, self.encoder.dim), np.float32)
        started = time.perf_counter()
        vectors = self.encoder.encode_passages(texts, batch_size=self.settings.batch_size)
        report.encode_seconds += time.perf_counter() - started
        return vectors

    def _embed_into(
        self, writer: StoreWriter, todo: Sequence[Article], report: IndexReport, progress: Progress | None
    ) -> None:
        """Chunk, embed and write ``todo``, a checkpoint every ``checkpoint_seconds``.

        A group's passages are embedded in a worker thread while this one chunks the next group and writes the
        last one (SQLite, BM25 tokens, FAISS, checkpoints): the encoder's threads never wait on that Python work,
        which otherwise leaves a core idle for ~6 minutes of a 50-minute run of the whole ANT corpus. Only this
        thread writes, in order, so a kill leaves the last checkpoint as it was.
        """
        done = 0
        last_commit = time.monotonic()
        encoder = self.encoder
        encoder.dim  # noqa: B018 - load the engine here, not in the worker thread
        with ThreadPoolExecutor(1, thread_name_prefix="askbot-embed") as pool:
            flight: tuple[list[tuple[Article, list[Passage]]], Future[np.ndarray]] | None = None
            try:
                for group in chain(self._groups(todo), [None]):
                    following = None if group is None else (group, pool.submit(self._embed_group, group, report))
                    if flight is not None:
                        written, vectors = flight[0], flight[1].result()
                        row = 0
                        for article, passages in written:
                            terms = [arabic.lexical_terms(p.text) for p in passages]
                            writer.upsert(article, passages, vectors[row : row + len(passages)], terms)
                            row += len(passages)
                        done += len(written)
                        report.passages += row
                        if progress:
                            progress(done, len(todo))
                        if following is not None and time.monotonic() - last_commit >= self.checkpoint_seconds:
                            writer.checkpoint()  # already-embedded articles are "unchanged" to a rerun
                            last_commit = time.monotonic()
                    flight = following
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # a queued group is not embedded for nothing
                raise

    def relex(self) -> int:
        """Rebuild the lexical index from the stored passages after a change of text rules; returns passages."""
        if self._milvus:
            raise ValueError(f"{self.index_dir}: re-tokenizing a Milvus store is not supported; rebuild it")
        self._refuse_if_incompatible(self._committed_manifest(), text_version=None)
        with IndexWriter(self.index_dir, self._new_manifest(), fresh_lexical=True) as writer:
            count = writer.relex()
            writer.commit()
        self.refresh()
        return count

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles by id; returns those that were indexed."""
        with self._writer() as writer:
            removed = writer.remove(list(article_ids))
            if removed:
                writer.commit()
        self.refresh()
        return removed

    # ---- reading ------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
        method: str = "hybrid",
    ) -> Answer:
        """Answer ``question`` with up to ``k`` cited excerpts (or say it is not found)."""
        return self.asked(question, k, offset=offset, filters=filters, method=method).answer

    def asked(
        self,
        question: str,
        k: int | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
        method: str = "hybrid",
    ) -> asking.Asked:
        """:meth:`ask`, with the ranked hits the answer was composed from."""
        reader = self.reader
        encoder = self.encoder if method != "bm25" and reader is not None else None
        return asking.ask(
            reader,
            encoder,
            question,
            k=k or self.settings.top_k,
            offset=offset,
            filters=filters,
            method=method,
            max_chars=self.settings.max_question_chars,
        )

    def passage(self, passage_id: int) -> Excerpt | None:
        """The whole passage ``passage_id`` as an excerpt with its citation."""
        reader = self.reader
        if reader is None:
            return None
        found = build_excerpts(asking.fetch(reader, [Hit(int(passage_id), 1.0)]), {})
        return found[0][0] if found else None

    def info(self) -> dict[str, object]:
        """What is indexed, with which model, when."""
        reader = self.reader
        if reader is None:
            return {"index": self.location, "articles": 0, "passages": 0, "model": self.model, "built": None}
        info = reader.info()
        return {
            "index": self.location,
            "backend": info.backend,
            "articles": info.articles,
            "passages": info.passages,
            "model": info.model,
            "dim": info.dim,
            "normalizer": info.normalizer,
            "chunking": info.chunking,
            "built": info.built,
            "generation": info.generation,
        }

    def check(self) -> list[str]:
        """Deep integrity check of the committed index; returns problems (empty when sound)."""
        reader = self.reader
        return reader.verify() if reader is not None else []


def open(index: str | Path | None = None, settings: Settings | None = None, **overrides: object) -> KnowledgeBase:  # noqa: A001
    """Open (or create on first ``add``) the knowledge base in ``index`` (default: settings / ``vectors/``)."""
    if settings is None:
        settings = Settings.from_env(index=Path(index) if index is not None else None, **overrides)
    elif index is not None:
        from dataclasses import replace

        settings = replace(settings, index=Path(index))
    return KnowledgeBase(settings)
