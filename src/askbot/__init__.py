"""askbot: answers questions about Arabic news articles with cited Arabic excerpts.

>>> import askbot
>>> kb = askbot.open("vectors/")          # an index folder (created on first add)
>>> kb.add(["seeds/"])                     # IndexReport: added / updated / unchanged / problems
>>> answer = kb.ask("من وقّع المحضر الأمني المشترك مع شمخاني؟")
>>> answer.found, answer.excerpts[0].sentence, answer.excerpts[0].citation.title
"""

import os

# Spinning OpenMP threads make inference many times slower on small machines: set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from askbot.config import Settings
    from askbot.kb import IndexReport, KnowledgeBase, open
    from askbot.retrieval import Filters
    from askbot.types import Answer, Article, Citation, Excerpt, Passage

# The names load on first use (PEP 562), not on `import askbot`: the CLI starts, and handles Ctrl-C, before
# numpy, FAISS and the rest are imported.
_EXPORTS = {
    "Answer": "askbot.types",
    "Article": "askbot.types",
    "Citation": "askbot.types",
    "Excerpt": "askbot.types",
    "Filters": "askbot.retrieval",
    "IndexReport": "askbot.kb",
    "KnowledgeBase": "askbot.kb",
    "Passage": "askbot.types",
    "Settings": "askbot.config",
    "open": "askbot.kb",
}
__all__ = [
    "Answer",
    "Article",
    "Citation",
    "Excerpt",
    "Filters",
    "IndexReport",
    "KnowledgeBase",
    "Passage",
    "Settings",
    "open",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'askbot' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
