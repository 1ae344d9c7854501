"""Fixtures for the evaluation area: a sample workspace with hand-made pairs and a 'tuned' model folder."""

from __future__ import annotations

import json

import pytest

from bgetune.core.workspace import now_iso


def insert_pair(ws, chunk: dict, query: str, *, split: str, status: str = "approved") -> int:
    now = now_iso()
    with ws.tx() as c:
        cur = c.execute(
            "INSERT INTO pairs(chunk_id, query, passage, source, kind, language, status, split, created_at, updated_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?)",
            (
                chunk["id"],
                query,
                chunk["text"],
                "test",
                "question",
                chunk["language"],
                status,
                split,
                now,
                now,
            ),
        )
        return int(cur.lastrowid)


@pytest.fixture
def eval_ws(sample_ws):
    """sample_ws cut to 75 real chunks (60 en, 15 zh), with approved pairs over 30 English ones: test (12),
    val (6), train (12). Queries are word spans from inside each chunk: the bundled model finds most, not all."""
    chunks = [c for c in sample_ws.chunks() if c["language"] == "en" and len(c["text"].split()) > 40]
    assert len(chunks) >= 60, len(chunks)
    keep = chunks[:60] + [c for c in sample_ws.chunks() if c["language"] == "zh"][:15]
    with sample_ws.tx() as conn:  # a small corpus keeps encoding fast on a shared CPU
        conn.execute("CREATE TEMP TABLE keep(id TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO keep VALUES(?)", [(c["id"],) for c in keep])
        conn.execute("DELETE FROM chunks WHERE id NOT IN (SELECT id FROM keep)")
        conn.execute("DROP TABLE keep")
    sample_ws.set_setting("base_model", "bundled")
    picked = chunks[:60:2]
    for i, ch in enumerate(picked):
        words = ch["text"].split()
        query = " ".join(words[10:20])
        split = "test" if i % 5 in (0, 1) else "val" if i % 5 == 2 else "train"
        insert_pair(sample_ws, ch, query, split=split)
    return sample_ws


@pytest.fixture
def tuned_dir(st_model, tmp_path):
    """The bundled model saved as a 'tuned' export folder (same weights: base and tuned tie)."""
    path = tmp_path / "tuned"
    st_model.save(str(path))
    (path / "bgetune.json").write_text(json.dumps({"base_family": "generic"}))
    return str(path)
