"""Golden-set capabilities: the user's real questions, labeled against the corpus, and the evaluation on them."""

from __future__ import annotations

from bgetune.capabilities import Capability, Prereq
from bgetune.capabilities.prereqs import HAS_CHUNKS
from bgetune.core.workspace import Workspace
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


def _has_golden(ws: Workspace) -> bool:
    return bool(ws.scalar("SELECT count(*) FROM golden"))


NEEDS_QUESTIONS = Prereq(_has_golden, "no golden questions yet", fix="golden_add")


CAPABILITIES = [
    Capability(
        "golden_add",
        "Add the user's real questions (typed, pasted, or a txt/CSV/XLSX file) to the golden set.",
        golden_add,
        GoldenAddOptions,
        GoldenAddResult,
        cost="free",
        cli=None,  # `bgetune golden add` (bgetune/commands/golden.py)
        ui="golden",
        decides=True,
    ),
    Capability(
        "golden_candidates",
        "Show the next unlabeled golden question with the base model's and BM25's top passages, numbered.",
        golden_candidates,
        GoldenCandidatesOptions,
        GoldenCandidatesResult,
        cost="cpu-minutes",
        requires=(HAS_CHUNKS, NEEDS_QUESTIONS),
        cli=None,  # `bgetune golden label` shows them
        ui="golden",
    ),
    Capability(
        "golden_label",
        'Mark a golden question\'s right passages by candidate number ("1 3") or chunk id, or "none".',
        golden_label,
        GoldenLabelOptions,
        GoldenLabelResult,
        cost="free",
        requires=(NEEDS_QUESTIONS,),
        cli=None,  # `bgetune golden label --query ID --pos 1,3`
        ui="golden",
        decides=True,
    ),
    Capability(
        "golden_list",
        "List the golden questions, their status and labeled passages.",
        golden_list,
        GoldenListOptions,
        GoldenListResult,
        cost="free",
        cli=None,  # `bgetune golden list`
        ui="golden",
    ),
    Capability(
        "golden_edit",
        "Reword or remove a golden question.",
        golden_edit,
        GoldenEditOptions,
        GoldenEditResult,
        cost="free",
        requires=(NEEDS_QUESTIONS,),
        cli=None,  # `bgetune golden edit` / `bgetune golden remove`
        ui="golden",
        decides=True,
    ),
    Capability(
        "evaluate_golden",
        "Score the tuned model against the base on the golden questions, with a confidence interval.",
        evaluate_golden,
        EvaluateGoldenOptions,
        GoldenEvalResult,
        cost="cpu-minutes",
        requires=(NEEDS_QUESTIONS,),
        cli=None,  # `bgetune golden eval`
    ),
]
