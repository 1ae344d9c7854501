"""The pipeline's own capabilities, declared once (see bgetune/capabilities.py): ingest, filter, review, split,
mine, train, evaluate, calibrate, export, settings, compare and the forgetting guard.

Each wraps the stage's tool function, declares its settings, cost and prerequisites, and returns a result
dataclass whose ``text(lang)`` is what the chat and the CLI say. The stage order lives here (``stage=``) and
nowhere else: the pipeline, the chat's train plan and the hints after each step read it from the table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bgetune.capabilities import Capability, Context, Prereq, setting
from bgetune.core.errors import BgetuneError


def say(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


# ---------------------------------------------------------------------------------------------- results
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


@dataclass
class IngestResult(Result):
    files: int = 0
    added: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_written: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        lines = [
            say(
                lang,
                f"Ingested {self.files} file(s): {self.added} added, {self.unchanged} unchanged, {self.failed} "
                f"failed; {self.chunks_written} new chunks.",
                f"导入 {self.files} 个文件：新增 {self.added}，未变 {self.unchanged}，失败 {self.failed}；"
                f"新分块 {self.chunks_written} 个。",
            )
        ]
        lines += [f"  ! {f.get('path')}: {f.get('error')}" for f in self.failures]
        return "\n".join(lines)


@dataclass
class StatusResult(Result):
    documents: int = 0
    chunks: int = 0
    pairs: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    negatives: int = 0
    golden: dict[str, int] = field(default_factory=dict)
    last_runs: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        p = self.pairs
        kept = p.get("approved", 0) + p.get("edited", 0)
        gold = self.golden.get("labeled", 0)
        return say(
            lang,
            f"Documents {self.documents}, chunks {self.chunks}; pairs proposed {p.get('proposed', 0)}, approved "
            f"{kept}, rejected {p.get('rejected', 0)}; splits {self.splits or '-'}; negatives {self.negatives}; "
            f"golden questions {gold}; last runs {self.last_runs or '-'}; settings {self.settings or 'default'}.",
            f"文档 {self.documents}，分块 {self.chunks}；问答对 待审 {p.get('proposed', 0)}、已通过 {kept}、"
            f"已拒绝 {p.get('rejected', 0)}；划分 {self.splits or '-'}；负例 {self.negatives}；黄金问题 {gold}；"
            f"最近运行 {self.last_runs or '-'}；设置 {self.settings or '默认'}。",
        )


@dataclass
class FilterResult(Result):
    kept: int = 0
    rejected: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    flagged: int = 0

    def text(self, lang: str = "en") -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in self.by_reason.items())
        flagged = say(
            lang, f"; {self.flagged} real pairs flagged for review", f"；{self.flagged} 个真实问答对标记待查"
        )
        return (
            say(
                lang,
                f"Filter kept {self.kept}, rejected {self.rejected}" + (f" ({reasons})" if reasons else ""),
                f"过滤保留 {self.kept}，剔除 {self.rejected}" + (f"（{reasons}）" if reasons else ""),
            )
            + (flagged if self.flagged else "")
            + say(lang, ".", "。")
        )


def _pair_lines(pairs: list[dict[str, Any]], lang: str, limit: int = 200) -> list[str]:
    out = []
    for p in pairs[:limit]:
        passage = (p.get("passage") or "").replace("\n", " ")
        reasons = f" [{', '.join(p['reasons'])}]" if p.get("reasons") else ""
        doc = f" <{p['document']}>" if p.get("document") else ""
        line = f"  #{p.get('id')} ({p.get('status')}){reasons}{doc} Q: {p.get('query')}"
        out.append(line + (f"\n      P: {passage[:120]}" if passage else ""))
    return out


@dataclass
class DatasetResult(Result):
    status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    source: dict[str, int] = field(default_factory=dict)
    examples: Any = None

    def text(self, lang: str = "en") -> str:
        c = self.status
        lines = [
            say(
                lang,
                f"Dataset: {c.get('proposed', 0)} proposed, {c.get('approved', 0) + c.get('edited', 0)} approved, "
                f"{c.get('rejected', 0)} rejected.",
                f"数据集：待审 {c.get('proposed', 0)}，已通过 {c.get('approved', 0) + c.get('edited', 0)}，"
                f"已拒绝 {c.get('rejected', 0)}。",
            )
        ]
        if self.by_reason:
            lines.append(
                say(lang, "Rejected because: ", "剔除原因：")
                + ", ".join(f"{k} {v}" for k, v in self.by_reason.items())
            )
        groups = self.examples if isinstance(self.examples, dict) else {"kept": self.examples or []}
        for group, rows in groups.items():
            if rows:
                lines.append(
                    say(lang, f"Examples ({group}):", f"示例（{'保留' if group == 'kept' else '剔除'}）：")
                )
                lines += _pair_lines(rows, lang, 5)
        return "\n".join(lines)


@dataclass
class PairsPage(Result):
    pairs: list[dict[str, Any]] = field(default_factory=list)
    shown: int = 0
    offset: int = 0
    total: int = 0
    filters: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        what = ", ".join(f"{k}={v}" for k, v in self.filters.items() if v not in (None, ""))
        what = f" ({what})" if what else ""
        if not self.pairs:
            return say(lang, f"No pairs{what} here.", f"没有符合条件{what}的问答对。")
        end = self.offset + self.shown
        lines = [
            say(
                lang,
                f"Pairs {self.offset + 1}-{end} of {self.total}{what}:",
                f"问答对 {self.offset + 1}-{end}，共 {self.total}{what}：",
            )
        ]
        lines += _pair_lines(self.pairs, lang)
        if end < self.total:
            lines.append(
                say(
                    lang,
                    f'{self.total - end} more: say "show more" or "next".',
                    f"还有 {self.total - end} 个：说“下一页”。",
                )
            )
        return "\n".join(lines)


@dataclass
class ReviewResult(Result):
    action: str = ""
    count: int = 0
    ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        zh = {"approved": "已通过", "rejected": "已拒绝", "edited": "已修改"}.get(self.action, self.action)
        return say(lang, f"{self.action.capitalize()} {self.count} pair(s).", f"{zh} {self.count} 个问答对。")


@dataclass
class SplitResult(Result):
    unit: str = "document"
    pairs: dict[str, int] = field(default_factory=dict)
    warning: str | None = None

    def text(self, lang: str = "en") -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.pairs.items())
        out = say(lang, f"Split by {self.unit}: {counts}.", f"按{self.unit}划分：{counts}。")
        return out + (f"\n  ! {self.warning}" if self.warning else "")


@dataclass
class MineResult(Result):
    method: str = "dense"
    pairs: int = 0
    negatives: int = 0
    dropped_false_negatives: int = 0
    reason: str = ""

    def text(self, lang: str = "en") -> str:
        return say(
            lang,
            f"Mined {self.negatives} hard negatives for {self.pairs} pairs ({self.method}); "
            f"{self.dropped_false_negatives} likely false negatives dropped.",
            f"为 {self.pairs} 个问答对挖掘了 {self.negatives} 个难负例（{self.method}）；"
            f"去掉了 {self.dropped_false_negatives} 个疑似假负例。",
        )


@dataclass
class EstimateResult(Result):
    pairs: int = 0
    steps: int = 0
    epochs: int = 0
    minutes: float | None = None
    device: str = "cpu"
    base_model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        mins = f"{self.minutes:.1f}" if isinstance(self.minutes, int | float) else "?"
        s = settings_list(self.settings)
        return say(
            lang,
            f"Training estimate: {self.steps} steps over {self.pairs} pairs ({self.epochs} epochs), about {mins} min "
            f"on {self.device} (measured by timing a few real steps), base model {self.base_model}.\nSettings:\n{s}\n"
            'Nothing started; say "train" to get the approval prompt.',
            f"训练预估：{self.pairs} 个问答对，{self.epochs} 轮共 {self.steps} 步，在 {self.device} 上约 {mins} 分钟"
            f"（实测几步得出），基座模型 {self.base_model}。\n设置：\n{s}\n尚未开始；说“开始训练”会先请你批准。",
        )


def settings_list(values: dict[str, Any]) -> str:
    return "\n".join(f"  - {k}: {v}" for k, v in values.items() if v is not None) or "  - (defaults)"


@dataclass
class TrainResult(Result):
    run_id: str = ""
    steps: int = 0
    epochs_done: int = 0
    model_dir: str = ""
    base_val: dict[str, float] | None = None
    best_val: dict[str, float] | None = None
    best_epoch: int | None = None
    warning: str | None = None
    loss_curve: list[Any] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        lines = [
            say(
                lang,
                f"Training done: {self.steps} steps, {self.epochs_done} epoch(s); run {self.run_id}.",
                f"训练完成：{self.steps} 步，{self.epochs_done} 轮；运行 {self.run_id}。",
            )
        ]
        if self.best_val and self.base_val:
            lines.append(
                say(
                    lang,
                    f"Validation nDCG@10 {self.base_val.get('ndcg@10', 0):.3f} -> {self.best_val.get('ndcg@10', 0):.3f} "
                    f"(epoch {self.best_epoch}; synthetic pairs, a rough guide only).",
                    f"验证集 nDCG@10 {self.base_val.get('ndcg@10', 0):.3f} -> {self.best_val.get('ndcg@10', 0):.3f}"
                    f"（第 {self.best_epoch} 轮；合成数据，仅供参考）。",
                )
            )
        decision = self.detail.get("decision")
        if isinstance(decision, dict) and decision.get("text"):
            lines.append(str(decision["text"]))
        if self.warning:
            lines.append(f"  ! {self.warning}")
        return "\n".join(lines)


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
class ExportResult(Result):
    model_dir: str = ""
    model_card: str = ""
    run_id: str = ""

    def text(self, lang: str = "en") -> str:
        if not self.model_dir:  # the ship decision kept the base: nothing new was exported
            said = self.detail.get("text_zh" if lang == "zh" else "text") or self.detail.get("text") or ""
            return said + say(
                lang,
                '\nNothing new was exported. Say "ship anyway" (or `bgetune export --ship-anyway`) to export the best '
                "tuned candidate regardless.",
                "\n没有导出新模型。如仍要导出最好的微调候选，说“仍然发布”（或 `bgetune export --ship-anyway`）。",
            )
        onnx = self.detail.get("onnx")
        extra = ("\n" + onnx.text(lang)) if hasattr(onnx, "text") else ""
        return (
            say(
                lang,
                f"Exported to {self.model_dir} (model card {Path(self.model_card).name if self.model_card else '-'}). "
                'Load it with SentenceTransformer(path); say "serve it" for an OpenAI-compatible endpoint.',
                f"已导出到 {self.model_dir}（模型说明 {Path(self.model_card).name if self.model_card else '-'}）。"
                "用 SentenceTransformer(path) 加载；说“部署”可启动兼容 OpenAI 的接口。",
            )
            + extra
        )


@dataclass
class ExportDataResult(Result):
    path: str = ""
    rows: int = 0

    def text(self, lang: str = "en") -> str:
        return say(
            lang,
            f"Wrote {self.rows} FlagEmbedding rows to {self.path}.",
            f"已写出 {self.rows} 行 FlagEmbedding 数据到 {self.path}。",
        )


@dataclass
class SettingResult(Result):
    name: str = ""
    value: Any = None
    note: str | None = None

    def text(self, lang: str = "en") -> str:
        out = say(lang, f"Set {self.name} = {self.value}.", f"已设置 {self.name} = {self.value}。")
        return out + (f" ({self.note})" if self.note else "")


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


@dataclass
class CompareRow:
    model: str
    ndcg: float
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    error: str | None = None


@dataclass
class CompareResult(Result):
    evidence: str = ""
    queries: int = 0
    rows: list[CompareRow] = field(default_factory=list)
    recommendation: str = ""

    def text(self, lang: str = "en") -> str:
        lines = [
            say(
                lang,
                f"Candidates ranked on {self.evidence} ({self.queries} questions), nDCG@10 with the gain over the "
                "first-listed model and its 95% CI:",
                f"在{self.evidence}（{self.queries} 个问题）上比较候选模型，nDCG@10 及相对第一个模型的提升（95% 置信区间）：",
            )
        ]
        for i, r in enumerate(self.rows, 1):
            if r.error:
                lines.append(f"  {i}. {r.model}: {say(lang, 'failed', '失败')} ({r.error})")
                continue
            ci = "" if r.diff is None else f"  {r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}]"
            lines.append(f"  {i}. {r.model}: {r.ndcg:.3f}{ci}")
        lines.append(self.recommendation)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- prerequisites
def _has(sql: str) -> Any:
    return lambda ws: bool(ws.scalar(sql))


HAS_CHUNKS = Prereq(_has("SELECT count(*) FROM chunks"), "no documents are ingested yet", "ingest")
HAS_PAIRS = Prereq(lambda ws: ws.count_pairs(kept=True) > 0, "there are no kept pairs yet", "generate_pairs")
HAS_APPROVED = Prereq(
    lambda ws: ws.count_pairs(trainable=True) > 0,
    "no pairs are approved yet (review the proposed pairs, then approve them)",
    "approve_all_pairs",
)
HAS_SPLIT = Prereq(
    lambda ws: ws.count_pairs(trainable=True) > 0 and ws.count_pairs(unsplit=True) == 0,
    "the approved pairs are not split into train/val/test yet",
    "split_dataset",
)
HAS_TRAINED = Prereq(lambda ws: ws.last_run("train") is not None, "no model is trained yet", "train")
HAS_EVAL = Prereq(
    lambda ws: ws.last_run("eval") is not None, "the tuned model is not evaluated yet", "evaluate"
)


def check_prereqs(cap: Capability, ctx: Context) -> None:
    """Raise a BgetuneError naming what is missing and what to run first."""
    missing = cap.missing(ctx.ws)
    if missing:
        p = missing[0]
        from bgetune.capabilities import table

        fix = table().get(p.fix) if p.fix else None
        hint = ""
        if fix is not None:
            hint = f"; run `bgetune {fix.command}` first" if fix.command else f"; run {fix.name} first"
        raise BgetuneError(f"{cap.name}: {p.missing}{hint}")


# ---------------------------------------------------------------------------------------------- options + runs
@dataclass(kw_only=True)
class IngestOptions:
    paths: list[str] = setting(
        default_factory=list,
        help="Files or folders (PDF, DOCX, Markdown, TXT, HTML, JSONL).",
        positional=True,
    )
    chunk_tokens: int | None = setting(None, help="Chunk size in tokens (default 256).", min=32, max=8192)
    chunk_overlap: int | None = setting(None, help="Overlap in tokens (default 32).", min=0, max=1024)


def _ingest(ctx: Context, o: IngestOptions) -> IngestResult:
    from bgetune.agent.registry import user_path
    from bgetune.tools.ingest import ingest

    paths = [user_path(ctx, p, "read") for p in o.paths] if o.paths and ctx.files is not None else o.paths
    paths = paths or ctx.files
    if not paths:
        raise BgetuneError(
            "no files to ingest: attach documents (PDF, DOCX, Markdown, TXT, HTML, JSONL) or give their paths"
        )
    settings = ctx.settings
    if o.chunk_tokens or o.chunk_overlap:
        settings = dataclasses.replace(
            settings,
            chunk_tokens=o.chunk_tokens or settings.chunk_tokens,
            chunk_overlap=o.chunk_overlap if o.chunk_overlap is not None else settings.chunk_overlap,
        )
    report = ingest(
        ctx.ws, paths, settings=settings, base_model=ctx.ws.get_setting("base_model"), progress=ctx.progress
    )
    return IngestResult.of(report.summary())


def stage_snapshot(ws: Any) -> dict[str, Any]:
    """What each stage holds now, compact enough for a prompt."""
    st = ws.stats()
    runs: dict[str, str] = {}
    for r in st.get("runs", []):
        runs.setdefault(r["kind"], r["status"])
    golden = {
        r["status"]: r["n"] for r in ws.query("SELECT status, count(*) AS n FROM golden GROUP BY status")
    }
    return {
        "documents": st["documents"],
        "documents_failed": st["documents_failed"],
        "chunks": st["chunks"],
        "languages": st["chunk_languages"],
        "pairs": st["pairs"],
        "splits": st["splits"],
        "negatives": st["negatives"],
        "unsplit": ws.count_pairs(unsplit=True),
        "golden": golden,
        "last_pairs_view": ws.get_setting("_last_pairs_view"),
        "last_runs": runs,
        "settings": {k: v for k, v in ws.settings().items() if k in remembered_settings()},
    }


def _status(ctx: Context, o: None) -> StatusResult:
    return StatusResult.of(stage_snapshot(ctx.ws) | {"workspace": str(ctx.ws.root)})


@dataclass(kw_only=True)
class FilterOptions:
    top_k: int = setting(
        10, help="A synthetic query's own chunk must rank within this many.", min=1, max=1000
    )
    min_similarity: float = setting(0.6, help="...or reach this cosine similarity.", min=0.0, max=1.0)
    round_trip: bool = setting(
        True, help="Check each synthetic query against the base model (round trip).", flag="--round-trip"
    )


def _filter(ctx: Context, o: FilterOptions) -> FilterResult:
    from bgetune.tools.filtering import filter_pairs

    kw: dict[str, Any] = {
        "top_k": o.top_k,
        "min_similarity": o.min_similarity,
        "round_trip_check": o.round_trip,
    }
    import inspect

    accepted = inspect.signature(filter_pairs).parameters
    res = filter_pairs(
        ctx.ws,
        settings=ctx.settings,
        base_model=ctx.ws.get_setting("base_model"),
        progress=ctx.progress,
        **{k: v for k, v in kw.items() if k in accepted},
    )
    return FilterResult.of(res)


def _show_dataset(ctx: Context, o: None) -> DatasetResult:
    from bgetune.tools.review import dataset_summary

    return DatasetResult.of(dataset_summary(ctx.ws, examples=5))


@dataclass(kw_only=True)
class ShowPairsOptions:
    status: Literal["proposed", "approved", "rejected", "edited"] | None = setting(
        None, help="Only pairs with this status."
    )
    reason: str | None = setting(None, help="Only pairs rejected or flagged for this reason.")
    document: str | None = setting(None, help="Only pairs from documents whose name contains this.")
    source: str | None = setting(None, help="Only pairs from this source (offline, llm, import, history...).")
    search: str | None = setting(None, help="Only pairs whose query or passage contains this text.")
    limit: int = setting(10, help="How many to show.", min=1, max=500)
    offset: int = setting(0, help="Skip this many.", min=0)


def _show_pairs(ctx: Context, o: ShowPairsOptions) -> PairsPage:
    from bgetune.tools.review import list_pairs

    filters = {
        "status": o.status,
        "reason": o.reason,
        "document": o.document,
        "search": o.search,
        "source": o.source,
    }
    kw = {k: v for k, v in filters.items() if v is not None}
    # "history" / "real": the team's own questions, whichever way they came in (imports, click-log mining)
    sources = ["import", "history"] if o.source in ("history", "real") else [o.source]
    rows: list[dict[str, Any]] = []
    for src in sources:
        rows += list_pairs(ctx.ws, **(kw | ({"source": src} if src else {})))
    rows.sort(key=lambda r: r["id"])
    total = len(rows)
    rows = rows[o.offset : o.offset + o.limit]
    keep = ("id", "query", "passage", "status", "reasons", "document", "source")
    pairs = [{k: (r.get(k)[:300] if k == "passage" and r.get(k) else r.get(k)) for k in keep} for r in rows]
    ctx.ws.set_setting("_last_pairs_view", {"filters": filters, "offset": o.offset, "limit": o.limit})
    return PairsPage(pairs=pairs, shown=len(pairs), offset=o.offset, total=total, filters=filters)


@dataclass(kw_only=True)
class IdsOptions:
    ids: list[int] = setting(default_factory=list, help="Pair ids.", positional=True)
    why: str | None = setting(None, help="Why (kept in the pair's history).")


def _approve(ctx: Context, o: IdsOptions) -> ReviewResult:
    from bgetune.tools.review import approve

    n = approve(ctx.ws, o.ids, why=o.why)
    return ReviewResult(action="approved", count=n, ids=o.ids, counts=ctx.ws.stats()["pairs"])


def _reject(ctx: Context, o: IdsOptions) -> ReviewResult:
    from bgetune.tools.review import reject

    n = reject(ctx.ws, o.ids, why=o.why)
    return ReviewResult(action="rejected", count=n, ids=o.ids, counts=ctx.ws.stats()["pairs"])


@dataclass(kw_only=True)
class EditOptions:
    id: int = setting(help="Pair id.", positional=True)
    query: str = setting(help="The corrected query.")


def _edit(ctx: Context, o: EditOptions) -> ReviewResult:
    from bgetune.tools.review import edit

    edit(ctx.ws, o.id, query=o.query)
    return ReviewResult(
        action="edited", count=1, ids=[o.id], counts=ctx.ws.stats()["pairs"], detail={"query": o.query}
    )


def _approve_all(ctx: Context, o: None) -> ReviewResult:
    from bgetune.tools.review import approve_all

    n = approve_all(ctx.ws)
    return ReviewResult(action="approved", count=n, counts=ctx.ws.stats()["pairs"])


@dataclass(kw_only=True)
class SplitOptions:
    val: float = setting(0.1, help="Share of documents for validation.", min=0.0, max=0.5)
    test: float = setting(0.2, help="Share of documents held out for testing.", min=0.01, max=0.6)
    seed: int = setting(13, help="Random seed of the split.")


def _split(ctx: Context, o: SplitOptions) -> SplitResult:
    from bgetune.tools.split import make_split

    return SplitResult.of(make_split(ctx.ws, val=o.val, test=o.test, seed=o.seed))


@dataclass(kw_only=True)
class MineOptions:
    negatives: Literal["dense", "in-batch"] = setting(
        "dense", help="'dense' (mine with the base model) or 'in-batch'."
    )
    range_min: int = setting(
        2,
        help="Skip this many top-ranked chunks (likely positives).",
        min=0,
        workspace=True,
        say=("window start",),
    )
    range_max: int = setting(
        50, help="Take candidates up to this rank.", min=2, workspace=True, say=("window", "window end")
    )
    num_negatives: int = setting(
        7, help="Negatives kept per pair.", min=1, max=64, workspace=True, say=("negatives per pair",)
    )
    relative_margin: float = setting(
        0.05,
        help="A negative must score below (1 - margin) x the positive's score.",
        min=0.0,
        max=0.99,
        workspace=True,
        say=("margin",),
    )
    reranker: str | None = setting(
        None, help="Cross-encoder folder that checks candidates.", workspace=True, say=("reranker",)
    )
    recover: bool = setting(
        False,
        help="With a reranker: a top-k candidate it scores as an answer becomes an extra positive, never a negative.",
        workspace=True,
        say=("recover positives", "positive recovery"),
    )


def _mine(ctx: Context, o: MineOptions) -> MineResult:
    from bgetune.tools.negatives import mine_negatives

    try:
        res = mine_negatives(
            ctx.ws,
            base_model=ctx.ws.get_setting("base_model"),
            method=o.negatives,
            range_min=o.range_min,
            range_max=o.range_max,
            num_negatives=o.num_negatives,
            relative_margin=o.relative_margin,
            reranker=o.reranker,
            recover=o.recover,
            progress=ctx.progress,
        )
    except ValueError as exc:
        raise BgetuneError(str(exc)) from exc
    out = MineResult.of(res)
    from bgetune.tools.history import add_skipped_negatives  # impression-log negatives survive re-mining

    added = add_skipped_negatives(ctx.ws, base_model=ctx.ws.get_setting("base_model"))
    if added:
        out.detail["skipped_negatives"] = added
        out.negatives += added
    return out


@dataclass(kw_only=True)
class TrainOptions:
    """Training settings a user may set in chat, on the CLI, in the UI card or at the approval gate."""

    epochs: int | None = setting(
        None,
        help="Epochs (default 3).",
        min=1,
        max=100,
        workspace=True,
        say=("epochs", "epoch", "轮数", "轮"),
    )
    lr: float | None = setting(
        None,
        help="Learning rate (default 2e-5 for small models, 1e-5 above).",
        min=1e-7,
        max=1e-2,
        workspace=True,
        say=("learning rate", "lr", "学习率"),
    )
    batch_size: int | None = setting(
        None,
        help="Pairs per step (default 32).",
        min=1,
        max=4096,
        workspace=True,
        say=("batch size", "batch", "批大小"),
    )
    max_steps: int | None = setting(
        None,
        help="Stop after this many steps (a quick trial).",
        min=1,
        workspace=True,
        say=("max steps", "steps", "步"),
    )
    base_model: str | None = setting(
        None,
        help="Hub id, local folder or 'bundled'.",
        workspace=True,
        say=("base model", "model", "基座模型"),
    )
    hard_negatives: int | None = setting(
        None,
        help="Mined negatives per query per step.",
        min=0,
        max=64,
        workspace=True,
        say=("hard negatives", "难负例"),
    )
    lora: bool = setting(False, help="Train LoRA adapters (merged on save).", workspace=True, say=("lora",))
    matryoshka: str | None = setting(
        None,
        help="Matryoshka dims, comma-separated, e.g. 384,256,128.",
        workspace=True,
        say=("matryoshka", "matryoshka dims"),
    )
    wise_ft: float | None = setting(
        None,
        help="Weight of the tuned model in a base/tuned weight merge (1 = no merge).",
        min=0.0,
        max=1.0,
        workspace=True,
        say=("wise-ft", "wise ft", "merge"),
    )
    attention_dropout: float | None = setting(
        None, help="Attention dropout while training (default 0).", min=0.0, max=0.9, workspace=True
    )
    mini_batch_size: int | None = setting(
        None, help="GradCache piece size, for big batches on small memory.", min=1, workspace=True
    )
    max_query_len: int | None = setting(
        None, help="Query token cap (default: p99 of the data).", min=4, workspace=True
    )
    max_passage_len: int | None = setting(
        None, help="Passage token cap (default: p99 of the data).", min=16, workspace=True
    )
    device: str | None = setting(
        None, help="cpu, cuda, cuda:1 (default: best available).", workspace=True, say=("device",)
    )
    resume: bool = setting(False, help="Continue the last interrupted run from its checkpoint.")


TRAIN_CONFIG_MAP = {"matryoshka": "matryoshka_dims"}


def train_config(ctx: Context, o: TrainOptions) -> Any:
    """The TrainConfig for these options (None values fall to TrainConfig's own defaults)."""
    from bgetune.tools.training import TrainConfig

    accepted = {f.name for f in dataclasses.fields(TrainConfig)}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(o):
        v = getattr(o, f.name)
        if f.name == "matryoshka" and v:
            v = [int(x) for x in str(v).replace(" ", "").split(",") if x]
        name = TRAIN_CONFIG_MAP.get(f.name, f.name)
        if v is not None and name in accepted:
            values[name] = v
    if "device" not in values and ctx.settings.device:
        values["device"] = ctx.settings.device
    if "base_model" not in values and ctx.settings.base_model:
        values["base_model"] = ctx.settings.base_model
    return TrainConfig(**values)


def resolved_train_settings(
    ctx: Context, o: TrainOptions, est: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The values training will really use (defaults resolved), for the approval card and the estimate."""
    cfg = train_config(ctx, o)
    est = est or {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(o):
        if f.name == "resume":
            continue
        name = TRAIN_CONFIG_MAP.get(f.name, f.name)
        v = est.get(f.name, getattr(cfg, name, None))
        if f.name == "matryoshka" and isinstance(v, list):
            v = ",".join(map(str, v))
        if f.name in ("lora",) and not v:
            continue
        out[f.name] = v
    return out


def _train_estimate(ctx: Context, o: TrainOptions) -> dict[str, Any]:
    from bgetune.tools.training import estimate_training

    ensure_split(ctx)
    est = estimate_training(ctx.ws, train_config(ctx, o), progress=ctx.progress)
    return est | {"settings": resolved_train_settings(ctx, o, est)}


def ensure_split(ctx: Context) -> Any:
    """Split (free, deterministic) when kept pairs have no split yet; training and its estimate need one."""
    if HAS_SPLIT.check(ctx.ws):
        return None
    from bgetune.tools.split import make_split

    return make_split(ctx.ws)


def _estimate(ctx: Context, o: TrainOptions) -> EstimateResult:
    return EstimateResult.of(_train_estimate(ctx, o))


def _train(ctx: Context, o: TrainOptions) -> TrainResult:
    from bgetune.tools.training import TrainingError, train

    ensure_split(ctx)
    try:
        out = train(ctx.ws, train_config(ctx, o), progress=ctx.progress)
    except TrainingError as exc:
        raise BgetuneError(str(exc)) from exc
    curve = out.get("loss_curve") or []
    if len(curve) > 12:  # keep the message short: first, evenly spaced, last
        out = out | {"loss_curve": curve[:: max(1, len(curve) // 10)] + [curve[-1]]}
    return TrainResult.of(out)


@dataclass(kw_only=True)
class EvalOptions:
    split: Literal["test", "val"] = setting("test", help="Held-out split to score.")


def _evaluate(ctx: Context, o: EvalOptions) -> EvalResult:
    from bgetune.tools.evaluation import EvaluationError, evaluate_workspace

    try:
        out = evaluate_workspace(ctx.ws, split=o.split, progress=ctx.progress)
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


def _calibrate(ctx: Context, o: CalibrateOptions) -> CalibrateResult:
    from bgetune.tools.calibration import calibrate

    out = calibrate(ctx.ws, precision_target=o.precision, progress=ctx.progress)
    return CalibrateResult.of(out)


@dataclass(kw_only=True)
class ScoreOptions:
    query: str = setting(help="The query.", positional=True)
    passage: str = setting(help="The passage.", positional=True)
    model: str | None = setting(None, help="Model folder, hub id or 'bundled' (default: the exported model).")


def exported_model_dir(ws: Any) -> str | None:
    """The exported model folder, else the trained one."""
    from bgetune.tools.evaluation import latest_tuned_dir

    run = ws.last_run("export")
    d = (run or {}).get("result", {}).get("model_dir")
    if d and Path(d).exists():
        return str(d)
    return latest_tuned_dir(ws)


def _score(ctx: Context, o: ScoreOptions) -> ScoreResult:
    from bgetune.tools.calibration import score_pair

    model = o.model or exported_model_dir(ctx.ws)
    if not model:
        raise BgetuneError("no trained model yet: train first, then score pairs with it (or pass --model)")
    out = score_pair(model, o.query, o.passage)
    return ScoreResult.of(out | {"model": model})


@dataclass(kw_only=True)
class ExportOptions:
    out_dir: str | None = setting(None, help="Folder to write (default: inside the workspace).", flag="--out")
    run_id: str | None = setting(None, help="Training run id (default: the latest finished).", flag="--run")
    ship_anyway: bool = setting(
        False,
        help="Export the best tuned candidate even when the ship decision kept the base.",
        say=("ship anyway", "仍然发布"),
    )
    onnx: bool = setting(False, help="Also write onnx/model.onnx (measured against torch).")
    quantize: Literal["none", "int8"] = setting("none", help="Also write an int8 ONNX file (implies --onnx).")


def _export(ctx: Context, o: ExportOptions) -> ExportResult:
    from bgetune.agent.registry import user_path
    from bgetune.tools.export import ExportError, export_model

    out = user_path(ctx, o.out_dir, "write to") if (o.out_dir and ctx.files is not None) else o.out_dir
    try:
        res = ExportResult.of(export_model(ctx.ws, run_id=o.run_id, out_dir=out, ship_anyway=o.ship_anyway))
    except ExportError as exc:
        raise BgetuneError(str(exc)) from exc
    if (o.onnx or o.quantize != "none") and res.model_dir:
        from bgetune.tools.onnx_export import export_onnx

        res.detail["onnx"] = export_onnx(res.model_dir, quantize=o.quantize, ws=ctx.ws)
    return res


@dataclass(kw_only=True)
class ExportDataOptions:
    out: str = setting("training-data.jsonl", help="Output JSONL file (inside the workspace when relative).")
    split: Literal["train", "val", "test", "all"] = setting("train", help="Which split to write.")


def _export_data(ctx: Context, o: ExportDataOptions) -> ExportDataResult:
    from bgetune.tools.pairs_io import export_training_jsonl

    path = Path(o.out)
    if not path.is_absolute():
        path = ctx.ws.root / path
    res = export_training_jsonl(ctx.ws, path, split=o.split)
    rows = res.get("rows", 0) if isinstance(res, dict) else int(res or 0)
    return ExportDataResult(path=str(path), rows=rows, detail=res if isinstance(res, dict) else {})


@dataclass(kw_only=True)
class GuardOptions:
    ood_corpus: str | None = setting(
        None, help="Out-of-domain corpus JSONL (default: a packaged general set)."
    )
    ood_golden: str | None = setting(None, help="Out-of-domain golden JSONL.")


def _guard(ctx: Context, o: GuardOptions) -> GuardResult:
    from bgetune.tools.merge import forgetting_guard

    tuned = exported_model_dir(ctx.ws)
    if not tuned:
        raise BgetuneError("no trained model yet: train first, then run the forgetting guard")
    out = forgetting_guard(
        ctx.ws, tuned_dir=tuned, ood_corpus=o.ood_corpus, ood_golden=o.ood_golden, progress=ctx.progress
    )
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
    from bgetune.tools.compare import compare_models

    return compare_models(
        ctx.ws, o.models, golden=o.golden, corpus=o.corpus, progress=ctx.progress, lang=ctx.lang
    )


def remembered_settings() -> set[str]:
    """Names of settings the workspace remembers (declared with workspace=True on any capability)."""
    from bgetune.capabilities import settings_of, table

    return {f.name for c in table().values() for f in settings_of(c) if f.metadata.get("workspace")}


def setting_field(name: str) -> Any:
    from bgetune.capabilities import settings_of, table

    for c in table().values():
        for f in settings_of(c):
            if f.name == name and f.metadata.get("workspace"):
                return f
    return None


@dataclass(kw_only=True)
class SetSettingOptions:
    name: str = setting(
        help="A remembered setting: epochs, lr, batch_size, base_model, lora, wise_ft, ...", positional=True
    )
    value: str = setting(help="New value, e.g. '3' or 'BAAI/bge-m3'.", positional=True)


def _set_setting(ctx: Context, o: SetSettingOptions) -> SettingResult:
    from bgetune.capabilities import coerce

    f = setting_field(o.name)
    if f is None:
        raise BgetuneError(
            f"unknown setting {o.name!r}; settings: {', '.join(sorted(remembered_settings()))}"
        )
    value = coerce(f, o.value.strip() if isinstance(o.value, str) else o.value)
    note = None
    if o.name == "base_model" and value:
        from bgetune.core.models import resolve_base_model

        try:
            note = resolve_base_model(value).note
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the choice is still stored
            note = f"cannot load {value} here yet ({exc}); it will be tried again at training time"
    ctx.ws.set_setting(o.name, value)
    return SettingResult(name=o.name, value=value, note=note)


CAPABILITIES = [
    Capability(
        "ingest",
        "Load and chunk documents into the workspace.",
        _ingest,
        IngestOptions,
        IngestResult,
        cost="cpu-minutes",
        stage=1,
    ),
    Capability(
        "status", "Show what the workspace holds at each stage.", _status, None, StatusResult, cli=None
    ),
    Capability(
        "filter_pairs",
        "Filter proposed pairs (duplicates, weak or leaking queries); real questions are only flagged.",
        _filter,
        FilterOptions,
        FilterResult,
        cost="cpu-minutes",
        requires=(HAS_PAIRS,),
        cli="filter",
        stage=3,
    ),
    Capability(
        "show_dataset",
        "Summarise the dataset: counts, reject reasons, examples.",
        _show_dataset,
        None,
        DatasetResult,
        cli=None,
        ui="review",
    ),
    Capability(
        "show_pairs",
        "List pairs with ids, by status, reason, document, source or text, a page at a time.",
        _show_pairs,
        ShowPairsOptions,
        PairsPage,
        cli=None,
        ui="review",
    ),
    Capability(
        "approve_pairs",
        "Approve the pairs with these ids.",
        _approve,
        IdsOptions,
        ReviewResult,
        cli=None,
        decides=True,
    ),
    Capability(
        "reject_pairs",
        "Reject the pairs with these ids.",
        _reject,
        IdsOptions,
        ReviewResult,
        cli=None,
        decides=True,
    ),
    Capability(
        "edit_pair",
        "Replace the query of one pair.",
        _edit,
        EditOptions,
        ReviewResult,
        cli=None,
        decides=True,
    ),
    Capability(
        "approve_all_pairs",
        "Approve every proposed pair (filter rejects stay rejected).",
        _approve_all,
        None,
        ReviewResult,
        cli=None,
        decides=True,
        requires=(HAS_PAIRS,),
        stage=4,
    ),
    Capability(
        "split_dataset",
        "Split approved pairs into train/val/test by document.",
        _split,
        SplitOptions,
        SplitResult,
        requires=(HAS_APPROVED,),
        cli="split",
        stage=5,
    ),
    Capability(
        "mine_negatives",
        "Mine hard negatives for the training pairs (rank window + positive-aware margin).",
        _mine,
        MineOptions,
        MineResult,
        cost="cpu-minutes",
        requires=(HAS_APPROVED, HAS_SPLIT),
        cli="mine",
        stage=6,
    ),
    Capability(
        "estimate_training",
        "Estimate training steps, time and device (times a few real steps; trains nothing).",
        _estimate,
        TrainOptions,
        EstimateResult,
        cost="cpu-minutes",
        requires=(HAS_APPROVED,),
        cli="estimate",
    ),
    Capability(
        "train",
        "Fine-tune the embedding model on the approved pairs.",
        _train,
        TrainOptions,
        TrainResult,
        cost="gpu",
        requires=(HAS_APPROVED,),
        estimate=_train_estimate,
        stage=7,
        ui="settings",
    ),
    Capability(
        "evaluate",
        "Compare base and tuned model on the held-out documents.",
        _evaluate,
        EvalOptions,
        EvalResult,
        cost="cpu-minutes",
        requires=(HAS_TRAINED,),
        cli=None,
        stage=8,
    ),
    Capability(
        "calibrate",
        "Calibrate a relevance threshold for the tuned model.",
        _calibrate,
        CalibrateOptions,
        CalibrateResult,
        cost="cpu-minutes",
        requires=(HAS_TRAINED,),
        cli=None,
        stage=9,
    ),
    Capability(
        "export_model",
        "Export the tuned model as a sentence-transformers folder with its model card.",
        _export,
        ExportOptions,
        ExportResult,
        requires=(HAS_TRAINED,),
        cli="export",
        stage=10,
    ),
    Capability(
        "score",
        "Score how relevant a passage is to a query with the exported model.",
        _score,
        ScoreOptions,
        ScoreResult,
        cli=None,
    ),
    Capability(
        "export_data",
        "Write the training pairs as FlagEmbedding JSONL (query/pos/neg/prompt).",
        _export_data,
        ExportDataOptions,
        ExportDataResult,
        requires=(HAS_APPROVED,),
        cli=None,
    ),
    Capability(
        "forgetting_guard",
        "Check general ability out of domain and merge with the base if it dropped.",
        _guard,
        GuardOptions,
        GuardResult,
        cost="cpu-minutes",
        requires=(HAS_TRAINED,),
        cli=None,
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
        "set_setting",
        "Set a remembered setting (epochs, lr, batch_size, base_model, lora, wise_ft, ...).",
        _set_setting,
        SetSettingOptions,
        SettingResult,
        decides=True,
        cli=None,
    ),
]


# ---------------------------------------------------------------------------------------------- model + results
@dataclass
class BaseModelInfo(Result):
    model: str = ""
    asked: str | None = None
    language: str = ""
    reason: str = ""

    def text(self, lang: str = "en") -> str:
        return say(lang, f"Base model: {self.model}. {self.reason}", f"基座模型：{self.model}。{self.reason}")


def _base_model_info(ctx: Context, o: None) -> BaseModelInfo:
    from bgetune.core.models import resolve_base_model
    from bgetune.core.text import corpus_language

    asked = ctx.ws.get_setting("base_model") or ctx.settings.base_model
    language = corpus_language(ctx.ws.stats()["chunk_languages"])
    res = resolve_base_model(asked, language=language)
    zh = ctx.lang == "zh"
    if res.note:
        reason = (
            f"（{res.note}）说“用 BAAI/bge-m3”或给出本地模型文件夹可以更换。"
            if zh
            else f'Why: {res.note} Say "use <model id or folder>" to change it.'
        )
    elif asked:
        reason = "这是你选定的模型。" if zh else "You chose it."
    else:
        reason = (
            f"按文档语言（{language}）选择。说“用 <模型>”可以更换。"
            if zh
            else f'Chosen for the documents\' language ({language}). Say "use <model>" to change it.'
        )
    return BaseModelInfo(
        model=res.spec if res.spec != "bundled" else "bundled all-MiniLM-L6-v2",
        asked=asked,
        language=language,
        reason=reason,
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


CAPABILITIES += [
    Capability(
        "base_model_info",
        "Say which base model will be tuned and why.",
        _base_model_info,
        None,
        BaseModelInfo,
        cli=None,
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


# The pipeline's stages in order (generation sits at 2: declared in bgetune.tools.qa_generation).
PIPELINE_STAGES = (
    "ingest",
    "generate_pairs",
    "filter_pairs",
    "approve_all_pairs",
    "split_dataset",
    "mine_negatives",
    "train",
    "evaluate",
    "calibrate",
    "export_model",
)
AFTER_TRAIN = ("evaluate", "calibrate", "export_model")
