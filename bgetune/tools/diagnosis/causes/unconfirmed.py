"""Unconfirmed: no expected answer given and no threshold to say whether rank 1 passes."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes.not_a_miss import golden_top
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import sentences

NAME = "unconfirmed"
TITLE = ("no threshold to judge", "没有阈值可判断")
S = sentences("unconfirmed")


def detect(p: Probe) -> dict[str, Any] | None:
    return {"top": p.top_fact()} if p.exp is None and p.threshold is None and p.main.results else None


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **x)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return golden_top(d, S.if_right)
