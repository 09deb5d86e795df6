"""The one core every face calls: a knowledge base over an index (open, add, remove, ask), a small facade over
the indexing pipeline (askbot.indexing) and the ask pipeline (askbot.asking)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from askbot import asking
from askbot.answer import build_excerpts
from askbot.asking import EMPTY_INDEX, EMPTY_QUESTION, clean_question
from askbot.config import DEFAULT_MODEL, Settings
from askbot.indexing import CHECKPOINT_SECONDS, Indexer, IndexReport, Progress, validated
from askbot.store import IndexMismatch, factory
from askbot.store.base import StoreReader
from askbot.store.lexical import TEXT_VERSION
from askbot.types import Answer, Article, Excerpt, Filters, Hit, IndexInfo

__all__ = ["EMPTY_INDEX", "EMPTY_QUESTION", "IndexReport", "KnowledgeBase", "Progress", "clean_question", "open"]

if TYPE_CHECKING:
    from askbot.embedding import Encoder


class KnowledgeBase:
    """Articles indexed in ``settings.index``, answering questions with cited excerpts.

    The model loads on first use; the index is read once and re-read when a writer (another process, or
    ``add``) committed since.
    """

    checkpoint_seconds = CHECKPOINT_SECONDS

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.index_dir = Path(self.settings.index)
        self._encoder: Encoder | None = None
        self._reader: StoreReader | None = None
        self._token: str | None = None

    @property
    def model(self) -> str:
        """The model in use: the one chosen in the settings, else the one the index was built with, else the default."""
        if self.settings.model:
            return self.settings.model
        manifest = factory.committed_manifest(self.index_dir)
        return manifest.model_id if manifest is not None else DEFAULT_MODEL

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            from askbot.embedding import load_encoder

            try:
                self._encoder = load_encoder(self.model, cache_dir=self.settings.cache_dir)
            except FileNotFoundError as exc:
                if self.settings.model:  # the user's own choice: their error as it is
                    raise
                raise IndexMismatch(
                    f"the index in {self.index_dir} was built with model {self.model!r}, which is not on this machine "
                    f"({exc}). Rebuild it with: askbot index --rebuild --model {DEFAULT_MODEL} "
                    f"--index {self.index_dir} PATH..."
                ) from exc
        return self._encoder

    @property
    def reader(self) -> StoreReader | None:
        if self._reader is None or self._token != factory.state_token(self.index_dir):
            self.refresh()
        return self._reader

    def refresh(self) -> bool:
        """Re-open the index if a writer committed since; True when it changed."""
        token = factory.state_token(self.index_dir)
        if token == self._token and (self._reader is not None or token is None):
            return False
        self._refuse_if_incompatible()  # a mismatched index is refused before any of its files is read
        old, self._reader, self._token = self._reader, factory.open_reader(self.index_dir), token
        if old is not None:
            old.close()
        return True

    @property
    def is_empty(self) -> bool:
        return factory.state_token(self.index_dir) is None

    def _refuse_if_incompatible(self, text_version: str | None = TEXT_VERSION) -> None:
        """Raise IndexMismatch for an index built with another model (or, unless None, other text rules)."""
        if (manifest := factory.committed_manifest(self.index_dir)) is not None:
            enc = self.encoder
            manifest.refuse_if_incompatible(enc.model_id, enc.fingerprint, text_version, self.index_dir)

    def _indexer(self) -> Indexer:
        return Indexer(self.index_dir, self.encoder, self.settings, self.checkpoint_seconds)

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
        articles = validated(items, mapping, report)
        if not rebuild:
            self._refuse_if_incompatible()
            reader = self.reader
            hashes = reader.content_hashes() if reader is not None and articles else None
            if hashes is not None and all(hashes.get(a.id) == a.content_hash for a in articles.values()):
                report.unchanged.extend(articles)  # nothing to write: no commit at all
                report.seconds = time.perf_counter() - started
                return report
        self._indexer().add(articles, report, rebuild, progress)
        report.seconds = time.perf_counter() - started
        self.refresh()
        return report

    def relex(self) -> int:
        """Rebuild the lexical index from the stored passages after a change of text rules; returns passages."""
        self._refuse_if_incompatible(text_version=None)
        with self._indexer().writer() as writer:
            count = writer.relex()
        self.refresh()
        return count

    def compact(self) -> IndexInfo:
        """Merge the index's parts into one (``askbot compact``): what deletions and many small adds left."""
        self._refuse_if_incompatible()
        with self._indexer().writer() as writer:
            info = writer.compact()
        self.refresh()
        return info

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles by id; returns those that were indexed."""
        with self._indexer().writer() as writer:
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
        limit = self.settings.max_question_chars
        k = k or self.settings.top_k
        return asking.ask(
            reader, encoder, question, k=k, offset=offset, filters=filters, method=method, max_chars=limit
        )

    def warm_up(self) -> None:
        """Load the model and the index and answer one question, so the first real one is as fast as the rest."""
        self.ask("ما الخبر؟")

    def passage(self, passage_id: int) -> Excerpt | None:
        """The whole passage ``passage_id`` as an excerpt with its citation."""
        reader = self.reader
        if reader is None:
            return None
        found = build_excerpts(asking.fetch(reader, [Hit(int(passage_id), 1.0)]), {})
        return found[0][0] if found else None

    def info(self) -> IndexInfo:
        """What is indexed, with which model, when."""
        reader = self.reader
        return reader.info() if reader is not None else IndexInfo(location=str(self.index_dir), model=self.model)

    def check(self) -> list[str]:
        """Deep integrity check of the committed index; returns problems (empty when sound)."""
        reader = self.reader
        return reader.verify() if reader is not None else []


def open(index: str | Path | None = None, settings: Settings | None = None, **overrides: object) -> KnowledgeBase:  # noqa: A001
    """Open (or create on first ``add``) the knowledge base in ``index`` (default: settings / ``vectors/``)."""
    if settings is None:
        settings = Settings.from_env(index=Path(index) if index is not None else None, **overrides)
    elif index is not None:
        settings = replace(settings, index=Path(index))
    return KnowledgeBase(settings)
