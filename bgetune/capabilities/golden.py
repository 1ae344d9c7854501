"""Golden-set capabilities: the user's real questions, labeled against the corpus, and the evaluation on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgetune.capabilities import Capability, Context, Prereq, invoke, setting
from bgetune.capabilities.prereqs import HAS_CHUNKS, has_rows
from bgetune.tools import golden as g
from bgetune.tools.golden import (
    EvaluateGoldenOptions,
    GoldenAddOptions,
    GoldenAddResult,
    GoldenCandidatesOptions,
    GoldenCandidatesResult,
    GoldenEditOptions,
    GoldenEditResult,
    GoldenEvalResult,
    GoldenLabelOptions,
    GoldenLabelResult,
    GoldenListOptions,
    GoldenListResult,
    evaluate_golden,
    golden_add,
    golden_candidates,
    golden_edit,
    golden_label,
    golden_list,
)

NEEDS_QUESTIONS = Prereq(has_rows("golden"), "no golden questions yet", fix="golden_add")


@dataclass(kw_only=True)
class AddOptions(GoldenAddOptions):
    path: str | None = setting(
        None,
        help="A .txt (one per line), .csv/.xlsx (question column) or .jsonl file of questions.",
        flag="--file",
    )


@dataclass(kw_only=True)
class LabelOptions(GoldenLabelOptions):
    answer: str | None = setting(
        None,
        help='Candidate numbers ("1 3"), chunk ids, or "none" when the documents do not answer it. Without it the '
        "CLI asks, question by question.",
        flag="--pos",
    )
    query_id: int | None = setting(
        None,
        help="Question id (default: the question whose candidates were shown last).",
        min=1,
        flag="--query",
    )
    k: int = setting(
        5, help="Candidates shown from each list (base model and BM25).", min=1, max=20, flag="-k"
    )


def label(ctx: Context, opts: LabelOptions) -> GoldenLabelResult:
    """Label one question; candidate numbers refer to its candidate list, shown first when it was not yet."""
    numbers = [p for p in (opts.answer or "").replace(",", " ").split() if p.isdigit() and len(p) <= 3]
    if (
        opts.query_id
        and (numbers or opts.picks)
        and not g.get_question(ctx.ws, opts.query_id).candidates.get("shown")
    ):
        g.show_candidates(ctx.ws, opts.query_id, k=opts.k)
    return golden_label(ctx, opts)


@dataclass
class LabelSession:
    """What a labelling dialogue did: the labels given and the counts afterwards."""

    labeled: list[int]
    counts: g.GoldenCounts
    note: str = ""

    def text(self, lang: str = "en") -> str:
        summary = GoldenListResult([], self.counts).text(lang).splitlines()[0]
        return "\n".join(x for x in (self.note, summary) if x)


def label_dialogue(ctx: Context, opts: LabelOptions, ask: Callable[[str], str | None]) -> object:
    """The CLI's labelling: each unlabeled question with its candidates; "1 3", "none", "skip" or "quit"."""
    if opts.answer or opts.picks or opts.none:
        return invoke("golden_label", opts, ctx)
    ws = ctx.ws
    finder = g.candidate_finder(ws)
    q = g.get_question(ws, opts.query_id) if opts.query_id else g.next_unlabeled(ws)
    done: list[int] = []
    note = ""
    while q is not None:
        q, cands = g.show_candidates(ws, q.id, k=opts.k, finder=finder)
        lines = [note, "", f"#{q.id} {q.query}", *(c.line() for c in cands)]
        lines.append('numbers of the right passages ("1 3"), "none" (no answer), "skip", or "quit":')
        answer = ask("\n".join(x for x in lines if x is not None).lstrip("\n"))
        if answer is None or answer.lower() in ("q", "quit", "exit"):
            break
        if answer.lower() in ("", "s", "skip"):
            q, note = g.next_unlabeled(ws, after=q.id), ""
            continue
        try:
            labeled = g.label_question(ws, q.id, answer)
        except g.GoldenError as exc:
            note = f"error: {exc}"
            continue
        done.append(labeled.id)
        note = GoldenLabelResult(labeled, g.golden_counts(ws)).text(ctx.lang)
        q = g.next_unlabeled(ws, after=q.id)
    if not done and not note:
        note = "nothing to label: add questions with `bgetune golden add`"
    return LabelSession(done, g.golden_counts(ws), note)


@dataclass(kw_only=True)
class GoldenExportOptions:
    out: str = setting(help="Folder for golden.jsonl and golden_ids.jsonl.", positional=True)


@dataclass
class GoldenExportResult:
    jsonl: str | None
    ids: str | None
    questions: int
    answerable: int

    def text(self, lang: str = "en") -> str:
        return f"{self.answerable} answerable of {self.questions} questions -> {self.jsonl}"


def export(ctx: Context, opts: GoldenExportOptions) -> GoldenExportResult:
    """Write the golden set as FlagEmbedding JSONL (query, pos, pos_ids) plus every question's ids."""
    return GoldenExportResult(**vars(g.export_golden(ctx.ws, Path(opts.out))))


def _golden(name: str, summary: str, run: Any, options: type, result: type, **kw: Any) -> Capability:
    """A capability of the golden set: `bgetune golden <cli>`, the UI's golden tab, an existing workspace
    (adding questions may start one)."""
    kw = {"workspace": "existing", "ui": "golden"} | kw
    return Capability(name, summary, run, options, result, group="golden", **kw)


CAPABILITIES = [
    _golden(
        "golden_add",
        "Add the user's real questions (typed, pasted, or a txt/CSV/XLSX file) to the golden set.",
        golden_add,
        AddOptions,
        GoldenAddResult,
        cost="free",
        cli="add",
        workspace="create",
        decides=True,
    ),
    _golden(
        "golden_candidates",
        "Show the next unlabeled golden question with the base model's and BM25's top passages, numbered.",
        golden_candidates,
        GoldenCandidatesOptions,
        GoldenCandidatesResult,
        cost="cpu-minutes",
        requires=(HAS_CHUNKS, NEEDS_QUESTIONS),
        cli="candidates",
    ),
    _golden(
        "golden_label",
        'Mark a golden question\'s right passages by candidate number ("1 3") or chunk id, or "none".',
        label,
        LabelOptions,
        GoldenLabelResult,
        cost="free",
        requires=(NEEDS_QUESTIONS,),
        cli="label",
        dialogue=label_dialogue,  # `bgetune golden label` without --pos asks question by question
        decides=True,
    ),
    _golden(
        "golden_list",
        "List the golden questions, their status and labeled passages.",
        golden_list,
        GoldenListOptions,
        GoldenListResult,
        cost="free",
        cli="list",
    ),
    _golden(
        "golden_edit",
        "Reword or remove a golden question.",
        golden_edit,
        GoldenEditOptions,
        GoldenEditResult,
        cost="free",
        requires=(NEEDS_QUESTIONS,),
        cli="edit",
        decides=True,
    ),
    _golden(
        "evaluate_golden",
        "Score the tuned model against the base on the golden questions, with a confidence interval.",
        evaluate_golden,
        EvaluateGoldenOptions,
        GoldenEvalResult,
        cost="cpu-minutes",
        requires=(NEEDS_QUESTIONS,),
        cli="eval",
        ui=None,
    ),
    _golden(
        "golden_export",
        "Write the golden set as FlagEmbedding JSONL (query, pos, pos_ids) plus every question's ids.",
        export,
        GoldenExportOptions,
        GoldenExportResult,
        cost="free",
        requires=(NEEDS_QUESTIONS,),
        cli="export",
        chat=False,  # writes where the command line says; the chat has no route for it yet
        ui=None,
    ),
]
