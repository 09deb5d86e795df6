"""A question in another script -> the index's Arabic words for its words, so the lexical signals serve it too.

An English question shares no word with Arabic passages: hybrid retrieval ranked it by dense alone, and the
sentence marker and the not-found decision had no word coverage to read. The encoder already places words of
both languages in one space: "teacher" lands next to معلم, "Denver" next to دنفر, "population" next to سكان. So
each content word of the question (digits excepted: they stand as they are in Arabic text) is looked up among the
index's content words by cosine, and the nearest one stands beside it. Every later stage reads the question so:
BM25 searches the translations (weighed little against dense: askbot.retrieval.TRANSLATED_WEIGHT), and their idf is
what the reranker, the sentence marker and the not-found model weigh, each refitted on it (benchmarks/fit_answers.py,
docs/evaluation.md). It is a bilingual lexicon induced from the encoder, nothing more: a word is sometimes
mistranslated ("river" -> ريف), which the models, fitted on such translations, discount.

The vectors of the index's words are cached per model and engine under ``cache_dir/lexicon/``, and only words not
seen before are encoded (~4 CPU ms each on the default model: ~15 s for the bundled seeds' 3,900 words, a few
minutes for the whole news corpus). The first such question on an index pays for its vocabulary once (the CLI shows
it; the bot and ``askbot chat`` do it while warming up), a question after an add for the new words only.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from askbot.arabic import content_words

if TYPE_CHECKING:
    import faiss

MIN_DF = 3  # index words held by fewer passages are not translation targets (typos, one-off names)
ENCODE_BATCH = 256
ASKED_WORDS = 50_000  # question words whose vectors a process keeps (a long-running bot sees the same ones again)


Progress = Callable[[int, int], None]


class WordEncoder(Protocol):
    fingerprint: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


class WordsReader(Protocol):
    def words(self, min_df: int = 1) -> list[str]: ...


class Lexicon:
    """Nearest index word of each question word, by the encoder; word vectors cached in ``cache`` (a folder)."""

    def __init__(self, encoder: WordEncoder, cache: Path | None = None) -> None:
        self.encoder = encoder
        # one file per model: the fingerprints of one model's engines share their weights' checksum as a prefix
        key = hashlib.sha256(encoder.fingerprint.encode()).hexdigest()[:16]
        self.path = cache / f"{key}.npz" if cache is not None else None
        self._vectors: dict[str, np.ndarray] = {}  # every word encoded so far (fp16, unit length)
        self._loaded = False
        self._target: tuple[object, list[str], faiss.Index] | None = None  # (reader, its words, their index)
        self._asked: dict[str, np.ndarray] = {}  # question words encoded so far (in this process)
        self._lock = threading.Lock()

    def translate(self, reader: WordsReader, question: str) -> list[str]:
        """The question's content words, each followed by the index word nearest to it (digits stand alone)."""
        words = content_words(question)
        asked = [w for w in dict.fromkeys(words) if not w.isdigit()]
        if not asked:
            return words
        target, index = self._targets(reader)
        if not target:
            return words
        _, rows = index.search(self._question_vectors(asked), 1)
        nearest = dict(zip(asked, rows[:, 0].tolist(), strict=True))
        out: list[str] = []
        for w in words:
            out.append(w)
            if w in nearest and nearest[w] >= 0:
                out.append(target[nearest[w]])
        return out

    def prepare(self, reader: WordsReader, progress: Progress | None = None) -> int:
        """Encode the index words not cached yet now (what a warm-up does), not at the next question; returns how
        many words a question may be translated into. ``progress(done, total)`` hears of each batch encoded, when
        there are any."""
        return len(self._targets(reader, progress)[0])

    def _question_vectors(self, words: list[str]) -> np.ndarray:
        known = {w: v for w in words if (v := self._asked.get(w)) is not None}
        new = [w for w in words if w not in known]
        if new:
            encoded = dict(zip(new, self._encode(new), strict=True))
            if len(self._asked) + len(new) > ASKED_WORDS:
                self._asked = {}
            self._asked.update(encoded)
            known.update(encoded)
        return np.stack([known[w] for w in words])

    def _targets(self, reader: WordsReader, progress: Progress | None = None) -> tuple[list[str], faiss.Index]:
        """The words of ``reader``'s index and a search index of their vectors (encoding those not cached yet)."""
        with self._lock:
            if self._target is not None and self._target[0] is reader:
                return self._target[1], self._target[2]
            words = [w for w in reader.words(MIN_DF) if not w.isdigit()]
            self._load()
            missing = [w for w in words if w not in self._vectors]
            for start in range(0, len(missing), ENCODE_BATCH):
                chunk = missing[start : start + ENCODE_BATCH]
                self._vectors.update(zip(chunk, self._encode(chunk).astype(np.float16), strict=True))
                if progress is not None:
                    progress(start + len(chunk), len(missing))
            if missing:
                self._save()
            import faiss  # not at import: askbot.kb loads without it until an index is searched

            dim = len(next(iter(self._vectors.values()))) if self._vectors else 1
            # fp16, as cached: exact for these vectors, half the bytes a question reads (~9 ms at 50k words)
            index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
            if words:
                vectors = np.stack([self._vectors[w] for w in words]).astype(np.float32)
                index.train(vectors)
                index.add(vectors)
            self._target = (reader, words, index)
            return words, index

    def _encode(self, words: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode_queries(list(words)), np.float32)

    def _load(self) -> None:
        """The cached vectors, read once (when there is a cache)."""
        loaded, self._loaded = self._loaded, True
        if loaded or self.path is None:
            return
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                words, vectors = stored["words"].tolist(), stored["vectors"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # none yet, or damaged: encode again
            return
        if len(words) == len(vectors) and vectors.ndim == 2:
            self._vectors.update(zip(words, vectors, strict=True))

    def _save(self) -> None:
        """Write the cache atomically (a reader never sees half of it); a read-only cache folder is no error."""
        if self.path is None:
            return
        words = list(self._vectors)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                np.savez(out, words=np.asarray(words), vectors=np.stack([self._vectors[w] for w in words]))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
