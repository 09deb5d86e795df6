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

from askbot.config import Settings  # noqa: E402
from askbot.kb import IndexReport, KnowledgeBase, open  # noqa: E402
from askbot.retrieval import Filters  # noqa: E402
from askbot.store import IndexBusy, IndexCorrupt, IndexMismatch  # noqa: E402
from askbot.types import Answer, Article, Citation, Excerpt, IndexInfo, Passage  # noqa: E402

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
    "open",
]
__version__ = "0.1.0"
