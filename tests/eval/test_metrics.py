"""Retrieval metrics, bootstrap, search, golden-file matching and calibration maths (no model)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bgetune.tools import calibration as cal
from bgetune.tools.evaluation import (
    EvaluationError,
    aggregate,
    golden_queryset,
    load_corpus,
    paired_bootstrap,
    query_metrics,
    search,
)


def test_query_metrics_single_positive_at_rank_3():
    ranked = ["a", "b", "p", "c"] + [f"x{i}" for i in range(200)]
    m = query_metrics(ranked, {"p"})
    assert m["hit@1"] == 0 and m["hit@5"] == 1 and m["hit@10"] == 1
    assert m["mrr@10"] == pytest.approx(1 / 3)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert m["recall@10"] == 1 and m["map@100"] == pytest.approx(1 / 3)


def test_query_metrics_two_positives_and_misses():
    ranked = ["p1"] + [f"x{i}" for i in range(20)] + ["p2"] + [f"y{i}" for i in range(100)]
    m = query_metrics(ranked, {"p1", "p2"})
    assert m["hit@1"] == 1 and m["mrr@10"] == 1
    assert m["recall@10"] == 0.5 and m["recall@100"] == 1.0
    assert m["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert m["map@100"] == pytest.approx((1 + 2 / 22) / 2)
    miss = query_metrics([f"x{i}" for i in range(150)], {"p"})
    assert all(v == 0 for v in miss.values())
    assert aggregate([m, miss])["hit@1"] == 0.5


def test_paired_bootstrap():
    same = paired_bootstrap([0.5, 0.2, 0.9], [0.5, 0.2, 0.9])
    assert same["diff"] == 0 and same["low"] == 0 and same["high"] == 0
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 0.6, 80)
    better = paired_bootstrap(a, a + 0.1 + rng.uniform(0, 0.05, 80))
    assert better["low"] > 0 and better["p_not_better"] == 0
    noisy = paired_bootstrap(a, a + rng.normal(0, 0.3, 80))
    assert noisy["low"] < noisy["diff"] < noisy["high"]


def test_search_orders_by_cosine():
    corpus = np.eye(4, dtype=np.float32)
    q = np.array([[0.1, 0.9, 0.3, 0.0]], dtype=np.float32)
    idx, sc = search(q, corpus, top_k=3)
    assert idx[0].tolist() == [1, 2, 0]
    assert sc[0, 0] == pytest.approx(0.9)


def test_golden_matching_by_text_id_and_unmatched(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "a", "text": "The quick brown fox\njumps over the lazy dog."},
        {"id": "b", "text": "Packages are installed with apt-get install."},
        {"id": "c", "text": "A second half: more apt-get details."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ids, texts = load_corpus(corpus)
    golden = [
        {"query": "fox?", "pos": ["quick  brown FOX jumps"]},  # whitespace and case differ
        {"query": "apt?", "pos_ids": ["b", "zz"]},
        {
            "query": "spans",
            "pos": ["Packages are installed with apt-get install. A second half: more apt-get details."],
        },
        {"query": "nothing", "pos": ["text that is nowhere in the corpus at all"]},
    ]
    qs, unmatched = golden_queryset(ids, texts, golden, "golden.jsonl")
    assert qs.queries == ["fox?", "apt?", "spans"]
    assert qs.positives == [{"a"}, {"b"}, {"b", "c"}]
    assert [u["line"] for u in unmatched] == [2, 4]
    assert unmatched[0]["missing"] == ["zz"]


def test_bad_files_name_the_file(tmp_path):
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"id": "a", "text": "x"}\nnot json\n')
    with pytest.raises(EvaluationError, match=r"c\.jsonl:2"):
        load_corpus(bad)
    with pytest.raises(EvaluationError, match="does not exist"):
        load_corpus(tmp_path / "missing.jsonl")
    with pytest.raises(EvaluationError, match="neither 'pos' nor 'pos_ids'"):
        golden_queryset(["a"], ["x"], [{"query": "q"}], "g.jsonl")


def test_thresholds_and_platt():
    pos = np.array([0.9, 0.85, 0.8, 0.7, 0.6])
    neg = np.array([0.65, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1, 0.1])
    scores = np.r_[pos, neg]
    labels = np.r_[np.ones(5, int), np.zeros(8, int)]
    t = cal.threshold_max_f1(scores, labels)
    assert 0.5 < t < 0.6  # all 5 positives and one negative (0.65): F1 0.909 beats 4/0 at 0.7 (0.889)
    assert cal.confusion(scores, labels, t)["f1"] == pytest.approx(2 * (5 / 6) / (1 + 5 / 6), abs=1e-4)
    tp = cal.threshold_for_precision(scores, labels, 1.0)
    assert cal.confusion(scores, labels, tp)["precision"] == 1.0
    assert cal.threshold_for_precision(np.array([0.5, 0.5]), np.array([1, 0]), 0.9) is None
    platt = cal.fit_platt(scores, labels)
    assert platt["a"] > 0
    probs = [cal.platt_probability(s, platt) for s in (0.1, 0.5, 0.9)]
    assert probs == sorted(probs) and probs[0] < 0.5 < probs[2]
    assert cal.minmax_score(0.5, {"min": 0.0, "max": 1.0}) == 0.5
    assert cal.auc(scores, labels) > 0.9
    res = cal.calibrate_scores(pos, neg, hard_mask=np.array([True, True] + [False] * 6))
    assert res["vs_hard_negatives"]["calibrated"]["f1"] > res["vs_hard_negatives"]["fixed_cut"]["f1"]
    with pytest.raises(EvaluationError):
        cal.calibrate_scores(pos, np.array([]))
