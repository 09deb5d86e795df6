"""The CLI face, run as a user runs it: a subprocess, real index, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SEED_QUESTION = "من وقّع المحضر الأمني المشترك مع شمخاني؟"

ASKBOT = [sys.executable, "-m", "askbot.cli"]


def askbot(*args: str, index: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASKBOT_INDEX": str(index)}
    proc = subprocess.run([*ASKBOT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_ask_json_has_the_documented_shape(built_index):
    proc = askbot("ask", SEED_QUESTION, "--json", "-k", "2", index=built_index)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["question"] == SEED_QUESTION and data["found"] is True
    assert 1 <= len(data["excerpts"]) <= 2
    e = data["excerpts"][0]
    assert {"text", "sentence", "score", "citation"} <= set(e)
    assert {"title", "source", "published", "url", "article_id", "start", "end"} <= set(e["citation"])
    assert "الأعرجي" in e["sentence"] or "الاعرجي" in e["sentence"]


def test_ask_prints_marked_sentence_and_citation(built_index):
    proc = askbot("ask", SEED_QUESTION, index=built_index)
    assert proc.returncode == 0
    assert "«" in proc.stdout and "العالم" in proc.stdout and "2023-03-19" in proc.stdout


def test_empty_and_emoji_questions_exit_1_with_a_message(built_index):
    for q in ("", "🙂🙂"):
        proc = askbot("ask", q, index=built_index)
        assert proc.returncode == 1
        assert "no words" in proc.stdout


def test_ask_does_not_load_torch(built_index):
    code = (
        "import sys, askbot; kb = askbot.open(sys.argv[1]); a = kb.ask(sys.argv[2]); "
        "assert a.found; print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(built_index), SEED_QUESTION],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr


def test_index_reports_bad_lines_and_keeps_the_rest(index_copy, tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = {"id": "n1", "title": "خبر", "text": "افتتح المتحف الوطني أبوابه للزوار في الرياض اليوم.",
            "source": "test", "published": "2018-05-01"}
    bad.write_text(json.dumps(good, ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty.txt").write_text("")
    proc = askbot("index", str(tmp_path), index=index_copy)
    assert proc.returncode == 0, proc.stderr
    assert "bad.jsonl:2" in proc.stderr and "added 1" in proc.stderr
    assert "blob.txt" in proc.stderr and "empty.txt" in proc.stderr
    proc = askbot("ask", "متى افتتح المتحف الوطني في الرياض؟", "--json", index=index_copy)
    assert json.loads(proc.stdout)["excerpts"][0]["citation"]["article_id"] == "n1"
    assert askbot("check", index=index_copy).returncode == 0


def test_info_remove_and_check(index_copy):
    info = json.loads(askbot("info", "--json", index=index_copy).stdout)
    assert info["articles"] == 25
    proc = askbot("remove", "102c93eeae5ae0e9", index=index_copy)
    assert proc.returncode == 0 and "removed 1" in proc.stderr
    assert json.loads(askbot("info", "--json", index=index_copy).stdout)["articles"] == 24
    assert askbot("remove", "nope", index=index_copy).returncode == 4


def test_corrupt_index_gives_repair_command(index_copy):
    faiss_file = next(index_copy.glob("seg-*")) / "dense.faiss"  # the one segment of the built index
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    proc = askbot("ask", SEED_QUESTION, index=index_copy)
    assert proc.returncode == 3
    assert "truncated" in proc.stderr and "askbot index --rebuild" in proc.stderr


def test_missing_path_is_reported(index_copy, tmp_path):
    proc = askbot("index", str(tmp_path / "nope.txt"), index=index_copy)
    assert proc.returncode == 4 and "nope.txt" in proc.stderr


def test_chat_answers_each_line_until_eof(built_index):
    proc = askbot("chat", "-k", "1", index=built_index, stdin=f"{SEED_QUESTION}\n\n🙂\nمتى وصل شمخاني إلى بغداد؟\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("العالم") >= 2  # two cited answers
    assert "no words" in proc.stdout  # the emoji line


def test_filters_from_the_command_line(built_index):
    proc = askbot("ask", "الأمن القومي", "--json", "--source", "العالم", index=built_index)
    data = json.loads(proc.stdout)
    assert data["found"] and {e["citation"]["source"] for e in data["excerpts"]} == {"العالم"}
    proc = askbot("ask", SEED_QUESTION, "--json", "--until", "2018-12-31", "-k", "3", index=built_index)
    data = json.loads(proc.stdout)
    assert all(e["citation"]["published"].startswith("2018") for e in data["excerpts"])
    proc = askbot("ask", SEED_QUESTION, "--json", "--since", "2030-01-01", index=built_index)
    assert proc.returncode == 1 and json.loads(proc.stdout)["found"] is False


def test_index_flag_works_before_and_after_the_command(built_index, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ASKBOT_INDEX"}
    for args in (["--index", str(built_index), "info", "--json"], ["info", "--json", "--index", str(built_index)]):
        proc = subprocess.run([*ASKBOT, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["articles"] == 25


def test_progress_for_logs_is_a_line_with_count_rate_and_time_left(capsys):
    from askbot.cli import progress_lines

    update = progress_lines("embedding", every_s=0.0)
    update(250, 1000)
    update(1000, 1000)
    update(5, 0)  # nothing to count: no line, no division by zero
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("embedding: 250/1,000 passages (25%), ") and "min left" in lines[0]
    assert lines[1].startswith("embedding: 1,000/1,000 passages (100%), ") and "left" not in lines[1]
    quiet = progress_lines("embedding", every_s=3600.0)
    quiet(10, 100)
    assert capsys.readouterr().err == ""  # a short run writes nothing to the log
