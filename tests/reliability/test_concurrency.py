"""Concurrency: two chat sessions on two workspaces at once (threads), and two on the same workspace (separate
processes) deciding pairs at the same time: no corruption, no lost decision, no cross-talk."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

from bgetune.agent.runner import CHAT_DB, AgentSession
from bgetune.core.config import Settings
from bgetune.core.workspace import DB_NAME
from tests.reliability.conftest import DOCS, count, integrity, py_env, spawn, write_docs


def _offline_flow(ws: Path, docs: Path, thread: str, errors: list[str]) -> None:
    try:
        with AgentSession(ws, Settings(workspace=ws), thread) as s:
            for text, files in (
                ("ingest these documents", sorted(str(p) for p in docs.iterdir())),
                ("generate pairs", None),
                ("approve all", None),
                ("status", None),
            ):
                for ev in s.send(text, files=files):
                    if ev["type"] == "error":
                        errors.append(f"{thread}: {ev['content']}")
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(f"{thread}: {type(exc).__name__}: {exc}")


def test_two_sessions_on_two_workspaces_at_once(tmp_path):
    half = dict(list(DOCS.items())[:2]), dict(list(DOCS.items())[2:])
    jobs = []
    errors: list[str] = []
    for i, docs in enumerate(half):
        folder = write_docs(tmp_path / f"docs{i}", docs)
        jobs.append(
            threading.Thread(target=_offline_flow, args=(tmp_path / f"ws{i}", folder, f"t{i}", errors))
        )
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(timeout=240)
    assert not any(j.is_alive() for j in jobs), "a session hung"
    assert not errors, errors
    for i, docs in enumerate(half):
        ws = tmp_path / f"ws{i}"
        assert integrity(ws / DB_NAME) == "ok" and integrity(ws / CHAT_DB) == "ok"
        names = {r for r in _names(ws)}
        assert names == set(docs), "documents crossed between workspaces"
        assert count(ws / DB_NAME, "SELECT count(*) FROM pairs WHERE status='approved'") > 0
        assert count(ws / DB_NAME, "SELECT count(*) FROM pairs WHERE status='proposed'") == 0


def _names(ws: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(ws / DB_NAME)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM documents")]
    finally:
        conn.close()


DECIDE = textwrap.dedent(
    """
    import json, os, sys
    from bgetune.agent.runner import AgentSession
    from bgetune.core.config import Settings
    ws = os.environ["WS"]
    errors = []
    with AgentSession(ws, Settings(workspace=ws), os.environ["THREAD"]) as s:
        for pid in json.loads(os.environ["IDS"]):
            for ev in s.send(f"{os.environ['ACTION']} {pid}"):
                if ev["type"] == "error":
                    errors.append(ev["content"])
        n = len(s.history())
    print(json.dumps({"errors": errors, "history": n}))
    """
)


def test_two_sessions_on_the_same_workspace_decide_pairs_at_once(small_ws):
    import json

    from bgetune.tools.qa_generation import generate_pairs

    generate_pairs(small_ws, Settings(workspace=small_ws.root), mode="offline")
    ids = [r["id"] for r in small_ws.query("SELECT id FROM pairs ORDER BY id")][:16]
    assert len(ids) >= 4  # offline-v3.3 proposes 4 on these four short notes: two decisions per session
    small_ws.close()
    ws = small_ws.root
    plan = {"approve": ids[0::2], "reject": ids[1::2]}
    procs = {
        action: spawn(
            DECIDE,
            env=py_env(WS=str(ws), THREAD=f"thread-{action}", ACTION=action, IDS=json.dumps(chosen)),
        )
        for action, chosen in plan.items()
    }
    outs = {}
    for action, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{action} session failed:\n{err[-3000:]}"
        outs[action] = json.loads(out.strip().splitlines()[-1])
    for action, res in outs.items():
        assert not res["errors"], (action, res["errors"])
    assert integrity(ws / DB_NAME) == "ok" and integrity(ws / CHAT_DB) == "ok"
    expected = {"approve": "approved", "reject": "rejected"}
    for action, chosen in plan.items():
        q = f"SELECT count(*) FROM pairs WHERE status=? AND id IN ({','.join('?' * len(chosen))})"
        assert count(ws / DB_NAME, q, (expected[action], *chosen)) == len(chosen), f"lost {action} decisions"
        # each decision left exactly one event
        qe = f"SELECT count(*) FROM pair_events WHERE action=? AND pair_id IN ({','.join('?' * len(chosen))})"
        assert count(ws / DB_NAME, qe, (action, *chosen)) == len(chosen)
    # both conversations survived in the shared chat database, each on its own thread
    for action in plan:
        with AgentSession(ws, Settings(workspace=ws), f"thread-{action}") as s:
            assert len(s.history()) == outs[action]["history"] > 0
