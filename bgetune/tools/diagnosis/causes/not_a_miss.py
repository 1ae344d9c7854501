"""Not a miss: the expected passage is first (or in the top 3 above the threshold), or rank 1 passes."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, fix
from bgetune.tools.diagnosis.probe import CONTEXT_K, Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob, say, sentences

NAME = "not_a_miss"
TITLE = ("does not miss", "没有漏检")
S = sentences("not_a_miss")


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
    if not x.get("expected_known"):
        return S.top(lang, **x, p=fmt_prob((x.get("top") or {}).get("probability")))
    rank = x.get("rank")
    where = say(lang, "first", "第 1 位") if rank == 1 else say(lang, f"at rank {rank}", f"第 {rank} 位")
    thr = x.get("threshold")
    above = "" if thr is None else say(lang, f", above the threshold {thr:.3f}", f"，高于阈值 {thr:.3f}")
    return S.known(lang, score=x["score"], where=where, thr=above)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def golden_top(d: Any, label: Say = S.golden_top) -> list[FixAction]:
    """Add the query with the main model's result 1 as its answer to the golden set (when it is right)."""
    if not d.main.results:
        return []
    top = d.main.results[0]
    return [fix("add_golden", {"chunk_id": top.chunk_id}, label, where=top.where())]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [] if x.get("expected_known") else golden_top(d)
