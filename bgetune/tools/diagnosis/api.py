"""``diagnose``: why one query misses, with the expected answer given, picked, or taken from the golden label."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bgetune.tools.diagnosis.engine import Engine
from bgetune.tools.diagnosis.expected import golden_label, last_miss
from bgetune.tools.diagnosis.misses import record_miss
from bgetune.tools.diagnosis.records import DiagnosisError
from bgetune.tools.diagnosis.report import Diagnosis
from bgetune.tools.diagnosis.text import lang_of

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace


def _pick(ws: Workspace, query: str, pick: int, lang: str | None) -> tuple[str, str, str | None]:
    """(chunk id, query, lang) of result ``pick`` of the last diagnosis's list."""
    last = last_miss(ws)
    if last is None:
        raise DiagnosisError("there is no earlier result list to pick from; diagnose a query first")
    detail = json.loads(last["detail"] or "{}")
    results = (detail.get(detail.get("main") or "base") or {}).get("results") or []
    if not 1 <= pick <= len(results):
        raise DiagnosisError(
            f"pick a number from 1 to {len(results)} (the results of miss #{last['id']}: {last['query']!r})"
        )
    chunk = results[pick - 1]["chunk_id"]
    if not query or query == last["query"]:
        query, lang = last["query"], lang or detail.get("lang")
    if ws.chunk(chunk) is None:
        raise DiagnosisError(f"result {pick} is no longer in the workspace (re-ingested?); diagnose again")
    return chunk, query, lang


def diagnose(
    ws: Workspace,
    query: str,
    *,
    expected: str | None = None,
    expected_id: str | None = None,
    expected_pick: int | None = None,
    lang: str | None = None,
    model_dir: str | None = None,
    top_k: int = 10,
    record: bool = True,
) -> Diagnosis:
    """Rank ``query`` with the base and tuned models, locate the expected answer (text, chunk id, 'DOC p. N',
    ``expected_pick``: the n-th result of the last diagnosis, or else the user's golden label of this question),
    test the causes of a miss and offer fixes. The diagnosis is stored in the ``misses`` table
    (``Diagnosis.miss_id``) unless ``record`` is False."""
    query = (query or "").strip()
    if sum(x is not None and x != "" for x in (expected, expected_id, expected_pick)) > 1:
        raise DiagnosisError(
            "give the expected answer one way: text, a chunk id or a pick number, not several"
        )
    chunk_ids, how, given = None, "pick", expected or expected_id
    if expected_pick is not None:
        chunk, query, lang = _pick(ws, query, expected_pick, lang)
        chunk_ids, given = [chunk], f"#{expected_pick}"
    if not query:
        raise DiagnosisError("the query is empty; give the query that misses")
    if not (expected or expected_id or chunk_ids):
        label = golden_label(ws, query)
        if label is not None:  # the user's own label is the expected answer
            chunk_ids, how, given = label[1], "golden", f"golden question #{label[0]}"
    eng = Engine(ws, model_dir)
    all_scores = [s[0] for s in eng.scores([query])]
    exp = eng.resolve_expected(
        all_scores[-1], expected=expected, expected_id=expected_id, chunk_ids=chunk_ids, how=how, given=given
    )
    text = expected if exp is not None and exp.how in ("exact", "fuzzy", "spans") else None
    d = eng.diagnose(query, lang_of(query, lang), exp, all_scores, top_k=top_k, expected_text=text)
    if record:
        d.miss_id = record_miss(ws, d)
    return d
