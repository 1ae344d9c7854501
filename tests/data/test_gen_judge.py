"""LLM prompt v3, the judge pass and augmentation (issue 14, items 3-4), with a scripted chat model (the real
local server is exercised by bench/llm_path.py and the opt-in test_data_local_llm.py)."""

from __future__ import annotations

import json

import pytest

from bgetune.capabilities import Context, SettingError, coerce
from bgetune.core.config import Settings
from bgetune.tools import qa_generation as qg


def _gen_answer(messages) -> str:
    if "grade search queries" in messages[0].content or "评判" in messages[0].content:
        return _judge_answer(messages)
    if "rewrite search queries" in messages[0].content:
        qs = _listed(messages)
        return json.dumps([{"i": i + 1, "paraphrases": [f"{q} please"]} for i, q in enumerate(qs)])
    if "translate it into" in messages[0].content:
        qs = [ln.split(". ", 1)[1] for ln in messages[-1].content.splitlines() if ". " in ln]
        return json.dumps(
            [{"i": i + 1, "translation": "译文", "back": f"back: {q}"} for i, q in enumerate(qs)]
        )
    body = messages[-1].content
    if "Pinning" in body:
        return json.dumps(
            [
                {"query": "how do I keep a package at one version", "type": "how-to", "kind": "question"},
                {"query": "why prefer packages from another release", "type": "why", "kind": "long-tail"},
                {"query": "how do I reset my router password", "type": "how-to", "kind": "question"},  # echo
            ]
        )
    if "保质期" in body:
        return json.dumps(
            [{"query": "保质期是什么意思", "type": "what", "kind": "question"}], ensure_ascii=False
        )
    return "[]"


def _listed(messages) -> list[str]:
    """The numbered queries of a judge or augmentation prompt (after the passage, if any)."""
    text = messages[-1].content
    text = text.split(">>>", 1)[1] if ">>>" in text else text
    return [ln.split(". ", 1)[1] for ln in text.splitlines() if ". " in ln and ln.split(". ", 1)[0].isdigit()]


def _judge_answer(messages) -> str:
    qs = _listed(messages)
    out = []
    for i, q in enumerate(qs):
        if "keep a package" in q:
            out.append({"i": i + 1, "score": 9, "answers": True, "reason": "answered by the pin priorities"})
        elif "why prefer" in q:
            out.append(
                {"i": i + 1, "score": 8, "answers": True, "reason": "The passage does not answer the why"}
            )
        else:
            out.append({"i": i + 1, "score": 6, "answers": True, "reason": "partly answered"})
    return json.dumps(out)


def _settings(ws) -> Settings:
    return Settings(workspace=ws.root, llm_base_url="http://127.0.0.1:9/v1", llm_concurrency=2)


def test_prompt_v3_asks_for_question_types_and_drops_echoed_examples(tiny_ws, scripted):
    msgs = qg.build_messages({"text": "Pinning lets you prefer packages.", "language": "en"})
    system = msgs[0][1]
    for word in ("how-to", "troubleshooting", "why", "comparison", "multi-hop", "70%", "keyword"):
        assert word in system
    assert "multi-hop" in qg.build_messages({"text": "食品保质期是指期限。", "language": "zh"})[0][1]
    model = scripted(script=_gen_answer)
    res = qg.generate_pairs(tiny_ws, _settings(tiny_ws), chat_model=model)
    queries = {r["query"]: json.loads(r["scores"]) for r in tiny_ws.query("SELECT query, scores FROM pairs")}
    assert "how do I keep a package at one version" in queries
    assert queries["why prefer packages from another release"]["qtype"] == "why"
    assert "how do I reset my router password" not in queries  # the prompt's own example, copied by the model
    assert res["chunks_failed"] == 0


def test_judge_rejects_low_scores_with_the_reason_and_reruns_free(tiny_ws, scripted):
    ws = tiny_ws
    model = scripted(script=_gen_answer)
    qg.generate_pairs(ws, _settings(ws), chat_model=model)
    calls = len(model.prompts)
    res = qg.judge_pairs(ws, _settings(ws), chat_model=model, min_score=7)
    n_pairs = ws.scalar("SELECT count(*) FROM pairs")
    n_keep = ws.scalar("SELECT count(*) FROM pairs WHERE query LIKE '%keep a package%'")
    n_why = ws.scalar("SELECT count(*) FROM pairs WHERE query LIKE 'why prefer%'")
    assert res.calls >= 1 and res.judged == n_pairs and res.kept == n_keep >= 1
    assert res.rejected == n_pairs - n_keep
    assert res.not_answered == n_why >= 1  # the reason says it does not answer, whatever the flag says
    rows = {r["query"]: dict(r) for r in ws.query("SELECT * FROM pairs")}
    kept = rows["how do I keep a package at one version"]
    assert kept["status"] == "proposed" and json.loads(kept["scores"])["judge"] == 9
    low = rows["保质期是什么意思"]
    assert low["status"] == "rejected" and low["status_by"] == "judge"
    assert low["status_why"].startswith("judge 6/10") and json.loads(low["reasons"]) == ["judge_low_score"]
    why = rows["why prefer packages from another release"]
    assert json.loads(why["reasons"]) == ["judge_not_answered"]
    # the filters never overturn the judge; a lower bar re-decides the judge's own rejections from the cache
    from bgetune.tools.filtering import filter_pairs

    filter_pairs(ws, round_trip_check=False)
    assert ws.scalar("SELECT status FROM pairs WHERE query='保质期是什么意思'") == "rejected"
    n = len(model.prompts)
    again = qg.judge_pairs(ws, _settings(ws), chat_model=model, min_score=5)
    assert len(model.prompts) == n and again.calls == 0 and again.cached_chunks >= 1
    assert ws.scalar("SELECT status FROM pairs WHERE query='保质期是什么意思'") == "proposed"
    assert calls < n
    with pytest.raises(ValueError, match="between 1 and 10"):
        qg.judge_pairs(ws, _settings(ws), chat_model=model, min_score=11)


def test_augmentation_adds_queries_for_the_same_positive_with_provenance(tiny_ws, scripted):
    ws = tiny_ws
    model = scripted(script=_gen_answer)
    qg.generate_pairs(ws, _settings(ws), chat_model=model)
    res = qg.augment_pairs(ws, _settings(ws), chat_model=model, paraphrases=1, back_translate=True)
    n_pairs = ws.scalar("SELECT count(*) FROM pairs WHERE source LIKE 'llm:%'")
    assert res.paraphrases == res.back_translations == res.source_pairs == n_pairs >= 3
    rows = ws.query("SELECT p.*, o.chunk_id AS orig_chunk FROM pairs p JOIN pairs o ON o.id = "
                    "json_extract(p.scores, '$.augmented_from') WHERE p.source LIKE 'augment:%'")  # fmt: skip
    assert len(rows) == 2 * n_pairs and all(r["chunk_id"] == r["orig_chunk"] for r in rows)
    sources = {r["source"] for r in rows}
    assert sources == {"augment:paraphrase:scripted", "augment:back-translate:scripted"}
    assert any(r["query"] == "how do I keep a package at one version please" for r in rows)
    n = len(model.prompts)
    again = qg.augment_pairs(ws, _settings(ws), chat_model=model, paraphrases=1, back_translate=True)
    assert len(model.prompts) == n and again.paraphrases == 0 and again.back_translations == 0
    assert qg.augment_pairs(ws, _settings(ws), chat_model=model, paraphrases=0).source_pairs == 0


def test_generate_capability_declares_its_settings_cost_and_estimate(tiny_ws):
    from bgetune import capabilities

    cap = capabilities.get("generate_pairs")
    names = [f.name for f in capabilities.settings_of(cap)]
    for n in (
        "mode",
        "max_chunks",
        "questions_per_chunk",
        "judge",
        "judge_min",
        "paraphrases",
        "back_translate",
    ):
        assert n in names
    judge_min = next(f for f in capabilities.settings_of(cap) if f.name == "judge_min")
    with pytest.raises(SettingError):
        coerce(judge_min, 11)
    offline = Context(ws=tiny_ws, settings=Settings(workspace=tiny_ws.root))
    llm = Context(ws=tiny_ws, settings=_settings(tiny_ws))
    opts = cap.make_options({})
    assert cap.cost_for(offline, opts) == "free" and cap.cost_for(llm, opts) == "paid-llm"
    plain = qg.estimate_generate(llm, cap.make_options({"judge": False}))
    judged = qg.estimate_generate(llm, cap.make_options({"judge": True, "paraphrases": 1}))
    assert judged.calls == 3 * plain.calls and judged.tokens_out > plain.tokens_out and judged.seconds > 0
    priced = Settings(workspace=tiny_ws.root, llm_base_url="http://x/v1", llm_price_in=1.0, llm_price_out=2.0)
    est = qg.estimate_generate(Context(ws=tiny_ws, settings=priced), opts)
    assert est.money is not None and est.money > 0 and "calls" in est.text("en") and "调用" in est.text("zh")
    res = cap.run(offline, cap.make_options({"mode": "offline", "then_filter": False}))
    assert res.pairs_added > 0 and res.judge is None and "Generated" in res.text("en")
