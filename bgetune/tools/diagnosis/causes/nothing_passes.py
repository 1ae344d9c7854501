"""Nothing passes: no expected answer given, and even rank 1 is below the threshold."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, below, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob

NAME = "nothing_passes"
TITLE = ("nothing passes the threshold", "没有结果超过阈值")
VERDICT = Say(
    "Nothing passes the threshold {threshold:.3f}: the best result, {top[where]} “{top[title]}”, has probability "
    "{p}. Tell me which passage should answer (its number or its text), or 'none of these' if the documents do "
    "not answer it.",
    "没有结果超过阈值 {threshold:.3f}：最好的结果 {top[where]}“{top[title]}”概率只有 {p}。请告诉我哪段应当是答案"
    "（编号或原文）；如果文档里没有答案，请说“都不是”。",
)
LOWER = Say(
    "If result 1 is right: lower the threshold to {val:.3f} (more answers, less precision)",
    "如果第 1 条是对的：把阈值降到 {val:.3f}（答案更多，精度更低）",
)


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is None and p.threshold is not None and p.main.results and not p.main.results[0].passes:
        return {"top": p.top_fact(), "threshold": p.threshold}
    return None


def verdict(x: dict[str, Any], lang: str) -> str:
    return VERDICT(lang, **x, p=fmt_prob(x["top"].get("probability")))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    if d.main.threshold is None or not d.main.results:
        return []
    val = below(d.main.results[0].score)
    return [fix("set_threshold", {"value": val}, LOWER, val=val)]
