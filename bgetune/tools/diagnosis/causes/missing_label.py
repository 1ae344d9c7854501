"""Missing label: the passages above the expected one say the same thing; a label is missing, not the model."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import worse
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import say

NAME = "missing_label"
TITLE = ("missing label (another passage says the same)", "缺少标注（其他段落说的是同一件事）")


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
    rank, w = x.get("rank"), worse(x, lang)
    return say(
        lang,
        f"Ranked {rank}, but the {x['n']} passage(s) above it say the same thing (similarity "
        f"{x['similarity']:.2f} to the expected one): a missing label, not a model error{w}.",
        f"排第 {rank} 位，但排在它前面的 {x['n']} 个段落说的是同一件事（与期望段落相似度 {x['similarity']:.2f}）："
        f"这是缺少标注，不是模型错误{w}。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [
        say(
            lang,
            f"{c['where']} “{c['title']}”: similarity {c['similarity']:.2f} to the expected passage, "
            f"term overlap {c['overlap']:.0%}",
            f"{c['where']}“{c['title']}”：与期望段落相似度 {c['similarity']:.2f}，词语重合 {c['overlap']:.0%}",
        )
        for c in x.get("competitors", [])[:3]
    ]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [
        FixAction(
            "relabel_competitor",
            {"chunk_id": c["chunk_id"]},
            f"Mark {c['where']} “{c['title']}” as a second right answer to this query",
            f"把 {c['where']}“{c['title']}”也标为这个查询的正确答案",
        )
        for c in x["competitors"][:2]
    ]
