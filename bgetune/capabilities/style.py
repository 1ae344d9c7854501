"""Style capabilities (issue 24): import a plain list of past search queries (style source, and pseudo pairs where
the teacher is confident), and the style report (how close proposed queries are to the users' real ones)."""

from __future__ import annotations

from dataclasses import dataclass

from bgetune.capabilities import Capability, Context, invoke, setting, user_path
from bgetune.tools.querylog import MIN_MARGIN, QueryLogResult, import_queries
from bgetune.tools.style import StyleReport, StyleSource, style_source, workspace_style_report


@dataclass(kw_only=True)
class ImportQueriesOptions:
    path: str = setting(
        help="Past search queries, no answers needed: a txt (one per line) or a CSV/TSV with a query column.",
        positional=True,
        say=("search log", "query log", "past queries", "search queries", "搜索记录", "查询日志", "搜索日志"),
    )
    pseudo_label: bool = setting(
        True,
        help="Match each query to a passage with the teacher (base model + BM25) and keep the confident ones as "
        "'pseudo' training pairs (never used as evidence for shipping).",
        say=("pseudo labels", "伪标签"),
    )
    min_margin: float = setting(
        MIN_MARGIN,
        help="How far (z-units) the teacher's best passage must lead the second for a pseudo pair.",
        min=0.0,
        max=10.0,
    )
    then_filter: bool = setting(True, help="Run the filters on the new pairs afterwards.", flag="--filter")


def run_import_queries(ctx: Context, o: ImportQueriesOptions) -> QueryLogResult:
    path = user_path(ctx, o.path, "read") if ctx.files is not None else o.path
    res = import_queries(
        ctx.ws, path, pseudo_label=o.pseudo_label, min_margin=o.min_margin, progress=ctx.progress
    )
    if o.then_filter and res.pseudo_pairs:
        invoke("filter_pairs", {}, ctx)
    return res


@dataclass(kw_only=True)
class StyleReportOptions:
    status: str = setting(
        "proposed",
        help="Which generated pairs to compare with the real questions.",
        choices=("proposed", "approved", "rejected"),
    )


@dataclass
class StyleSummary:
    """The style source and, when there are generated pairs, the style report."""

    source: StyleSource
    report: StyleReport | None = None

    def text(self, lang: str = "en") -> str:
        out = self.source.text(lang)
        if self.report is not None and self.report.n_proposed and self.report.n_real:
            out += "\n" + self.report.text(lang)
        return out


def run_style_report(ctx: Context, o: StyleReportOptions) -> StyleSummary:
    rep = workspace_style_report(ctx.ws, status=o.status)
    return StyleSummary(style_source(ctx.ws), rep if rep.n_proposed else None)


CAPABILITIES = [
    Capability(
        "import_queries",
        "Import past search queries without answers (txt/CSV): they set the style of generated questions, and "
        "those the teacher matches to a passage with confidence become 'pseudo' training pairs to review.",
        run_import_queries,
        ImportQueriesOptions,
        QueryLogResult,
        cost="cpu-minutes",
        decides=True,
    ),
    Capability(
        "style_report",
        "Say which real questions set the style of generated ones, and how close the proposed queries are to them.",
        run_style_report,
        StyleReportOptions,
        StyleSummary,
        cost="free",
        cli="style",
    ),
]
