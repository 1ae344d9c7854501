"""How results say themselves: a dataclass base with ``data()`` / ``text(lang)``, and the shared metric wording.

Tools and capabilities return dataclasses; the chat and the CLI print ``text(lang)``, ``--json`` prints
``data()``. ``Result.of(d)`` wraps a tool's dict: declared fields, plus ``detail`` for everything else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bgetune.core.i18n import say


@dataclass
class Result:
    """Base of the stage results: declared fields, plus ``detail`` for everything else the tool returned."""

    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, d: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(cls)} - {"detail"}
        return cls(
            **{k: d[k] for k in names if k in d}, detail={k: v for k, v in d.items() if k not in names}
        )

    def data(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "detail"}
        out = {k: v.data() if isinstance(v, Result) else v for k, v in out.items()}
        return {**self.detail, **out}

    def text(self, lang: str = "en") -> str:  # pragma: no cover - each result says itself
        return ""


def fmt_metrics(m: dict[str, Any]) -> str:
    keys = ("ndcg@10", "mrr@10", "recall@10", "hit@1")
    return ", ".join(f"{k} {m[k]:.3f}" for k in keys if isinstance(m.get(k), int | float))


def settings_list(values: dict[str, Any]) -> str:
    return "\n".join(f"  - {k}: {v}" for k, v in values.items() if v is not None) or "  - (defaults)"


def gain_sentence(ci: dict[str, Any] | None, n: int | None, lang: str, what: str = "held-out") -> str:
    """The nDCG@10 gain with its CI and what it means: a gain whose interval crosses zero is noise."""
    if not ci:
        return ""
    d, lo, hi = ci.get("diff", 0.0), ci.get("low", 0.0), ci.get("high", 0.0)
    nq = f" on {n} queries" if n else ""
    nq_zh = f"（{n} 个问题）" if n else ""
    if lo > 0:
        meaning = say(
            lang,
            "a real improvement: the whole 95% interval is above zero.",
            "这是实打实的提升：95% 置信区间整体大于零。",
        )
    elif hi < 0:
        meaning = say(
            lang,
            "the tuned model is WORSE than the base here: the whole interval is below zero.",
            "在这里微调后的模型比基座更差：整个区间都小于零。",
        )
    else:
        meaning = say(
            lang,
            "this is within noise: the interval includes zero, so it is not proven better.",
            "这在噪声范围内：区间包含零，不能证明更好。",
        )
    return say(
        lang,
        f"nDCG@10 gain {d:+.3f} (95% CI {lo:+.3f}..{hi:+.3f}){nq} on the {what} set: {meaning}",
        f"nDCG@10 提升 {d:+.3f}（95% 置信区间 {lo:+.3f}..{hi:+.3f}）{nq_zh}，{what}集：{meaning}",
    )
