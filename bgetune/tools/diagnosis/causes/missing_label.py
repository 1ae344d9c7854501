"""Missing label: the passages above the expected one say the same thing; a label is missing, not the model."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, facts, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction

NAME = "missing_label"
TITLE = ("missing label (another passage says the same)", "缺少标注（其他段落说的是同一件事）")
VERDICT = Say(
    "Ranked {rank}, but the {n} passage(s) above it say the same thing (similarity {similarity:.2f} to the expected "
    "one): a missing label, not a model error{worse}.",
    "排第 {rank} 位，但排在它前面的 {n} 个段落说的是同一件事（与期望段落相似度 {similarity:.2f}）：这是缺少标注，不是模型错误{worse}。",
)
EVIDENCE = Say(
    "{where} “{title}”: similarity {similarity:.2f} to the expected passage, term overlap {overlap:.0%}",
    "{where}“{title}”：与期望段落相似度 {similarity:.2f}，词语重合 {overlap:.0%}",
)
RELABEL = Say(
    "Mark {where} “{title}” as a second right answer to this query",
    "把 {where}“{title}”也标为这个查询的正确答案",
)


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
    return VERDICT(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [EVIDENCE(lang, **c) for c in x.get("competitors", [])[:3]]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [
        fix("relabel_competitor", {"chunk_id": c["chunk_id"]}, RELABEL, **c) for c in x["competitors"][:2]
    ]
