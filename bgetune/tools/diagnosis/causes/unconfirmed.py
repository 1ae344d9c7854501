"""Unconfirmed: no expected answer given and no threshold to say whether rank 1 passes."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say
from bgetune.tools.diagnosis.causes.not_a_miss import golden_top
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction

NAME = "unconfirmed"
TITLE = ("no threshold to judge", "没有阈值可判断")
VERDICT = Say(
    "Rank 1 is {top[where]} “{top[title]}” (score {top[score]:.3f}); there is no calibrated threshold to say "
    "whether it passes. If it is the answer, the query does not miss; if not, pick the right result by its number, "
    "give the expected text, or say 'none of these'.",
    "第 1 位是 {top[where]}“{top[title]}”（得分 {top[score]:.3f}）；还没有校准阈值，无法判断它是否通过。如果它就是答案，"
    "则没有漏检；否则请用编号选出正确结果、给出期望原文，或说“都不是”。",
)

IF_RIGHT = Say(
    "If result 1 is right: add this query with result 1 ({where}) as its answer to the golden set",
    "如果第 1 条是对的：把这个查询和第 1 条结果（{where}）作为答案加入黄金测试集",
)


def detect(p: Probe) -> dict[str, Any] | None:
    return {"top": p.top_fact()} if p.exp is None and p.threshold is None and p.main.results else None


def verdict(x: dict[str, Any], lang: str) -> str:
    return VERDICT(lang, **x)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return golden_top(d, IF_RIGHT)
