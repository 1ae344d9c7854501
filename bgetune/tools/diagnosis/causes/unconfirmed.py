"""Unconfirmed: no expected answer given and no threshold to say whether rank 1 passes."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import say

NAME = "unconfirmed"
TITLE = ("no threshold to judge", "没有阈值可判断")


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is None and p.threshold is None and p.main.results:
        return {"top": p.top_fact()}
    return None


def verdict(x: dict[str, Any], lang: str) -> str:
    top = x.get("top") or {}
    return say(
        lang,
        f"Rank 1 is {top.get('where')} “{top.get('title')}” (score {top.get('score', 0):.3f}); there is no "
        "calibrated threshold to say whether it passes. If it is the answer, the query does not miss; if not, "
        "pick the right result by its number, give the expected text, or say 'none of these'.",
        f"第 1 位是 {top.get('where')}“{top.get('title')}”（得分 {top.get('score', 0):.3f}）；还没有校准阈值，"
        "无法判断它是否通过。如果它就是答案，则没有漏检；否则请用编号选出正确结果、给出期望原文，或说“都不是”。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    if not d.main.results:
        return []
    top = d.main.results[0]
    return [
        FixAction(
            "add_golden",
            {"chunk_id": top.chunk_id},
            f"If result 1 is right: add this query with result 1 ({top.where()}) as its answer to the golden set",
            f"如果第 1 条是对的：把这个查询和第 1 条结果（{top.where()}）作为答案加入黄金测试集",
        )
    ]
