"""Pieces the causes share: sentences as (English, Chinese) templates filled from a finding's facts."""

from __future__ import annotations

from typing import Any

import numpy as np

from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import Say, sentences

__all__ = ["Say", "below", "facts", "fix", "worse"]


S = sentences("shared")


def worse(x: dict[str, Any], lang: str) -> str:
    """' (the fine-tune made it worse: rank 2 -> 7)' when it did, else ''."""
    return (S.worse.zh if lang == "zh" else S.worse.en).format(*x["worse"]) if x.get("worse") else ""


def facts(x: dict[str, Any], lang: str, **extra: Any) -> dict[str, Any]:
    """The facts as template values: the finding's own, 'worse', then ``extra``."""
    return {**x, "worse": worse(x, lang), **extra}


def fix(action: str, args: dict[str, Any], label: Say, **values: Any) -> FixAction:
    """A fix whose label is a template filled in both languages."""
    return FixAction(action, args, label("en", **values), label("zh", **values))


def below(score: float) -> float:
    """A threshold just under ``score`` (three decimals), so that score passes."""
    return float(np.floor((score - 0.005) * 1000) / 1000)
