"""Fixtures for the training area: a real ingested workspace with approved, split pairs inserted directly."""

from __future__ import annotations

import os
import re
import socket

import pytest

from bgetune.core.workspace import Workspace, now_iso


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


@pytest.fixture(scope="session")
def _mined_ws(_ingested_samples, tmp_path_factory):
    """Samples workspace with pairs, one extra positive, and negatives mined once with the bundled model."""
    import shutil

    from bgetune.tools.negatives import mine_negatives

    dst = tmp_path_factory.mktemp("mined") / "ws"
    shutil.copytree(_ingested_samples, dst)
    ws = Workspace(dst)
    ids = insert_pairs(ws, 40)
    # an extra positive for the first pair: the chunk that follows its own chunk
    own = ws.scalar("SELECT chunk_id FROM pairs WHERE id=?", (ids[0],))
    ch = ws.chunk(own)
    nxt = ws.scalar("SELECT id FROM chunks WHERE document_id=? AND ord=?", (ch["document_id"], ch["ord"] + 1))
    with ws.tx() as c:
        c.execute(
            "INSERT INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)", (ids[0], nxt, "test")
        )
    result = mine_negatives(ws, base_model="bundled")
    ws.close()
    return dst, result


@pytest.fixture
def mined_ws(_mined_ws, tmp_path):
    import shutil

    dst = tmp_path / "mined-ws"
    shutil.copytree(_mined_ws[0], dst)
    return Workspace(dst)


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child (a CLI, torchrun): offline, no BGETUNE_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGETUNE_")}
    env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return env | extra


@pytest.fixture
def ddp_run(mined_ws, tmp_path):
    """For a two-process run: the mined workspace (closed, for the processes to open), a free local port for
    the process group and an empty folder where each rank writes its result."""
    mined_ws.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp-out"
    out.mkdir()
    return mined_ws, port, out
