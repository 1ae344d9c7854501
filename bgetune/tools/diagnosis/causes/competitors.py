"""Competitors: different passages outrank the expected one (the cause when nothing more specific holds)."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, facts
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import Finding, FixAction

NAME = "competitors"
TITLE = ("other passages outrank it", "其他段落排在前面")
VERDICT = Say(
    "Ranked {rank}, {gap:.3f} below the top result: {n} different passage(s) outrank it{worse}.",
    "排第 {rank} 位，比第 1 名低 {gap:.3f}：有 {n} 个不同的段落排在它前面{worse}。",
)
EVIDENCE = Say(
    "{where} “{title}” (score {score:.3f}, similarity to the expected {similarity:.2f})",
    "{where}“{title}”（得分 {score:.3f}，与期望段落相似度 {similarity:.2f}）",
)


def detect(p: Probe, found: list[Finding]) -> dict[str, Any] | None:
    """Added when no other cause holds, or when real competitors remain and no label is missing."""
    real = [c for c in p.above if not c["plausible"]]
    if found and (not real or any(f.cause == "missing_label" for f in found)):
        return None
    gap = round(float(p.scores[p.order[0]]) - p.score, 4)
    return {**p.common, "gap": gap, "n": len(real), "competitors": real[:3]}


def verdict(x: dict[str, Any], lang: str) -> str:
    return VERDICT(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [EVIDENCE(lang, **c) for c in x.get("competitors", [])[:3]]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []
