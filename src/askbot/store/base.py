"""The store interface: all that the rest of askbot may ask of an index, whichever backend holds it.

Retrieval, answering, evaluation and the faces talk to a ``StoreReader`` and never to SQLite, FAISS or BM25
objects; a backend proves itself by passing the contract tests (tests/test_store_contract.py) unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from askbot.types import Article, Filters, IndexInfo, Passage


class StoreReader(Protocol):
    """One consistent, read-only view of an index (a committed state: a writer's later commit is not seen)."""

    def info(self) -> IndexInfo: ...

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]: ...

    def articles(self, ids: Sequence[str]) -> dict[str, Article]: ...

    def content_hashes(self) -> dict[str, str]: ...

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None: ...

    def dense_search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def dense_scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray: ...

    def lexical_search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def lexical_scores(
        self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None
    ) -> np.ndarray: ...

    def idf(self, terms: Sequence[str]) -> dict[str, float]: ...

    def verify(self) -> list[str]: ...

    def close(self) -> None: ...
