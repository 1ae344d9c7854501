"""Nothing passes: no expected answer given, and even rank 1 is below the threshold."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import below, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob, sentences

NAME = "nothing_passes"
TITLE = ("nothing passes the threshold", "没有结果超过阈值")
S = sentences("nothing_passes")


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is None and p.threshold is not None and p.main.results and not p.main.results[0].passes:
        return {"top": p.top_fact(), "threshold": p.threshold}
    return None


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **x, p=fmt_prob(x["top"].get("probability")))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    if d.main.threshold is None or not d.main.results:
        return []
    val = below(d.main.results[0].score)
    return [fix("set_threshold", {"value": val}, S.lower, val=val)]
