"""The one core every face calls: a knowledge base over an index, a facade over askbot.indexing and askbot.asking."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from askbot import asking, indexing
from askbot.config import Settings
from askbot.facets import spelled
from askbot.indexing import Indexer, IndexReport, Progress
from askbot.lexicon import Lexicon
from askbot.lexicon import Progress as WordProgress
from askbot.store import factory
from askbot.store.base import StoreReader
from askbot.store.reopening import ReopeningReader
from askbot.types import Answer, Article, Excerpt, Filters, IndexInfo

if TYPE_CHECKING:
    from askbot.embedding import Encoder
    from askbot.follow import FollowReport


class KnowledgeBase:
    """Articles indexed in ``settings.index``, answering questions with cited excerpts. The model loads on first
    use; the index is read once and re-read when a writer (another process, or ``add``) committed since.
    ``report_model_builds``: say on stderr when the model is built into the cache (once, about a minute), and how long
    it took (the CLI does; a library caller's stderr stays quiet unless asked)."""

    def __init__(self, settings: Settings | None = None, *, report_model_builds: bool = False) -> None:
        self.settings = settings or Settings.from_env()
        self.report_model_builds = report_model_builds
        self.index_dir = Path(self.settings.index)
        # the store location (milvus:...) when set, else the folder; a str (Path("milvus://h:1") loses the "//")
        self.location: str | Path = self.settings.store or self.index_dir
        factory.backend_of(self.location)  # an unknown scheme (postgres://...) is refused now, with the known ones
        # an index this askbot must not read (another model, other text rules) is refused before any file is read
        self._committed = ReopeningReader(
            self.location, lambda: indexing.refuse_if_incompatible(self.location, self.encoder)
        )
        self._facets: tuple[StoreReader, dict[str, object]] | None = None

    @property
    def model(self) -> str:
        """The model in use: the one chosen in the settings, else the one the index was built with, else the default."""
        return indexing.model_of(self.settings, self.location)

    @cached_property
    def encoder(self) -> Encoder:
        return indexing.load_index_encoder(self.settings, self.location, progress=self.report_model_builds)

    @cached_property
    def lexicon(self) -> Lexicon:
        """The index words nearest each word of a question in another language (askbot.lexicon)."""
        return Lexicon(self.encoder, self.settings.cache_dir / "lexicon")

    @property
    def reader(self) -> StoreReader | None:
        return self._committed.current

    def refresh(self) -> bool:
        """Re-open the index if a writer committed since; True when it changed."""
        return self._committed.refresh()

    @property
    def is_empty(self) -> bool:
        return self._committed.is_empty

    @property
    def _indexer(self) -> Indexer:  # a write's readers re-open on their next read (``reader`` checks the state)
        return Indexer(self.location, self.encoder, self.settings)

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
        return self._indexer.add(items, None if rebuild else self.reader, rebuild, mapping, progress)

    def relex(self) -> int:
        """Rebuild the lexical index from the stored passages after a change of text rules; returns passages (none of
        an empty index, which stays unwritten)."""
        return 0 if self.is_empty else self._indexer.relex()

    def compact(self) -> IndexInfo:
        """Merge the index's parts into one (``askbot compact``): what deletions and many small adds left. An empty
        index is left as it is (nothing is written, no folder made)."""
        return self.info() if self.is_empty else self._indexer.compact()

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Delete articles by id; returns those that were indexed (none of an empty index, which stays unwritten)."""
        return [] if self.is_empty else self._indexer.remove(article_ids)

    def ask(self, question: str, k: int | None = None, **options: Any) -> Answer:
        """Answer ``question`` with up to ``k`` cited excerpts, or say it is not found (``options``: :meth:`asked`)."""
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
        "last week", "في مارس ٢٠١٨") is read against ``as_of`` (an archive's "today"; default: now). A filter's
        source and category match whatever their case and spaces ("Sky News" finds skynews); one no article has is
        :class:`askbot.facets.UnknownFacet` (a ValueError) listing those the index has."""
        if question.strip():
            self._load_model_early()
        if filters and (filters.source or filters.category) and (known := self.facets()):  # {}: an empty index
            filters = spelled(filters, known)  # as the index spells them, or UnknownFacet (a ValueError)
        reader, k, limit = self.reader, k or self.settings.top_k, self.settings.max_question_chars
        encoder = self.encoder if reader is not None else None
        return asking.ask(
            reader,
            encoder,
            question,
            k=k,
            offset=offset,
            filters=filters,
            method=method,
            max_chars=limit,
            as_of=as_of,
            lexicon=self.lexicon if encoder is not None else None,
        )

    def warm_up(self, progress: WordProgress | None = None) -> None:
        """Load the model and the index and answer one question, so the first real one is as fast as the rest; encode
        the index words a question in another language is translated into (once per index and model: cached)."""
        self.ask("ما الخبر؟")
        if (reader := self.reader) is not None:
            self.lexicon.prepare(reader, progress)

    def prepare_for(self, question: str, method: str = "hybrid", progress: WordProgress | None = None) -> None:
        """Encode now what answering ``question`` needs that is not cached yet: the index words a question in another
        language is translated into (the first such question on an index: ~5 ms a word; ``progress(done, total)``).
        Asking does it anyway; a face calls this first to show progress."""
        if not asking.translates(question, method):
            return  # an Arabic question touches nothing here: the model loads while the index opens, when asked
        self._load_model_early()
        if (reader := self.reader) is not None:
            self.lexicon.prepare(reader, progress)

    def _load_model_early(self) -> None:
        """Start loading the model in the background, unless it is loaded or there is nothing to search: the index
        opens meanwhile."""
        if "encoder" not in self.__dict__ and not self.is_empty:
            self.encoder.start_loading()

    def passage(self, passage_id: int) -> Excerpt | None:
        """The whole passage ``passage_id`` as an excerpt with its citation."""
        return asking.passage(reader, passage_id) if (reader := self.reader) is not None else None

    def info(self) -> IndexInfo:
        """What is indexed, with which model, when."""
        return reader.info() if (reader := self.reader) is not None else factory.empty_info(self.location, self.model)

    def facets(self) -> dict[str, object]:
        """Sources and categories with their article counts, and the range of publication dates ({} when empty).
        Read once per committed state (a filtered ask reads them to spell its filter; a chat asks again and again)."""
        reader = self.reader
        if reader is None:
            return {}
        if self._facets is None or self._facets[0] is not reader:  # a new commit opens a new reader
            self._facets = (reader, reader.facets())
        return dict(self._facets[1])

    def latest(self, limit: int = 10) -> list[Article]:
        """The newest articles by publication date (for /latest); [] for a store that cannot list them."""
        return newest(limit) if (newest := getattr(self.reader, "latest", None)) is not None else []

    def follow(self, urls: Sequence[str], **options: Any) -> FollowReport:
        """Index the new and changed articles of feeds, sitemaps or sites; see ``askbot.follow.follow``."""
        from askbot.follow import follow

        return follow(self, urls, **options)

    def check(self) -> list[str]:
        """Deep integrity check of the committed index; returns problems (empty when sound)."""
        return reader.verify() if (reader := self.reader) is not None else []


def open(index: str | Path | None = None, settings: Settings | None = None, **overrides: object) -> KnowledgeBase:  # noqa: A001
    """Open (or create on first ``add``) the knowledge base in ``index`` (default: settings / ``vectors/``)."""
    if settings is None:
        settings = Settings.from_env(index=Path(index) if index is not None else None, **overrides)
    elif index is not None:
        settings = replace(settings, index=Path(index))
    return KnowledgeBase(settings)
