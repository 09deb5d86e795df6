"""Which backend holds an index, chosen by its location: a folder is the local store (segments under it).

Other backends register a URI scheme in :data:`BACKENDS`: ``"milvus"`` for ``milvus:PATH.db`` (Milvus Lite) and
``milvus://host:port[/db][?token=..]`` (a server; ``pip install 'askbot[milvus]'``). Every function here
dispatches on the location string, so the rest of askbot never names a backend. Keep a location a ``str``:
``Path("milvus://h:1")`` collapses the ``//``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from askbot.store.base import StoreReader, StoreWriter
from askbot.store.manifest import Manifest
from askbot.types import IndexInfo


class Backend(Protocol):
    def open_reader(self, location: str) -> StoreReader | None: ...

    def open_writer(self, location: str, manifest: Manifest, rebuild: bool = False) -> StoreWriter: ...

    def committed_manifest(self, location: str) -> Manifest | None: ...

    def state_token(self, location: str) -> str | None: ...


@dataclass(frozen=True)
class LocalBackend:
    """Segments in a folder (askbot.store.local_reader, local_writer)."""

    def open_reader(self, location: str) -> StoreReader | None:
        from askbot.store.local_reader import IndexReader

        return IndexReader.open(Path(location))

    def open_writer(self, location: str, manifest: Manifest, rebuild: bool = False) -> StoreWriter:
        from askbot.store.local_writer import IndexWriter

        return IndexWriter(Path(location), manifest, rebuild=rebuild)

    def committed_manifest(self, location: str) -> Manifest | None:
        from askbot.store import current_generation

        generation = current_generation(Path(location))
        return Manifest.load(generation) if generation is not None else None

    def state_token(self, location: str) -> str | None:
        from askbot.store import current_generation

        generation = current_generation(Path(location))
        return generation.name if generation is not None else None


@dataclass(frozen=True)
class MilvusBackend:
    """Milvus Lite or a Milvus server (askbot.store.milvus; pymilvus is imported only when a store is opened)."""

    def open_reader(self, location: str) -> StoreReader | None:
        from askbot.store import milvus

        return milvus.open_reader(location)

    def open_writer(self, location: str, manifest: Manifest, rebuild: bool = False) -> StoreWriter:
        from askbot.store import milvus

        return milvus.open_writer(location, manifest, rebuild=rebuild)

    def committed_manifest(self, location: str) -> Manifest | None:
        from askbot.store import milvus

        return milvus.committed_manifest(location)

    def state_token(self, location: str) -> str | None:
        from askbot.store import milvus

        return milvus.state_token(location)


BACKENDS: dict[str, Backend] = {"local": LocalBackend(), "milvus": MilvusBackend()}
# how each scheme's locations are written (for the message that refuses an unknown one)
FORMS = {"milvus": "milvus:PATH.db (Milvus Lite) or milvus://HOST:PORT (a Milvus server)"}


def backend_of(location: str | Path) -> Backend:
    """The backend of ``location``: ``scheme:...`` names a registered one (``milvus:kb.db``,
    ``milvus://host:port``), anything else is a local folder."""
    text = str(location)
    scheme, colon, rest = text.partition(":")
    if colon and scheme != "local" and scheme in BACKENDS:
        return BACKENDS[scheme]
    if colon and rest.startswith("//") and scheme.isalpha() and len(scheme) > 1:
        known = "; ".join(FORMS.get(name, f"{name}:...") for name in sorted(BACKENDS) if name != "local")
        raise ValueError(f"no store backend for {scheme}:// (give {known or 'none'}; a folder is a local index)")
    return BACKENDS["local"]


def backend_name(location: str | Path) -> str:
    """The registered name of ``location``'s backend ("local", "milvus")."""
    found = backend_of(location)
    return next(name for name, backend in BACKENDS.items() if backend is found)


def empty_info(location: str | Path, model: str) -> IndexInfo:
    """``info()`` of a location where nothing is committed yet (an index to be built with ``model``)."""
    return IndexInfo(location=str(location), backend=backend_name(location), model=model)


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
