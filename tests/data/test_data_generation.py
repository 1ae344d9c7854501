"""Generation: scripted LLM with malformed output, cache and resume, offline generator in zh and en."""

from __future__ import annotations

import json

import pytest

from bgetune.core.config import Settings
from bgetune.tools import review
from bgetune.tools.offline_gen import copies_text
from bgetune.tools.qa_generation import estimate_generation, generate_pairs

SECRET = "sk-test-SECRET-key-123456"


def _answer(messages) -> str:
    """A messy but usable answer built from the chunk: fenced / prose / truncated / refusal by chunk content."""
    user = messages[-1].content
    body = user.split("<<<\n", 1)[1].rsplit("\n>>>", 1)[0]
    first = body.split("\n")[0][:60]
    if "Pinning" in body:
        return (
            'Here are the queries:\n```json\n[{"query": "how do I pin apt packages to a release", "kind": "question", "passage": "'
            + first
            + '"}]\n```'
        )
    if "proxy" in body:  # truncated list: the first object is salvaged
        return '[{"query": "apt behind a proxy", "kind": "keyword", "passage": "add an Acquire::http::Proxy line"}, {"query": "proxy po'
    if "保质期" in body:
        return '好的，结果如下：[{"query": "食品保质期是什么意思", "kind": "question", "passage": "食品保质期"}] 希望有帮助'
    if "处罚" in body or "罚款" in body:
        return "抱歉，我无法完成这个请求。"
    return json.dumps(
        [{"query": f"question about {first[:30]}", "kind": "long_tail", "passage": "not in the text at all"}]
    )


def _settings(ws, **kw):
    return Settings(
        workspace=ws.root, llm_base_url="http://127.0.0.1:9/v1", llm_api_key=SECRET, llm_concurrency=2, **kw
    )


def test_llm_generation_survives_messy_output_and_caches(tiny_ws, scripted):
    ws = tiny_ws
    model = scripted(script=_answer)
    st = _settings(ws)
    est = estimate_generation(ws, st, chat_model=model)
    n_chunks = ws.scalar("SELECT count(*) FROM chunks")
    assert (
        est["mode"] == "llm"
        and est["calls"] == n_chunks
        and est["cached_chunks"] == 0
        and est["tokens_in"] > 0
    )
    res = generate_pairs(ws, st, chat_model=model)
    assert res["mode"] == "llm" and res["chunks_failed"] == 0, res["errors"]
    assert res["pairs_added"] >= n_chunks - 2
    queries = {p["query"]: p for p in review.list_pairs(ws)}
    assert "how do I pin apt packages to a release" in queries
    assert "apt behind a proxy" in queries  # salvaged from the truncated list
    assert queries["apt behind a proxy"]["passage"] == "add an Acquire::http::Proxy line"
    assert "食品保质期是什么意思" in queries
    assert all(p["status"] == "proposed" and p["source"] == "llm:scripted" for p in queries.values())
    # a passage the chunk does not hold is replaced by the chunk text
    odd = [p for p in queries.values() if p["query"].startswith("question about")]
    assert odd and all("not in the text" not in p["passage"] for p in odd)
    calls = len(model.prompts)
    # the document is data: the prompt fences it
    assert all("<<<" in p[-1] for p in model.prompts)
    # second run: everything cached, no new call, no new pair
    again = generate_pairs(ws, st, chat_model=model)
    assert len(model.prompts) == calls
    assert again["chunks_cached"] == n_chunks and again["pairs_added"] == 0 and again["calls"] == 0
    assert estimate_generation(ws, st, chat_model=model)["calls"] == 0
    # the key never reaches the workspace
    raw = (ws.root / "bgetune.sqlite").read_bytes()
    for suffix in ("", "-wal"):
        p = ws.root / f"bgetune.sqlite{suffix}"
        if p.exists():
            assert SECRET.encode() not in p.read_bytes()
    assert SECRET.encode() not in raw


def test_unusable_answers_are_repaired_or_reported(tiny_ws, scripted):
    ws = tiny_ws
    # first answer garbage, repair turn answers valid JSON; 503 first is retried
    # (the script counts the failed call too, so its first entry is never seen)
    answers = [
        "unused",
        "no json in this answer at all",
        '[{"query": "apt clean frees disk space", "kind": "question"}]',
    ]
    model = scripted(script=answers, fail_first=1)
    chunk = ws.chunks()[0]
    res = generate_pairs(ws, _settings(ws), chat_model=model, chunk_ids=[chunk["id"]])
    assert res["chunks_failed"] == 0 and res["pairs_added"] == 1
    assert "not a valid JSON list" in model.prompts[-1][-1]  # the repair turn
    # always garbage: the chunk fails, the run does not crash, and the error holds no key
    bad = scripted(script=["<<garbage>> " + SECRET])
    other = ws.chunks()[1]
    res = generate_pairs(ws, _settings(ws), chat_model=bad, chunk_ids=[other["id"]])
    assert res["chunks_failed"] == 1 and res["errors"] and SECRET not in json.dumps(res["errors"])
    assert ws.scalar("SELECT count(*) FROM llm_cache") == 1  # failures are not cached


def test_resume_keeps_user_decisions_and_skips_done_chunks(tiny_ws, scripted):
    ws = tiny_ws
    model = scripted(script=_answer)
    st = _settings(ws)
    chunks = ws.chunks()
    first = [c["id"] for c in chunks[:3]]
    generate_pairs(ws, st, chat_model=model, chunk_ids=first)  # "killed" after three chunks
    done_calls = len(model.prompts)
    pairs = review.list_pairs(ws)
    review.approve(ws, [pairs[0]["id"]])
    edited = review.edit(ws, pairs[1]["id"], query="my own better question about apt")
    res = generate_pairs(ws, st, chat_model=model)
    assert len(model.prompts) - done_calls == len(chunks) - 3  # finished chunks are not asked again
    assert res["chunks_cached"] == 3
    after = {p["id"]: p for p in review.list_pairs(ws)}
    assert after[pairs[0]["id"]]["status"] == "approved"
    assert (
        after[edited["id"]]["status"] == "edited"
        and after[edited["id"]]["query"] == "my own better question about apt"
    )
    # the edited pair's original query was not re-added as a new pair
    assert sum(1 for p in after.values() if p["query"] == pairs[1]["query"]) == 0


def test_offline_generator_both_languages_deterministic(tiny_ws, tmp_path):
    ws = tiny_ws
    st = Settings(workspace=ws.root)
    assert estimate_generation(ws, st)["mode"] == "offline"
    res = generate_pairs(ws, st)
    assert res["mode"] == "offline" and res["pairs_added"] > 8 and "offline mode" in res["note"]
    pairs = review.list_pairs(ws)
    langs = {p["language"] for p in pairs}
    assert "zh" in langs and "en" in langs
    qs = [p["query"] for p in pairs]
    # questions users would type, built from the text's structure
    assert any(q.startswith("What is Pinning") or q.lower().startswith("what is pinning") for q in qs), qs
    assert "什么是食品保质期？" in qs, qs
    assert any(q.endswith("会受到什么处罚？") for q in qs), qs
    assert any(p["kind"] == "keyword" for p in pairs)
    for p in pairs:  # never a copy of the chunk
        chunk = ws.chunk(p["chunk_id"])
        assert not copies_text(p["query"], chunk["text"]), p["query"]
    # deterministic and resumable: a re-run adds nothing
    again = generate_pairs(ws, st)
    assert again["pairs_added"] == 0 and again["chunks_skipped"] == len(ws.chunks())
    from bgetune.tools.offline_gen import generate_offline

    a = generate_offline(ws.chunks())
    b = generate_offline(ws.chunks())
    assert {k: [g.query for g in v] for k, v in a.items()} == {k: [g.query for g in v] for k, v in b.items()}


def _en_questions(sentence: str) -> list[str]:
    from bgetune.tools.offline_gen import _en_question_forms

    return [q for q, _kind, _rule in _en_question_forms(sentence)]


@pytest.mark.parametrize(
    ("sentence", "questions"),
    [
        (
            "Packages can be upgraded in place, even in running systems.",
            ["Can packages be upgraded in place?"],
        ),
        ("Stable contains old versions of packages.", ["Does stable contain old versions of packages?"]),
        (
            "Debian GNU/Linux adheres to the Linux Filesystem Hierarchy Standard (https://x.org) .",
            ["Does Debian GNU/Linux adhere to the Linux Filesystem Hierarchy Standard?"],
        ),
        (
            "Debian mailing lists are named following the pattern debian-list-subject.",
            ["Are Debian mailing lists named following the pattern debian-list-subject?"],
        ),
        (
            "There are a lot of Debian-related mailing lists (https://lists.debian.org/) .",
            ["What Debian-related mailing lists are there?"],
        ),
        (
            "Debian uses the Linux kernel because it is free software.",
            ["Why does Debian use the Linux kernel?"],
        ),
        (
            "Users can address questions to package maintainers using e-mail.",
            ["How can I address questions to package maintainers?"],
        ),
        (
            "You can install Debian from a USB stick or a network image.",
            ["Can I install Debian from a USB stick?"],
        ),
        ("Packages can be upgraded by running apt full-upgrade.", ["How can packages be upgraded?"]),
        ("The configuration files are stored in /etc/apt.", ["Where are the configuration files?"]),
        # not questions: commands, pronoun or negated subjects, code
        ("You may also want to read the release notes.", []),
        ("apt install foo", []),
        ("It can be installed from a CD.", []),
        ("Usually nobody should install things from this place.", []),
        ("x = foo -> bar is used here.", []),
    ],
)
def test_english_sentences_become_the_questions_they_answer(sentence, questions):
    assert _en_questions(sentence) == questions


def test_an_english_sentence_can_become_a_where_question():
    assert "Where can I get the debian-faq package?" in _en_questions(
        "The debian-faq package is available from any mirror."
    )
