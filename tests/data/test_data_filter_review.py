"""Filters with reasons (real base model for the round trip), review state and its history."""

from __future__ import annotations

import json

import pytest

from bgetune.core.workspace import now_iso
from bgetune.tools import review
from bgetune.tools.filtering import filter_pairs, text_reasons


def _add(ws, chunk_id, query, *, passage=None, source="llm:test", kind="question"):
    ts = now_iso()
    with ws.tx() as c:
        cur = c.execute(
            "INSERT INTO pairs(chunk_id, query, passage, source, kind, status, created_at, updated_at) "
            "VALUES(?,?,?,?,?,'proposed',?,?)",
            (chunk_id, query, passage or ws.chunk(chunk_id)["text"], source, kind, ts, ts),
        )
    return cur.lastrowid


def test_text_reasons():
    long_passage = "The apt tool downloads packages and their dependencies from mirrors."
    assert text_reasons("它的有效期是多久？", "食品保质期是指食品在标明的贮存条件下保持品质的期限。") == [
        "vague_query"
    ]
    assert "vague_query" in text_reasons("What does this section say about mirrors?", long_passage)
    assert "query_too_short" in text_reasons("保质期", "食品保质期是指食品在标明的贮存条件下保持品质的期限。")
    assert "query_too_long" in text_reasons("食" * 60, "食品保质期是指食品在标明的贮存条件下保持品质的期限。")
    assert "query_too_short" in text_reasons("apt", long_passage)
    assert text_reasons("apt mirrors", long_passage, kind="keyword") == []
    assert "refusal" in text_reasons("This is not mentioned in the text", long_passage)
    assert "passage_too_short" in text_reasons("how do apt mirrors work", "Yes.")
    assert text_reasons("how does apt download dependencies", long_passage) == []


def test_filter_rejects_with_reasons_and_respects_user(tiny_ws, st_model):
    ws = tiny_ws
    chunks = {c["text"][:200]: c for c in ws.chunks()}
    pin = next(c for t, c in chunks.items() if "Pinning" in t)
    proxy = next(c for t, c in chunks.items() if "proxy" in t)
    zh = next(c for t, c in chunks.items() if "保质期" in t)
    good = _add(ws, pin["id"], "how do I prefer packages from one release with apt pinning")
    dup = _add(ws, proxy["id"], "how do I prefer packages from one release with apt pinning")
    near = _add(
        ws, pin["id"], "how do I prefer packages from one release with apt pining", source="llm:other"
    )
    vague = _add(ws, zh["id"], "它的有效期是多久？")
    refusal = _add(ws, proxy["id"], "The answer is not mentioned in the passage")
    offtopic = _add(
        ws, zh["id"], "how do I configure a proxy for apt downloads"
    )  # wrong chunk: round trip fails
    user_rej = _add(ws, proxy["id"], "apt proxy port number setting")
    user_ok = _add(ws, zh["id"], "这个是什么")  # vague, but a person approved it
    review.reject(ws, [user_rej], why="not useful")
    review.approve(ws, [user_ok])

    res = filter_pairs(ws, base_model=st_model, top_k=1, min_similarity=0.9, min_language_pass_rate=0.0)
    got = {p["id"]: p for p in review.list_pairs(ws)}
    assert got[good]["status"] == "proposed" and got[good]["reasons"] == []
    assert got[dup]["reasons"] == ["duplicate_query"] or "round_trip_failed" in got[dup]["reasons"]
    assert got[near]["status"] == "rejected" and "near_duplicate_query" in got[near]["reasons"]
    assert "vague_query" in got[vague]["reasons"]
    assert "refusal" in got[refusal]["reasons"]
    assert got[offtopic]["reasons"] == ["round_trip_failed"]
    assert got[offtopic]["scores"]["rt_rank"] > 1
    assert (
        got[user_rej]["status"] == "rejected"
        and got[user_rej]["status_by"] == "user"
        and got[user_rej]["reasons"] == []
    )
    assert got[user_ok]["status"] == "approved"
    assert res["by_reason"]["round_trip_failed"] >= 1 and res["rejected"] >= 5
    # a filter rejection is recorded as an event with its reason
    ev = review.events(ws, offtopic)
    assert (
        ev[-1]["action"] == "filter" and ev[-1]["new"] == "rejected" and "round_trip_failed" in ev[-1]["why"]
    )
    # re-running (looser) never touches the user's pairs and can restore filter-rejected ones
    filter_pairs(ws, base_model=st_model, round_trip_check=False)
    again = {p["id"]: p for p in review.list_pairs(ws)}
    assert again[offtopic]["status"] == "proposed"
    assert again[user_rej]["status"] == "rejected" and again[user_ok]["status"] == "approved"
    assert again[vague]["status"] == "rejected"


def test_review_actions_and_history(tiny_ws):
    ws = tiny_ws
    c = ws.chunks()[0]
    a = _add(ws, c["id"], "how do I install a package with apt")
    b = _add(ws, c["id"], "apt install package name")
    d = _add(ws, c["id"], "what does apt download")
    review.reject(ws, [d], why="meh")
    assert review.approve_all(ws) == 2  # proposed only; the rejected one stays rejected
    assert review.get_pair(ws, d)["status"] == "rejected"
    e = review.edit(ws, a, query="how to install packages using apt")
    assert e["status"] == "edited" and e["original_query"] == "how do I install a package with apt"
    e2 = review.edit(ws, a, query="install packages with apt")
    assert e2["original_query"] == "how do I install a package with apt"  # the first original stays
    assert review.approve(ws, [a]) == 1 and review.get_pair(ws, a)["status"] == "edited"
    hist = [x["action"] for x in review.events(ws, a)]
    assert hist == ["approve", "edit", "edit", "approve"]
    assert json.loads(review.events(ws, a)[1]["old"])["query"] == "how do I install a package with apt"
    with pytest.raises(review.ReviewError, match="no pair"):
        review.approve(ws, [99999])
    with pytest.raises(review.ReviewError):
        review.edit(ws, b, query=" ")
    assert [p["id"] for p in review.list_pairs(ws, status="kept")] == [a, b]
    assert [p["id"] for p in review.list_pairs(ws, search="what does apt")] == [d]
    s = review.dataset_summary(ws)
    assert s["trainable"] == 2 and s["status"]["rejected"] == 1 and s["by_reason"] == {"user": 1}


def test_near_duplicates_past_the_exact_size_find_the_pairs_every_pair_finds():
    """Issue 23: past NEAR_DUP_EXACT_MAX distinct queries the check scores only texts that sort close (three
    orders, blocks); near-duplicates changed at the start, in the middle or at the end, among
    many unrelated queries, are all still found, and nothing is found that every-pair scoring would not find."""
    import random

    from bgetune.tools import filtering

    rng = random.Random(7)
    words = "apt dpkg package mirror kernel install upgrade remove source binary debian archive key".split()
    qs = [" ".join(rng.sample(words, 6)) + f" {n}" for n in range(1500)]  # unrelated fillers
    planted = [
        ("how do i upgrade the kernel on a debian system", "how can i upgrade the kernel on a debian system"),
        ("where is the apt cache stored on disk", "where is the apt cache stored on the disk"),
        ("what does the dpkg reconfigure command do", "what does the dpkg reconfigure command do now"),
        ("mirror for security updates in europe", "xmirror for security updates in europe"),
    ]
    for a, b in planted:
        qs.insert(rng.randrange(len(qs)), a)
        qs.insert(rng.randrange(len(qs)), b)
    qs += [qs[3]] * 3  # exact copies
    every = filtering.near_duplicates(qs, exact_max=10**9)
    blocked = filtering.near_duplicates(qs, exact_max=0)
    assert set(blocked) <= set(every)
    found = {frozenset((qs[i], qs[j])) for i, j in blocked}
    for a, b in planted:
        assert frozenset((a, b)) in {frozenset((qs[i], qs[j])) for i, j in every}, (a, b)
        assert frozenset((a, b)) in found, (a, b)
    assert sum(1 for i, j in blocked if qs[i] == qs[j] == qs[3]) == 6  # 4 copies: every pair of them
    assert blocked == sorted(blocked)
