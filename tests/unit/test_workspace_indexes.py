"""Lookups that grow with the corpus use indexes (migration 5, issue 23), checked on SQLite's query plans."""

from __future__ import annotations

import pytest

from bgetune.core.workspace import Workspace


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT id FROM pairs WHERE chunk_id=?", "pairs_chunk"),
        ("SELECT id FROM pairs WHERE split=?", "pairs_split"),
        ("SELECT id FROM pair_events WHERE pair_id=?", "pair_events_pair"),
        ("SELECT pair_id FROM negatives WHERE chunk_id=?", "negatives_chunk"),
        ("SELECT pair_id FROM pair_positives WHERE chunk_id=?", "pair_positives_chunk"),
    ],
)
def test_lookup_uses_an_index(tmp_path, sql, index):
    ws = Workspace(tmp_path / "ws")
    plan = " ".join(str(r[3]) for r in ws.query("EXPLAIN QUERY PLAN " + sql, ("x",)))
    assert index in plan, plan
