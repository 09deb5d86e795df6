"""Where a Milvus store lives (``milvus:PATH.db`` or ``milvus://host:port[/db][?token=..]``) and a client for it."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import re
import sys
import tempfile
import types
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from askbot.store.manifest import StoreUnavailable

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SCHEME = "milvus:"
DEFAULT_PREFIX = "askbot"
LITE_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,36}$")  # what Milvus Lite accepts as a .db file name
PREFIX_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
INDEXES = ("FLAT", "HNSW")
TIMEOUT_S = 60.0  # every call: a failing insert otherwise retries for minutes
_lite_clients: dict[str, int] = {}  # open clients per Milvus Lite file: its engine process stops with the last


class MilvusUnavailable(StoreUnavailable):
    """The client library is missing, or the engine at the location cannot be reached."""


def is_milvus(location: str | Path) -> bool:
    return str(location).startswith(SCHEME)


@dataclass(frozen=True)
class MilvusLocation:
    """A parsed store location: what ``MilvusClient`` needs, and the collection name prefix."""

    text: str
    uri: str
    lite: bool
    token: str = ""
    db_name: str = ""
    prefix: str = DEFAULT_PREFIX
    index: str = "FLAT"  # dense index: FLAT (exact) or HNSW (servers)

    @property
    def path(self) -> Path:
        return Path(self.uri)

    def __str__(self) -> str:
        return self.text


def parse(location: str | Path) -> MilvusLocation:
    """``milvus:PATH.db`` (Milvus Lite) or ``milvus://host:port[/db][?token=..&tls=1&prefix=..&index=HNSW]``."""
    text = str(location)
    if not is_milvus(text):
        raise ValueError(f"{text!r} is not a Milvus location (milvus:PATH.db or milvus://host:port)")
    rest = text[len(SCHEME) :]
    if not rest.startswith("//"):
        query = ""
        if "?" in rest:
            rest, query = rest.split("?", 1)
        path = Path(rest).expanduser().absolute()
        if path.suffix != ".db" or not LITE_NAME.match(path.name):
            raise ValueError(
                f"{text!r}: a Milvus Lite store is a file named like kb.db (letters, digits, . - _, at most 36 "
                "characters, ending in .db)"
            )
        options = _options(query, text)
        return MilvusLocation(text, str(path), True, prefix=options.get("prefix", DEFAULT_PREFIX), index="FLAT")
    parts = urlsplit("http:" + rest)
    if not parts.hostname or not parts.port:
        raise ValueError(f"{text!r}: a Milvus server location is milvus://HOST:PORT[/DB][?token=USER:PASSWORD]")
    options = _options(parts.query, text)
    scheme = "https" if options.get("tls", "0") in ("1", "true", "yes") else "http"
    index = options.get("index", "HNSW").upper()
    if index not in INDEXES:
        raise ValueError(f"{text!r}: index must be one of {', '.join(INDEXES)}")
    return MilvusLocation(
        text,
        f"{scheme}://{parts.hostname}:{parts.port}",
        False,
        token=options.get("token", ""),
        db_name=parts.path.strip("/"),
        prefix=options.get("prefix", DEFAULT_PREFIX),
        index=index,
    )


def _options(query: str, text: str) -> dict[str, str]:
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = set(options) - {"token", "tls", "prefix", "index"}
    if unknown:
        raise ValueError(f"{text!r}: unknown option(s) {', '.join(sorted(unknown))} (token, tls, prefix, index)")
    if not PREFIX_NAME.match(options.get("prefix", DEFAULT_PREFIX)):
        raise ValueError(f"{text!r}: prefix must be letters, digits and _ (a Milvus collection name)")
    return options


def _pkg_resources_shim() -> None:
    """milvus-lite 2.5.1 imports ``pkg_resources`` (gone from setuptools >= 81) only to read its own version."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        class DistributionNotFound(Exception):
            pass

        def get_distribution(name: str) -> types.SimpleNamespace:
            try:
                return types.SimpleNamespace(version=importlib.metadata.version(name))
            except importlib.metadata.PackageNotFoundError as exc:
                raise DistributionNotFound(name) from exc

        shim.DistributionNotFound = DistributionNotFound  # type: ignore[attr-defined]
        shim.get_distribution = get_distribution  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim


def require_client(loc: MilvusLocation) -> None:
    """MilvusUnavailable unless the client (and, for a .db file, Milvus Lite) is installed: what a look at a store
    that holds nothing yet says first, since the build it would advise cannot run without them."""
    import importlib.util

    for module, what in (("pymilvus", "the Milvus client"), *([("milvus_lite", "Milvus Lite")] if loc.lite else [])):
        if importlib.util.find_spec(module) is None:
            raise MilvusUnavailable(f"{loc}: {what} is not installed: pip install 'askbot[milvus]'")


def connect(loc: MilvusLocation) -> MilvusClient:
    """A client for ``loc`` (Milvus Lite starts its engine process for the file on first use, ~1 s)."""
    _pkg_resources_shim()
    os.environ.setdefault("RUST_LOG", "error")  # the Lite engine's tantivy logs every commit at INFO
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as exc:
        raise MilvusUnavailable(f"{loc}: the Milvus client is not installed: pip install 'askbot[milvus]'") from exc
    if loc.lite:
        # Lite's query iterator has no server snapshot time; the client's is as good here (rows are pinned by batch)
        logging.getLogger("pymilvus.orm.iterator").setLevel(logging.ERROR)
        try:
            import milvus_lite  # noqa: F401
        except ImportError as exc:
            raise MilvusUnavailable(f"{loc}: Milvus Lite is not installed: pip install 'askbot[milvus]'") from exc
        if not loc.path.parent.is_dir():
            raise MilvusUnavailable(f"{loc}: the folder {loc.path.parent} does not exist")
    try:
        alias = f"askbot-{uuid.uuid4().hex}"  # pymilvus shares one connection per URI: closing it would close all
        if loc.lite:
            client = MilvusClient(loc.uri, timeout=TIMEOUT_S, alias=alias)
            _lite_clients[loc.uri] = _lite_clients.get(loc.uri, 0) + 1
            return client
        return MilvusClient(loc.uri, token=loc.token, db_name=loc.db_name or "default", timeout=TIMEOUT_S, alias=alias)
    except MilvusException as exc:
        hint = " (is another process holding it? Milvus Lite opens a .db in one process)" if loc.lite else ""
        raise MilvusUnavailable(f"cannot open {loc}: {exc.message}{hint}") from exc


def disconnect(client: MilvusClient, loc: MilvusLocation) -> None:
    """Close ``client``; the last client of a Milvus Lite file stops its engine process (and frees the file)."""
    client.close()
    if loc.lite and loc.uri in _lite_clients:
        _lite_clients[loc.uri] -= 1
        if _lite_clients[loc.uri] <= 0:
            del _lite_clients[loc.uri]
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(loc.uri)


@functools.cache
def lite_problem() -> str:
    """Why Milvus Lite cannot start on this machine, "" when it can (tests skip with this reason)."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            loc = parse(f"milvus:{tmp}/probe.db")
            disconnect(connect(loc), loc)
    except Exception as exc:  # noqa: BLE001 - any failure to start the engine is the answer
        return f"{type(exc).__name__}: {exc}"
    return ""


def server_version(client: MilvusClient, loc: MilvusLocation) -> tuple[int, int]:
    """(major, minor) of the engine; Milvus Lite 2.5 does not answer the version call."""
    if loc.lite:
        return (2, 5)
    found = re.search(r"(\d+)\.(\d+)", client.get_server_version() or "")
    return (int(found[1]), int(found[2])) if found else (0, 0)
