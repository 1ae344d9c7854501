"""The expected answer is not in the workspace: no chunk holds the given text."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import say

NAME = "expected_not_found"
TITLE = ("expected answer not in the documents", "文档中找不到期望答案")


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is not None and not p.exp.chunk_ids:
        return {"coverage": p.exp.coverage}
    return None


def verdict(x: dict[str, Any], lang: str) -> str:
    return say(
        lang,
        f"The expected answer is not in the workspace: no chunk holds that text (best term coverage "
        f"{x.get('coverage', 0):.0%}).",
        f"工作区里找不到期望的答案：没有片段包含这段文字（最佳词语覆盖率 {x.get('coverage', 0):.0%}）。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return []


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return []
