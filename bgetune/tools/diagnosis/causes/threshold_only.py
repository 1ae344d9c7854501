"""Threshold only: the right passage comes first, but its score is below the threshold."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import below
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import fmt_prob, say

NAME = "threshold_only"
TITLE = ("only the threshold is wrong", "只是阈值的问题")


def detect(p: Probe) -> dict[str, Any] | None:
    if p.exp is None or p.rank != 1 or p.threshold is None or p.score >= p.threshold:
        return None
    return {**p.common, "probability": p.main.expected_probability, "suggested": below(p.score)}


def verdict(x: dict[str, Any], lang: str) -> str:
    return say(
        lang,
        f"The right passage comes first, but its score {x['score']:.3f} is below the threshold "
        f"{x['threshold']:.3f}: the threshold is the only problem.",
        f"正确段落排第 1 位，但得分 {x['score']:.3f} 低于阈值 {x['threshold']:.3f}：问题只在阈值。",
    )


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [
        say(
            lang,
            f"probability {fmt_prob(x.get('probability'))}; a threshold of {x['suggested']:.3f} lets it through",
            f"概率 {fmt_prob(x.get('probability'))}；阈值设为 {x['suggested']:.3f} 即可通过",
        )
    ]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return [
        FixAction(
            "set_threshold",
            {"value": x["suggested"]},
            f"Set the threshold to {x['suggested']:.3f} (from {x['threshold']:.3f})",
            f"把阈值从 {x['threshold']:.3f} 调到 {x['suggested']:.3f}",
        )
    ]
