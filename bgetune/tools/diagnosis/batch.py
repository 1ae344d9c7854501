"""``diagnose_golden``: every golden question whose answer is not found, grouped by cause, biggest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bgetune.tools.diagnosis.causes import CAUSES, cause_name
from bgetune.tools.diagnosis.engine import Engine
from bgetune.tools.diagnosis.expected import locate_expected
from bgetune.tools.diagnosis.misses import record_miss
from bgetune.tools.diagnosis.records import DiagnosisError
from bgetune.tools.diagnosis.text import lang_of, sentences, snippet
from bgetune.tools.evaluation import EvaluationError

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

FIRST_FIX = {
    "language_mismatch": "switch_base_model",
    "tokenizer_coverage": "switch_base_model",
    "truncation": "rechunk",
    "split_answer": "rechunk",
    "missing_label": "relabel_competitor",
    "threshold_only": "set_threshold",
}


S = sentences("batch")


@dataclass
class BatchItem:
    query: str
    cause: str
    rank: int | None
    expected_chunk_id: str | None
    miss_id: int | None = None


@dataclass
class CauseGroup:
    cause: str
    count: int
    queries: list[str]
    action: str | None  # the usual first fix
    miss_ids: list[int | None] | None = None

    def name(self, lang: str = "en") -> str:
        return cause_name(self.cause, lang)


@dataclass
class BatchDiagnosis:
    """Golden questions that fail, grouped by cause (biggest first)."""

    source: str
    total: int
    passing: int
    failing: int
    unmatched: list[str]
    groups: list[CauseGroup]
    items: list[BatchItem]

    def text(self, lang: str = "en") -> str:
        lines = [S.summary(lang, **vars(self))]
        for i, g in enumerate(self.groups, 1):  # every question of a group is listed: the count is the list
            fix = f" -> {g.action}" if g.action else ""
            lines.append(f"{i}. {g.name(lang)}: {g.count}{fix}")
            ids = g.miss_ids or [None] * len(g.queries)
            lines += [
                f"   - {'#' + str(m) + ' ' if m else ''}{snippet(q, 80)}"
                for q, m in zip(g.queries, ids, strict=True)
            ]
        if self.groups:
            lines.append(S.next(lang))
        if self.unmatched:
            lines.append(S.skipped(lang, n=len(self.unmatched)))
        return "\n".join(lines)


def _file_rows(ws: Workspace, golden_file: str | Path) -> tuple[list[tuple[str, list[str]]], list[str]]:
    from bgetune.tools.evaluation import read_jsonl

    try:
        rows = read_jsonl(golden_file, "golden")
    except EvaluationError as exc:
        raise DiagnosisError(
            f'{exc}; pass a JSONL file of {{"query", "pos": [text]}} or {{"query", "pos_ids": [id]}} lines, '
            "or '-' for the workspace golden set"
        ) from exc
    out: list[tuple[str, list[str]]] = []
    unmatched: list[str] = []
    for r in rows:
        q = str(r.get("query") or "").strip()
        if not q:
            continue
        ids: list[str] = []
        for pid in r.get("pos_ids") or []:
            try:
                ids += locate_expected(ws, expected=None, expected_id=str(pid))["chunk_ids"]
            except EvaluationError:
                pass
        for text in r.get("pos") or []:
            ids += locate_expected(ws, expected=str(text), expected_id=None)["chunk_ids"]
        (out.append((q, list(dict.fromkeys(ids)))) if ids else unmatched.append(q))
    return out, unmatched


def golden_rows(
    ws: Workspace, golden_file: str | Path | None
) -> tuple[str, list[tuple[str, list[str]]], list[str]]:
    """(source, [(query, chunk ids)], unmatched queries) from a JSONL file or the workspace golden table."""
    if golden_file:
        return (str(golden_file), *_file_rows(ws, golden_file))
    known = {r["id"] for r in ws.query("SELECT id FROM chunks")}
    out: list[tuple[str, list[str]]] = []
    unmatched: list[str] = []
    for r in ws.query("SELECT query, pos_ids FROM golden WHERE status='labeled' ORDER BY id"):
        ids = [i for i in json.loads(r["pos_ids"] or "[]") if i in known]
        (out.append((r["query"], ids)) if ids else unmatched.append(r["query"]))
    return "workspace golden set", out, unmatched


def _groups(items: list[BatchItem]) -> list[CauseGroup]:
    by: dict[str, list[BatchItem]] = {}
    for it in items:
        by.setdefault(it.cause, []).append(it)
    ordered = sorted(by.items(), key=lambda kv: (-len(kv[1]), CAUSES.index(kv[0])))
    return [
        CauseGroup(
            c, len(v), [it.query for it in v], FIRST_FIX.get(c, "add_training_pair"), [it.miss_id for it in v]
        )
        for c, v in ordered
    ]


def diagnose_golden(
    ws: Workspace,
    golden_file: str | Path | None = None,
    *,
    model_dir: str | None = None,
    lang: str | None = None,
    record: bool = True,
    progress: Any = None,
) -> BatchDiagnosis:
    """Diagnose every golden question whose answer is not found (not in the top 3 above the threshold, or not
    first without a threshold) and group them by cause, biggest group first."""
    source, rows, unmatched = golden_rows(ws, golden_file)
    if not rows:
        where = f"{golden_file}" if golden_file else "the workspace golden set"
        raise DiagnosisError(
            f"no golden questions with a findable answer in {where}; add some (the golden set, or a JSONL of "
            '{"query", "pos": [text]} / {"query", "pos_ids": [id]}) first'
        )
    eng = Engine(ws, model_dir)
    all_scores = eng.scores([q for q, _ in rows])
    items: list[BatchItem] = []
    for i, (q, ids) in enumerate(rows):
        if progress:
            progress(i, len(rows), q[:40])
        scores = [s[i] for s in all_scores]
        how = "pick" if golden_file else "golden"
        exp = eng.resolve_expected(scores[-1], chunk_ids=ids, how=how)
        d = eng.diagnose(q, lang_of(q, lang), exp, scores, top_k=10)
        if d.cause == "not_a_miss":
            continue
        mid = record_miss(ws, d) if record else None
        items.append(BatchItem(q, d.cause, d.main.expected_rank, exp.chunk_id if exp else None, mid))
    if progress:
        progress(len(rows), len(rows), "")
    return BatchDiagnosis(
        source, len(rows), len(rows) - len(items), len(items), unmatched, _groups(items), items
    )
