"""Diagnosis capabilities: why a query misses, the golden set's misses by cause, the misses list, fixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bgetune.capabilities import Capability, Context, Prereq, fields_of, setting
from bgetune.capabilities.prereqs import HAS_CHUNKS, has_rows
from bgetune.tools.diagnosis import (
    ACTIONS,
    BatchDiagnosis,
    Diagnosis,
    FixResult,
    FixSummary,
    MissList,
    apply_fix,
    diagnose,
    diagnose_golden,
    fixed_pairs_summary,
    misses,
)
from bgetune.tools.diagnosis.fixes import ALIASES as FIX_ALIASES
from bgetune.tools.diagnosis.fixes import FIRST as FIRST_FIX

HAS_MISSES = Prereq(has_rows("misses"), "no query diagnosed yet", "diagnose")


@dataclass(kw_only=True)
class DiagnoseOptions:
    query: str = setting(
        "", help="The query that misses (empty with --pick: the last diagnosed one).", positional=True
    )
    expected: str | None = setting(
        None,
        help="The right answer: its text, or a document and page ('R-FAQ.pdf p. 12').",
        say=("should find", "expected", "应该找到", "期望"),
    )
    expected_id: str | None = setting(None, help="Chunk id or knowledge-base id of the right answer.")
    pick: int | None = setting(
        None,
        help="Number of the right answer in the last result list ('the second one' = 2).",
        min=1,
        max=50,
        say=("the second one", "number", "第二个", "第几个"),
    )
    golden: str | None = setting(
        None,
        help="Instead of one query: diagnose every golden question of this JSONL file ('-': the workspace "
        "golden set) and group the misses by cause.",
    )
    model: str | None = setting(None, help="Tuned model folder (default: the workspace's newest).")
    top_k: int = setting(10, help="Results shown per model.", min=1, max=50)
    lang: str | None = setting(None, help="Language of the reply (default: the chat's, else the query's).",
                               choices=("en", "zh"))  # fmt: skip


def run_diagnose(ctx: Context, opts: DiagnoseOptions) -> Diagnosis | BatchDiagnosis:
    if opts.golden:
        return diagnose_golden(
            ctx.ws,
            None if opts.golden == "-" else opts.golden,
            model_dir=opts.model,
            lang=opts.lang or ctx.lang,
            progress=ctx.progress,
        )
    return diagnose(
        ctx.ws,
        opts.query,
        expected=opts.expected,
        expected_id=opts.expected_id,
        expected_pick=opts.pick,
        lang=opts.lang or ctx.lang,
        model_dir=opts.model,
        top_k=opts.top_k,
    )


@dataclass(kw_only=True)
class DiagnoseGoldenOptions:
    golden: str | None = setting(
        None,
        help='Golden JSONL {"query","pos":[text]} or {"query","pos_ids":[id]} (default: the workspace golden set).',
    )
    model: str | None = setting(None, help="Tuned model folder (default: the workspace's newest).")
    lang: str | None = setting(None, help="Language of the reply.", choices=("en", "zh"))


def run_diagnose_golden(ctx: Context, opts: DiagnoseGoldenOptions) -> BatchDiagnosis:
    return diagnose_golden(
        ctx.ws, opts.golden, model_dir=opts.model, lang=opts.lang or ctx.lang, progress=ctx.progress
    )


@dataclass(kw_only=True)
class ListMissesOptions:
    status: str | None = setting(None, help="Only this status: open, not-a-miss, fixed, dismissed.")


@dataclass
class MissesView:
    """The misses list plus what the fixes add up to."""

    misses: MissList
    summary: FixSummary

    def text(self, lang: str = "en") -> str:
        return self.misses.text(lang) + ("\n" + self.summary.text(lang) if self.misses.rows else "")


def run_list_misses(ctx: Context, opts: ListMissesOptions) -> MissesView:
    return MissesView(MissList(misses(ctx.ws, status=opts.status)), fixed_pairs_summary(ctx.ws))


# every name apply_fix understands: the actions, their aliases and "suggested" (the diagnosis's first fix)
FIX_CHOICES = (*ACTIONS, *FIX_ALIASES, *FIRST_FIX)


@dataclass(kw_only=True)
class ApplyFixOptions:
    miss_id: int = setting(
        help="The miss number (from the diagnosis or `bgetune misses`).", positional=True, min=1
    )
    action: str = setting(
        help="The fix to apply: " + ", ".join(ACTIONS) + "; or 'suggested' (the diagnosis's first fix).",
        positional=True,
        choices=FIX_CHOICES,
        normalize=lambda a: a.strip().lower().replace("-", "_"),  # `bgetune fix 3 add-golden`
        say=("add as training pair", "add to golden", "加入训练", "加入黄金集"),
    )
    chunk_id: str | None = setting(None, help="The passage (default: the diagnosis's expected answer).")
    value: float | None = setting(None, help="The threshold, for set_threshold.", min=-1.0, max=1.0)
    model: str | None = setting(None, help="The base model, for switch_base_model (default BAAI/bge-m3).")
    document: str | None = setting(None, help="The document to re-chunk (default: the expected answer's).")
    chunk_tokens: int | None = setting(None, help="Chunk size for rechunk.", min=16, max=8192)
    chunk_overlap: int | None = setting(None, help="Chunk overlap for rechunk.", min=0, max=4096)


def run_apply_fix(ctx: Context, opts: ApplyFixOptions) -> FixResult:
    return apply_fix(ctx.ws, opts.miss_id, opts.action, **fields_of(opts, exclude=("miss_id", "action")))


def _diagnosis(name: str, summary: str, run: Any, options: type, result: type, **kw: Any) -> Capability:
    """A capability of the diagnosis area: shown on the UI's diagnose tab, on an existing workspace."""
    return Capability(name, summary, run, options, result, ui="diagnose", workspace="existing", **kw)


CAPABILITIES = [
    _diagnosis(
        "diagnose",
        "Explain why a query misses its answer: both models' results, the expected answer's rank, the cause, fixes.",
        run_diagnose,
        DiagnoseOptions,
        Diagnosis,
        cost="cpu-minutes",
        requires=(HAS_CHUNKS,),
    ),
    _diagnosis(
        "diagnose_golden",
        "Find which golden questions still miss and group them by cause, biggest first.",
        run_diagnose_golden,
        DiagnoseGoldenOptions,
        BatchDiagnosis,
        cost="cpu-minutes",
        requires=(HAS_CHUNKS,),
    ),
    _diagnosis(
        "list_misses",
        "List the queries diagnosed so far with their status, and what the fixes add up to.",
        run_list_misses,
        ListMissesOptions,
        MissesView,
        cli="misses",
    ),
    _diagnosis(
        "apply_fix",
        "Apply a fix to a diagnosed miss (training pair, golden question, relabel, threshold, re-chunk, base model).",
        run_apply_fix,
        ApplyFixOptions,
        FixResult,
        requires=(HAS_MISSES,),
        cli="fix",
        decides=True,
    ),
]
