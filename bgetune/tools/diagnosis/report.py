"""A diagnosis as the user reads it: both models' results, where the expected answer ranks, verdict, fixes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bgetune.tools.diagnosis.causes import evidence_lines, verdict_sentence
from bgetune.tools.diagnosis.models import TokenizerCoverage
from bgetune.tools.diagnosis.records import ExpectedAnswer, Finding, FixAction, ModelRanking, ResultRow
from bgetune.tools.diagnosis.text import fmt_prob, model_name, say, snippet


@dataclass
class Diagnosis:
    """A diagnosis: both models' results, where the expected answer ranks, the verdict, evidence and fixes."""

    query: str
    lang: str
    cause: str
    findings: list[Finding]
    base: ModelRanking
    tuned: ModelRanking | None
    expected: ExpectedAnswer | None
    actions: list[FixAction]
    query_language: str
    corpus_language: str
    tokenizer: TokenizerCoverage | None = None
    miss_id: int | None = None

    @property
    def main(self) -> ModelRanking:
        return self.tuned or self.base

    @property
    def is_miss(self) -> bool:
        return self.cause != "not_a_miss"

    @property
    def finding(self) -> Finding:
        return self.findings[0]

    @property
    def verdict(self) -> str:
        return self.verdict_in(self.lang)

    def verdict_in(self, lang: str) -> str:
        return verdict_sentence(self.finding, lang)

    @property
    def next_step(self) -> str:
        return self.actions[0].label(self.lang) if self.actions else ""

    def evidence(self, lang: str) -> list[str]:
        """One line per finding (the verdict's first), in ``lang``."""
        return [line for f in self.findings for line in evidence_lines(f, lang)]

    def text(self, lang: str | None = None) -> str:
        lang = lang or self.lang
        out = [say(lang, f"Query: {self.query}", f"查询：{self.query}")]
        out += results_table(self, lang)
        if self.expected is not None:
            out.append(expected_line(self, lang))
        out.append(say(lang, "**Verdict:** ", "**结论：**") + self.verdict_in(lang))
        ev = self.evidence(lang)
        if ev:
            out.append(say(lang, "Evidence:", "依据："))
            out += [f"- {line}" for line in ev]
        if self.actions:
            out.append(say(lang, "What you can do:", "可以这样修复："))
            out += [f"{i}. {a.label(lang)}" for i, a in enumerate(self.actions, 1)]
        if self.miss_id is not None and self.actions:
            out.append(
                say(
                    lang,
                    f"(miss #{self.miss_id}: `bgetune fix {self.miss_id} ACTION`; "
                    "name the right passage by its number, e.g. 'the second one', or say 'none of these')",
                    f"（漏检 #{self.miss_id}：`bgetune fix {self.miss_id} 动作`；可用编号指出正确段落，如“第二个”，"
                    "或说“都不是”）",
                )
            )
        return "\n".join(out)

    def data(self) -> dict[str, Any]:
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        d["next_step"] = self.next_step
        d["main"] = "tuned" if self.tuned else "base"
        return d


def _pass_mark(p: bool | None) -> str:
    return "–" if p is None else "✓" if p else "✗"


def _cell(r: ResultRow, width: int = 46) -> str:
    star = "★ " if r.expected else ""
    return f"{star}{snippet(r.title or r.text, width)} ({r.where()})".replace("|", "/")


def results_table(d: Diagnosis, lang: str) -> list[str]:
    """Both models' ranked lists side by side (markdown), then the thresholds."""
    models = [m for m in (d.base, d.tuned) if m is not None]
    head = ["#"]
    for m in models:
        head += [
            f"{model_name(m.model, lang)}: {say(lang, 'passage', '段落')}",
            say(lang, "score", "得分"),
            "p",
            "✓",
        ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i in range(max(len(m.results) for m in models)):
        row = [str(i + 1)]
        for m in models:
            r = m.results[i] if i < len(m.results) else None
            row += (
                [_cell(r), f"{r.score:.3f}", fmt_prob(r.probability), _pass_mark(r.passes)] if r else [""] * 4
            )
        lines.append("| " + " | ".join(row) + " |")
    thr = [f"{model_name(m.model, lang)} {m.threshold:.3f}" for m in models if m.threshold is not None]
    lines.append(
        say(lang, "threshold: ", "阈值：") + ", ".join(thr)
        if thr
        else say(
            lang,
            "no calibrated threshold yet (`bgetune calibrate` adds one, with probabilities)",
            "尚无校准阈值（运行 `bgetune calibrate` 可得到阈值和概率）",
        )
    )
    if d.tuned is not None:
        lines.append(say(lang, "numbers refer to the tuned model's list", "编号指微调模型的结果列表"))
    return lines


def expected_line(d: Diagnosis, lang: str) -> str:
    """Where the expected answer is and how each model ranks it (or that it is not in the workspace)."""
    e = d.expected
    assert e is not None
    if not e.chunk_ids:
        return say(
            lang,
            f"Expected answer: not found in the workspace (best term coverage {e.coverage:.0%}).",
            f"期望答案：工作区中找不到（最佳词语覆盖率 {e.coverage:.0%}）。",
        )
    ranks = []
    for m in (d.base, d.tuned):
        if m is None or m.expected_rank is None:
            continue
        name = model_name(m.model, lang)
        extra = f", p={m.expected_probability:.2f}" if m.expected_probability is not None else ""
        ranks.append(
            say(
                lang,
                f"rank {m.expected_rank} with {name} (score {m.expected_score:.3f}{extra})",
                f"{name}排第 {m.expected_rank} 位（得分 {m.expected_score:.3f}{extra}）",
            )
        )
    title = f" “{snippet(e.title or e.text or '', 60)}”" if (e.title or e.text) else ""
    source = (
        say(lang, f" (your label of {e.given})", f"（你为{e.given}标注的答案）")
        if e.how == "golden" and e.given
        else ""
    )
    return (
        say(lang, "Expected answer: ", "期望答案：")
        + f"{e.where()}{title}{source}: "
        + say(lang, "; ", "；").join(ranks)
    )
