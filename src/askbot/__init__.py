"""askbot: answers questions about Arabic news articles with cited Arabic excerpts.

>>> import askbot
>>> kb = askbot.open("vectors/")          # an index folder (created on first add)
>>> kb.add(["seeds/"])                     # IndexReport: added / updated / unchanged / problems
>>> answer = kb.ask("من وقّع المحضر الأمني المشترك مع شمخاني؟")
>>> answer.found, answer.excerpts[0].sentence, answer.excerpts[0].citation.title
"""

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write("\naskbot: interrupted\n")
    os._exit(130)


# The askbot command (`askbot ...`, `python -m askbot.cli ...`: argv[0] is "-m" while the package loads) is quiet
# on a Ctrl-C from here on, even while numpy and FAISS load; a library user's program keeps its own handler.
if sys.argv and (sys.argv[0] == "-m" or os.path.basename(sys.argv[0]) == "askbot"):
    signal.signal(signal.SIGINT, _interrupted_while_starting)

# Spinning OpenMP threads make inference many times slower on small machines: set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    from askbot.config import Settings
    from askbot.indexing import IndexReport
    from askbot.kb import KnowledgeBase, open
    from askbot.retrieval import Filters
    from askbot.store import IndexBusy, IndexCorrupt, IndexMismatch, StoreUnavailable
    from askbot.types import Answer, Article, Citation, Excerpt, IndexInfo, Passage

# The names load on first use (PEP 562), not on `import askbot`: the CLI starts, and handles Ctrl-C, before
# numpy, FAISS and the rest are imported.
_EXPORTS = {
    "Answer": "askbot.types",
    "Article": "askbot.types",
    "Citation": "askbot.types",
    "Excerpt": "askbot.types",
    "Filters": "askbot.retrieval",
    "IndexBusy": "askbot.store",
    "IndexCorrupt": "askbot.store",
    "IndexInfo": "askbot.types",
    "IndexMismatch": "askbot.store",
    "IndexReport": "askbot.indexing",
    "KnowledgeBase": "askbot.kb",
    "Passage": "askbot.types",
    "Settings": "askbot.config",
    "StoreUnavailable": "askbot.store",
    "open": "askbot.kb",
}
__all__ = [
    "Answer",
    "Article",
    "Citation",
    "Excerpt",
    "Filters",
    "IndexBusy",
    "IndexCorrupt",
    "IndexInfo",
    "IndexMismatch",
    "IndexReport",
    "KnowledgeBase",
    "Passage",
    "Settings",
    "StoreUnavailable",
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
