"""Missing label: the passages above the expected one say the same thing; a label is missing, not the model."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import facts, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import sentences

NAME = "missing_label"
TITLE = ("missing label (another passage says the same)", "缺少标注（其他段落说的是同一件事）")
S = sentences("missing_label")


def detect(p: Probe) -> dict[str, Any] | None:
    comps = p.above
    plausible = [c for c in comps if c["plausible"]]
    if not comps or not (len(plausible) == len(comps) or comps[0]["plausible"]):
        return None
    return {
        **p.common,
        "n": len(plausible),
        "similarity": max(c["similarity"] for c in plausible),
        "competitors": plausible,
    }


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [S.evidence(lang, **c) for c in x.get("competitors", [])[:3]]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [
        fix("relabel_competitor", {"chunk_id": c["chunk_id"]}, S.relabel, **c) for c in x["competitors"][:2]
    ]
