"""Issue 22 item 8: chat.sqlite stays small. 100 offline turns (pair listings, status, help) on a real workspace:
the old behaviour (every checkpoint of the thread kept, each holding the whole conversation) measured 59 MB here;
now old turns move to <workspace>/chat/<thread>.jsonl and old checkpoints are pruned."""

from __future__ import annotations

from bgetune.agent.graph import MAX_STATE_MESSAGES
from bgetune.agent.runner import CHAT_DB, AgentSession
from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace
from tests.graph.conftest import DOC_EN, DOC_OPS


def test_chat_db_after_100_turns_stays_under_2_mb(tmp_path):
    from bgetune.tools.ingest import ingest
    from bgetune.tools.qa_generation import generate_pairs

    doc = tmp_path / "a.md"
    doc.write_text(DOC_OPS + DOC_EN, encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    settings = Settings(workspace=ws.root)
    assert ingest(ws, [doc], settings=settings).ok
    generate_pairs(ws, settings, mode="offline")
    ws.close()
    said = ["show 30 pairs", "status", "help", "show rejected"]
    with AgentSession(tmp_path / "ws", settings, "size") as s:
        for i in range(100):
            list(s.send(said[i % 4]))
        values = s.graph.get_state(s.config).values
        assert len(values["messages"]) <= MAX_STATE_MESSAGES + 8
        history = s.history()
        assert [e["content"] for e in history if e["type"] == "user"] == [said[i % 4] for i in range(100)]
        n_checkpoints = s._conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        assert n_checkpoints <= 4
    size = (tmp_path / "ws" / CHAT_DB).stat().st_size
    assert size < 2_000_000, size
