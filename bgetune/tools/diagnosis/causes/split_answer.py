"""Split answer: the answer is cut across two neighbouring chunks, so neither holds it whole."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import facts, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import coverage, sentences, stems, terms

NAME = "split_answer"
TITLE = ("answer split across chunks", "答案被切分到相邻片段")
OVERLAP = 96  # tokens of overlap the fix re-chunks with
S = sentences("split_answer")


def detect(p: Probe) -> dict[str, Any] | None:
    """The given text spans two chunks, or the next/previous chunk completes the query's terms."""
    exp = p.exp
    assert exp is not None
    if exp.split_across_chunks:
        return {**p.common, "document": exp.document, "single": 0.0, "pair": exp.coverage}
    if len(exp.chunk_ids) != 1 or len(p.q_terms) < 2:
        return None
    eng, c = p.eng, exp.chunk_ids[0]
    i = eng.order.index(c)
    qs = stems(p.q_terms)
    alone = coverage(qs, stems(terms(eng.rows[c]["text"])))
    for k in (i + 1, i - 1):
        if not 0 <= k < len(eng.order):
            continue
        nb = eng.rows[eng.order[k]]
        if nb["document_id"] != eng.rows[c]["document_id"]:
            continue
        both = coverage(qs, stems(terms(eng.rows[c]["text"] + " " + nb["text"])))
        if alone < 0.5 and both >= 0.75 and both - alone >= 0.34:
            return {
                **p.common,
                "document": eng.rows[c]["doc"],
                "single": round(alone, 3),
                "pair": round(both, 3),
                "neighbour": nb["id"],
            }
    return None


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [S.evidence(lang, single=x.get("single", 0), pair=x.get("pair", 0))]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    args = {"document": x["document"], "chunk_overlap": OVERLAP}
    return [fix("rechunk", args, S.rechunk, document=x["document"], ov=OVERLAP)]
