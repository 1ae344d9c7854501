"""Competitors: different passages outrank the expected one (the cause when nothing more specific holds)."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import facts
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import Finding, FixAction
from bgetune.tools.diagnosis.text import sentences

NAME = "competitors"
TITLE = ("other passages outrank it", "其他段落排在前面")
S = sentences("competitors")


def detect(p: Probe, found: list[Finding]) -> dict[str, Any] | None:
    """Added when no other cause holds, or when real competitors remain and no label is missing."""
    real = [c for c in p.above if not c["plausible"]]
    if found and (not real or any(f.cause == "missing_label" for f in found)):
        return None
    gap = round(float(p.scores[p.order[0]]) - p.score, 4)
    return {**p.common, "gap": gap, "n": len(real), "competitors": real[:3]}


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [S.evidence(lang, **c) for c in x.get("competitors", [])[:3]]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []
