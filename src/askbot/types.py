"""The small frozen records passed between pipeline stages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article as read from disk; ``text`` is the body exactly as written."""

    id: str
    title: str
    text: str
    source: str = ""
    url: str = ""
    published: str = ""  # ISO 8601, "" when unknown
    category: str = ""
    place: str = ""
    origin: str = ""  # file (and line) it was read from

    @property
    def content_hash(self) -> str:
        """Hash of everything that shapes the indexed passages and their citations."""
        h = hashlib.sha256()
        for part in (self.title, self.text, self.source, self.url, self.published, self.category, self.place):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        return h.hexdigest()


@dataclass(frozen=True)
class IngestProblem:
    """An item that could not be read, with where and why (never raised, always reported)."""

    origin: str
    reason: str


@dataclass(frozen=True)
class Passage:
    """A window of an article's text: ``text == article.text[start:end]``."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Filters:
    """Restrict answers to some articles. Dates are ISO 8601 prefixes (2018, 2018-03, 2018-03-05)."""

    source: str | None = None
    category: str | None = None
    since: str | None = None
    until: str | None = None

    def __bool__(self) -> bool:
        return any((self.source, self.category, self.since, self.until))


@dataclass(frozen=True)
class IndexInfo:
    """What an index holds and how it was built (``kb.info()``, ``askbot info``)."""

    location: str
    backend: str = "local"
    articles: int = 0
    passages: int = 0
    model: str = ""
    dim: int = 0
    normalizer: str = ""
    chunking: str = ""
    built: str = ""  # ISO 8601 time of the last commit, "" for an empty index
    generation: str = ""
    segments: int = 0  # parts the backend keeps the index in (local: live segments; merged by `askbot compact`)


@dataclass(frozen=True)
class Citation:
    """Where an excerpt stands: enough to find and quote it again."""

    title: str
    source: str
    published: str
    url: str
    article_id: str
    start: int
    end: int
    place: str = ""
    category: str = ""


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its scores (higher is better)."""

    passage_id: int
    score: float
    dense: float | None = None
    lexical: float | None = None


@dataclass(frozen=True)
class Retrieved:
    """A hit with the passage and article it names, as fetched from the store for answering."""

    hit: Hit
    passage: Passage
    article: Article


@dataclass(frozen=True)
class Excerpt:
    """A quoted passage with the sentence that best answers the question.

    ``text`` is the passage exactly as in the article (``citation.start:end``);
    ``sentence`` is a substring of it at ``sentence_start:sentence_end`` (article offsets).
    """

    text: str
    sentence: str
    sentence_start: int
    sentence_end: int
    score: float
    citation: Citation
    passage_id: int = -1
    also_in: tuple[Citation, ...] = ()
    # the answer itself inside the sentence (article offsets), when one number or date stands out; else -1
    answer_start: int = -1
    answer_end: int = -1


@dataclass(frozen=True)
class Answer:
    """What askbot says to a question: cited excerpts, or an honest 'not found'."""

    question: str
    found: bool
    excerpts: tuple[Excerpt, ...] = ()
    nearest_titles: tuple[str, ...] = ()
    message: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    confidence: float = 0.0  # how likely the first excerpt answers (0-1); "found" when it passes the threshold
