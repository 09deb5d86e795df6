"""The one core every face calls: a knowledge base over an index (open, add, remove, ask), a small facade over
the indexing pipeline (askbot.indexing) and the ask pipeline (askbot.asking)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from askbot import asking
from askbot.answer import build_excerpts
from askbot.asking import EMPTY_INDEX, EMPTY_QUESTION, clean_question
from askbot.config import Settings
from askbot.indexing import CHECKPOINT_SECONDS, Indexer, IndexReport, Progress, load_index_encoder, model_of
from askbot.store import factory
from askbot.store.base import StoreReader, StoreWriter
from askbot.store.lexical import TEXT_VERSION
from askbot.types import Answer, Article, Excerpt, Filters, Hit, IndexInfo

__all__ = ["EMPTY_INDEX", "EMPTY_QUESTION", "IndexReport", "KnowledgeBase", "Progress", "clean_question", "open"]

if TYPE_CHECKING:
    from askbot.embedding import Encoder
    from askbot.follow import FollowReport

T = TypeVar("T")


class KnowledgeBase:
    """Articles indexed in ``settings.index``, answering questions with cited excerpts.

    The model loads on first use; the index is read once and re-read when a writer (another process, or
    ``add``) committed since.
    """

    checkpoint_seconds = CHECKPOINT_SECONDS

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.index_dir = Path(self.settings.index)
        # where the index lives, for askbot.store.factory: the store location (milvus:...) when set, else the folder;
        # a str, not a Path (Path("milvus://h:1") loses the "//")
        self.location: str | Path = self.settings.store or self.index_dir
        factory.backend_of(self.location)  # an unknown scheme (postgres://...) is refused now, with the known ones
        self._encoder: Encoder | None = None
        self._reader: StoreReader | None = None
        self._token: str | None = None

    @property
    def model(self) -> str:
        """The model in use: the one chosen in the settings, else the one the index was built with, else the default."""
        return model_of(self.settings, self.location)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_index_encoder(self.settings, self.location)
        return self._encoder

    @property
    def reader(self) -> StoreReader | None:
        if self._reader is None or self._token != factory.state_token(self.location):
            self.refresh()
        return self._reader

    def refresh(self) -> bool:
        """Re-open the index if a writer committed since; True when it changed."""
        token = factory.state_token(self.location)
        if token == self._token and (self._reader is not None or token is None):
            return False
        self._refuse_if_incompatible()  # a mismatched index is refused before any of its files is read
        old, self._reader, self._token = self._reader, factory.open_reader(self.location), token
        if old is not None:
            old.close()
        return True

    @property
    def is_empty(self) -> bool:
        return factory.state_token(self.location) is None

    def _refuse_if_incompatible(self, text_version: str | None = TEXT_VERSION) -> None:
        """Raise IndexMismatch for an index built with another model (or, unless None, other text rules)."""
        if (manifest := factory.committed_manifest(self.location)) is not None:
            enc = self.encoder
            manifest.refuse_if_incompatible(enc.model_id, enc.fingerprint, text_version, self.location)

    def _indexer(self) -> Indexer:
        return Indexer(self.location, self.encoder, self.settings, self.checkpoint_seconds)

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
        if not rebuild:
            self._refuse_if_incompatible()
        report = self._indexer().add(items, None if rebuild else self.reader, rebuild, mapping, progress)
        self.refresh()
        return report

    def _write(self, change: Callable[[StoreWriter], T], text_version: str | None = TEXT_VERSION) -> T:
        self._refuse_if_incompatible(text_version)
        with self._indexer().writer() as writer:
            done = change(writer)
        self.refresh()
        return done

    def relex(self) -> int:
        """Rebuild the lexical index from the stored passages after a change of text rules; returns passages."""
        return self._write(lambda writer: writer.relex(), text_version=None)

    def compact(self) -> IndexInfo:
        """Merge the index's parts into one (``askbot compact``): what deletions and many small adds left."""
        return self._write(lambda writer: writer.compact())

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles by id; returns those that were indexed."""

        def remove(writer: StoreWriter) -> list[str]:
            removed = writer.remove(list(article_ids))
            if removed:
                writer.commit()
            return removed

        return self._write(remove, text_version=None)

    # ---- reading ------------------------------------------------------------------------------
    def ask(self, question: str, k: int | None = None, **options: Any) -> Answer:
        """Answer ``question`` with up to ``k`` cited excerpts (or say it is not found); ``options`` as
        :meth:`asked` takes them (offset, filters, method, as_of)."""
        return self.asked(question, k, **options).answer

    def asked(
        self,
        question: str,
        k: int | None = None,
        *,
        offset: int = 0,
        filters: Filters | None = None,
        method: str = "hybrid",
        as_of: date | None = None,
    ) -> asking.Asked:
        """:meth:`ask`, with the ranked hits the answer was composed from. A period in the question ("أمس",
        "last week", "في مارس ٢٠١٨") is read against ``as_of`` (an archive's "today"; default: now)."""
        reader = self.reader
        encoder = self.encoder if reader is not None else None
        limit = self.settings.max_question_chars
        k = k or self.settings.top_k
        return asking.ask(
            reader, encoder, question, k=k, offset=offset, filters=filters, method=method, max_chars=limit, as_of=as_of
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
        return (
            reader.info()
            if reader is not None
            else IndexInfo(location=str(self.location), backend=factory.backend_name(self.location), model=self.model)
        )

    def facets(self) -> dict[str, object]:
        """Sources and categories with their article counts, and the range of publication dates ({} when empty)."""
        reader = self.reader
        return reader.facets() if reader is not None else {}

    def latest(self, limit: int = 10) -> list[Article]:
        """The newest articles by publication date (for /latest); [] for a store that cannot list them."""
        reader = self.reader
        newest = getattr(reader, "latest", None)  # the local store's; not (yet) part of StoreReader
        return newest(limit) if newest is not None else []

    def follow_info(self) -> dict[str, object] | None:
        """What is followed into this index (``askbot info``'s follow section); None when nothing is."""
        from askbot.follow import follow_info

        return follow_info(self.index_dir)

    def follow(self, urls: Sequence[str], **options: Any) -> FollowReport:
        """Index the new and changed articles of feeds, sitemaps or sites; see ``askbot.follow.follow``."""
        from askbot.follow import follow

        return follow(self, urls, **options)

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
