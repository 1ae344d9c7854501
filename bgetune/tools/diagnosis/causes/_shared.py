"""Pieces several causes' sentences share."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgetune.tools.diagnosis.text import say


def worse(x: dict[str, Any], lang: str) -> str:
    """' (the fine-tune made it worse: rank 2 -> 7)' when it did, else ''."""
    if not x.get("worse"):
        return ""
    b, t = x["worse"]
    return say(
        lang, f" (the fine-tune made it worse: rank {b} -> {t})", f"（微调后更差：第 {b} 位 -> 第 {t} 位）"
    )


def below(score: float) -> float:
    """A threshold just under ``score`` (three decimals), so that score passes."""
    return float(np.floor((score - 0.005) * 1000) / 1000)
