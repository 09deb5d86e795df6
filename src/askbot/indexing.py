"""The indexing pipeline: paths or ``Article``s -> validate -> chunk -> embed (a worker thread) -> store writer."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from askbot import arabic
from askbot.chunking import chunk_article
from askbot.config import DEFAULT_MODEL, Settings
from askbot.store import factory
from askbot.store.base import StoreReader, StoreWriter
from askbot.store.lexical import TEXT_VERSION
from askbot.store.manifest import IndexMismatch, Manifest
from askbot.types import Article, IndexInfo, IngestProblem, Passage

if TYPE_CHECKING:
    from askbot.embedding import Encoder

Progress = Callable[[int, int], None]  # (articles done, articles to do)

MAX_ARTICLE_CHARS = 200_000  # ~35x the longest sample article; a longer body is a book or a dump: minutes to embed
_SURROGATE = re.compile("[\ud800-\udfff]")
Group = list[tuple[Article, list[Passage]]]


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


def model_of(settings: Settings, location: str | Path) -> str:
    """The model to use: the one chosen in the settings, else the one the index was built with, else the default."""
    if settings.model:
        return settings.model
    manifest = factory.committed_manifest(location)
    return manifest.model_id if manifest is not None else DEFAULT_MODEL


def load_index_encoder(settings: Settings, location: str | Path, progress: bool = False) -> Encoder:
    """The encoder of :func:`model_of`; a model the index names that is not on this machine is an IndexMismatch.
    ``progress``: report the model's one-time build on stderr (``load_encoder``)."""
    from askbot.embedding import load_encoder

    model = model_of(settings, location)
    try:
        return load_encoder(model, cache_dir=settings.cache_dir, progress=progress)
    except FileNotFoundError as exc:
        if settings.model:  # the user's own choice: their error as it is
            raise
        raise IndexMismatch(
            f"the index in {location} was built with model {model!r}, which is not on this machine ({exc}). "
            f"Rebuild it with: askbot index --rebuild --model {DEFAULT_MODEL} --index {location} PATH..."
        ) from exc


def refuse_if_incompatible(location: str | Path, encoder: Encoder, text_version: str | None = TEXT_VERSION) -> None:
    """IndexMismatch for an index at ``location`` built with another model (or, unless None, other text rules)."""
    if (manifest := factory.committed_manifest(location)) is not None:
        manifest.refuse_if_incompatible(encoder.model_id, encoder.fingerprint, text_version, location)


def new_manifest(encoder: Encoder, settings: Settings) -> Manifest:
    """What an index written now is built with."""
    return Manifest(
        model_id=encoder.model_id,
        model_fingerprint=encoder.fingerprint,
        dim=encoder.dim,
        normalizer_version=TEXT_VERSION,
        chunking=f"sentences<={settings.chunk_tokens}tok,overlap={settings.chunk_overlap_sentences}",
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


def validated(
    items: Iterable[str | Path | Article], mapping: dict[str, str] | None, report: IndexReport
) -> dict[str, Article]:
    """The articles of ``items`` by id, each checked like a read one (size, Unicode, duplicate ids); what is
    refused goes to ``report.problems``."""
    articles: dict[str, Article] = {}
    for item in _read_items(items, mapping):
        if isinstance(item, IngestProblem):
            report.problems.append(item)
        elif len(item.text) > MAX_ARTICLE_CHARS:
            reason = f"{len(item.text):,} characters, longer than the {MAX_ARTICLE_CHARS:,} an article may have"
            report.problems.append(IngestProblem(item.origin, f"{reason}: split it; skipped"))
        elif (item := _valid_unicode(item)).id in articles:
            report.problems.append(IngestProblem(item.origin, f"duplicate article id {item.id!r}, kept the first"))
        else:
            articles[item.id] = item
    return articles


def chunk(article: Article, settings: Settings, encoder: Encoder) -> list[Passage]:
    """``article``'s passages as the index holds them (the encoder's token counts, the settings' sizes)."""
    return chunk_article(
        article,
        max_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap_sentences,
        count_tokens=encoder.count_tokens,
    )


class Indexer:
    """Chunks, embeds and writes articles into the index at ``location``; each change first refuses an index built
    with another model (and, but for removals and re-tokenizing, with other text rules)."""

    def __init__(self, location: str | Path, encoder: Encoder, settings: Settings) -> None:
        self.location, self.encoder, self.settings = location, encoder, settings

    def writer(self, rebuild: bool = False) -> StoreWriter:
        return factory.open_writer(self.location, new_manifest(self.encoder, self.settings), rebuild=rebuild)

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles by id, committed; returns those that were indexed."""
        refuse_if_incompatible(self.location, self.encoder, None)
        with self.writer() as writer:
            removed = writer.remove(list(article_ids))
            if removed:
                writer.commit()
        return removed

    def relex(self) -> int:
        """Re-tokenize the stored passages (the text rules changed), committed; returns their number."""
        refuse_if_incompatible(self.location, self.encoder, None)
        with self.writer() as writer:
            return writer.relex()

    def compact(self) -> IndexInfo:
        """Merge the index's parts into one, committed."""
        refuse_if_incompatible(self.location, self.encoder)
        with self.writer() as writer:
            return writer.compact()

    def add(
        self,
        items: Iterable[str | Path | Article],
        reader: StoreReader | None,
        rebuild: bool,
        mapping: dict[str, str] | None,
        progress: Progress | None,
    ) -> IndexReport:
        """Read and validate ``items``, write the new and changed articles (the unchanged are reported so) and
        commit; when ``reader`` shows every one already indexed as it is, or nothing was read (an empty folder; not a
        rebuild, which empties the index), nothing is written at all (no index folder is made for it)."""
        if not rebuild:  # a rebuild replaces whatever is there
            refuse_if_incompatible(self.location, self.encoder)
        started = time.perf_counter()
        report = IndexReport()
        articles = validated(items, mapping, report)
        hashes = reader.content_hashes(list(articles)) if reader is not None and articles else None
        if hashes is not None and all(hashes.get(a.id) == a.content_hash for a in articles.values()):
            report.unchanged.extend(articles)
        elif articles or rebuild:
            self._write(articles, report, rebuild, progress)
        report.seconds = time.perf_counter() - started
        return report

    def _write(
        self, articles: dict[str, Article], report: IndexReport, rebuild: bool, progress: Progress | None
    ) -> None:
        with self.writer(rebuild) as writer:
            todo: list[Article] = []
            statuses = writer.statuses(list(articles.values()))
            for article in articles.values():
                status = statuses[article.id]
                if status == "unchanged":
                    report.unchanged.append(article.id)
                    continue
                (report.added if status == "new" else report.updated).append(article.id)
                todo.append(article)
            self._embed_into(writer, todo, report, progress)
            writer.commit()

    def _groups(self, todo: Sequence[Article]) -> Iterator[Group]:
        """``todo`` chunked, in groups of about eight encoder batches of passages."""
        group: Group = []
        pending = 0
        for article in todo:
            passages = chunk(article, self.settings, self.encoder)
            group.append((article, passages))
            pending += len(passages)
            if pending >= 8 * self.settings.batch_size:
                yield group
                group, pending = [], 0
        if group:
            yield group

    def _embed_group(self, group: Group, report: IndexReport) -> np.ndarray:
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
        """Chunk, embed and write ``todo``, a checkpoint every ``settings.checkpoint_s``.

        A group's passages are embedded in a worker thread while this one chunks the next group and writes the
        last one (SQLite, BM25 tokens, FAISS, checkpoints): the encoder's threads never wait on that Python work,
        which otherwise leaves a core idle for ~6 minutes of a 50-minute run of the whole ANT corpus. Only this
        thread writes, in order, so a kill leaves the last checkpoint as it was.
        """
        done = 0
        last_commit = time.monotonic()
        self.encoder.dim  # noqa: B018 - load the engine here, not in the worker thread
        if progress:
            progress(0, len(todo))  # the clock of a rate and time left starts now, after a first run's model build
        with ThreadPoolExecutor(1, thread_name_prefix="askbot-embed") as pool:
            flight: tuple[Group, Future[np.ndarray]] | None = None
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
                        if following is not None and time.monotonic() - last_commit >= self.settings.checkpoint_s:
                            writer.checkpoint()  # already-embedded articles are "unchanged" to a rerun
                            last_commit = time.monotonic()
                    flight = following
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # a queued group is not embedded for nothing
                raise
