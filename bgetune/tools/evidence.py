"""The evidence a model is judged on (the ship decision's ``EVIDENCE_RULE``): the user's labeled golden
questions, else the queries of held-out documents. Shared by the ship decision and the teacher check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bgetune.core.workspace import Workspace
from bgetune.tools.golden import MIN_GOLDEN, golden_queryset

if TYPE_CHECKING:
    from bgetune.tools.evaluation import QuerySet

EVIDENCE_RULE = (
    f"the golden set when it has >= {MIN_GOLDEN} labeled answerable questions, else the held-out documents' "
    "queries (test split)"
)


def heldout_queryset(ws: Workspace) -> QuerySet:
    """Test-split pairs whose positives all lie outside the train split, against every chunk."""
    from bgetune.tools.evaluation import QuerySet, workspace_queryset

    qs = workspace_queryset(ws, "test")
    train_chunks = {r["id"] for r in ws.query("SELECT id FROM chunks WHERE split='train'")}
    # a pseudo pair's positive is a teacher's guess (query log): never evidence for shipping (issue 24)
    pseudo = {r[0] for r in ws.query("SELECT id FROM pairs WHERE kind='pseudo' OR source LIKE 'querylog:%'")}
    keep = [
        i
        for i, p in enumerate(qs.positives)
        if not (p & train_chunks) and not (qs.query_ids and qs.query_ids[i] in pseudo)
    ]
    return QuerySet(
        [qs.queries[i] for i in keep],
        [qs.positives[i] for i in keep],
        qs.corpus_ids,
        qs.corpus_texts,
        [qs.query_ids[i] for i in keep] if qs.query_ids else None,
    )


def evidence_set(ws: Workspace, *, min_golden: int = MIN_GOLDEN) -> tuple[str, str, QuerySet] | None:
    """(kind, description, query set) by ``EVIDENCE_RULE``, or None when the workspace has neither."""
    golden = golden_queryset(ws)
    if len(golden.queries) >= min_golden:
        return "golden", f"{len(golden.queries)} labeled golden questions (the user's real questions)", golden
    test = heldout_queryset(ws)
    if test.queries:
        g = len(golden.queries)
        return (
            "held-out",
            f"{len(test.queries)} queries of held-out documents (test split; golden set: {g} labeled, "
            f"fewer than {min_golden})",
            test,
        )
    return None
