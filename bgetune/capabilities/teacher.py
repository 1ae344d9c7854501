"""Teacher capability: score each training query's candidate list with a teacher (tools/teacher.py).

Gated like training (a cross-encoder or LLM judge over thousands of pairs costs GPU time or tokens): the estimate
says how many (query, passage) pairs are left to score, the time, and an LLM judge's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bgetune.capabilities import Capability, Context, setting
from bgetune.capabilities.prereqs import HAS_APPROVED, HAS_SPLIT
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.results import Result
from bgetune.tools.teacher import (
    K_BM25,
    K_DENSE,
    TEACHER_CHOICES,
    TeacherError,
    base_index,
    estimate_scoring,
    make_teacher,
    score_teacher,
    scored_sentence,
    training_lists,
)


@dataclass
class TeacherResult(Result):
    teacher: str = ""
    description: str = ""
    reason: str = ""
    queries: int = 0
    pairs: int = 0
    cached: int = 0
    check: dict[str, Any] = field(default_factory=dict)
    false_negatives: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        fn = self.false_negatives or {}
        return scored_sentence(self, lang) + say(
            lang,
            f"; {fn.get('candidates', 0)} candidates it rates at or above the positive are kept out of the "
            f"negatives ({fn.get('mode', 'drop')}).",
            f"；{fn.get('candidates', 0)} 个被教师评为不低于正例的候选不再作为负例。",
        )


@dataclass
class TeacherEstimate(Result):
    teacher: str = ""
    pairs_to_score: int = 0
    queries_to_score: int = 0
    minutes: float = 0.0
    tokens_in: int | None = None
    tokens_out: int | None = None

    def text(self, lang: str = "en") -> str:
        toks = f", about {self.tokens_in} input / {self.tokens_out} output tokens" if self.tokens_in else ""
        return say(
            lang,
            f"Teacher scoring estimate: {self.pairs_to_score} (query, passage) pairs of {self.queries_to_score} "
            f"queries left to score with {self.teacher}, about {self.minutes:.1f} min{toks}.",
            f"教师打分预估：还需用 {self.teacher} 为 {self.queries_to_score} 个问题的 {self.pairs_to_score} 个"
            f"（问题，段落）打分，约 {self.minutes:.1f} 分钟{toks}。",
        )


@dataclass(kw_only=True)
class TeacherOptions:
    teacher: str = setting(
        "auto",
        help=f"Teacher: {TEACHER_CHOICES}.",
        workspace=True,
        say=("teacher", "教师", "教师模型"),
    )
    k_dense: int = setting(K_DENSE, help="Candidates per query from the base model.", min=1, max=200)
    k_bm25: int = setting(K_BM25, help="Candidates per query from BM25.", min=0, max=200)
    false_negatives: Literal["drop", "positive"] = setting(
        "drop",
        help="A candidate the teacher rates at or above the positive: 'drop' it from the negatives, or add it "
        "as an extra 'positive' (flagged teacher, shown in review).",
        workspace=True,
    )


def _cost(ctx: Context | None, o: Any) -> str:
    return "paid-llm" if str(getattr(o, "teacher", "")).lower() in ("llm", "llm-judge") else "gpu"


def _estimate(ctx: Context, o: TeacherOptions) -> TeacherEstimate:
    try:
        index = base_index(ctx.ws, ctx.ws.get_setting("base_model"), device=ctx.settings.device)
        spec = "fusion" if o.teacher == "auto" else o.teacher
        t = make_teacher(spec, index, settings=ctx.settings, device=ctx.settings.device)
        est = estimate_scoring(ctx.ws, t, training_lists(ctx.ws, index, k_dense=o.k_dense, k_bm25=o.k_bm25))
    except TeacherError as exc:
        raise BgetuneError(str(exc)) from exc
    return TeacherEstimate.of(est)


def _score(ctx: Context, o: TeacherOptions) -> TeacherResult:
    try:
        run = score_teacher(
            ctx.ws,
            teacher=o.teacher,
            base_model=ctx.ws.get_setting("base_model"),
            k_dense=o.k_dense,
            k_bm25=o.k_bm25,
            false_negatives=o.false_negatives,
            settings=ctx.settings,
            device=ctx.settings.device,
            progress=ctx.progress,
        )
    except TeacherError as exc:
        raise BgetuneError(str(exc)) from exc
    ctx.ws.set_setting("teacher_spec", o.teacher)
    return TeacherResult.of(run.to_dict())


CAPABILITIES = [
    Capability(
        "score_teacher",
        "Score each training query's candidates with a teacher (cross-encoder, LLM judge or the offline "
        "base+BM25 fusion), checked against the base model first; costs GPU time or LLM tokens.",
        _score,
        TeacherOptions,
        TeacherResult,
        cost=_cost,
        requires=(HAS_APPROVED, HAS_SPLIT),
        estimate=_estimate,
        cli="teacher",
    )
]
