"""Threshold only: the right passage comes first, but its score is below the threshold."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, below, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob

NAME = "threshold_only"
TITLE = ("only the threshold is wrong", "只是阈值的问题")
VERDICT = Say(
    "The right passage comes first, but its score {score:.3f} is below the threshold {threshold:.3f}: the threshold "
    "is the only problem.",
    "正确段落排第 1 位，但得分 {score:.3f} 低于阈值 {threshold:.3f}：问题只在阈值。",
)
EVIDENCE = Say(
    "probability {p}; a threshold of {suggested:.3f} lets it through",
    "概率 {p}；阈值设为 {suggested:.3f} 即可通过",
)
SET = Say(
    "Set the threshold to {suggested:.3f} (from {threshold:.3f})",
    "把阈值从 {threshold:.3f} 调到 {suggested:.3f}",
)


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is None or p.rank != 1 or p.threshold is None or p.score >= p.threshold:
        return None
    return {**p.common, "probability": p.main.expected_probability, "suggested": below(p.score)}


def verdict(x: dict[str, Any], lang: str) -> str:
    return VERDICT(lang, **x)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [EVIDENCE(lang, p=fmt_prob(x.get("probability")), suggested=x["suggested"])]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [fix("set_threshold", {"value": x["suggested"]}, SET, **x)]
