"""Threshold only: the right passage comes first, but its score is below the threshold."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import below, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob, sentences

NAME = "threshold_only"
TITLE = ("only the threshold is wrong", "只是阈值的问题")
S = sentences("threshold_only")


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is None or p.rank != 1 or p.threshold is None or p.score >= p.threshold:
        return None
    return {**p.common, "probability": p.main.expected_probability, "suggested": below(p.score)}


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **x)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [S.evidence(lang, p=fmt_prob(x.get("probability")), suggested=x["suggested"])]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [fix("set_threshold", {"value": x["suggested"]}, S.set, **x)]
