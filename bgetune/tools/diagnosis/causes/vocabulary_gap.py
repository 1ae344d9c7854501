"""Vocabulary gap: the query's words do not appear in the expected passage, which says it in other words."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgetune.tools.diagnosis.causes._shared import facts
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import coverage, sentences, stem, stems, terms_list

NAME = "vocabulary_gap"
TITLE = ("vocabulary gap", "用词不一致")
VOCAB_GAP_COVERAGE = 0.34  # at most this share of the query's terms in the expected passage: a vocabulary gap
S = sentences("vocabulary_gap")


def closest_terms(model: Any, missing: list[str], candidates: set[str], n: int = 6) -> list[str]:
    """Words of the expected passage closest in meaning to the query's missing words (the model's view)."""
    from bgetune.core.models import encode

    cands = sorted(c for c in candidates if len(c) > 2 and not c.isdigit())[:120]
    if not missing or not cands:
        return cands[:n]
    a = encode(model, missing, kind="passage")
    b = encode(model, cands, kind="passage")
    best = (b @ a.T).max(axis=1)
    return [cands[i] for i in np.argsort(-best)[:n]]


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
        "instead": closest_terms(p.model.model, missing, p.exp_terms - p.q_terms),
    }


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(
        lang, **facts(x, lang, missing=terms_list(x["missing"]), instead=terms_list(x["instead"]))
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [
        S.evidence(
            lang,
            coverage=x["coverage"],
            missing=terms_list(x["missing"], 10),
            instead=terms_list(x["instead"], 8),
        )
    ]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []  # the general fix: a training pair (or a golden question) with this query's words
