"""Data capabilities: ingest, status, filter, review (list, approve, reject, edit, approve all), split, the
training-data export, remembered settings and the base model."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bgetune.capabilities import (
    Capability,
    Context,
    arguments,
    coerce,
    remembered_settings,
    setting,
    setting_field,
    user_path,
)
from bgetune.capabilities.prereqs import HAS_APPROVED, HAS_PAIRS
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.models import resolve_base_model
from bgetune.core.results import Result
from bgetune.core.text import corpus_language
from bgetune.tools.filtering import filter_pairs
from bgetune.tools.ingest import ingest
from bgetune.tools.pairs_io import export_training_jsonl
from bgetune.tools.review import approve, approve_all, dataset_summary, edit, list_pairs, reject
from bgetune.tools.split import make_split


@dataclass
class IngestResult(Result):
    files: int = 0
    added: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_written: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    unknown_token_rate: dict[str, float] = field(default_factory=dict)
    reading_warning: str | None = None
    reading_warning_zh: str | None = None

    def text(self, lang: str = "en") -> str:
        warn = self.reading_warning_zh if lang == "zh" else self.reading_warning
        lines = [f"! {warn}"] if warn else []
        lines += [
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


def _reason_lines(codes: list[str], lang: str) -> list[str]:
    """Rejection reasons in plain words, one line each."""
    from bgetune.tools.filtering import explain_reason

    return [f"  {code}: {explain_reason(code, lang)}" for code in codes]


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
            top = sorted(self.by_reason.items(), key=lambda kv: -kv[1])[:3]
            lines += _reason_lines([code for code, _ in top], lang)
            if c.get("rejected", 0) > c.get("proposed", 0) + c.get("approved", 0) + c.get("edited", 0):
                lines.append(
                    say(
                        lang,
                        "More pairs come from more documents, from 10 real questions pasted as style examples, or "
                        'from an LLM generator (BGETUNE_LLM_BASE_URL). "show rejected" lists them; "approve 12" '
                        "keeps one you disagree with the filter on.",
                        "更多问答对来自：更多文档、粘贴 10 个真实问题作为风格示例，或 LLM 生成器（BGETUNE_LLM_BASE_URL）。"
                        "说“看看被拒的”查看它们；不同意过滤结果时说“通过 12”保留。",
                    )
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
        if len(self.pairs) <= 3:  # one pair looked at: its reasons in plain words
            lines += _reason_lines(
                list(dict.fromkeys(c for p in self.pairs for c in (p.get("reasons") or []))), lang
            )
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
        return say(lang, f"{self.count} pair(s) {self.action}.", f"{zh} {self.count} 个问答对。")


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


@dataclass(kw_only=True)
class IngestOptions:
    paths: list[str] = arguments(help="Files or folders (PDF, DOCX, Markdown, TXT, HTML, JSONL).")
    chunk_tokens: int | None = setting(None, help="Chunk size in tokens (default 256).", min=32, max=8192)
    chunk_overlap: int | None = setting(None, help="Overlap in tokens (default 32).", min=0, max=1024)
    base_model: str | None = setting(
        None, help="Hub id, local folder or 'bundled'; its tokenizer sizes the chunks (remembered)."
    )


def _ingest(ctx: Context, o: IngestOptions) -> IngestResult:
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
    if o.base_model:
        ctx.ws.set_setting("base_model", o.base_model)
    report = ingest(
        ctx.ws, paths, settings=settings, base_model=ctx.ws.get_setting("base_model"), progress=ctx.progress
    )
    return IngestResult.of(report.summary() | {"workspace": str(ctx.ws.root)})


def _exit_when_a_file_failed(res: IngestResult) -> None:
    """CLI: exit 2 after the report when a file could not be read (scripts notice)."""
    if res.failed:
        raise SystemExit(2)


def _export_dir(ws: Any) -> str | None:
    """The newest training run's export: wherever ``--out`` put it (the recorded export run), else its run
    folder's ``export/`` (workspaces exported before exports were recorded). The stage snapshot is built on
    every agent step: only these lookups, not the run's whole artifact scan."""
    from bgetune.tools.layout import last_export, run_export_dir

    exp = last_export(ws)
    if exp is not None:
        return str(exp["model_dir"])
    run = ws.last_run("train")
    d = run_export_dir(ws, run["id"]) if run else None
    return str(d) if d is not None and (d / "bgetune.json").exists() else None


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
        "export_dir": _export_dir(ws),
        "settings": {k: v for k, v in ws.settings().items() if k in remembered_settings()},
    }


def _status(ctx: Context, o: None) -> StatusResult:
    """The stage snapshot plus the workspace's full counts (pages, languages, runs) and the failed files."""
    failures = [{"path": d["path"], "error": d["error"]} for d in ctx.ws.documents(status="error")]
    return StatusResult.of(
        ctx.ws.stats() | stage_snapshot(ctx.ws) | {"workspace": str(ctx.ws.root), "failures": failures}
    )


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
    kw: dict[str, Any] = {
        "top_k": o.top_k,
        "min_similarity": o.min_similarity,
        "round_trip_check": o.round_trip,
    }

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

    return DatasetResult.of(dataset_summary(ctx.ws, examples=5))


@dataclass(kw_only=True)
class ShowPairsOptions:
    status: Literal["proposed", "approved", "rejected", "edited", "kept"] | None = setting(
        None, help="Only pairs with this status (kept: proposed, approved or edited)."
    )
    ids: list[int] | None = setting(None, help="Only the pairs with these ids.")
    reason: str | None = setting(None, help="Only pairs rejected or flagged for this reason.")
    document: str | None = setting(None, help="Only pairs from documents whose name contains this.")
    source: str | None = setting(None, help="Only pairs from this source (offline, llm, import, history...).")
    search: str | None = setting(None, help="Only pairs whose query or passage contains this text.")
    limit: int = setting(10, help="How many to show (0: all).", min=0)
    offset: int = setting(0, help="Skip this many.", min=0)


def _show_pairs(ctx: Context, o: ShowPairsOptions) -> PairsPage:
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
    if o.ids:
        rows = [r for r in rows if r["id"] in set(o.ids)]
    total = len(rows)
    rows = rows[o.offset : o.offset + o.limit] if o.limit else rows[o.offset :]
    keep = ("id", "query", "passage", "status", "reasons", "document", "source")
    pairs = [{k: (r.get(k)[:300] if k == "passage" and r.get(k) else r.get(k)) for k in keep} for r in rows]
    ctx.ws.set_setting(  # the ids shown, so "approve the first 20" / "approve these" name these pairs
        "_last_pairs_view",
        {"filters": filters, "offset": o.offset, "limit": o.limit, "ids": [p["id"] for p in pairs][:500]},
    )
    return PairsPage(pairs=pairs, shown=len(pairs), offset=o.offset, total=total, filters=filters)


@dataclass(kw_only=True)
class IdsOptions:
    ids: list[int] = arguments(help="Pair ids.")
    why: str | None = setting(None, help="Why (kept in the pair's history).")


def _approve(ctx: Context, o: IdsOptions) -> ReviewResult:

    n = approve(ctx.ws, o.ids, why=o.why)
    return ReviewResult(action="approved", count=n, ids=o.ids, counts=ctx.ws.stats()["pairs"])


def _reject(ctx: Context, o: IdsOptions) -> ReviewResult:
    n = reject(ctx.ws, o.ids, why=o.why)
    return ReviewResult(action="rejected", count=n, ids=o.ids, counts=ctx.ws.stats()["pairs"])


@dataclass(kw_only=True)
class EditOptions:
    id: int = setting(help="Pair id.", positional=True)
    query: str = setting(help="The corrected query.")


def _edit(ctx: Context, o: EditOptions) -> ReviewResult:

    edit(ctx.ws, o.id, query=o.query)
    return ReviewResult(
        action="edited", count=1, ids=[o.id], counts=ctx.ws.stats()["pairs"], detail={"query": o.query}
    )


def _approve_all(ctx: Context, o: None) -> ReviewResult:
    n = approve_all(ctx.ws)
    return ReviewResult(action="approved", count=n, counts=ctx.ws.stats()["pairs"])


@dataclass(kw_only=True)
class SplitOptions:
    val: float = setting(0.1, help="Share of documents for validation.", min=0.0, max=0.5)
    test: float = setting(0.2, help="Share of documents held out for testing.", min=0.01, max=0.6)
    seed: int = setting(13, help="Random seed of the split.")


def _split(ctx: Context, o: SplitOptions) -> SplitResult:

    return SplitResult.of(make_split(ctx.ws, val=o.val, test=o.test, seed=o.seed))


@dataclass(kw_only=True)
class ExportDataOptions:
    out: str = setting("training-data.jsonl", help="Output JSONL file (inside the workspace when relative).")
    split: Literal["train", "val", "test", "all"] = setting("train", help="Which split to write.")


def _export_data(ctx: Context, o: ExportDataOptions) -> ExportDataResult:
    path = Path(o.out)
    if not path.is_absolute():
        path = ctx.ws.root / path
    res = export_training_jsonl(ctx.ws, path, split=o.split)
    rows = res.get("rows", 0) if isinstance(res, dict) else int(res or 0)
    return ExportDataResult(path=str(path), rows=rows, detail=res if isinstance(res, dict) else {})


@dataclass(kw_only=True)
class SetSettingOptions:
    name: str = setting(
        help="A remembered setting: epochs, lr, batch_size, base_model, lora, wise_ft, ...", positional=True
    )
    value: str = setting(help="New value, e.g. '3' or 'BAAI/bge-m3'.", positional=True)


def _set_setting(ctx: Context, o: SetSettingOptions) -> SettingResult:

    f = setting_field(o.name)
    if f is None:
        raise BgetuneError(
            f"unknown setting {o.name!r}; settings: {', '.join(sorted(remembered_settings()))}"
        )
    value = coerce(f, o.value.strip() if isinstance(o.value, str) else o.value)
    note = None
    if o.name == "base_model" and value:
        try:
            note = resolve_base_model(value).note
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the choice is still stored
            note = f"cannot load {value} here yet ({exc}); it will be tried again at training time"
    ctx.ws.set_setting(o.name, value)
    return SettingResult(name=o.name, value=value, note=note)


@dataclass
class BaseModelInfo(Result):
    model: str = ""
    asked: str | None = None
    language: str = ""
    reason: str = ""

    def text(self, lang: str = "en") -> str:
        return say(lang, f"Base model: {self.model}. {self.reason}", f"基座模型：{self.model}。{self.reason}")


def _base_model_info(ctx: Context, o: None) -> BaseModelInfo:
    asked = ctx.ws.get_setting("base_model") or ctx.settings.base_model
    language = corpus_language(ctx.ws.stats()["chunk_languages"])
    res = resolve_base_model(asked, language=language)
    zh = ctx.lang == "zh"
    if res.note:
        reason = (
            f"（{res.note_in('zh')}）说“用 BAAI/bge-small-zh-v1.5”或给出本地模型文件夹可以更换。"
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


CAPABILITIES = [
    Capability(
        "ingest",
        "Load and chunk documents into the workspace.",
        _ingest,
        IngestOptions,
        IngestResult,
        cost="cpu-minutes",
        stage=1,
        cli_after=_exit_when_a_file_failed,
    ),
    Capability(
        "status",
        "Show what the workspace holds at each stage.",
        _status,
        None,
        StatusResult,
        workspace="existing",
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
        ui="review",
        group="review",
        cli="list",
        workspace="existing",
    ),
    Capability(
        "approve_pairs",
        "Approve the pairs with these ids.",
        _approve,
        IdsOptions,
        ReviewResult,
        decides=True,
        group="review",
        cli="approve",
        workspace="existing",
    ),
    Capability(
        "reject_pairs",
        "Reject the pairs with these ids.",
        _reject,
        IdsOptions,
        ReviewResult,
        decides=True,
        group="review",
        cli="reject",
        workspace="existing",
    ),
    Capability(
        "edit_pair",
        "Replace the query (or the passage) of one pair; the original is kept.",
        _edit,
        EditOptions,
        ReviewResult,
        decides=True,
        group="review",
        cli="edit",
        workspace="existing",
    ),
    Capability(
        "approve_all_pairs",
        "Approve every proposed pair (filter rejects stay rejected).",
        _approve_all,
        None,
        ReviewResult,
        decides=True,
        requires=(HAS_PAIRS,),
        stage=4,
        group="review",
        cli="approve-all",
        workspace="existing",
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
        "export_data",
        "Write the training pairs as FlagEmbedding JSONL (query/pos/neg/prompt).",
        _export_data,
        ExportDataOptions,
        ExportDataResult,
        requires=(HAS_APPROVED,),
        cli="export-data",
        workspace="existing",
    ),
    Capability(
        "set_setting",
        "Set a remembered setting (epochs, lr, batch_size, base_model, lora, wise_ft, ...).",
        _set_setting,
        SetSettingOptions,
        SettingResult,
        decides=True,
        cli="set",  # `bgetune set epochs 2`
    ),
    Capability(
        "base_model_info",
        "Say which base model will be tuned and why.",
        _base_model_info,
        None,
        BaseModelInfo,
        cli=None,
    ),
]
