"""Which backend holds an index, chosen by its location: a folder is the local store (segments under it).

Other backends register a URI scheme in :data:`BACKENDS` (``"milvus"`` for ``milvus://host:port/collection``);
every function here dispatches on the location string, so the rest of askbot never names a backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from askbot.store.base import StoreReader, StoreWriter
from askbot.store.manifest import Manifest


class Backend(Protocol):
    def open_reader(self, location: str) -> StoreReader | None: ...

    def open_writer(self, location: str, manifest: Manifest, rebuild: bool = False) -> StoreWriter: ...

    def committed_manifest(self, location: str) -> Manifest | None: ...

    def state_token(self, location: str) -> str | None: ...


@dataclass(frozen=True)
class LocalBackend:
    """Segments in a folder (askbot.store.index)."""

    def open_reader(self, location: str) -> StoreReader | None:
        from askbot.store.index import IndexReader

        return IndexReader.open(Path(location))

    def open_writer(self, location: str, manifest: Manifest, rebuild: bool = False) -> StoreWriter:
        from askbot.store.index import IndexWriter

        return IndexWriter(Path(location), manifest, rebuild=rebuild)

    def committed_manifest(self, location: str) -> Manifest | None:
        from askbot.store import current_generation

        generation = current_generation(Path(location))
        return Manifest.load(generation) if generation is not None else None

    def state_token(self, location: str) -> str | None:
        from askbot.store import current_generation

        generation = current_generation(Path(location))
        return generation.name if generation is not None else None


BACKENDS: dict[str, Backend] = {"local": LocalBackend()}


def backend_of(location: str | Path) -> Backend:
    """The backend of ``location``: ``scheme://...`` names a registered one, anything else is a local folder."""
    text = str(location)
    scheme, sep, _ = text.partition("://")
    if sep and scheme in BACKENDS:
        return BACKENDS[scheme]
    if sep and scheme.isalpha() and len(scheme) > 1:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS) if name != "local")
        raise ValueError(f"no store backend for {scheme}:// (known: {known or 'none'}; a folder is a local index)")
    return BACKENDS["local"]


def open_reader(location: str | Path) -> StoreReader | None:
    """A reader of the committed index at ``location``, or None when nothing is committed there."""
    return backend_of(location).open_reader(str(location))


def open_writer(location: str | Path, manifest: Manifest, rebuild: bool = False) -> StoreWriter:
    """The one writer of ``location`` (use as a context manager; IndexBusy when another holds it)."""
    return backend_of(location).open_writer(str(location), manifest, rebuild=rebuild)


def committed_manifest(location: str | Path) -> Manifest | None:
    """What the committed index was built with (model, normalizer, counts), or None for an empty location."""
    return backend_of(location).committed_manifest(str(location))


def state_token(location: str | Path) -> str | None:
    """A cheap value that changes whenever a commit lands (readers re-open when it does); None when empty."""
    return backend_of(location).state_token(str(location))
