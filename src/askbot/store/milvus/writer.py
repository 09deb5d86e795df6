"""Writing a Milvus store through the store interface (``StoreWriter``): batches that a ``head`` upsert commits.

A writer takes the lease, then repairs what a killed writer left: rows of uncommitted batches (``born`` after the
head) are deleted, rows they marked replaced (``died`` after the head) are marked alive again, document frequencies
of the last commit are applied if the kill came between the commit and them, and rows replaced more than RETAIN_S
ago are deleted for good. Before its first row a writer records the batch it begins in the head (``started``;
readers ignore it), so a head whose ``started`` is its own batch has nothing to undo and the next writer skips those
scans (each a Strong read on a server); ``purged`` keeps the purge from repeating, and no delete is sent when no
row died since (most commits only add articles). It then writes batch ``head + 1``: new rows ``born`` = batch,
replaced rows re-written with ``died`` = batch. ``commit`` upserts the head row; ``checkpoint`` commits and goes on
with the next batch. A rebuild writes a new set of collections and the commit flips ``head`` to it.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from askbot.store.base import article_statuses
from askbot.store.manifest import IndexMismatch, Manifest
from askbot.store.milvus import schema
from askbot.store.milvus.commits import KEEP_COMMITS, RETAIN_S, Head, Lease, now_ms, read_head, write_head
from askbot.store.milvus.connection import connect, disconnect, parse, server_version
from askbot.store.milvus.reader import MilvusReader
from askbot.types import Article, IndexInfo, Passage

FLUSH_ROWS = 1000  # passage rows buffered before an insert
DF_CHUNK = 16_384  # document-frequency rows upserted at once
PASSAGE_OUT = [
    "pid", "vec", "terms", "article_id", "source_key", "category_key", "published",
    "ordinal", "start_char", "end_char", "born", "died",
]  # fmt: skip
ARTICLE_OUT = ["key", "article_id", "hash", "text", "meta", "part", "parts", "born", "died", "vec"]
META_FIELDS = ("title", "source", "url", "published", "category", "place", "origin")


def text_parts(text: str, limit: int = schema.TEXT_PART_BYTES) -> list[str]:
    """``text`` cut into parts of at most ``limit`` UTF-8 bytes (never inside a character)."""
    data = text.encode("utf-8", "surrogatepass")
    parts: list[str] = []
    while len(data) > limit:
        cut = limit
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: the cut would split a character
            cut -= 1
        parts.append(data[:cut].decode("utf-8", "surrogatepass"))
        data = data[cut:]
    parts.append(data.decode("utf-8", "surrogatepass"))
    return parts


def joined_terms(terms: Sequence[str]) -> str:
    """Terms as the whitespace-separated text the BM25 function reads, cut to Milvus' VARCHAR limit."""
    out = " ".join(terms)
    while len(out.encode("utf-8")) > schema.MAX_VARCHAR:
        out = out.rsplit(" ", 1)[0]
    return out


def words(terms: Sequence[str]) -> set[str]:
    """The content words among lexical terms (pairs are joined by "_"): those the df collection counts."""
    return {t for t in terms if "_" not in t and len(t.encode("utf-8")) <= schema.KEY_CHARS}


class MilvusWriter:
    """The one writer of a Milvus store (others get IndexBusy); see the module docstring for the commit design."""

    def __init__(self, location: str | Path, manifest: Manifest, rebuild: bool = False) -> None:
        self.loc = parse(location)
        self.manifest = manifest
        self.rebuild = rebuild
        self.committed = False

    # ---- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> MilvusWriter:
        if self.loc.lite:  # like the local writer, which makes its index folder
            self.loc.path.parent.mkdir(parents=True, exist_ok=True)
        self.client = connect(self.loc)
        if not self.client.has_collection(schema.meta_name(self.loc.prefix)):
            schema.create_meta(self.client, self.loc.prefix)
        self.lease = Lease(self.client, self.loc.prefix, str(self.loc))
        head = self.lease.acquire()
        try:
            self._begin(head)
        except BaseException:
            self.lease.release()
            disconnect(self.client, self.loc)
            raise
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if not self.committed:
                with contextlib.suppress(Exception):  # tidy up now (else the next writer does): best effort
                    self._recover(read_head(self.client, self.loc.prefix))
        finally:
            self.lease.release()
            disconnect(self.client, self.loc)

    def _begin(self, head: Head | None) -> None:
        """Repair what a killed writer left after ``head`` (the committed head, read under the lease), and start
        the next batch."""
        if head is not None:
            schema.ensure_loaded(self.client, list(schema.set_names(self.loc.prefix, head.set).values()))
        self._recover(head)
        self.head = head  # the committed head (``started`` is written into it)
        self.rows: list[dict[str, Any]] = []
        self.article_rows: list[dict[str, Any]] = []
        self.buffered: set[str] = set()  # articles with rows in the buffers above
        self.unresolved: list[str] = []  # upserted articles not known to be indexed or not: looked up at the flush
        self.replaced: list[str] = []  # upserted articles whose live rows the next flush marks replaced
        self.view: MilvusReader | None = None  # a committed head, where hashes are looked up
        self.df_delta: Counter[str] = Counter()
        if head is None or self.rebuild:
            self.set = 1 + max(self._set_numbers(), default=0)
            self.bm25 = server_version(self.client, self.loc) >= (2, 5)
            schema.create_set(self.client, self.loc.prefix, self.set, self.manifest.dim, self.bm25, self.loc.index)
            self.batch, self.articles, self.passages, self.next_pid = 1, 0, 0, 0
            self.complete = True  # a new set holds nothing but what this writer writes
            self.previous_set, self.commits, self.df_batch = (head.set if head else None), [], 0
            self.data_ts = 0
            self.df_key = "hash"
            self.purged = 0
        else:
            self._refuse_if_incompatible(head.manifest)
            self.set, self.bm25, self.batch = head.set, head.lexical == "bm25", head.batch + 1
            m = head.manifest
            self.articles, self.passages, self.next_pid = m.articles, m.passages, m.next_passage_id
            self.complete = False
            self.previous_set, self.commits, self.df_batch = head.previous_set, head.commits, head.df_batch
            self.data_ts = head.data_ts
            self.df_key = head.df_key
            self.purged = head.purged
        self.names = schema.set_names(self.loc.prefix, self.set)
        # the content hash of each article this writer looked up or wrote (None: not indexed); any other article
        # is as the head it began at shows it (it is the only writer), read there when asked: an add of 100
        # articles to a big store reads their 100 hashes, not every article's
        self.known: dict[str, str | None] = {}

    def _indexed(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The content hashes of those of ``article_ids`` that are indexed now (this writer's changes included)."""
        missing = [] if self.complete else [a for a in dict.fromkeys(article_ids) if a not in self.known]
        if missing:
            found = self._committed_hashes(missing)
            self.known.update((a, found.get(a)) for a in missing)
        return {a: h for a in article_ids if (h := self.known.get(a)) is not None}

    def _committed_hashes(self, article_ids: list[str]) -> dict[str, str]:
        """The content hashes of ``article_ids`` that the last commit holds (for an article this writer has not
        touched, the head it began at and any it committed since agree)."""
        if self.view is None:
            assert self.head is not None
            self.view = MilvusReader(self.client, self.loc, self.head)
        return self.view.content_hashes(article_ids)

    def _refuse_if_incompatible(self, old: Manifest) -> None:
        new = self.manifest
        if (old.model_id, old.model_fingerprint, old.dim) != (new.model_id, new.model_fingerprint, new.dim):
            raise IndexMismatch(
                f"the store {self.loc} was built with model {old.model_id!r} ({old.dim}-d, fingerprint "
                f"{old.model_fingerprint[:12]}), not {new.model_id!r} ({new.dim}-d, {new.model_fingerprint[:12]}). "
                f"Rebuild it with: askbot index --rebuild --store {self.loc} PATH... (or choose --model {old.model_id})"
            )

    def _set_numbers(self) -> list[int]:
        found = (schema.set_number(self.loc.prefix, c) for c in self.client.list_collections())
        return [n for n in found if n is not None]

    def _data_ts(self) -> int:
        """The engine's timestamp of the last write to this set's collections (this process's, or the last head's)."""
        from pymilvus.client.ts_utils import get_collection_ts

        self.data_ts = max([self.data_ts, *(int(get_collection_ts(n) or 0) for n in self.names.values())])
        return self.data_ts

    # ---- repair ------------------------------------------------------------------------------------
    def _recover(self, head: Head | None) -> None:
        """Undo uncommitted batches, finish a commit's document frequencies, drop what no reader needs."""
        keep = set() if head is None else {head.set}
        recent = head is not None and bool(head.commits) and now_ms() - head.commits[0][1] < RETAIN_S * 1000
        if head is not None and head.previous_set is not None and recent:  # readers opened before the rebuild
            keep.add(head.previous_set)
        for collection in self.client.list_collections():
            number = schema.set_number(self.loc.prefix, collection)
            if number is not None and number not in keep:
                self.client.drop_collection(collection)
        if head is None:
            return
        names, c = schema.set_names(self.loc.prefix, head.set), head.batch
        for kind, fields in (("passages", PASSAGE_OUT), ("articles", ARTICLE_OUT)):
            if head.started == c:  # no writer began a batch after this commit: nothing to undo
                break
            self.client.delete(names[kind], filter=f"born > {c}")
            revived = self._rows(names[kind], f"died > {c} and died < {schema.ALIVE}", fields)
            for start in range(0, len(revived), schema.PAGE):
                page = revived[start : start + schema.PAGE]
                self.client.upsert(names[kind], [{**r, "died": schema.ALIVE} for r in page])
        if head.df_batch < c:  # killed between the commit and its document frequencies
            delta: Counter[str] = Counter()
            for r in self._rows(names["passages"], f"born == {c} or died == {c}", ["terms", "born", "died"]):
                if r["born"] != r["died"]:
                    delta.update({t: 1 if r["born"] == c else -1 for t in words(r["terms"].split())})
            self._apply_df(names["df"], delta, c, head.df_key)
            head.df_batch = c
            write_head(self.client, self.loc.prefix, head)
        old = [b for b, t in head.commits if now_ms() - t > RETAIN_S * 1000]
        if old and max(old) > head.purged:
            expr = f"died <= {max(old)}"
            # rows die only in committed batches (an uncommitted one's are revived above), so the head's data
            # timestamp shows them all, without Strong's wait for the server's next time tick
            level = schema.read_at(head.data_ts)
            for kind in ("passages", "articles"):
                # most commits replace nothing (an add of new articles): this look spares a delete by expression
                # (a Strong read and the delete, ~0.2-0.4 s on the 2.3.5 server)
                if self.client.query(names[kind], filter=expr, output_fields=["died"], limit=1, **level):
                    self.client.delete(names[kind], filter=expr)
            head.purged = max(old)  # recorded by the next commit

    def _rows(self, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        return [{f: r[f] for f in fields} for r in schema.pages(self.client, collection, expr, fields)]

    def _apply_df(self, collection: str, delta: Counter[str], batch: int, df_key: str, **level: Any) -> None:
        """Add ``delta`` to the document frequencies, once: a term already at ``batch`` is skipped (a rerun).
        ``df_key``: the collection's key, "hash" (schema.term_key) or "term"; ``level``: the current rows' read
        consistency (the collection's, Strong, unless given)."""
        terms = [t for t, d in delta.items() if d]
        current = schema.df_rows(self.client, collection, terms, df_key, ["df", "batch"], **level)
        updated = [
            {
                **({"key": schema.term_key(t)} if df_key == "hash" else {}),
                "term": t,
                "df": int(current.get(t, {}).get("df", 0)) + delta[t],
                "batch": batch,
                "vec": schema.ZERO,
            }
            for t in terms
            if int(current.get(t, {}).get("batch", -1)) < batch
        ]
        for start in range(0, len(updated), DF_CHUNK):
            self.client.upsert(collection, updated[start : start + DF_CHUNK])

    # ---- the store interface -------------------------------------------------------------------------
    def statuses(self, articles: Sequence[Article]) -> dict[str, str]:
        return article_statuses(self._indexed([a.id for a in articles]), articles)

    def upsert(
        self,
        article: Article,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        terms: Sequence[Sequence[str]],
    ) -> None:
        vectors = np.asarray(vectors, np.float32).reshape(len(passages), -1)
        if len(terms) != len(passages) or (len(passages) and vectors.shape[1] != self.manifest.dim):
            raise ValueError(
                f"{article.id}: {len(passages)} passages, {vectors.shape} vectors, {len(terms)} term lists"
            )
        if len(article.id.encode("utf-8")) > schema.KEY_CHARS:
            raise ValueError(f"article id longer than {schema.KEY_CHARS} bytes: {article.id[:40]!r}...")
        if article.id in self.buffered:  # a second version in this batch: the first goes in, replaced below
            self._flush()
        if article.id not in self.known and not self.complete:
            self.unresolved.append(article.id)
        elif self.known.get(article.id) is not None:
            self.replaced.append(article.id)
        source, category = schema.fold(article.source)[: schema.KEY_CHARS // 4], schema.fold(article.category)
        for i, (p, vector, ts) in enumerate(zip(passages, vectors, terms, strict=True)):
            self.rows.append(
                {
                    "pid": self.next_pid + i,
                    "vec": vector.tolist(),
                    "terms": joined_terms(ts),
                    "article_id": article.id,
                    "source_key": source,
                    "category_key": category[: schema.KEY_CHARS // 4],
                    "published": article.published[:64],
                    "ordinal": p.ordinal,
                    "start_char": p.start,
                    "end_char": p.end,
                    "born": self.batch,
                    "died": schema.ALIVE,
                }
            )
            self.df_delta.update(words(ts))
        self.next_pid += len(passages)
        meta = json.dumps({f: getattr(article, f) for f in META_FIELDS}, ensure_ascii=False)
        parts = text_parts(article.text)
        for n, part in enumerate(parts):
            self.article_rows.append(
                {
                    "key": f"{self.batch}:{n}:{article.id}",
                    "article_id": article.id,
                    "hash": article.content_hash,
                    "text": part,
                    "meta": meta if n == 0 else "{}",
                    "part": n,
                    "parts": len(parts),
                    "born": self.batch,
                    "died": schema.ALIVE,
                    "vec": schema.ZERO,
                }
            )
        self.articles += 1
        self.passages += len(passages)
        self.known[article.id] = article.content_hash
        self.buffered.add(article.id)
        if len(self.rows) >= FLUSH_ROWS:
            self._flush()

    def _mark_started(self) -> None:
        """Record in the head that this batch is being written, before its first row (see the module docstring)."""
        head = self.head
        if head is None or head.set != self.set or head.started == self.batch:
            return  # a new set: no reader reads it before its commit, and a failed one is dropped whole
        head.started = self.batch
        write_head(self.client, self.loc.prefix, head)

    def _flush(self) -> None:
        """Mark what the buffered articles replace, then insert them (all looked up at once: one read for a batch
        of new articles, one more for the changed among them)."""
        if self.rows or self.article_rows:
            self._mark_started()
        if self.unresolved:
            self.replaced += self._committed_hashes(self.unresolved)
            self.unresolved = []
        if self.replaced:
            self._retire(self.replaced)
            self.replaced = []
        for kind, rows in (("articles", self.article_rows), ("passages", self.rows)):
            for start in range(0, len(rows), FLUSH_ROWS):
                self.client.insert(self.names[kind], rows[start : start + FLUSH_ROWS])
            rows.clear()
        self.buffered.clear()

    def _retire(self, article_ids: list[str]) -> None:
        """Mark the live rows of ``article_ids`` replaced by this batch (invisible once it commits); the rows still
        buffered are not among them."""
        self._mark_started()
        expr = f"article_id in {schema.text_list(article_ids)} and died == {schema.ALIVE}"
        passages = self._rows(self.names["passages"], expr, PASSAGE_OUT)
        articles = self._rows(self.names["articles"], expr, ARTICLE_OUT)
        for kind, rows in (("passages", passages), ("articles", articles)):
            for start in range(0, len(rows), FLUSH_ROWS):
                self.client.upsert(
                    self.names[kind], [{**r, "died": self.batch} for r in rows[start : start + FLUSH_ROWS]]
                )
        for r in passages:
            self.df_delta.subtract(words(r["terms"].split()))
        self.passages -= len(passages)
        self.articles -= len({r["article_id"] for r in articles})

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        present = list(self._indexed(list(dict.fromkeys(article_ids))))
        if present:
            self._flush()  # their buffered versions go in first, to be retired with the older ones
            self._retire(present)
        self.known.update(dict.fromkeys(present))
        return present

    def relex(self) -> int:
        """Not done in place on Milvus: the engine's BM25 analyses the stored terms when rows are written."""
        raise ValueError(
            f"askbot index --relex cannot re-tokenize the Milvus store {self.loc} in place: rebuild the collection "
            f"(askbot index --rebuild --store {self.loc} PATH..., or relex a local index and "
            f"askbot migrate --from DIR --to {self.loc})"
        )

    def compact(self) -> IndexInfo:
        """Nothing of askbot's to merge: Milvus compacts its own segments and purges deleted rows in the background.
        Commits what is pending (nothing, from ``askbot compact``) and returns the store's info."""
        return self.commit()

    def checkpoint(self) -> None:
        self.commit()
        self.committed, self.rebuild = False, False
        self.batch += 1

    def commit(self) -> IndexInfo:
        self._flush()
        m = self.manifest
        m.articles, m.passages, m.next_passage_id = self.articles, self.passages, self.next_pid
        m.built = datetime.now(UTC).isoformat(timespec="seconds")
        self.commits = [*self.commits, [self.batch, now_ms()]][-KEEP_COMMITS:]
        lexical = "bm25" if self.bm25 else "none"
        head = Head(self.set, self.batch, m, lexical, self.df_batch, self.previous_set, self.commits, self._data_ts())
        head.df_key, head.started, head.purged = self.df_key, self.batch, self.purged
        write_head(self.client, self.loc.prefix, head)  # the commit point
        # read at this process's last write to the set (rows of this batch were written or replaced, or df_delta
        # is empty): every df row written before it, by any writer, is visible there without Strong's wait for
        # the server's next time tick (~100-200 ms on Milvus 2.3)
        level = schema.read_at(head.data_ts)
        self._apply_df(self.names["df"], self.df_delta, self.batch, self.df_key, **level)
        self.df_delta = Counter()
        head.df_batch = self.df_batch = self.batch
        head.data_ts = self._data_ts()
        write_head(self.client, self.loc.prefix, head)
        self.committed, self.head = True, head
        return MilvusReader(self.client, self.loc, head).info()
