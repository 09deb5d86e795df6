"""The reranker: the first passages reordered by what they show of the answer; the rest, and the set, unchanged."""

from __future__ import annotations

import numpy as np

from askbot import asking, rerank
from askbot.arabic import content_words
from askbot.asks import asked_type
from askbot.types import Article, Hit, Passage, Retrieved

QUESTION = "كم عدد حالات الانفلونزا في الاردن في فبراير؟"
ON_TOPIC = "تنتشر الانفلونزا في فصل الشتاء في بلدان كثيرة. وتنصح الوزارة المواطنين بأخذ اللقاح قبل موسمها."
HOLDS_IT = "وبلغ عدد حالات الانفلونزا في الاردن 1200 حالة في شهر فبراير، بحسب بيان رسمي لوزارة الصحة."
OTHER = [
    "فاز الفريق المحلي على ضيفه بهدفين نظيفين في المباراة النهائية للبطولة.",
    "ارتفعت أسعار النفط في الأسواق العالمية بعد قرار خفض الإنتاج.",
    "افتتح متحف جديد للفنون الإسلامية أبوابه للزوار في العاصمة.",
    "هطلت أمطار غزيرة على المناطق الساحلية وأغلقت عدة طرق رئيسية.",
    "وقع البلدان اتفاقية للتعاون التجاري خلال زيارة رسمية.",
    "أصدر الكاتب روايته الثالثة التي تدور أحداثها في القرن الماضي.",
    "انطلق المهرجان السينمائي بمشاركة أفلام من أربعين دولة.",
    "ناقش البرلمان مشروع قانون الموازنة العامة للعام المقبل.",
    "أعلنت الشركة عن هاتف جديد بكاميرا أفضل وبطارية أطول عمرا.",
    "تراجعت البورصة في ختام تعاملات الأسبوع.",
    "افتتحت المدينة جسرا جديدا فوق النهر.",
]


def passage(text: str, pid: int, score: float, dense: float) -> Retrieved:
    article = Article(id=f"a{pid}", title="", text=text)
    return Retrieved(Hit(pid, score, dense, 5.0), Passage(article.id, 0, 0, len(text), text), article)


def ranking(first: str, second: str) -> list[Retrieved]:
    """``first`` a little ahead of ``second`` by retrieval, then unrelated passages farther off."""
    head = [passage(first, 1, 2.0, 0.860), passage(second, 2, 1.9, 0.858)]
    return head + [passage(t, n + 3, 1.0 - 0.05 * n, 0.82 - 0.002 * n) for n, t in enumerate(OTHER)]


def reranked(ranked: list[Retrieved]) -> list[Retrieved]:
    idf = dict.fromkeys(content_words(QUESTION), 2.0)
    return rerank.rerank(ranked, QUESTION, idf, asked_type(QUESTION), cross_lingual=False)[0]


def test_the_passage_holding_the_asked_for_fact_moves_ahead_of_one_only_on_topic():
    assert reranked(ranking(ON_TOPIC, HOLDS_IT))[0].passage.text == HOLDS_IT
    assert reranked(ranking(HOLDS_IT, ON_TOPIC))[0].passage.text == HOLDS_IT  # and stays first when it was


def test_only_the_first_candidates_are_reordered_and_none_is_lost():
    ranked = ranking(ON_TOPIC, HOLDS_IT)
    assert len(ranked) > rerank.CANDIDATES
    out = reranked(ranked)
    assert sorted(r.hit.passage_id for r in out) == sorted(r.hit.passage_id for r in ranked)
    assert out[rerank.CANDIDATES :] == ranked[rerank.CANDIDATES :]


def test_the_view_gives_the_first_passage_its_share_and_margin():
    ranked = ranking(ON_TOPIC, HOLDS_IT)
    idf = dict.fromkeys(content_words(QUESTION), 2.0)
    asked = asked_type(QUESTION)
    x = rerank.features(ranked, rerank.describe(ranked, QUESTION, idf, asked), QUESTION, idf, asked, False)
    view = rerank.order(x, cross_lingual=False)
    assert x.shape == (rerank.CANDIDATES, len(rerank.FEATURES))
    assert 0 < view.probability <= 1 and view.margin >= 0
    assert view.scores[view.order[0]] == max(view.scores)
    assert rerank.order(np.zeros((0, len(rerank.FEATURES))), False).order == ()


def test_reordering_a_retrieval_moves_its_hits_alike_and_keeps_hits_whose_passage_is_gone():
    ranked = ranking(ON_TOPIC, HOLDS_IT)[:3]
    gone = Hit(99, 0.5, 0.7, 1.0)
    hits = (ranked[0].hit, gone, ranked[1].hit, ranked[2].hit)
    found = asking.Retrieval(QUESTION, "", None, hits, tuple(ranked), {}, 100)
    out = asking.reordered(found, [ranked[1], ranked[0], ranked[2]])
    assert [h.passage_id for h in out.hits] == [2, 1, 3, 99]
    assert [r.hit.passage_id for r in out.retrieved] == [2, 1, 3]


def test_only_the_rankings_the_reranker_was_fitted_on_are_reordered():
    ranked = ranking(ON_TOPIC, HOLDS_IT)
    idf = dict.fromkeys(content_words(QUESTION), 2.0)
    found = asking.Retrieval(QUESTION, "", None, tuple(r.hit for r in ranked), tuple(ranked), idf, 100)
    assert asking.reranked(found, "hybrid").retrieved[0].passage.text == HOLDS_IT
    for method in ("dense", "bm25", "hybrid-rrf"):
        assert asking.reranked(found, method) is found


def test_the_first_passage_moves_only_on_a_clear_lead_and_the_rest_follow_the_model_where_fitted_so():
    x = np.array([[0.0], [0.4], [0.9], [0.2]])  # one feature, weight 1: the model prefers 2, then 1, 3, 0
    weights = np.array([1.0])
    held = rerank.order(x, False, weights, lead=1.0, reorder_rest=True)
    assert held.order == (0, 2, 1, 3) and held.lead == 0.9  # the first stays, the others by the model
    moved = rerank.order(x, False, weights, lead=0.5, reorder_rest=True)
    assert moved.order == (2, 1, 3, 0)
    assert rerank.order(x, False, weights, lead=0.5, reorder_rest=False).order == (2, 0, 1, 3)
    assert rerank.order(x, False, weights, lead=1.0, reorder_rest=False).order == (0, 1, 2, 3)
    assert np.isclose(moved.margin, 0.5) and np.isclose(held.margin, -0.9)
