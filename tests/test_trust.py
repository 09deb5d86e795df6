"""The same trustworthy answer on every face and every spelling (real model, real index of 25 articles)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from askbot.present import as_dict
from askbot.retrieval import METHODS
from askbot.telegram.formatting import answer_chunks, esc

SEED_ID = "102c93eeae5ae0e9"
VOWELLED = "مَتَى وَصَلَ شَمْخَانِي إِلَى بَغْدَادَ؟"
BARE = "متى وصل شمخاني إلى بغداد؟"
# Questions the 25 indexed articles cannot answer (the seeds' own examples of confident wrong answers)
UNANSWERABLE = ["من هو رئيس وزراء اليابان؟", "How many people live in Cairo?", "متى تأسست شركة أبل؟", "123"]


@pytest.mark.parametrize("method", METHODS)
def test_a_fully_vowelled_question_finds_what_the_bare_one_finds(kb, method):
    vowelled, bare = kb.asked(VOWELLED, k=3, method=method), kb.asked(BARE, k=3, method=method)
    assert vowelled.hits[0].passage_id == bare.hits[0].passage_id
    assert vowelled.articles[0] == SEED_ID
    assert (vowelled.answer.found, vowelled.answer.confidence) == (bare.answer.found, bare.answer.confidence)


@pytest.mark.parametrize(
    "question", ["من وقّع المحضر الأمني المشترك مع شمخاني؟", "ما هي عاصمة أستراليا؟", *UNANSWERABLE]
)
def test_found_and_confidence_are_the_same_for_every_k(kb, question):
    answers = [kb.ask(question, k=k) for k in (1, 2, 3, 5, 10)]
    assert len({(a.found, a.confidence) for a in answers}) == 1, [(a.found, a.confidence) for a in answers]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_corpus_cannot_answer_are_not_found(kb, question):
    a = kb.ask(question)
    assert not a.found and a.excerpts == (), [e.sentence for e in a.excerpts]
    assert 0.0 <= a.confidence < 0.5


@pytest.mark.parametrize(
    "question",
    [
        "من وقّع المحضر الأمني المشترك مع شمخاني؟",
        "Who signed the joint security protocol with Shamkhani?",  # read through its words' translations
    ],
)
def test_cli_json_library_and_telegram_say_the_same(kb, built_index, question):
    lib = kb.ask(question, k=2)
    run = subprocess.run(
        [sys.executable, "-m", "askbot.cli", "ask", question, "-k", "2", "--json", "--index", str(built_index)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    cli = json.loads(run.stdout)
    assert cli == json.loads(json.dumps(as_dict(lib)))
    assert cli["found"] and 0.5 <= cli["confidence"] <= 1.0
    top = cli["excerpts"][0]
    html = "".join(answer_chunks(lib)).replace("<u>", "").replace("</u>", "")
    assert f"<b>{esc(top['sentence'])}</b>" in html
    assert f"{lib.confidence:.2f}" in html
