"""Crash safety, one writer at a time, readers during writes, damaged files, no unpickling: the index survives."""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import askbot
from askbot.store import IndexCorrupt, current_generation, factory
from askbot.store.index import IndexReader
from askbot.store.manifest import Manifest
from askbot.store.segment import Segment, file_digest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "seeds" / "ant-sample.jsonl"
SEED_QUESTION = "من وقّع المحضر الأمني المشترك مع شمخاني؟"
SEED_ID = "102c93eeae5ae0e9"
ASKBOT = [sys.executable, "-m", "askbot.cli"]
# 14: 7 kills timed over a whole run and one at each of the commit's 7 milestones (a fifth of the suite's CPU time at
# 24); benchmarks/reliability.py runs 50 (--trials)
TRIALS = int(os.environ.get("RELIABILITY_TRIALS", "14"))
LOG = os.environ.get("RELIABILITY_LOG")  # where the benchmark collects one JSON line per kill trial
UPDATE_NOTE = " وأضاف المراسل أن التحقيق في القضية ما زال مستمرا حتى الآن."


sys.path.insert(0, str(Path(__file__).parent))  # cli_run, under pytest's importlib import mode
from cli_run import Ran, run_cli  # noqa: E402


def askbot_cli(*args: str, index: Path, stdin: str | None = None) -> Ran:
    """``askbot --index INDEX ARGS``, run in this process (the kill trials run real ones)."""
    return run_cli("--index", str(index), *args, stdin=stdin)


def copy_index(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".writer.lock"))
    return target


# --- the kill trials: SIGKILL `askbot index` anywhere; the index is the old one or the new one, whole ------------


@dataclass(frozen=True)
class KillCorpus:
    old: Path  # six short articles and FILLER more, one per file, ids in the file names
    new: Path  # the same, three of the six changed, and three more: a run embeds only those six
    base: Path  # the index of `old`
    question: str  # the title of an article both states hold unchanged
    answer_id: str


FILLER = 40  # unchanged articles: they make the commit write bigger files, so kills land inside the writes


def _short_articles(count: int) -> Iterator[tuple[str, str, str]]:
    """(id, title, first sentences) of sample news, a passage or two each."""
    with SAMPLE.open(encoding="utf-8") as lines:
        for number, line in enumerate(itertools.islice(lines, 3, 3 + 4 * count, 4)):
            record = json.loads(line)
            text = record["text"]
            cut = text.find(". ", 200)
            yield f"{number:016x}", record["title"], text[: cut + 1 if 0 < cut < 400 else 300]


def _write_articles(folder: Path, articles: list[tuple[str, str, str]]) -> Path:
    folder.mkdir()
    for number, (article_id, title, text) in enumerate(articles):
        (folder / f"{number:03d}_{article_id}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def kill_corpus(tmp_path_factory: pytest.TempPathFactory) -> KillCorpus:
    root = tmp_path_factory.mktemp("kill")
    articles = list(_short_articles(9 + FILLER))
    old = _write_articles(root / "old", articles[:6] + articles[9:])
    changed = [(i, t, x + UPDATE_NOTE) for i, t, x in articles[:3]]
    new = _write_articles(root / "new", changed + articles[3:])
    base = root / "base"
    report = askbot.open(base).add([old])
    assert len(report.added) == 6 + FILLER and not report.problems, report
    answer_id, question, _ = articles[4]
    return KillCorpus(old, new, base, question, answer_id)


Snapshot = dict[str, tuple[str, tuple[tuple[int, int, int, int], ...]]]
PROBES = 3  # vectors are compared by their cosines with a few fixed probes (the store gives scores, not vectors)


def snapshot(index: Path) -> tuple[Snapshot, dict[int, np.ndarray]]:
    """Every article (hash; passages as pid, ordinal, start, end) and every passage's cosines with the probes, as the
    store interface shows them."""
    reader = factory.open_reader(index)
    assert reader is not None
    try:
        articles: Snapshot = {aid: (h, ()) for aid, h in reader.content_hashes().items()}
        for pid, p in sorted(reader.passages(range(100_000)).items()):
            digest, passages = articles[p.article_id]
            articles[p.article_id] = (digest, (*passages, (pid, p.ordinal, p.start, p.end)))
        probes = np.random.default_rng(0).normal(size=(PROBES, reader.info().dim)).astype(np.float32)
        pids = np.asarray([pid for _, ps in articles.values() for pid, *_ in ps], np.int64)
        cosines = np.stack([reader.dense_scores(probe, pids) for probe in probes], axis=1)
        vectors = dict(zip(pids.tolist(), cosines, strict=True))
    finally:
        reader.close()
    return articles, vectors


def same_state(got: tuple[Snapshot, dict[int, np.ndarray]], want: tuple[Snapshot, dict[int, np.ndarray]]) -> bool:
    return got[0] == want[0] and all(np.allclose(got[1][pid], v, atol=1e-4) for pid, v in want[1].items())


def live_segments(index: Path) -> list[Path]:
    return [index / str(s["name"]) for s in Manifest.load(current_generation(index)).segments]


@dataclass(frozen=True)
class Reference:
    old: tuple[Snapshot, dict[int, np.ndarray]]
    new: tuple[Snapshot, dict[int, np.ndarray]]
    seconds: float  # one whole `askbot index` run, start to exit
    sizes: dict[str, int]  # bytes of each file of the segment the run wrote ("meta.sqlite", "dense.faiss", ...)


@pytest.fixture(scope="session")
def reference(kill_corpus: KillCorpus, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The two states a killed run may leave, and the length of a whole run (timed, as the trials run it)."""
    index = copy_index(kill_corpus.base, tmp_path_factory.mktemp("reference") / "vectors")
    started = time.monotonic()
    proc = subprocess.run(
        [*ASKBOT, "--index", str(index), "index", str(kill_corpus.new)], capture_output=True, text=True, timeout=300
    )
    seconds = time.monotonic() - started
    assert proc.returncode == 0 and f"added 3, updated 3, unchanged {3 + FILLER}" in proc.stderr, proc.stderr
    written = live_segments(index)[-1]
    assert written.name not in {p.name for p in live_segments(kill_corpus.base)}
    sizes = {str(p.relative_to(written)): p.stat().st_size for p in written.rglob("*") if p.is_file()}
    return Reference(snapshot(kill_corpus.base), snapshot(index), seconds, sizes)


# Moments of the commit, seen from outside: the trial kills the writer as soon as one shows in the folder.
MILESTONES = ("current", "manifest", "faiss", "lexical", "journal", "segment", "lock")


@dataclass(frozen=True)
class Next:
    """The names the killed writer's next segment and generation get."""

    segment: str
    generation: str

    @classmethod
    def of(cls, index: Path) -> Next:
        def after(prefix: str) -> str:
            numbers = [int(p.name.removeprefix(prefix)) for p in index.glob(f"{prefix}*")]
            return f"{prefix}{max(numbers, default=0) + 1:06d}"

        return cls(after("seg-"), after("gen-"))


def _reached(milestone: str, index: Path, names: Next, pid: int) -> bool:
    segment = index / names.segment
    if milestone == "lock":
        return (index / ".writer.lock").read_bytes().strip() == str(pid).encode()
    if milestone == "current":
        return (index / "CURRENT").read_text().strip() >= names.generation
    if milestone == "manifest":
        return (index / names.generation).exists()
    name = {"segment": "", "journal": "meta.sqlite-journal", "faiss": "dense.faiss", "lexical": "lexical"}
    return (segment / name[milestone]).exists()


def _phase(index: Path, names: Next) -> str:
    """How far the killed writer got, read from what it left (in the writer's order, last first)."""
    segment = index / names.segment
    if (index / "CURRENT").read_text().strip() >= names.generation:
        return "after CURRENT flipped"
    if any(index.glob(".CURRENT.*.tmp")):
        return "writing CURRENT"
    if (index / names.generation).exists():
        return "writing the generation manifest, fsync before CURRENT"
    if not segment.exists():
        return "before the new segment (start, reading, lock, embedding)"
    for pattern, phase in (
        ("manifest.json", "segment written, fsync"),
        (".manifest.json.*.tmp", "writing the segment manifest"),
        ("lexical", "writing the lexical index"),
        ("dense.faiss", "writing FAISS"),
        ("meta.sqlite-journal", "SQLite transaction open"),
    ):
        if any(segment.glob(pattern)):
            return phase
    return "segment started, writing"


def kill_trial(base: Path, command: list[str], work: Path, trigger: float | str) -> str:
    """Run ``askbot command`` on a copy of ``base`` in ``work`` and SIGKILL it at ``trigger``.

    ``trigger`` is seconds after the start, or a milestone; returns the phase the writer died in.
    """
    copy_index(base, work)
    (work / ".writer.lock").write_bytes(b"")
    names = Next.of(work)
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([*ASKBOT, "--index", str(work), *command], stdout=subprocess.DEVNULL, stderr=stderr)
        started = time.monotonic()
        while proc.poll() is None:
            due = (
                (time.monotonic() - started >= trigger)
                if isinstance(trigger, float)
                else (_reached(trigger, work, names, proc.pid))
            )
            if due:
                proc.send_signal(signal.SIGKILL)
                break
            if isinstance(trigger, float) or not (work / names.segment).exists():
                time.sleep(0.0005)  # near the commit: poll without sleeping, the writes take a millisecond or so
        proc.wait(timeout=300)
        stderr.seek(0)
        output = stderr.read().decode("utf-8", "replace")
    if proc.returncode == -signal.SIGKILL:
        return _phase(work, names)
    assert proc.returncode == 0 and "Traceback" not in output, output
    return "finished"


def unreferenced(index: Path) -> list[str]:
    """Generations beyond the kept ones, and segments no kept generation names: what a writer must sweep."""
    generations = sorted(index.glob("gen-*"))
    named = {str(s["name"]) for g in generations for s in Manifest.load(g).segments}
    return [p.name for p in generations[:-2]] + sorted(p.name for p in index.glob("seg-*") if p.name not in named)


def trial_plan(trials: int, seconds: float, seed: int = 6) -> list[float | str]:
    """Half the kills at times spread evenly over a whole run, half at the commit's milestones."""
    rng = random.Random(seed)
    timed = trials - trials // 2
    at = [0.9 * seconds * (i + rng.uniform(0.1, 0.9)) / timed for i in range(timed)]  # the first, timed run was cold
    return [*at, *(MILESTONES[i % len(MILESTONES)] for i in range(trials // 2))]


@pytest.mark.slow  # a system test: real processes, killed or starved
@pytest.mark.xdist_group("kill-trials")  # under pytest -n: one worker builds kill_corpus and its references
def test_sigkill_at_any_moment_leaves_the_old_or_the_new_index_whole(
    kill_corpus: KillCorpus, reference: Reference, tmp_path: Path
) -> None:
    failures, phases, states = [], [], []
    for number, trigger in enumerate(trial_plan(TRIALS, reference.seconds)):
        work = tmp_path / f"trial-{number}"
        phase = kill_trial(kill_corpus.base, ["index", str(kill_corpus.new)], work, trigger)
        problems = []
        kb = askbot.open(work)
        if found := kb.check():
            problems.append(f"check: {found}")
        state = snapshot(work)
        name = "old" if same_state(state, reference.old) else "new" if same_state(state, reference.new) else "mixed"
        if name == "mixed":
            problems.append(f"articles {sorted(state[0])} are neither the old state nor the new one")
        answer = kb.ask(kill_corpus.question, k=3)
        if not answer.found or answer.excerpts[0].citation.article_id != kill_corpus.answer_id:
            problems.append(f"does not answer: {answer.message}")
        if number % 4 == 0:  # the next writer is not blocked, finishes the job and sweeps the abandoned generation
            kb.add([kill_corpus.new])
            if not same_state(snapshot(work), reference.new) or kb.check():
                problems.append("the next writer did not reach the new state")
            if left := unreferenced(work):
                problems.append(f"abandoned generations or segments left: {left}")
        phases.append(phase)
        states.append(name)
        record = {"trigger": trigger, "phase": phase, "state": name, "next_writer": number % 4 == 0}
        record |= {"survived": not problems, "problems": problems}
        _log(record)
        if problems:
            failures.append(record)
        shutil.rmtree(work)
    assert not failures, failures
    assert {"old", "new"} <= set(states), (phases, states)  # kills landed both before and after the commit
    assert sum(p not in ("finished", "after CURRENT flipped") for p in phases) >= len(phases) // 3, phases


def _log(record: dict) -> None:
    """One JSON line per kill trial, for the benchmark that collects them (RELIABILITY_LOG), when it does."""
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class MergeReference:
    base: Path  # an index of two segments, the first with tombstones (kill_corpus.base, then kill_corpus.new added)
    state: tuple[Snapshot, dict[int, np.ndarray]]  # what it holds: the same before and after a merge
    seconds: float  # one whole `askbot compact` run
    sizes: dict[str, int]  # bytes of each file of the merged segment


@pytest.fixture(scope="session")
def merge_reference(kill_corpus: KillCorpus, tmp_path_factory: pytest.TempPathFactory) -> MergeReference:
    base = copy_index(kill_corpus.base, tmp_path_factory.mktemp("merge") / "base")
    askbot.open(base).add([kill_corpus.new])
    assert len(live_segments(base)) == 2 and any(s["dead"] for s in Manifest.load(current_generation(base)).segments)
    merged = copy_index(base, base.parent / "merged")
    started = time.monotonic()
    proc = subprocess.run([*ASKBOT, "--index", str(merged), "compact"], capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    assert proc.returncode == 0 and "compacted into 1 segment" in proc.stderr, proc.stderr
    (segment,) = live_segments(merged)
    sizes = {str(p.relative_to(segment)): p.stat().st_size for p in segment.rglob("*") if p.is_file()}
    state = snapshot(base)
    assert same_state(snapshot(merged), state)
    return MergeReference(base, state, seconds, sizes)


@pytest.mark.xdist_group("kill-trials")  # under pytest -n: one worker builds kill_corpus and its references
def test_sigkill_during_a_merge_leaves_the_index_whole(merge_reference: MergeReference, tmp_path: Path) -> None:
    """`askbot compact` killed at any moment: the same articles, vectors and answers, in two segments or one."""
    failures, phases = [], []
    for number, trigger in enumerate(trial_plan(max(8, TRIALS // 2), merge_reference.seconds, seed=7)):
        work = tmp_path / f"trial-{number}"
        phase = kill_trial(merge_reference.base, ["compact"], work, trigger)
        problems = []
        kb = askbot.open(work)
        if found := kb.check():
            problems.append(f"check: {found}")
        if not same_state(snapshot(work), merge_reference.state):
            problems.append("the articles or vectors changed")
        if len(live_segments(work)) not in (1, 2):
            problems.append(f"segments: {live_segments(work)}")
        if number % 4 == 0:  # the next merge is not blocked and sweeps what the killed one left
            kb.compact()
            if len(live_segments(work)) != 1 or not same_state(snapshot(work), merge_reference.state):
                problems.append("the next merge did not finish")
            if left := unreferenced(work):
                problems.append(f"abandoned generations or segments left: {left}")
        phases.append(phase)
        record = {"trigger": trigger, "phase": phase, "merge": True, "survived": not problems, "problems": problems}
        _log(record)
        if problems:
            failures.append(record)
        shutil.rmtree(work)
    assert not failures, failures
    assert sum(p not in ("finished", "after CURRENT flipped") for p in phases) >= len(phases) // 3, phases


def _write_limit(sizes: dict[str, int], case: str) -> int:
    """A file-size limit that makes one write of the commit fail part-way.

    A commit writes its segment's meta.sqlite (during the transaction), then dense.faiss, then the lexical files
    and the manifests: each limit is passed by every write before its target, and the target is the first to fail.
    """
    meta, faiss = sizes["meta.sqlite"], sizes["dense.faiss"]
    if case.endswith("SQLite commit"):
        return meta // 2
    assert meta < faiss - 16, sizes  # the merged segment's vectors outweigh its text
    return (
        (meta + faiss) // 2 if case.endswith("FAISS write") else faiss - 16
    )  # last bytes: FAISS ignored a failed flush


# `askbot ...` under a file-size limit it sets itself: a preexec_fn would run Python in a fork of this process, and
# when this process holds grpc's threads (a Milvus test's client, under pytest -n) grpc's fork handler can abort that
# child (SIGABRT, "epoll_wait error: Bad file descriptor") before it runs askbot
LIMITED_ASKBOT = (
    "import resource, runpy, sys; limit = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)); runpy.run_module('askbot.cli', run_name='__main__')"
)

WRITE_CASES = [
    "index: SQLite commit",
    "compact: SQLite commit",
    "compact: FAISS write",
    "compact: FAISS write, last bytes",
]


@pytest.mark.slow  # a system test: real processes, killed or starved
@pytest.mark.xdist_group("kill-trials")  # the kill trials' corpus and references
@pytest.mark.parametrize("case", WRITE_CASES)
def test_a_write_failing_part_way_leaves_the_old_index(
    kill_corpus: KillCorpus, reference: Reference, merge_reference: MergeReference, tmp_path: Path, case: str
) -> None:
    """Disk full (here: a file-size limit) at a chosen byte of a commit or a merge: a message, the old index intact."""
    merging = case.startswith("compact")
    limit = _write_limit(merge_reference.sizes if merging else reference.sizes, case)
    work = copy_index(merge_reference.base if merging else kill_corpus.base, tmp_path / "vectors")
    command = ["compact"] if merging else ["index", str(kill_corpus.new)]
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED_ASKBOT, str(limit), "--index", str(work), *command],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (3, 4) and "Traceback" not in proc.stderr, proc.stderr
    assert "it is as it was" in proc.stderr or "File too large" in proc.stderr, proc.stderr
    before = merge_reference.state if merging else reference.old
    assert askbot.open(work).check() == [] and same_state(snapshot(work), before)
    if merging:  # with room again, the next writer gets there
        assert askbot.open(work).compact().segments == 1 and same_state(snapshot(work), before)
    else:
        askbot.open(work).add([kill_corpus.new])
        assert same_state(snapshot(work), reference.new)


# --- one writer at a time; readers keep answering and see the new articles -----------------------------------

NEW_ARTICLE = {
    "id": "museum-1",
    "title": "افتتاح متحف الخط العربي في مدينة تطوان",
    "text": "افتتح متحف الخط العربي أبوابه للزوار في مدينة تطوان المغربية صباح اليوم. "
    "ويعرض المتحف ثلاثمئة مخطوطة نادرة جمعها الخطاط يوسف البناني خلال أربعين عاما.",
    "source": "test",
    "published": "2018-05-01",
}
NEW_QUESTION = "كم مخطوطة يعرض متحف الخط العربي في تطوان؟"

HOLD_LOCK = """
import sys, time
from pathlib import Path
from askbot.store.lock import WriterLock
with WriterLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def _new_article_file(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "museum.jsonl"
    path.write_text(json.dumps(NEW_ARTICLE, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_second_writer_is_told_who_holds_the_lock_and_a_killed_holder_blocks_no_one(
    index_copy: Path, tmp_path: Path
) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(index_copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        article = _new_article_file(tmp_path / "more")
        for command in (["index", str(article)], ["remove", SEED_ID]):
            proc = askbot_cli(*command, index=index_copy)
            assert proc.returncode == 3
            assert f"is being updated by PID {holder.pid}" in proc.stderr
        assert askbot_cli("ask", SEED_QUESTION, index=index_copy).returncode == 0  # readers are not blocked
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    proc = askbot_cli("index", str(article), index=index_copy)
    assert proc.returncode == 0 and "added 1" in proc.stderr, proc.stderr


def test_readers_keep_answering_during_a_write_and_see_it_without_restart(index_copy: Path, tmp_path: Path) -> None:
    reader = askbot.open(index_copy)
    assert reader.ask(SEED_QUESTION).found
    assert not reader.ask(NEW_QUESTION).found or reader.ask(NEW_QUESTION).excerpts[0].citation.article_id != "museum-1"
    writer = subprocess.Popen(
        [*ASKBOT, "--index", str(index_copy), "index", str(_new_article_file(tmp_path / "more"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered = 0
    while writer.poll() is None:
        answer = reader.ask(SEED_QUESTION, k=1)
        assert answer.found and answer.excerpts[0].citation.article_id == SEED_ID
        answered += 1
    _, stderr = writer.communicate()
    assert writer.returncode == 0, stderr
    assert answered >= 1
    answer = reader.ask(NEW_QUESTION, k=1)  # the same KnowledgeBase, no restart
    assert answer.found and answer.excerpts[0].citation.article_id == "museum-1"
    assert reader.info().articles == 26 and reader.check() == []


def test_a_long_running_knowledge_base_follows_another_ones_writes(index_copy: Path, tmp_path: Path) -> None:
    bot, admin = askbot.open(index_copy), askbot.open(index_copy)
    assert bot.ask(SEED_QUESTION).found
    first = index_copy / bot.info().generation
    admin.add([_new_article_file(tmp_path / "more")])
    assert bot.ask(NEW_QUESTION, k=1).excerpts[0].citation.article_id == "museum-1"
    assert admin.remove([SEED_ID]) == [SEED_ID]
    assert not first.exists()  # two commits later, the generation the bot first read is swept away
    assert SEED_ID not in [e.citation.article_id for e in bot.ask(SEED_QUESTION, k=5).excerpts]
    assert bot.info().articles == 25 and bot.check() == []


# --- damaged files: `askbot check` (and `ask`) say so and how to repair, exit 3, never crash -------------------

TARGETS = (
    "CURRENT",
    "manifest.json",  # the generation's: its segments and tombstones
    "seg/manifest.json",
    "seg/meta.sqlite",
    "seg/dense.faiss",
    "seg/lexical/tokens.npy",
    "seg/lexical/vocab.sqlite",
    "seg/lexical/bm25/params.index.json",
    "seg/lexical/bm25/data.csc.index.npy",
)


def damage(path: Path, how: str, seed: int = 0) -> None:
    """Truncate ``path`` to a third, or overwrite 24 bytes of it (where headers live) with random bytes."""
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 3]
    else:
        rng = random.Random(seed)
        start = min(8, max(0, len(data) - 24))
        data[start : start + 24] = bytes(rng.randrange(256) for _ in range(24))
    path.write_bytes(bytes(data))


def _target(index: Path, name: str) -> Path:
    if name == "CURRENT":
        return index / name
    if name.startswith("seg/"):
        return live_segments(index)[0] / name.removeprefix("seg/")
    return current_generation(index) / name


# One process runs every damaged case in turn, as `askbot` would (its main(), its exit code, what it prints): a
# segfault or a hang still shows, naming the case it happened in, for one interpreter start instead of 21 (~0.7 CPU s
# each). Each case reads its own copy, so nothing one case loaded can stand in for another's damaged files.
CASES_RUNNER = """
import contextlib, io, json, sys, traceback
from askbot.cli import main
for number, argv in enumerate(json.loads(sys.argv[1])):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            code = None
            err.write(traceback.format_exc())
    print(json.dumps({"case": number, "code": code, "out": out.getvalue(), "err": err.getvalue()}), flush=True)
"""


@pytest.mark.slow  # a system test: real processes, killed or starved
def test_damaged_files_exit_3_with_the_repair_command_and_never_crash(built_index: Path, tmp_path: Path) -> None:
    """`check` on every damaged file, `ask` on three truncated ones, each on its own damaged copy."""
    cases = [(name, how, "check") for name in TARGETS for how in ("truncated", "garbled")]
    cases += [(name, "truncated", "ask") for name in ("seg/meta.sqlite", "seg/dense.faiss", "seg/lexical/tokens.npy")]
    argvs = []
    for number, (name, how, command) in enumerate(cases):
        copy = copy_index(built_index, tmp_path / f"case-{number}")
        damage(_target(copy, name), how)
        argvs.append(["--index", str(copy), *(["check"] if command == "check" else ["ask", SEED_QUESTION])])
    proc = subprocess.run(
        [sys.executable, "-c", CASES_RUNNER, json.dumps(argvs)], capture_output=True, text=True, timeout=600
    )
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0 and len(results) == len(cases), (
        f"exit {proc.returncode} in case {cases[len(results)] if len(results) < len(cases) else None}\n"
        f"{proc.stderr[-1500:]}"
    )
    failures = [
        f"{command} on {how} {name}: exit {result['code']}\n{result['out'][-500:]}{result['err'][-1500:]}"
        for (name, how, command), argv, result in zip(cases, argvs, results, strict=True)
        if result["code"] != 3
        or "Traceback" in result["err"]
        or f"askbot index --rebuild --index {argv[1]}" not in result["out"] + result["err"]  # check: on stdout
    ]
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module")
def generation_bytes(built_index: Path) -> dict[str, bytes]:
    """The files of the built index's one segment."""
    (segment,) = live_segments(built_index)
    return {str(p.relative_to(segment)): p.read_bytes() for p in segment.rglob("*") if p.is_file()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_tracked_file_is_caught_and_nothing_else_is_raised(
    generation_bytes: dict[str, bytes], data: st.DataObject
) -> None:
    tracked = sorted(json.loads(generation_bytes["manifest.json"])["files"])
    name = data.draw(st.sampled_from(tracked), label="file")
    original = generation_bytes[name]
    damaged = bytearray(original)
    how = data.draw(st.sampled_from(["truncate", "overwrite", "append"]), label="how")
    if how == "truncate":
        del damaged[data.draw(st.integers(0, len(original) - 1), label="keep") :]
    elif how == "append":
        damaged += data.draw(st.binary(min_size=1, max_size=64), label="junk")
    else:
        at = data.draw(st.integers(0, len(original) - 1), label="at")
        junk = data.draw(st.binary(min_size=1, max_size=64), label="junk")
        damaged[at : at + len(junk)] = junk
    assume(bytes(damaged) != original)
    with tempfile.TemporaryDirectory() as folder:
        folder_path = Path(folder) / "seg-000001"
        for rel, raw in generation_bytes.items():
            (folder_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder_path / rel).write_bytes(bytes(damaged) if rel == name else raw)
        try:
            segment = Segment(folder_path)
        except IndexCorrupt:
            return
        try:
            problems: list[str] = []
            segment.verify(problems)
            assert problems != []
        finally:
            segment.close()


# --- nothing on disk is ever unpickled -----------------------------------------------------------------------

PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _pickle_risks(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in PICKLING_MODULES for n in names):
                yield f"{where}: imports a pickling module"
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if isinstance(keywords.get("allow_pickle"), ast.Constant) and keywords["allow_pickle"].value is True:
            yield f"{where}: allow_pickle=True"
        func = ast.unparse(node.func)
        flag = keywords.get("allow_pickle")
        if func in ("np.load", "numpy.load") and not (isinstance(flag, ast.Constant) and flag.value is False):
            yield f"{where}: np.load without allow_pickle=False"
        weights_only = keywords.get("weights_only")
        if func == "torch.load" and not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
            yield f"{where}: torch.load without weights_only=True"


def test_no_source_file_can_unpickle() -> None:
    sources = sorted((ROOT / "src" / "askbot").rglob("*.py"))
    assert len(sources) > 20
    assert [risk for path in sources for risk in _pickle_risks(path)] == []
    import bm25s

    assert inspect.signature(bm25s.BM25.load).parameters["allow_pickle"].default is False  # we rely on it


class _Payload:
    """Unpickling this creates a folder: proof that something executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


@pytest.mark.parametrize("name", ["lexical/pids.npy", "lexical/tokens.npy", "lexical/bm25/data.csc.index.npy"])
def test_a_crafted_object_array_is_refused_not_executed(index_copy: Path, tmp_path: Path, name: str) -> None:
    marker = tmp_path / "executed"
    (generation,) = live_segments(index_copy)  # the segment holding the file
    path = generation / name
    np.save(path, np.array([_Payload(marker), 1], dtype=object), allow_pickle=True)
    np.load(path, allow_pickle=True)  # the payload is live: loading it with pickles allowed runs it
    assert marker.is_dir()
    marker.rmdir()
    manifest = Manifest.load(generation)  # the attacker fixes the checksums too
    manifest.files[name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    manifest.save(generation)
    with pytest.raises(IndexCorrupt):
        IndexReader.open(index_copy)
    proc = askbot_cli("ask", SEED_QUESTION, index=index_copy)
    assert proc.returncode == 3 and "askbot index --rebuild" in proc.stderr
    assert not marker.exists()


def test_a_schema_that_no_longer_decodes_is_reported_corrupt(built_index: Path, tmp_path: Path) -> None:
    """A byte of the SQLite schema text turned into invalid UTF-8: sqlite3 raises UnicodeDecodeError, not an error
    of its own (found by the property test above)."""
    copy = copy_index(built_index, tmp_path / "vectors")
    meta = live_segments(copy)[0] / "meta.sqlite"
    raw = bytearray(meta.read_bytes())
    at = raw.index(b"CREATE TABLE articles") + len(b"CREATE ")
    raw[at] = 0x80
    meta.write_bytes(bytes(raw))
    with pytest.raises(IndexCorrupt):
        IndexReader(current_generation(copy))
    news = tmp_path / "news.txt"
    news.write_text("افتتحت مكتبة عامة جديدة في بغداد يوم الأحد.", encoding="utf-8")
    for paths in ([news], []):  # something to add, and nothing
        with pytest.raises(IndexCorrupt):
            askbot.open(copy).add(paths)
