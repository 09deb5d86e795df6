"""A committed state of a Milvus store, read through the store interface (``StoreReader``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from askbot.store.base import facets_of
from askbot.store.milvus import schema
from askbot.store.milvus.commits import Head
from askbot.store.milvus.connection import MilvusLocation, disconnect
from askbot.types import Article, Filters, IndexInfo, Passage

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SEARCH_LIMIT = schema.SEARCH_LIMIT
ARTICLE_CACHE = 512
LOCATED_CACHE = 20_000  # passages' places remembered from search results (a snapshot's never change)
VECTOR_CACHE = 4096  # vectors of lexical hits, remembered for the dense scores a hybrid question asks of them next
BM25_SCALE = 1 + 1.2  # the engine's BM25 is the local store's times (k1 + 1): divided out, the scores are equal
PASSAGE_FIELDS = ["pid", "article_id", "ordinal", "start_char", "end_char"]
_open: dict[str, list[MilvusReader]] = {}  # the open readers of each location in this process (state checks)


def open_reader_of(loc: MilvusLocation) -> MilvusReader | None:
    """The latest reader opened on ``loc`` in this process and not closed yet, else None."""
    readers = _open.get(loc.text)
    return readers[-1] if readers else None


class FilteredIds(np.ndarray):
    """Passage ids of a filter, with the Milvus expression that selects them, so searches push it down."""

    expr: str = ""


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.float32), np.empty(0, np.int64)


def _query_text(terms: Sequence[str]) -> str:
    """A BM25 query: each term once, as the local store scores (the engine would weigh a repeated term twice)."""
    return " ".join(dict.fromkeys(terms))


def bm25_idf(n: int, df: int) -> float:
    return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))


class MilvusReader:
    """The state of the store at one committed batch: later commits are not seen (rows carry born/died)."""

    def __init__(self, client: MilvusClient, loc: MilvusLocation, head: Head) -> None:
        self.client, self.loc, self.head = client, loc, head
        self.names = schema.set_names(loc.prefix, head.set)
        self.visible = schema.visible(head.batch)
        self._articles: dict[str, Article] = {}
        self._located: dict[int, dict[str, Any]] = {}  # pid -> article_id, ordinal, offsets, from searches
        self._vectors: dict[int, np.ndarray] = {}  # pid -> vector, from lexical searches
        # read at the commit's data timestamp: all of it visible, no wait for the server's next time tick
        # (Strong for a head written before data_ts existed)
        self.level: dict[str, Any] = schema.read_at(head.data_ts) or {"consistency_level": "Strong"}
        self.search_params: dict[str, Any] = {"metric_type": "IP"}
        if loc.index == "HNSW":
            self.search_params["params"] = {"ef": schema.HNSW_EF}
        schema.ensure_loaded(client, [*self.names.values()])

    # ---- helpers ---------------------------------------------------------------------------------
    def _query(
        self, kind: str, expr: str, fields: list[str], many: bool = True, few: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every row of ``kind`` matching ``expr`` among the visible ones (``many``: page by page; ``few``: one
        query first, paging only if it comes back full: the pager reads at the newest timestamp, which waits for a
        server's next time tick, ~200 ms on Milvus 2.3, where one query reads at the snapshot's)."""
        if not many or few:
            rows = self.client.query(
                self.names[kind],
                filter=f"({expr}) and {self.visible}",
                output_fields=fields,
                limit=SEARCH_LIMIT,
                **self.level,
            )
            if not many or len(rows) < SEARCH_LIMIT:
                yield from rows
                return
        yield from schema.pages(self.client, self.names[kind], f"({expr}) and {self.visible}", fields)

    def _lookup(self, kind: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """Rows of ``kind`` by a filtered search (``schema.lookup``), at the snapshot's level."""
        return schema.lookup(self.client, self.names[kind], expr, fields, **self.level)

    def _where(self, allowed: np.ndarray | None) -> str:
        if allowed is None:
            return self.visible
        expr = getattr(allowed, "expr", "") or f"pid in {schema.id_list(allowed.tolist())}"
        return f"({expr}) and {self.visible}"

    def _search(
        self, field: str, data: object, k: int, expr: str, params: dict[str, Any], vectors: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``vectors``: also remember the hits' vectors (what dense_scores asks of lexical hits next)."""
        hits = self.client.search(
            self.names["passages"],
            data=[data],
            anns_field=field,
            limit=min(k, SEARCH_LIMIT),
            filter=expr,
            # where each hit is: passages() of the hits needs no query then
            output_fields=[*PASSAGE_FIELDS[1:], "vec"] if vectors else PASSAGE_FIELDS[1:],
            search_params=params,
            **self.level,
        )[0]
        if len(self._located) > LOCATED_CACHE:
            self._located.clear()
        self._located.update((int(h["id"]), {f: h["entity"][f] for f in PASSAGE_FIELDS[1:]}) for h in hits)
        if vectors:
            if len(self._vectors) + len(hits) > VECTOR_CACHE:
                self._vectors.clear()
            self._vectors.update((int(h["id"]), np.asarray(h["entity"]["vec"], np.float32)) for h in hits)
        scores = np.asarray([h["distance"] for h in hits], np.float32)
        ids = np.asarray([h["id"] for h in hits], np.int64)
        return scores, ids

    # ---- the store interface ---------------------------------------------------------------------
    def info(self) -> IndexInfo:
        m = self.head.manifest
        return m.info(
            str(self.loc), "milvus-lite" if self.loc.lite else "milvus", f"s{self.head.set}.b{self.head.batch}"
        )

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        ids = [int(i) for i in dict.fromkeys(ids)]
        if not ids:
            return {}
        rows = [{"pid": i, **self._located[i]} for i in ids if i in self._located]
        if missing := [i for i in ids if i not in self._located]:
            expr = f"pid in {schema.id_list(missing)}"
            rows += self._query("passages", expr, PASSAGE_FIELDS, many=len(missing) > schema.PAGE)
        articles = self.articles([r["article_id"] for r in rows])
        out = {}
        for r in rows:
            article = articles.get(r["article_id"])
            if article is not None:  # a citation is a slice of the stored article: exact by construction
                start, end = int(r["start_char"]), int(r["end_char"])
                out[int(r["pid"])] = Passage(r["article_id"], int(r["ordinal"]), start, end, article.text[start:end])
        return out

    def articles(self, ids: Sequence[str]) -> dict[str, Article]:
        found = {a: self._articles[a] for a in dict.fromkeys(ids) if a in self._articles}
        wanted = [a for a in dict.fromkeys(ids) if a not in found]
        if wanted:
            parts: dict[str, list[dict[str, Any]]] = {}
            expr = f"article_id in {schema.text_list(wanted)}"
            fields = ["article_id", "part", "text", "meta"]
            rows = (
                self._query("articles", expr, fields)
                if len(wanted) > 100
                else self._lookup("articles", f"({expr}) and {self.visible}", fields)
            )
            for row in rows:
                parts.setdefault(row["article_id"], []).append(row)
            for aid, rows in parts.items():
                rows.sort(key=lambda r: r["part"])
                meta = json.loads(rows[0]["meta"])
                found[aid] = Article(id=aid, text="".join(r["text"] for r in rows), **meta)
            if len(self._articles) + len(parts) > ARTICLE_CACHE:  # a snapshot's articles never change: cache them
                self._articles.clear()
            self._articles.update((a, found[a]) for a in parts)
        return {a: found[a] for a in dict.fromkeys(ids) if a in found}

    def content_hashes(self, ids: Sequence[str] | None = None) -> dict[str, str]:
        fields = ["article_id", "hash"]
        if ids is None:
            return {r["article_id"]: r["hash"] for r in self._query("articles", "part == 0", fields)}
        # by a query, SEARCH_LIMIT articles at a time (one part 0 each: one query's rows): 100 take ~5 ms on Milvus
        # Lite at 100k passages, where _lookup's search takes as long warm and ~100 ms as the collection's first
        wanted = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        for start in range(0, len(wanted), SEARCH_LIMIT):
            expr = f"article_id in {schema.text_list(wanted[start : start + SEARCH_LIMIT])} and part == 0"
            out.update((r["article_id"], r["hash"]) for r in self._query("articles", expr, fields, many=False))
        return out

    def passage_ids(self) -> np.ndarray:
        """Every live passage id, ascending."""
        return np.sort(np.asarray([int(r["pid"]) for r in self._query("passages", "pid >= 0", ["pid"])], np.int64))

    def facets(self) -> dict[str, object]:
        """Sources and categories with their article counts, and the first and last publication dates."""
        metas = (json.loads(r["meta"]) for r in self._query("articles", "part == 0", ["meta"]))
        return facets_of((m.get("source", ""), m.get("category", ""), m.get("published", "")) for m in metas)

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        if not filters:
            return None
        expr = schema.filter_expression(filters)
        ids = np.asarray(sorted(r["pid"] for r in self._query("passages", expr, ["pid"], few=True)), np.int64)
        out = ids.view(FilteredIds)
        out.expr = expr
        return out

    def dense_search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or (allowed is not None and not len(allowed)):
            return _empty()
        query = np.asarray(vector, np.float32).reshape(-1).tolist()
        return self._search("vec", query, k, self._where(allowed), self.search_params)

    def dense_scores(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return np.empty(0, np.float32)
        query = np.asarray(vector, np.float32).reshape(-1)
        scores = {i: float(self._vectors[i] @ query) for i in ids.tolist() if i in self._vectors}
        missing = [i for i in dict.fromkeys(ids.tolist()) if i not in scores]
        if missing and len(missing) <= SEARCH_LIMIT:
            # a search restricted to them gives their inner products: on Milvus Lite ~2 ms where a query of their
            # vectors by id takes ~15 ms at 100k passages (issue 15); what it does not return is queried
            expr = f"pid in {schema.id_list(missing)} and {self.visible}"
            params = dict(self.search_params)
            if self.loc.index == "HNSW":
                params["params"] = {"ef": max(schema.HNSW_EF, len(missing))}
            found, found_ids = self._search("vec", query.tolist(), len(missing), expr, params)
            scores.update(zip(found_ids.tolist(), found.tolist(), strict=True))
            missing = [i for i in missing if i not in scores]
        if missing:
            expr = f"pid in {schema.id_list(missing)}"
            rows = self._query("passages", expr, ["pid", "vec"], many=len(missing) > schema.PAGE)
            scores.update((int(r["pid"]), float(np.asarray(r["vec"], np.float32) @ query)) for r in rows)
        return np.asarray([scores.get(i, 0.0) for i in ids.tolist()], np.float32)

    def lexical_search(
        self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if not terms or k <= 0 or self.head.lexical != "bm25" or (allowed is not None and not len(allowed)):
            return _empty()
        scores, ids = self._search(
            "sparse", _query_text(terms), k, self._where(allowed), {"metric_type": "BM25"}, vectors=True
        )
        keep = scores > 0
        return scores[keep] / BM25_SCALE, ids[keep]

    def lexical_scores(self, terms: Sequence[str], ids: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        out = np.zeros(len(ids), np.float32)
        if not len(ids) or not terms or self.head.lexical != "bm25":
            return out
        expr = f"pid in {schema.id_list(ids.tolist())} and {self._where(allowed)}"
        scores, found = self._search("sparse", _query_text(terms), len(ids), expr, {"metric_type": "BM25"})
        score_of = dict(zip(found.tolist(), (scores / BM25_SCALE).tolist(), strict=True))
        return np.asarray([score_of.get(i, 0.0) for i in ids.tolist()], np.float32)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        n = self.head.manifest.passages
        if n == 0 or not terms:
            return dict.fromkeys(terms, 1.0)
        wanted = list(dict.fromkeys(terms))
        rows = schema.df_rows(self.client, self.names["df"], wanted, self.head.df_key, ["df"], **self.level)
        return {t: bm25_idf(n, int(rows[t]["df"]) if t in rows else 0) for t in terms}

    def words(self, min_df: int = 1) -> list[str]:
        if self.head.manifest.passages == 0:
            return []
        return sorted(
            {r["term"] for r in schema.pages(self.client, self.names["df"], f"df >= {int(min_df)}", ["term"])}
        )

    def iter_articles(self) -> Iterator[tuple[Article, list[Passage], np.ndarray, list[list[str]]]]:
        ids = sorted(self.content_hashes())
        fields = [*PASSAGE_FIELDS, "vec", "terms"]
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            articles = self.articles(chunk)
            rows: dict[str, list[dict[str, Any]]] = {}
            expr = f"article_id in {schema.text_list(chunk)}"
            for r in self._query("passages", expr, fields):
                rows.setdefault(r["article_id"], []).append(r)
            for aid in chunk:
                article, found = articles[aid], sorted(rows.get(aid, []), key=lambda r: r["ordinal"])
                passages = [
                    Passage(
                        aid,
                        int(r["ordinal"]),
                        r["start_char"],
                        r["end_char"],
                        article.text[r["start_char"] : r["end_char"]],
                    )
                    for r in found
                ]
                vectors = np.asarray([r["vec"] for r in found], np.float32).reshape(len(found), self.head.manifest.dim)
                yield article, passages, vectors, [r["terms"].split() for r in found]

    def verify(self) -> list[str]:
        problems: list[str] = []
        m = self.head.manifest
        passages = {}
        for r in self._query("passages", "pid >= 0", ["pid", "article_id", "start_char", "end_char"]):
            passages[int(r["pid"])] = r
        hashes = self.content_hashes()
        if (len(hashes), len(passages)) != (m.articles, m.passages):
            problems.append(
                f"commit counts {m.articles}/{m.passages} != stored {len(hashes)}/{len(passages)} (articles/passages)"
            )
        orphans = {r["article_id"] for r in passages.values()} - set(hashes)
        if orphans:
            problems.append(f"{len(orphans)} articles have passages but no text (e.g. {sorted(orphans)[0]!r})")
        lengths = {a: len(t.text) for a, t in self.articles(list(hashes)[:ARTICLE_CACHE]).items()}
        for r in passages.values():
            if r["article_id"] in lengths and not 0 <= r["start_char"] <= r["end_char"] <= lengths[r["article_id"]]:
                problems.append(f"passage {r['pid']} points outside its article {r['article_id']!r}")
        return problems

    def latest_state(self) -> str | None:
        """The store's newest committed state (``info().generation`` of a reader opened now)."""
        from askbot.store.milvus.commits import read_head

        head = read_head(self.client, self.loc.prefix)
        return None if head is None else f"s{head.set}.b{head.batch}"

    def track(self) -> MilvusReader:
        """Offer this reader's client to ``state_token`` until it closes (a reader that owns its client)."""
        _open.setdefault(self.loc.text, []).append(self)
        return self

    def close(self) -> None:
        readers = _open.get(self.loc.text, [])
        if self in readers:
            readers.remove(self)
        if not readers:
            _open.pop(self.loc.text, None)
        disconnect(self.client, self.loc)
