"""The collections of a Milvus store, their fields and indexes, and the expressions readers filter with.

Per store (``prefix``) one small ``{prefix}_meta`` collection holds the commit marker (row ``head``) and the
writer's lease (rows ``claim:...``). The data lives in a *set* of three collections, numbered so that a rebuild
writes a fresh set and flips ``head`` to it at once:

- ``{prefix}_s{N}_passages``: one row per passage version: vector, lexical terms (whitespace-joined, fed to the
  engine's BM25 function where the engine has one), article id, ordinal, character offsets, filter keys;
- ``{prefix}_s{N}_articles``: article texts and metadata, the text split in parts under Milvus' 64 KiB
  VARCHAR limit;
- ``{prefix}_s{N}_df``: document frequency of each content word (the idf of sentence marking), keyed by a 63-bit
  hash of the word (``term_key``): the engines look an integer key up several times faster than a VARCHAR one
  (Milvus 2.3.5: ~15 ms for one word among 98k, issue 15); sets written before keep the word as the key
  (``Head.df_key`` says which).

Every data row carries ``born`` (the batch that wrote it) and ``died`` (the batch that replaced or removed it,
``ALIVE`` until then): a reader pinned at committed batch C sees ``born <= C and died > C``, so nothing of a batch
is visible before its commit, and an open reader keeps its view while a writer commits the next one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from askbot.types import Filters

if TYPE_CHECKING:
    from pymilvus import MilvusClient

ALIVE = 2**62  # ``died`` of a live row
MAX_VARCHAR = 65_535  # bytes, Milvus' limit
TEXT_PART_BYTES = 60_000  # an article's text is cut in parts of at most this many UTF-8 bytes
KEY_CHARS = 1024  # article ids, source/category keys
DUMMY_DIM = 2  # Milvus wants a vector field in every collection: meta, articles and df carry a 2-d zero
ZERO = [0.0] * DUMMY_DIM
HNSW_EF = 512  # search beam for HNSW (servers): recall@10 0.994 at 100k (issue 15)
SEARCH_LIMIT = 16_384  # Milvus' top-k ceiling
PAGE = 5000  # rows per query page


def meta_name(prefix: str) -> str:
    return f"{prefix}_meta"


def set_names(prefix: str, number: int) -> dict[str, str]:
    return {kind: f"{prefix}_s{number}_{kind}" for kind in ("passages", "articles", "df")}


def set_number(prefix: str, collection: str) -> int | None:
    """The set number of a data collection of this store, else None."""
    head = f"{prefix}_s"
    if not collection.startswith(head) or "_" not in collection[len(head) :]:
        return None
    number = collection[len(head) :].split("_", 1)[0]
    return int(number) if number.isdigit() else None


def literal(text: str) -> str:
    """A Milvus expression string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fold(text: str) -> str:
    """The key filters compare: ASCII letters lower-cased (as SQLite's lower() in the local store)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def visible(batch: int) -> str:
    return f"born <= {batch} and died > {batch}"


def filter_expression(filters: Filters) -> str:
    """``filters`` as a Milvus expression over passage rows (dates compare as ISO strings, like the local store)."""
    where = []
    if filters.source:
        where.append(f"source_key == {literal(fold(filters.source))}")
    if filters.category:
        where.append(f"category_key == {literal(fold(filters.category))}")
    if filters.since:
        where.append(f"published >= {literal(filters.since)}")
    if filters.until:  # published[:len(until)] <= until  <=>  published < until with its last character + 1
        bound = filters.until[:-1] + chr(ord(filters.until[-1]) + 1)
        where.append(f'published != "" and published < {literal(bound)}')
    return " and ".join(where)


def term_key(term: str) -> int:
    """The df collection's key of a word: 63 bits of its BLAKE2b hash (the row keeps the word, checked on read)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big") >> 1


def id_list(ids: list[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def text_list(texts: Sequence[str]) -> str:
    """A Milvus expression list of string literals."""
    return "[" + ",".join(literal(t) for t in texts) + "]"


def pages(client: MilvusClient, collection: str, expr: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    """Every row of ``collection`` matching ``expr``, read PAGE rows at a time (the pager reads at the newest
    timestamp)."""
    it = client.query_iterator(collection, batch_size=PAGE, filter=expr, output_fields=fields)
    try:
        while page := it.next():
            yield from page
    finally:
        it.close()


def read_at(timestamp: int) -> dict[str, Any]:
    """The read level that sees everything written up to ``timestamp`` (a write's), without Strong's wait for the
    server's next time tick (~100-200 ms on Milvus 2.3); the collection's own level when there is none (0)."""
    return {"consistency_level": "Customized", "guarantee_timestamp": timestamp} if timestamp else {}


def lookup(client: MilvusClient, collection: str, expr: str, fields: list[str], **level: Any) -> list[dict[str, Any]]:
    """The rows of ``collection`` (articles or df: their ``vec`` is a FLAT-indexed dummy) matching ``expr``, at most
    SEARCH_LIMIT, read by a filtered search on that vector: Milvus Lite answers a query by key in ~15 ms at 100k
    rows and this search in ~2 ms (issue 15); the dummy's distances are all 0, so every match is returned."""
    hits = client.search(
        collection,
        data=[ZERO],
        anns_field="vec",
        limit=SEARCH_LIMIT,
        filter=expr,
        output_fields=fields,
        search_params={"metric_type": "IP"},
        **level,
    )[0]
    return [h["entity"] for h in hits]


def df_rows(
    client: MilvusClient, collection: str, terms: Sequence[str], df_key: str, fields: list[str], **level: Any
) -> dict[str, dict[str, Any]]:
    """The rows of a df collection for ``terms``, by word, read with :func:`lookup` SEARCH_LIMIT words at a time.
    ``df_key``: the collection's key, "hash" (:func:`term_key`, several times cheaper to look up; a row of another
    word under the same hash is left out) or "term" (sets written before it)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(terms), SEARCH_LIMIT):
        chunk = terms[start : start + SEARCH_LIMIT]
        field, keys = ("key", id_list([term_key(t) for t in chunk])) if df_key == "hash" else ("term", text_list(chunk))
        expr = f"{field} in {keys}"
        wanted = set(chunk)
        rows = lookup(client, collection, expr, ["term", *fields], **level)
        out.update((r["term"], r) for r in rows if r["term"] in wanted)
    return out


def create_meta(client: MilvusClient, prefix: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("body", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("time_ms", DataType.INT64)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    _create(client, meta_name(prefix), schema, {})
    wait_loaded(client, [meta_name(prefix)])


def create_set(client: MilvusClient, prefix: str, number: int, dim: int, bm25: bool, index: str) -> None:
    """Create the three data collections of set ``number`` (``bm25``: the engine's BM25 function on terms)."""
    from pymilvus import DataType, Function, FunctionType

    names = set_names(prefix, number)
    p = client.create_schema(auto_id=False, enable_dynamic_field=False)
    p.add_field("pid", DataType.INT64, is_primary=True)
    p.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    if bm25:  # askbot's normalized, stemmed terms: the engine only splits them at spaces (it has no Arabic rules)
        p.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=MAX_VARCHAR,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "whitespace"},
        )
        p.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        p.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
    else:
        p.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR)
    for name in ("article_id", "source_key", "category_key"):
        p.add_field(name, DataType.VARCHAR, max_length=KEY_CHARS)
    p.add_field("published", DataType.VARCHAR, max_length=64)
    for name in ("ordinal", "start_char", "end_char", "born", "died"):
        p.add_field(name, DataType.INT64)
    dense = {"HNSW": ("HNSW", {"M": 16, "efConstruction": 200}), "FLAT": ("FLAT", {})}[index]
    indexes: dict[str, tuple[str, str, dict]] = {"vec": (dense[0], "IP", dense[1])}
    if bm25:
        indexes["sparse"] = ("SPARSE_INVERTED_INDEX", "BM25", {"bm25_k1": 1.2, "bm25_b": 0.75})
    _create(client, names["passages"], p, indexes)

    a = client.create_schema(auto_id=False, enable_dynamic_field=False)
    a.add_field("key", DataType.VARCHAR, is_primary=True, max_length=KEY_CHARS + 64)
    a.add_field("article_id", DataType.VARCHAR, max_length=KEY_CHARS)
    a.add_field("hash", DataType.VARCHAR, max_length=64)
    a.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    a.add_field("meta", DataType.VARCHAR, max_length=MAX_VARCHAR)
    for name in ("part", "parts", "born", "died"):
        a.add_field(name, DataType.INT64)
    a.add_field("vec", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    _create(client, names["articles"], a, {})

    d = client.create_schema(auto_id=False, enable_dynamic_field=False)
    d.add_field("key", DataType.INT64, is_primary=True)  # term_key(term)
    d.add_field("term", DataType.VARCHAR, max_length=KEY_CHARS)
    d.add_field("df", DataType.INT64)
    d.add_field("batch", DataType.INT64)
    d.add_field("vec", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    _create(client, names["df"], d, {})
    wait_loaded(client, list(names.values()))


def _create(client: MilvusClient, name: str, schema: object, indexes: dict[str, tuple[str, str, dict]]) -> None:
    params = client.prepare_index_params()
    for field, (kind, metric, extra) in {"vec": ("FLAT", "IP", {}), **indexes}.items():
        params.add_index(field, index_type=kind, metric_type=metric, params=extra)
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, params, sync=False)  # an empty collection's index is built at once: no polling
    client.load_collection(name, _async=True)  # pymilvus would poll each load every 0.2 s: wait for all at once


def wait_loaded(client: MilvusClient, names: list[str], timeout_s: float = 120.0) -> None:
    """Wait until every collection of ``names`` is loaded (searchable)."""
    deadline = time.monotonic() + timeout_s
    pending = list(names)
    while pending:
        pending = [n for n in pending if "Loaded" not in str(client.get_load_state(n).get("state"))]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"Milvus did not load {', '.join(pending)} within {timeout_s:.0f} s")
        if pending:
            time.sleep(0.02)


def ensure_loaded(client: MilvusClient, names: list[str]) -> None:
    """Load collections a restarted server has not loaded yet (searches need them in memory)."""
    states = {n: str(client.get_load_state(n).get("state")) for n in names}
    for name, state in states.items():
        if "NotLoad" in state:
            client.load_collection(name, _async=True)
    wait_loaded(client, [n for n, state in states.items() if "Loaded" not in state])  # also those still Loading
