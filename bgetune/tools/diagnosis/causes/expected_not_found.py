"""The expected answer is not in the workspace: no chunk holds the given text."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import sentences

NAME = "expected_not_found"
TITLE = ("expected answer not in the documents", "文档中找不到期望答案")
S = sentences("expected_not_found")


def detect(p: Probe) -> dict[str, Any] | None:
    return {"coverage": p.exp.coverage} if p.exp is not None and not p.exp.chunk_ids else None


def verdict(x: dict[str, Any], lang: str) -> str:
    return S.verdict(lang, **x)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []
