"""Not a miss: the expected passage is first (or in the top 3 above the threshold), or rank 1 passes."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.probe import CONTEXT_K, Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob, say

NAME = "not_a_miss"
TITLE = ("does not miss", "没有漏检")


def detect(p: Probe) -> dict[str, Any] | None:
    thr = p.threshold
    if p.exp is None:
        if thr is not None and p.main.results and p.main.results[0].passes:
            return {"top": p.top_fact(), "threshold": thr}
        return None
    passes = thr is None or p.score >= thr
    if (p.rank == 1 and passes) or (p.rank <= CONTEXT_K and thr is not None and p.score >= thr):
        return {**p.common, "expected_known": True}
    return None


def verdict(x: dict[str, Any], lang: str) -> str:
    if x.get("expected_known"):
        rank = x.get("rank")
        where = say(lang, "first", "第 1 位") if rank == 1 else say(lang, f"at rank {rank}", f"第 {rank} 位")
        thr = (
            say(lang, f", above the threshold {x['threshold']:.3f}", f"，高于阈值 {x['threshold']:.3f}")
            if x.get("threshold") is not None
            else ""
        )
        return say(
            lang,
            f"It does not miss: the expected passage comes {where} (score {x['score']:.3f}{thr}).",
            f"没有漏检：期望的段落排在{where}（得分 {x['score']:.3f}{thr}）。",
        )
    top = x.get("top") or {}
    return say(
        lang,
        f"It does not miss: rank 1 is {top.get('where')} “{top.get('title')}” (probability "
        f"{fmt_prob(top.get('probability'))}, above the threshold {x['threshold']:.3f}). If that is not the "
        "answer, tell me which result is (its number) or give the expected text.",
        f"没有漏检：第 1 位是 {top.get('where')}“{top.get('title')}”（概率 {fmt_prob(top.get('probability'))}，"
        f"高于阈值 {x['threshold']:.3f}）。如果它不是答案，请告诉我哪一条是（编号），或给出期望的原文。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    if x.get("expected_known") or not d.main.results:
        return []
    top = d.main.results[0]
    return [
        FixAction(
            "add_golden",
            {"chunk_id": top.chunk_id},
            f"Add this query with result 1 ({top.where()}) as its answer to the golden set",
            f"把这个查询和第 1 条结果（{top.where()}）作为答案加入黄金测试集",
        )
    ]
