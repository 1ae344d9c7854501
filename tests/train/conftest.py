"""Fixtures for the training area: a real ingested workspace with approved, split pairs inserted directly."""

from __future__ import annotations

import re

import pytest

from bgetune.workspace import Workspace, now_iso


def insert_pairs(ws: Workspace, n: int = 40, *, val_every: int = 5, language: str | None = "en") -> list[int]:
    """Approved pairs from real chunks: the query is the chunk's first words (a crude but real question)."""
    chunks = [
        c for c in ws.chunks() if (language is None or c["language"] == language) and len(c["text"]) > 80
    ]
    assert len(chunks) >= n, f"sample workspace has only {len(chunks)} usable chunks"
    step = max(1, len(chunks) // n)
    picked = chunks[::step][:n]
    now = now_iso()
    ids = []
    with ws.tx() as c:
        for i, ch in enumerate(picked):
            words = re.findall(r"\w+", ch["text"])
            query = "what about " + " ".join(words[2:12]).lower()
            split = "val" if i % val_every == val_every - 1 else "train"
            cur = c.execute(
                "INSERT INTO pairs(chunk_id, query, passage, source, kind, language, status, split, created_at, "
                "updated_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (
                    ch["id"],
                    query,
                    ch["text"],
                    "test",
                    "question",
                    ch["language"],
                    "approved",
                    split,
                    now,
                    now,
                ),
            )
            ids.append(cur.lastrowid)
    return ids


@pytest.fixture
def pairs_ws(sample_ws):
    """sample_ws (R-FAQ.pdf + food-safety-law.md) with 40 approved pairs, 32 train / 8 val."""
    insert_pairs(sample_ws, 40)
    return sample_ws
