"""Reranker positive recovery (issue 14, item 4): a top-k candidate the reranker scores as an answer becomes an
extra positive with origin 'recovered', never a negative; off by default."""

from __future__ import annotations

import pytest

from bgetune.tools.negatives import mine_negatives, trainable_pairs
from bgetune.tools.qa_generation import generate_pairs
from bgetune.tools.review import approve_all


def _answers_cache_questions(query: str, passages: list[str]) -> list[float]:
    """A reranker that knows one fact: the cache section answers questions about the package cache."""
    about_cache = "cache" in query.lower() or "downloaded" in query.lower()
    return [0.97 if about_cache and "/var/cache/apt" in p else 0.01 for p in passages]


def _prepared(ws):
    from bgetune.core.config import Settings

    generate_pairs(ws, Settings(workspace=ws.root), mode="offline")
    cache_chunk = next(c for c in ws.chunks() if "/var/cache/apt" in c["text"])
    install_chunk = next(
        c for c in ws.chunks() if "apt install" in c["text"] and c["id"] != cache_chunk["id"]
    )
    with ws.tx() as c:
        c.execute(
            "INSERT INTO pairs(chunk_id, query, passage, source, kind, status, created_at, updated_at) "
            "VALUES(?,?,?,?,?,'proposed',datetime('now'),datetime('now'))",
            (
                install_chunk["id"],
                "where are downloaded packages kept",
                install_chunk["text"],
                "import:test",
                "real",
            ),
        )
    approve_all(ws, actor="test")
    with ws.tx() as c:
        c.execute("UPDATE pairs SET split='train' WHERE status IN ('approved','edited')")
    pid = ws.scalar("SELECT id FROM pairs WHERE query='where are downloaded packages kept'")
    return pid, cache_chunk["id"]


def test_recovered_positive_is_never_a_negative(tiny_ws):
    ws = tiny_ws
    pid, cache_id = _prepared(ws)
    res = mine_negatives(
        ws, base_model="bundled", reranker=_answers_cache_questions, recover=True, range_min=0
    )
    assert res["recovered_positives"] >= 1 and "recovered" in res["reason"]
    rows = ws.query("SELECT chunk_id, origin FROM pair_positives WHERE pair_id=?", (pid,))
    assert [(r["chunk_id"], r["origin"]) for r in rows] == [(cache_id, "recovered")]
    assert not ws.query("SELECT 1 FROM negatives WHERE pair_id=? AND chunk_id=?", (pid, cache_id))
    pair = next(p for p in trainable_pairs(ws) if p["id"] == pid)
    assert cache_id in pair["positives"]
    # a re-run replaces earlier recoveries instead of piling them up
    mine_negatives(ws, base_model="bundled", reranker=_answers_cache_questions, recover=True, range_min=0)
    assert (
        ws.scalar("SELECT count(*) FROM pair_positives WHERE origin='recovered' AND pair_id=?", (pid,)) == 1
    )


def test_recovery_is_off_by_default_and_needs_a_reranker(tiny_ws):
    ws = tiny_ws
    pid, cache_id = _prepared(ws)
    res = mine_negatives(ws, base_model="bundled", reranker=_answers_cache_questions, range_min=0)
    assert res["recovered_positives"] == 0
    assert not ws.query("SELECT 1 FROM pair_positives WHERE origin='recovered'")
    # still never a negative: the reranker calls it relevant
    assert not ws.query("SELECT 1 FROM negatives WHERE pair_id=? AND chunk_id=?", (pid, cache_id))
    with pytest.raises(ValueError, match="needs a reranker"):
        mine_negatives(ws, base_model="bundled", recover=True)
