"""Hard-negative mining on real chunks: window, margin, no positive or near-duplicate of one, provenance."""

from __future__ import annotations

import numpy as np
import pytest
from rapidfuzz import fuzz

from bgetune.core.text import normalize_for_match
from bgetune.tools.negatives import DUP_TEXT_RATIO, build_index, mine_negatives, trainable_pairs


def test_mined_negatives_are_never_positives_or_near_duplicates(_mined_ws, mined_ws):
    result = _mined_ws[1]
    ws = mined_ws
    assert result["method"] == "dense" and result["index"] == "IndexFlatIP"
    assert result["negatives"] > 0 and result["pairs"] == 40
    rows = ws.query(
        "SELECT n.pair_id, n.chunk_id, n.rank, n.score, n.pos_score, n.method, c.text FROM negatives n "
        "JOIN chunks c ON c.id=n.chunk_id"
    )
    assert len(rows) == result["negatives"]
    pairs = {p["id"]: p for p in trainable_pairs(ws)}
    texts = {r["id"]: r["text"] for r in ws.query("SELECT id, text FROM chunks")}
    per_pair: dict[int, int] = {}
    for r in rows:
        p = pairs[r["pair_id"]]
        assert r["chunk_id"] not in p["positives"]
        assert r["method"] == "dense-window"
        assert 2 <= r["rank"] < 50
        assert r["score"] < r["pos_score"] * 0.95 + 1e-6
        neg = normalize_for_match(r["text"])
        for pos in p["positives"]:
            assert neg != normalize_for_match(texts[pos])
            assert fuzz.ratio(neg, normalize_for_match(texts[pos])) < DUP_TEXT_RATIO
        per_pair[r["pair_id"]] = per_pair.get(r["pair_id"], 0) + 1
    assert max(per_pair.values()) <= 7
    # the extra positive of the first pair is respected
    first = min(pairs)
    assert len(pairs[first]["positives"]) == 2
    run = ws.last_run("mine")
    assert run and run["result"]["negatives"] == result["negatives"]


def test_in_batch_method_mines_nothing_and_says_why(mined_ws):
    res = mine_negatives(mined_ws, method="in-batch")
    assert res["method"] == "in-batch" and "in-batch" in res["reason"]
    assert mined_ws.scalar("SELECT count(*) FROM negatives") == 0


def test_mining_refuses_without_trainable_pairs(sample_ws):
    with pytest.raises(ValueError, match="no trainable pairs"):
        mine_negatives(sample_ws, base_model="bundled")


def test_bad_window_is_a_clear_error(mined_ws):
    with pytest.raises(ValueError, match="rank window"):
        mine_negatives(mined_ws, range_min=10, range_max=5)


def test_hnsw_past_threshold_finds_the_same_top_hit():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(500, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    flat, hnsw = build_index(emb), build_index(emb, threshold=100)
    assert type(hnsw).__name__ == "IndexIVFFlat"  # IVF past the threshold (tools/index.py)
    _, a = flat.search(emb[:20], 1)
    _, b = hnsw.search(emb[:20], 1)
    assert (a == b).mean() >= 0.95
