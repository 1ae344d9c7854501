"""Where the expected answer is: given text, a chunk id, 'DOC p. N', or the user's own golden label."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.tools.diagnosis.records import DiagnosisError
from bgetune.tools.diagnosis.text import coverage, terms

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

SPLIT_COVERAGE = 0.9
_DOC_PAGE = re.compile(
    r"^\s*[\"'“「]?(?P<doc>[^\"'”」]+?\.[A-Za-z0-9]{2,5})[\"'”」]?\s*[,，]?\s*"
    r"(?:(?:p\.?|pp\.?|pg\.?|page)\s*(?P<p1>\d+)|第\s*(?P<p2>\d+)\s*页)\s*$",
    re.I,
)
_EDGES = " \t\n\"'“”‘’「」『』?？!！.。,，;；:："


def _by_id(chunks: list[Any], ws: Workspace, expected_id: str) -> dict[str, Any]:
    ids = [c["id"] for c in chunks if expected_id in (c["id"], c["ext_id"])]
    if not ids:
        raise DiagnosisError(
            f"no chunk with id {expected_id!r} in {ws.root}; use a chunk id from `bgetune status`/the review "
            "table, a knowledge-base id (ext_id), or pass --expected TEXT"
        )
    return {"chunk_ids": ids, "how": "id", "split_across_chunks": False, "coverage": 1.0}


def _best_pair(chunks: list[Any], want: set[str]) -> tuple[int | None, float]:
    """The two neighbouring chunks of one document that together cover the most of ``want``."""
    best, best_cov = None, 0.0
    for i in range(len(chunks) - 1):
        a, b = chunks[i], chunks[i + 1]
        if a["document_id"] != b["document_id"]:
            continue
        c = coverage(want, terms(a["text"]) | terms(b["text"]))
        if c > best_cov:
            best, best_cov = i, c
    return best, best_cov


def locate_expected(ws: Workspace, *, expected: str | None, expected_id: str | None) -> dict[str, Any]:
    """Chunk ids holding the expected passage, and whether it spans adjacent chunks."""
    from bgetune.core.text import normalize_for_match

    chunks = ws.query("SELECT id, ext_id, document_id, ord, text FROM chunks ORDER BY document_id, ord")
    if expected_id:
        return _by_id(chunks, ws, expected_id)
    assert expected is not None
    norm = normalize_for_match(expected)
    ids = [c["id"] for c in chunks if norm and norm in normalize_for_match(c["text"])]
    if ids:
        return {"chunk_ids": ids, "how": "exact", "split_across_chunks": False, "coverage": 1.0}
    want = terms(expected)
    cov = [coverage(want, terms(c["text"])) for c in chunks]
    if not cov:
        raise DiagnosisError(f"workspace {ws.root} has no chunks; ingest documents first")
    best = int(np.argmax(cov))
    pair, pair_cov = _best_pair(chunks, want)
    if (
        pair is not None
        and pair_cov >= SPLIT_COVERAGE
        and cov[best] < SPLIT_COVERAGE
        and pair_cov - cov[best] >= 0.15
    ):
        return {
            "chunk_ids": [chunks[pair]["id"], chunks[pair + 1]["id"]],
            "how": "spans",
            "split_across_chunks": True,
            "coverage": round(pair_cov, 3),
            "best_single_coverage": round(cov[best], 3),
        }
    if cov[best] >= 0.6:
        return {
            "chunk_ids": [chunks[best]["id"]],
            "how": "fuzzy",
            "split_across_chunks": False,
            "coverage": round(cov[best], 3),
        }
    return {
        "chunk_ids": [],
        "how": "not found",
        "split_across_chunks": False,
        "coverage": round(cov[best], 3),
    }


def parse_doc_page(ws: Workspace, text: str) -> tuple[dict[str, Any], int] | None:
    """('R-FAQ.pdf p. 12' | 'R-FAQ.pdf 第12页') -> (document row, page) when such a document is in the workspace."""
    m = _DOC_PAGE.match(text)
    if not m:
        return None
    name = m.group("doc").strip().lower()
    page = int(m.group("p1") or m.group("p2"))
    for d in ws.documents(status="ok"):
        if d["name"].lower() == name or Path(d["name"]).stem.lower() == Path(name).stem:
            return d, page
    return None


def last_miss(ws: Workspace) -> dict[str, Any] | None:
    row = ws.conn.execute("SELECT * FROM misses ORDER BY updated_at DESC, id DESC LIMIT 1").fetchone()
    return dict(row) if row else None


def _same_question(a: str, b: str) -> bool:
    return " ".join(a.strip(_EDGES).casefold().split()) == " ".join(b.strip(_EDGES).casefold().split())


def golden_label(ws: Workspace, query: str) -> tuple[int, list[str]] | None:
    """(golden id, labelled chunk ids still in the workspace) when the user labelled this question."""
    try:
        rows = ws.query("SELECT id, query, pos_ids FROM golden WHERE status='labeled' ORDER BY id")
    except Exception:  # noqa: BLE001 - a workspace from before the golden table
        return None
    for r in rows:
        if _same_question(r["query"], query):
            ids = [str(i) for i in json.loads(r["pos_ids"] or "[]")]
            known = {c["id"] for c in ws.query("SELECT id FROM chunks")}
            ids = [i for i in ids if i in known]
            return (int(r["id"]), ids) if ids else None
    return None
