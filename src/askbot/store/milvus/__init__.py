"""The Milvus backend of the store interface: Milvus Lite (``milvus:PATH.db``) or a server/cluster
(``milvus://host:port[/db][?token=..]``), through pymilvus (``pip install 'askbot[milvus]'``).

The four entry points mirror the local store's, for ``askbot.store.factory`` to dispatch ``milvus:`` locations to.
"""

from __future__ import annotations

from pathlib import Path

from askbot.store.manifest import Manifest
from askbot.store.milvus.connection import MilvusLocation, MilvusUnavailable, is_milvus, parse
from askbot.store.milvus.reader import MilvusReader
from askbot.store.milvus.writer import MilvusWriter

__all__ = [
    "MilvusLocation",
    "MilvusReader",
    "MilvusUnavailable",
    "MilvusWriter",
    "committed_manifest",
    "is_milvus",
    "open_reader",
    "open_writer",
    "parse",
    "state_token",
]


def open_reader(location: str | Path) -> MilvusReader | None:
    """A reader of the committed state, or None where nothing was ever committed."""
    from askbot.store.milvus.commits import read_head
    from askbot.store.milvus.connection import connect, disconnect, require_client

    loc = parse(location)
    if loc.lite and not loc.path.exists():  # do not create an empty .db by looking
        require_client(loc)  # "empty: build it first" would send the user to a build that cannot run
        return None
    client = connect(loc)
    head = read_head(client, loc.prefix)
    if head is None:
        disconnect(client, loc)
        return None
    return MilvusReader(client, loc, head).track()


def open_writer(location: str | Path, manifest: Manifest, rebuild: bool = False) -> MilvusWriter:
    return MilvusWriter(location, manifest, rebuild=rebuild)


def committed_manifest(location: str | Path) -> Manifest | None:
    reader = open_reader(location)
    if reader is None:
        return None
    try:
        return reader.head.manifest
    finally:
        reader.close()


def state_token(location: str | Path) -> str | None:
    """Changes whenever a commit lands (what a long-lived reader compares to know it must reopen).

    Asked before every question by a serving KnowledgeBase: read through the client of a reader open on the
    location when there is one (a new client costs ~200 ms on Milvus Lite, a new gRPC channel on a server)."""
    from askbot.store.milvus.commits import read_head
    from askbot.store.milvus.connection import connect, disconnect, require_client
    from askbot.store.milvus.reader import open_reader_of

    loc = parse(location)
    if loc.lite and not loc.path.exists():
        require_client(loc)  # as open_reader: the first look at a store says what it cannot be opened without
        return None
    if (reader := open_reader_of(loc)) is not None:
        return reader.latest_state()
    client = connect(loc)
    try:
        head = read_head(client, loc.prefix)
    finally:
        disconnect(client, loc)
    return None if head is None else f"s{head.set}.b{head.batch}"  # == MilvusReader.latest_state()
