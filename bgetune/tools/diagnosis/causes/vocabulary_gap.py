"""Vocabulary gap: the query's words do not appear in the expected passage, which says it in other words."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import worse
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import coverage, say, stem, stems, terms_list

NAME = "vocabulary_gap"
TITLE = ("vocabulary gap", "用词不一致")
VOCAB_GAP_COVERAGE = 0.34  # at most this share of the query's terms in the expected passage: a vocabulary gap


def detect(p: Probe) -> dict[str, Any] | None:
    es = stems(p.exp_terms)
    cov = coverage(stems(p.q_terms), es)
    if len(p.q_terms) < 2 or cov > VOCAB_GAP_COVERAGE:
        return None
    missing = sorted(t for t in p.q_terms if stem(t) not in es)
    return {
        **p.common,
        "coverage": round(cov, 3),
        "missing": missing,
        "instead": p.eng.closest_terms(missing, p.exp_terms - p.q_terms),
    }


def verdict(x: dict[str, Any], lang: str) -> str:
    rank, w = x.get("rank"), worse(x, lang)
    return say(
        lang,
        f"Ranked {rank}: the query's words {terms_list(x['missing'])} do not appear in the expected passage, "
        f"which says {terms_list(x['instead'])} instead{w}.",
        f"排第 {rank} 位：查询里的 {terms_list(x['missing'])} 在期望段落中没有出现，文档用的是 {terms_list(x['instead'])}{w}。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [
        say(
            lang,
            f"query terms found in the expected passage: {x['coverage']:.0%}; missing: "
            f"{terms_list(x['missing'], 10)}; the passage's closest words: {terms_list(x['instead'], 8)}",
            f"查询词在期望段落中出现的比例：{x['coverage']:.0%}；缺少：{terms_list(x['missing'], 10)}；"
            f"段落里最接近的词：{terms_list(x['instead'], 8)}",
        )
    ]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []  # the general fix: a training pair (or a golden question) with this query's words
