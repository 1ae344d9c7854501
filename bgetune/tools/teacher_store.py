"""Stored teacher scores: the key of a passage and the cached {query: {passage: score}} of one teacher.
Kept apart from tools/teacher.py so that mining and the teachers share them without importing each other."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bgetune.core.workspace import Workspace


def passage_key(chunk_id: str | None, text: str) -> str:
    """The stored key of a passage: its chunk id, else a digest of its text (a pair's own passage)."""
    return chunk_id or "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def cached_scores(
    ws: Workspace, key: str, queries: Sequence[str] | None = None
) -> dict[str, dict[str, float]]:
    """{query: {passage key: score}} stored for one teacher (all its queries, or just ``queries``)."""
    out: dict[str, dict[str, float]] = {}
    if queries is None:
        rows = ws.query("SELECT query, passage_key, score FROM teacher_scores WHERE teacher=?", (key,))
    else:
        rows = []
        qs = list(dict.fromkeys(queries))
        for i in range(0, len(qs), 500):
            part = qs[i : i + 500]
            rows += ws.query(
                "SELECT query, passage_key, score FROM teacher_scores WHERE teacher=? "
                f"AND query IN ({','.join('?' * len(part))})",
                [key, *part],
            )
    for r in rows:
        out.setdefault(r["query"], {})[r["passage_key"]] = float(r["score"])
    return out
