"""The server stage: a standalone Milvus server (PyPI milvus==2.3.5) started here on 127.0.0.1, over gRPC.

Runs the store contract suite unchanged against it, then what only a server shows: data surviving a restart,
several client processes (readers while a writer commits, two writers at once). Milvus 2.3 predates the BM25
function and sparse vectors: there the store is dense-only and the lexical contract test is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="not installed: pip install 'askbot[milvus]' to run the Milvus server tests")

from askbot.store import milvus  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from milvus_standalone import Standalone, launcher  # noqa: E402

# One standalone server per machine at a time: its embedded etcd always listens on 127.0.0.1:2379.
# Under pytest -n (make test) every test here runs in one worker, beside the others' tests: the server starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("milvus-server")]
WORKERS = HERE / "milvus_workers.py"


def _contract():
    spec = importlib.util.spec_from_file_location("askbot_store_contract", HERE / "test_store_contract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


contract = _contract()
ALL_CONTRACT = sorted(name for name, f in inspect.getmembers(contract, inspect.isfunction) if name.startswith("test_"))
# the server's own paths in CI time (~12 s a test); ASKBOT_MILVUS_FULL_CONTRACT=1 runs the whole suite here
SERVER_CONTRACT = (
    "test_what_is_written_reads_back_exactly",
    "test_nothing_is_visible_before_commit_and_an_abandoned_write_changes_nothing",
    "test_an_open_reader_keeps_its_view_while_a_writer_commits",
    "test_update_replaces_and_remove_deletes",
    "test_lexical_search_scores_and_idf",
)
CONTRACT_TESTS = ALL_CONTRACT if os.environ.get("ASKBOT_MILVUS_FULL_CONTRACT") else sorted(SERVER_CONTRACT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    program = launcher()
    if program is None:
        pytest.skip("no standalone Milvus server here: run .ci/milvus-server.sh (or set ASKBOT_MILVUS_SERVER)")
    pytest.importorskip("pymilvus", reason="the Milvus client is not installed: pip install 'askbot[milvus]'")
    standalone = Standalone(tmp_path_factory.mktemp("milvus-server"), program)
    try:  # ~10 s idle; at load 9, beside the other workers' tests (pytest -n), it took over 180 s
        standalone.start(timeout_s=420)
    except RuntimeError as exc:
        pytest.skip(f"the standalone Milvus server cannot start here: {exc}")
    yield standalone
    standalone.wipe()


def fresh(server: Standalone) -> str:
    """A store of its own on the server (collections prefixed by a fresh name)."""
    return f"{server.uri}?prefix=t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def tidy(server: Standalone):
    """Drop the collections a test made, so the server stays small (a restart reloads every collection)."""
    from askbot.store.milvus.connection import connect, disconnect, parse

    yield
    loc = parse(server.uri)
    client = connect(loc)
    try:
        for name in client.list_collections():
            client.drop_collection(name)
    finally:
        disconnect(client, loc)


def server_version(server: Standalone) -> tuple[int, int]:
    from askbot.store.milvus.connection import connect, disconnect, parse, server_version

    loc = parse(server.uri)
    client = connect(loc)
    try:
        return server_version(client, loc)
    finally:
        disconnect(client, loc)


@pytest.mark.parametrize("name", CONTRACT_TESTS)
def test_the_store_contract_on_a_milvus_server(server, tidy, tmp_path, name):
    if name == "test_lexical_search_scores_and_idf" and server_version(server) < (2, 5):
        pytest.skip(f"Milvus {'.'.join(map(str, server_version(server)))} has no BM25 function (needs >= 2.5)")
    backend = contract.Backend("milvus-server", lambda tmp: fresh(server), milvus.open_reader, milvus.open_writer)
    getattr(contract, name)(backend, tmp_path)


def test_health_and_the_grpc_path(server, tidy):
    assert server.healthz() == "OK"
    location = fresh(server)
    contract.write(contract.Backend("s", None, milvus.open_reader, milvus.open_writer), location, "a1")
    reader = milvus.open_reader(location)
    assert reader is not None and reader.info().backend == "milvus" and reader.info().articles == 1
    reader.close()


def test_the_store_survives_a_server_restart(server, tidy):
    backend = contract.Backend("s", None, milvus.open_reader, milvus.open_writer)
    location = fresh(server)
    contract.write(backend, location, "a1", "a2")
    server.stop()
    server.start(timeout_s=420)  # a restart reloads etcd and the segments: 10 s idle, over 180 s at load 10
    location = server.uri + location[location.index("?") :]  # the same store (prefix); the port may have moved
    reader = milvus.open_reader(location)
    assert reader is not None
    assert set(reader.content_hashes()) == {"a1", "a2"} and reader.verify() == []
    _, _, vectors, _ = contract.item("a2")
    scores, ids = reader.dense_search(vectors[0], 1)
    assert reader.passages(ids.tolist())[int(ids[0])].article_id == "a2" and scores[0] > 0.999
    reader.close()


def worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKERS), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_readers_in_other_processes_see_whole_commits_while_a_writer_adds(server, tidy):
    location = fresh(server)
    first = worker("write", location, "0", "4", "4")
    assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:] if first.stderr else ""
    readers = [worker("read", location, "25") for _ in range(2)]
    writer = worker("write", location, "4", "20", "5")  # four commits while they read
    assert writer.wait(timeout=300) == 0, writer.stderr.read()[-2000:] if writer.stderr else ""
    for reader in readers:
        out, err = reader.communicate(timeout=300)
        assert reader.returncode == 0, err[-2000:]
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["views"] > 0 and summary["errors"] == [], summary
    final = milvus.open_reader(location)
    assert final is not None and len(final.content_hashes()) == 24 and final.verify() == []
    final.close()


def test_two_writer_processes_at_once_one_waits(server, tidy):
    location = fresh(server)
    contract.write(contract.Backend("s", None, milvus.open_reader, milvus.open_writer), location, "a1")
    both = [worker("try-write", location) for _ in range(2)]
    outcomes = sorted(p.communicate(timeout=120)[0].strip() for p in both)
    assert outcomes in (["busy", "wrote"], ["busy", "busy"]), outcomes  # never two writers at once


def test_two_bot_replicas_and_a_follower_at_once_lose_and_duplicate_nothing(server, tidy, corpus_dir, tmp_path):
    """The many-replicas run of benchmarks/milvus_replicas.py, small: two `askbot telegram` processes answer four
    chats while `askbot follow` commits 8 new articles four at a time, all on the one server."""
    import asyncio
    import shutil

    seeds = tmp_path / "seeds"  # five of the corpus's articles: little to embed before the run
    seeds.mkdir()
    shutil.copy(next(corpus_dir.glob("*.txt")), seeds)
    news_lines = (corpus_dir / "news.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    (seeds / "news.jsonl").write_text("\n".join(news_lines) + "\n", encoding="utf-8")

    spec = importlib.util.spec_from_file_location("milvus_replicas", HERE.parent / "benchmarks" / "milvus_replicas.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    news = HERE.parent / "seeds" / "ant-sample.jsonl"
    run = bench.run_replicas(
        fresh(server), tmp_path, news=news, seeds=seeds, chats=4, questions=12, articles=8, batch=4, gap_s=2
    )
    result = asyncio.run(run)
    assert result["errors"] == 0, result["error_detail"]
    assert (result["lost"], result["duplicated"], result["store"]["problems"]) == (0, 0, []), result["store"]
    assert result["store"]["articles"] == 5 + 8 and result["replied"] == 12
