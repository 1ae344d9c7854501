"""Evaluation capabilities: held-out evaluation, calibration, scoring, the forgetting guard, model comparison and
the results summary."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bgetune.capabilities import Capability, Context, setting
from bgetune.capabilities.prereqs import HAS_EVAL, HAS_TRAINED
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.results import Result, fmt_metrics, gain_sentence
from bgetune.tools.calibration import CALIBRATION_FILE, calibrate, load_calibration, score_pair
from bgetune.tools.compare import CompareResult, compare_models
from bgetune.tools.evaluation import EvaluationError, evaluate_golden, evaluate_workspace, latest_tuned_dir
from bgetune.tools.export import exported_model_dir
from bgetune.tools.merge import forgetting_guard


@dataclass
class EvalResult(Result):
    run_id: str = ""
    split: str = "test"
    queries: int = 0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    ci: dict[str, float] | None = None
    plots: list[str] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        lines = [
            say(
                lang,
                f"Evaluation on the held-out documents ({self.queries} queries, documents never trained on):",
                f"在预留文档上的评估（{self.queries} 个问题，这些文档从未参与训练）：",
            )
        ]
        for name in ("base", "tuned"):
            if self.metrics.get(name):
                lines.append(f"  {name}: {fmt_metrics(self.metrics[name])}")
        g = gain_sentence(self.ci, self.queries, lang, say(lang, "held-out", "预留"))
        if g:
            lines.append(g)
        if self.plots:
            lines.append(
                say(lang, "Plots: ", "图表：")
                + ", ".join(Path(p).name for p in self.plots)
                + say(lang, f" (in {Path(self.plots[0]).parent})", f"（在 {Path(self.plots[0]).parent}）")
            )
        return "\n".join(lines)


@dataclass
class CalibrateResult(Result):
    threshold_f1: float | None = None
    path: str = ""
    plots: list[str] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        thr = f"{self.threshold_f1:.3f}" if isinstance(self.threshold_f1, int | float) else "?"
        prec = self.detail.get("threshold_precision")
        extra = f"; at 90% precision {prec:.3f}" if isinstance(prec, int | float) else ""
        extra_zh = f"；90% 精确率阈值 {prec:.3f}" if isinstance(prec, int | float) else ""
        plots = (", " + say(lang, "histogram: ", "直方图：") + Path(self.plots[0]).name) if self.plots else ""
        return say(
            lang,
            f"Calibrated: a similarity of {thr} or more means relevant (best F1){extra}{plots}; saved to {self.path}.",
            f"校准完成：相似度不低于 {thr} 视为相关（F1 最优）{extra_zh}{plots}；保存在 {self.path}。",
        )


@dataclass
class ScoreResult(Result):
    score: float = 0.0
    model: str = ""

    def text(self, lang: str = "en") -> str:
        prob = self.detail.get("probability")
        rel = self.detail.get("relevant")
        p = f", probability {prob:.2f}" if isinstance(prob, int | float) else ""
        r = (
            ""
            if rel is None
            else say(lang, "; relevant" if rel else "; not relevant", "；相关" if rel else "；不相关")
        )
        return say(
            lang,
            f"Score {self.score:.3f}{p}{r} (model {self.model}).",
            f"得分 {self.score:.3f}{p}{r}（模型 {self.model}）。",
        )


@dataclass
class GuardResult(Result):
    metrics: dict[str, Any] = field(default_factory=dict)
    alpha: float | None = None

    def text(self, lang: str = "en") -> str:
        lines = [say(lang, "Forgetting guard (out-of-domain questions):", "遗忘检查（领域外问题）：")]
        for name, m in self.metrics.items():
            if isinstance(m, dict):
                lines.append(f"  {name}: {fmt_metrics(m)}")
        if self.alpha is not None:
            lines.append(
                say(
                    lang,
                    f"Merged with the base at alpha {self.alpha:g}.",
                    f"已与基座按 alpha {self.alpha:g} 合并。",
                )
            )
        return "\n".join(lines)


@dataclass(kw_only=True)
class EvalOptions:
    split: Literal["test", "val"] = setting("test", help="Held-out split to score.")
    model: str | None = setting(
        None, help="Model folder, hub id or 'bundled' (default: the workspace's tuned model).", flag="--model"
    )
    golden: str | None = setting(
        None,
        help='Score on your own questions: golden JSONL {"query","pos":[text]} or {"query","pos_ids":[id]}.',
    )
    corpus: str | None = setting(
        None, help='Corpus JSONL {"id","text"} for --golden (default: the workspace chunks).'
    )
    base: str | None = setting(None, help="With --golden: also score this base model side by side.")


@dataclass
class GoldenFileEval(Result):
    """A model scored on a golden JSONL (the `bgetune eval --golden FILE` contract)."""

    queries: int = 0
    corpus: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    ci: dict[str, float] | None = None
    unmatched: list[dict[str, Any]] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        d = self.detail
        lines = [f"{self.queries} questions from {d.get('golden')}, corpus {self.corpus}"]
        if "base" in self.metrics:
            lines.append(f"  base:  {fmt_metrics(self.metrics['base'])}")
            lines.append(f"  tuned: {fmt_metrics(self.metrics['tuned'])}")
            lines.append(gain_sentence(self.ci, self.queries, lang, say(lang, "golden", "黄金")))
        else:
            lines.append(f"{d.get('model')}: " + fmt_metrics(self.metrics))
        for u in self.unmatched:
            lines.append(f"  unmatched (line {u['line']}): {u['query']!r}: {u['missing'][0][:60]!r}")
        return "\n".join(x for x in lines if x)


def _evaluate(ctx: Context, o: EvalOptions) -> EvalResult | GoldenFileEval:
    """Base vs tuned on the workspace's held-out split; with --golden, any model on a golden file."""
    try:
        if o.golden:
            if not o.corpus and ctx.ws is None:
                raise BgetuneError(
                    'pass --corpus FILE (a JSONL of {"id","text"}) or --workspace W holding the documents'
                )
            spec = o.model or ("bundled" if ctx.ws is None else latest_tuned_dir(ctx.ws))
            if not spec:
                raise BgetuneError("no tuned model in the workspace yet; pass --model DIR")
            res = evaluate_golden(spec, o.corpus, o.golden, base=o.base, ws=ctx.ws, progress=ctx.progress)
            res.pop("per_query", None)
            return GoldenFileEval.of(res | {"golden": o.golden, "model": spec})
        if ctx.ws is None:
            raise BgetuneError("no workspace here: pass --workspace W, or --golden FILE --corpus FILE")
        out = evaluate_workspace(ctx.ws, tuned_dir=o.model, split=o.split, progress=ctx.progress)
    except EvaluationError as exc:
        raise BgetuneError(str(exc)) from exc
    out["queries"] = out["queries"] if isinstance(out.get("queries"), int) else len(out.get("queries") or [])
    out.pop("per_query", None)
    return EvalResult.of(out)


@dataclass(kw_only=True)
class CalibrateOptions:
    precision: float = setting(
        0.9, help="Also report the threshold reaching this precision.", min=0.5, max=0.999
    )
    model: str | None = setting(None, help="Tuned model folder (default: the workspace's).")


def _calibrate(ctx: Context, o: CalibrateOptions) -> CalibrateResult:
    try:
        out = calibrate(ctx.ws, model_dir=o.model, precision_target=o.precision, progress=ctx.progress)
    except EvaluationError as exc:
        raise BgetuneError(str(exc)) from exc
    return CalibrateResult.of(out)


@dataclass(kw_only=True)
class ScoreOptions:
    query: str = setting(help="The query.", positional=True)
    passage: str = setting(help="The passage.", positional=True)
    model: str | None = setting(None, help="Model folder, hub id or 'bundled' (default: the exported model).")


def _score(ctx: Context, o: ScoreOptions) -> ScoreResult:
    """The raw score, and its probability from the model's calibration (else the workspace's)."""
    model = o.model or (exported_model_dir(ctx.ws) if ctx.ws is not None else None)
    if not model:
        raise BgetuneError(
            "no trained model yet: train first, then score pairs with it (or pass --model DIR or 'bundled')"
        )
    cal = None
    if ctx.ws is not None and not (Path(model) / CALIBRATION_FILE).exists():
        cal = load_calibration(ctx.ws.artifact_path(CALIBRATION_FILE, mkdir=False))
    out = score_pair(str(model), o.query, o.passage, calibration=cal)
    return ScoreResult.of(out | {"model": model})


@dataclass(kw_only=True)
class GuardOptions:
    ood_corpus: str | None = setting(
        None, help="Out-of-domain corpus JSONL (default: a packaged general set)."
    )
    ood_golden: str | None = setting(None, help="Out-of-domain golden JSONL.")
    model: str | None = setting(None, help="Tuned model folder (default: the workspace's).")


def _guard(ctx: Context, o: GuardOptions) -> GuardResult:
    tuned = o.model or exported_model_dir(ctx.ws)
    if not tuned:
        raise BgetuneError(
            "no trained model yet: train first, then run the forgetting guard (or pass --model)"
        )
    try:
        out = forgetting_guard(
            ctx.ws,
            tuned_dir=str(tuned),
            ood_corpus=o.ood_corpus,
            ood_golden=o.ood_golden,
            progress=ctx.progress,
        )
    except EvaluationError as exc:
        raise BgetuneError(str(exc)) from exc
    return GuardResult.of(out)


@dataclass(kw_only=True)
class CompareOptions:
    models: list[str] = setting(
        default_factory=lambda: ["bundled"],
        help="Candidates, comma-separated: hub ids, folders, 'bundled', 'tuned', or an OpenAI-compatible endpoint "
        "as openai:<base_url>#<model>.",
    )
    golden: str | None = setting(None, help="Golden JSONL (default: the workspace's golden set).")
    corpus: str | None = setting(None, help="Corpus JSONL (default: the workspace's chunks).")


def _compare(ctx: Context, o: CompareOptions) -> CompareResult:
    return compare_models(
        ctx.ws, o.models, golden=o.golden, corpus=o.corpus, progress=ctx.progress, lang=ctx.lang
    )


@dataclass
class ResultsSummary(Result):
    evaluation: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] | None = None

    def text(self, lang: str = "en") -> str:
        ev = EvalResult.of(self.evaluation) if self.evaluation else None
        lines = []
        if self.decision and self.decision.get("text"):
            lines.append(str(self.decision["text"]))
        if ev is not None:
            lines.append(ev.text(lang))
        if not lines:
            return say(lang, 'Nothing measured yet: say "train" first.', "还没有评估结果：先说“开始训练”。")
        return "\n".join(lines)


def _show_results(ctx: Context, o: None) -> ResultsSummary:
    """The last evaluation and ship decision, interpreted (nothing is re-run)."""
    ev = ctx.ws.last_run("eval")
    tr = ctx.ws.last_run("train")
    decision = ((tr or {}).get("result") or {}).get("decision")
    return ResultsSummary(
        evaluation=(ev or {}).get("result") or {}, decision=decision if isinstance(decision, dict) else None
    )


# a model named on the command line (or a golden file) needs no training run in this workspace
EVAL_NEEDS = dataclasses.replace(HAS_TRAINED, unless=("golden", "model"))
MODEL_NEEDS = dataclasses.replace(HAS_TRAINED, unless=("model",))


CAPABILITIES = [
    Capability(
        "evaluate",
        "Compare base and tuned model on the held-out documents.",
        _evaluate,
        EvalOptions,
        EvalResult,
        cost="cpu-minutes",
        requires=(EVAL_NEEDS,),
        cli="eval",
        workspace="optional",  # --golden FILE --corpus FILE scores any model without one
        stage=8,
    ),
    Capability(
        "calibrate",
        "Calibrate a relevance threshold for the tuned model.",
        _calibrate,
        CalibrateOptions,
        CalibrateResult,
        cost="cpu-minutes",
        requires=(MODEL_NEEDS,),
        workspace="existing",
        stage=9,
    ),
    Capability(
        "score",
        "Score how relevant a passage is to a query with the exported model.",
        _score,
        ScoreOptions,
        ScoreResult,
        workspace="optional",
    ),
    Capability(
        "forgetting_guard",
        "Check general ability out of domain and merge with the base if it dropped.",
        _guard,
        GuardOptions,
        GuardResult,
        cost="cpu-minutes",
        requires=(MODEL_NEEDS,),
        cli="guard",
        workspace="existing",
    ),
    Capability(
        "compare_models",
        "Rank candidate base models on your golden questions, with confidence intervals.",
        _compare,
        CompareOptions,
        CompareResult,
        cost="cpu-minutes",
        cli="compare",
    ),
    Capability(
        "show_results",
        "Interpret the last evaluation and ship decision without re-running anything.",
        _show_results,
        None,
        ResultsSummary,
        cli="results",
        requires=(HAS_EVAL,),
    ),
]
