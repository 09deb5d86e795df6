"""The reader of an index's committed state, re-opened when a writer (this process or another) commits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from askbot.store import factory
from askbot.store.base import StoreReader


class ReopeningReader:
    """The committed index at ``location``; ``before_open`` runs before any of its files is read (it refuses an
    index this askbot must not read, by raising)."""

    def __init__(self, location: str | Path, before_open: Callable[[], None]) -> None:
        self.location = location
        self._before_open = before_open
        self._reader: StoreReader | None = None
        self._token: str | None = None

    @property
    def current(self) -> StoreReader | None:
        """The reader of the latest commit (None while nothing is committed)."""
        if self._reader is None or self._token != factory.state_token(self.location):
            self.refresh()
        return self._reader

    def refresh(self) -> bool:
        """Re-open the index if a writer committed since; True when it changed."""
        token = factory.state_token(self.location)
        if token == self._token and (self._reader is not None or token is None):
            return False
        self._before_open()
        old, self._reader, self._token = self._reader, factory.open_reader(self.location), token
        if old is not None:
            old.close()
        return True

    @property
    def is_empty(self) -> bool:
        return factory.state_token(self.location) is None
