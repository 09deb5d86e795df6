"""Shared fixtures: one small real index (real model, real FAISS) built once per test session."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import itertools
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from askbot.config import Settings
    from askbot.embedding import Encoder

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
# The suite's own model cache (the rebuilt e5-small and its ONNX export, ~600 MB), kept between runs so that a
# warm run builds nothing; never the user's ~/.cache/askbot. $ASKBOT_TEST_CACHE puts it elsewhere. Subprocesses
# (the CLI tests) inherit it.
TEST_CACHE = Path(os.environ.get("ASKBOT_TEST_CACHE") or ROOT / ".cache" / "askbot")
os.environ["ASKBOT_CACHE_DIR"] = str(TEST_CACHE)
SEED = ROOT / "seeds" / "000_102c93eeae5ae0e9.txt"
SAMPLE = ROOT / "seeds" / "ant-sample.jsonl"
SEED_QUESTION = "من وقّع المحضر الأمني المشترك مع شمخاني؟"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``pytest -n auto`` (make test): a worker per core, and one more when the Milvus server stage runs: its tests
    (one group, one worker) spend most of their time waiting on the server's start and restart, which the other
    workers' tests use. $PYTEST_XDIST_AUTO_NUM_WORKERS, when set, decides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    sys.path.insert(0, str(ROOT / "tests"))
    from milvus_standalone import launcher

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + (launcher() is not None)


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` under pytest 9.2: pytest-xdist 3.8 writes the group into ``item._nodeid``, which pytest
    9.2's structured node ids no longer read, so each group's tests were spread over the workers as if unmarked
    (pytest-xdist issue 1386; the server stage's tests would start a server in each worker). The id gets the
    ``@group`` suffix that xdist's scheduler reads; where xdist has added it (pytest < 9.2, a fixed xdist) nothing
    changes."""
    if not getattr(config.option, "loadgroup", False):  # set in the workers, under --dist loadgroup
        return
    for item in items:
        marks = item.iter_markers("xdist_group")
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(scope="session", autouse=True)
def one_model_load_per_session() -> Iterator[None]:
    """Every KnowledgeBase the tests open shares one loaded encoder per model and cache.

    Loading the int8 model (its onnxruntime session and e5.c's query tokenizer) takes ~0.5 CPU s, and the tests
    open a KnowledgeBase again and again (each kill trial opens one). An Encoder holds nothing but its lazily loaded
    engines: sharing it changes no vector. The tests of loading itself call askbot.embedding.load_encoder, which
    stays as it is.
    """
    from askbot import indexing

    load = indexing.load_index_encoder
    loaded: dict[tuple[str, str], Encoder] = {}

    def shared(settings: Settings, location: str | Path, progress: bool = False) -> Encoder:
        key = (indexing.model_of(settings, location), str(settings.cache_dir))
        if key not in loaded:
            loaded[key] = load(settings, location, progress)  # a model that is not there raises, as before, each time
        return loaded[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexing, "load_index_encoder", shared)  # what KnowledgeBase.encoder calls
        yield


def _build_digest(sources: list[Path]) -> str:
    """What a built index depends on: the articles, askbot's code (as imported), the installed packages, the
    ASKBOT_ settings in the environment, the model."""
    from importlib import metadata

    import askbot
    from askbot.config import Settings
    from askbot.embedding import load_encoder

    digest = hashlib.sha256()
    package = Path(askbot.__file__).parent
    code = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for name, path in [
        *_files_of(sources),
        *((str(p.relative_to(package)), p) for p in code),
    ]:
        digest.update(f"{name}\0".encode() + path.read_bytes())
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    encoder = load_encoder(cache_dir=TEST_CACHE)  # loads nothing: its id and fingerprint are known up front
    names = {f"ASKBOT_{f.name.upper()}" for f in dataclasses.fields(Settings) if f.name != "cache_dir"}
    settings = sorted(f"{k}={v}" for k, v in os.environ.items() if k in names)  # not ASKBOT_MILVUS_SERVER, say
    digest.update("\n".join([*packages, *settings, encoder.model_id, encoder.fingerprint]).encode())
    return digest.hexdigest()[:16]


def _files_of(sources: list[Path]) -> list[tuple[str, Path]]:
    """Each file of ``sources`` (files or folders), named by its path inside the folder given (or its name)."""
    return [
        (str(f.relative_to(src)) if src.is_dir() else src.name, f)
        for src in sources
        for f in (sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src])
    ]


def kept_index(name: str, sources: list[Path], articles: int) -> Path:
    """An index of ``sources`` (``articles`` articles), built on the first run and kept in the suite's cache until
    the articles, askbot's code, an installed package or the model changes; for tests that only ask, and read a copy.
    The suite's workers (pytest -n) take turns on a lock: one builds, the others wait and reuse it.
    (The 240 sample articles take ~45 CPU s to embed.)"""
    kept = TEST_CACHE / "indexes" / f"{name}-{_build_digest(sources)}"
    if kept.is_dir():
        return kept
    kept.parent.mkdir(parents=True, exist_ok=True)
    with (kept.parent / f".{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when its holder dies
        if not kept.is_dir():
            _build_kept(kept, name, sources, articles)
    return kept


def _build_kept(kept: Path, name: str, sources: list[Path], articles: int) -> None:
    import askbot

    work = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    report = askbot.open(work).add(sources)
    assert not report.problems and len(report.added) == articles, report.summary()
    for old in kept.parent.glob(f"{name}-*"):  # what builds from older code left
        shutil.rmtree(old, ignore_errors=True)
    try:
        work.rename(kept)  # whole or not at all: an interrupted build leaves only its .tmp folder
    except OSError:  # another session kept the same build first
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed article and 24 sample news articles (5 sources), as files."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(SEED, folder / SEED.name)
    with SAMPLE.open(encoding="utf-8") as src, (folder / "news.jsonl").open("w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, 0, 240, 10))
    return folder


@pytest.fixture(scope="session")
def sample_index() -> Path:
    """The 240 sample articles (853 passages), indexed once per version of the code (see ``kept_index``)."""
    return kept_index("sample", [SAMPLE], 240)


def copy_of(index: Path, target: Path) -> Path:
    shutil.copytree(index, target, ignore=shutil.ignore_patterns(".writer.lock"))
    return target


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Path:
    """``corpus_dir`` indexed (kept between runs, see ``kept_index``), in a folder of this session's own."""
    return copy_of(kept_index("corpus", [corpus_dir], 25), tmp_path_factory.mktemp("built") / "vectors")


@pytest.fixture(scope="session")
def kb(built_index: Path):
    import askbot

    return askbot.open(built_index)


@pytest.fixture()
def index_copy(built_index: Path, tmp_path: Path) -> Path:
    """A private copy of the built index, for tests that change it."""
    return copy_of(built_index, tmp_path / "vectors")
