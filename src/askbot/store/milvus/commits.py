"""The commit marker (``head`` row) and the one-writer lease of a Milvus store, both rows of ``{prefix}_meta``.

A commit is one upsert of the ``head`` row naming the set and the last committed batch: Milvus applies a row's
upsert at one timestamp, so a reader sees the old head or the new one, never half. The head is read Strong, so a
question asked after a commit returned sees that commit (Bounded could show the new head without its rows); the
data rows are read at the head's ``data_ts`` (a guarantee timestamp: every write of the committed batches is
visible at it), which a server has served already, so those reads do not wait for its next time tick.

The lease: a writer upserts its own ``claim:<token>`` row, then reads every claim (Strong). It goes on only when
no other live claim is there; otherwise it deletes its claim and raises IndexBusy. Of two writers racing, the
later insert's read sees the earlier claim, so at most one wins (both may lose, and retry). A claim is live while
its heartbeat (refreshed by a thread) is younger than LEASE_S, and on this host while its process exists: a
killed writer's lease is free at once here, and LEASE_S later from other machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from askbot.store.lock import IndexBusy
from askbot.store.manifest import Manifest
from askbot.store.milvus import schema

if TYPE_CHECKING:
    from pymilvus import MilvusClient

HEAD = "head"
CLAIM = "claim:"
LEASE_S = 60.0
RETAIN_S = 120.0  # rows replaced by a commit are kept this long for readers opened before it
KEEP_COMMITS = 32
LOAD_WAIT_S = 120.0  # how long a reader waits for a restarted server to load the store's collections


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Head:
    """The committed state: which set, the last committed batch, and the manifest (model, counts, text rules)."""

    set: int
    batch: int
    manifest: Manifest
    lexical: str  # "bm25": the engine's BM25 function; "none": this engine has none (Milvus < 2.5)
    df_batch: int = 0  # the last batch whose document frequencies are applied (== batch but after a crash)
    previous_set: int | None = None
    commits: list[list[int]] = field(default_factory=list)  # [batch, time_ms] of recent commits, for cleanup
    # the engine's timestamp of the last data write this state holds: readers read the data at it (every write
    # before it visible: what Strong gives here) instead of Strong's newest timestamp, which waits for a time tick
    data_ts: int = 0
    df_key: str = "term"  # the df collection's key: "hash" (schema.term_key) or "term" (sets written before it)
    # the last batch a writer began writing rows of (written before its first row): == batch, no row of a later
    # batch exists and the next writer skips that repair; -1 for heads written before this field (repaired)
    started: int = -1
    purged: int = 0  # the rows replaced up to this batch are deleted for good (the next purge starts after it)

    def to_row(self) -> dict[str, Any]:
        body = {k: v for k, v in vars(self).items() if k != "manifest"}
        body["manifest"] = vars(self.manifest)
        return {"key": HEAD, "body": json.dumps(body, ensure_ascii=False), "time_ms": now_ms(), "vec": schema.ZERO}

    @classmethod
    def from_body(cls, body: str) -> Head:
        data = json.loads(body)
        data["manifest"] = Manifest(**data["manifest"])
        return cls(**data)


def read_head(client: MilvusClient, prefix: str) -> Head | None:
    """The committed head, or None for a store never committed to."""
    name = schema.meta_name(prefix)
    if not client.has_collection(name):
        return None
    from pymilvus.exceptions import MilvusException

    deadline = time.monotonic() + LOAD_WAIT_S
    while True:
        try:
            rows = client.query(name, ids=[HEAD], output_fields=["body"], consistency_level="Strong")
            break
        except MilvusException as exc:
            # a restarted server loads collections when asked to, and may call one loaded before its query node
            # holds it: load it and ask again until it answers
            if "not loaded" not in str(exc) or time.monotonic() > deadline:
                raise
            schema.ensure_loaded(client, [name])
            time.sleep(0.5)
    return Head.from_body(rows[0]["body"]) if rows else None


def write_head(client: MilvusClient, prefix: str, head: Head) -> None:
    client.upsert(schema.meta_name(prefix), [head.to_row()])


class Lease:
    """The writer's claim on a store; ``acquire`` raises IndexBusy when another live writer holds it."""

    def __init__(self, client: MilvusClient, prefix: str, where: str) -> None:
        self.client, self.name, self.where = client, schema.meta_name(prefix), where
        self.key = CLAIM + uuid.uuid4().hex
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": now_ms()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _row(self) -> dict[str, Any]:
        return {"key": self.key, "body": json.dumps(self.holder), "time_ms": now_ms(), "vec": schema.ZERO}

    def acquire(self) -> Head | None:
        """Take the lease; returns the committed head, read in the same query as the other claims (a Strong read
        waits for the server's next time tick, ~100-200 ms on Milvus 2.3: one instead of two)."""
        self.client.upsert(self.name, [self._row()])
        rows = self.client.query(
            self.name,
            filter=f'key like "{CLAIM}%" or key == "{HEAD}"',
            output_fields=["key", "body", "time_ms"],
            consistency_level="Strong",
        )
        head = next((Head.from_body(r["body"]) for r in rows if r["key"] == HEAD), None)
        claims = [r for r in rows if r["key"] != HEAD]
        others = [c for c in claims if c["key"] != self.key]
        live = [c for c in others if _live(c)]
        stale = [c["key"] for c in others if not _live(c)]
        if stale:
            self.client.delete(self.name, ids=stale)
        if live:
            self.client.delete(self.name, ids=[self.key])
            holder = json.loads(live[0]["body"])
            raise IndexBusy(
                f"the store {self.where} is being updated by PID {holder.get('pid')} on {holder.get('host')}; "
                "wait for it to finish (readers keep answering meanwhile)"
            )
        self._thread = threading.Thread(target=self._beat, name="askbot-milvus-lease", daemon=True)
        self._thread.start()
        return head

    def _beat(self) -> None:
        while not self._stop.wait(LEASE_S / 4):
            with contextlib.suppress(Exception):  # a missed beat is retried; the lease outlives three of them
                self.client.upsert(self.name, [self._row()])

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):  # an engine gone away: the claim expires by itself
            self.client.delete(self.name, ids=[self.key])


def _live(claim: dict[str, Any]) -> bool:
    if now_ms() - int(claim["time_ms"]) > LEASE_S * 1000:
        return False
    try:
        holder = json.loads(claim["body"])
    except ValueError:
        return False
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, TypeError):
            return True
    return True
