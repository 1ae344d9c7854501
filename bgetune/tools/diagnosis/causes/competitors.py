"""Competitors: different passages outrank the expected one (the cause when nothing more specific holds)."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import worse
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import Finding, FixAction
from bgetune.tools.diagnosis.text import say

NAME = "competitors"
TITLE = ("other passages outrank it", "其他段落排在前面")


def detect(p: Probe, found: list[Finding]) -> dict[str, Any] | None:
    """Added when no other cause holds, or when real competitors remain and no label is missing."""
    real = [c for c in p.above if not c["plausible"]]
    if found and (not real or any(f.cause == "missing_label" for f in found)):
        return None
    gap = round(float(p.scores[p.order[0]]) - p.score, 4)
    return {**p.common, "gap": gap, "n": len(real), "competitors": real[:3]}


def verdict(x: dict[str, Any], lang: str) -> str:
    rank, w = x.get("rank"), worse(x, lang)
    return say(
        lang,
        f"Ranked {rank}, {x.get('gap', 0):.3f} below the top result: {x.get('n', 0)} different passage(s) outrank "
        f"it{w}.",
        f"排第 {rank} 位，比第 1 名低 {x.get('gap', 0):.3f}：有 {x.get('n', 0)} 个不同的段落排在它前面{w}。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [
        say(
            lang,
            f"{c['where']} “{c['title']}” (score {c['score']:.3f}, similarity to the expected {c['similarity']:.2f})",
            f"{c['where']}“{c['title']}”（得分 {c['score']:.3f}，与期望段落相似度 {c['similarity']:.2f}）",
        )
        for c in x.get("competitors", [])[:3]
    ]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []
