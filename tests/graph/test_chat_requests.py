"""Issue 22 items 1, 3 and 4 through the real offline chat: a pasted list in the terminal, serving from the chat,
and nothing the user says dropped (reasons, one pair, kept-only lists, undo, typos, help)."""

from __future__ import annotations

import os
import subprocess
import sys

from bgetune.agent.runner import AgentSession
from bgetune.agent.terminal import read_message
from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace
from tests.graph.conftest import DOC_OPS, drain, last_message, scripted_input


def _say(s: AgentSession, text: str, files=None) -> str:  # noqa: ANN001
    return last_message(drain(s.send(text, files=files)))


def test_read_message_joins_a_block_and_a_bracketed_paste():
    qs = [f"question number {i}?" for i in range(20)]
    block = ["golden questions:", *qs, "", "status"]
    assert read_message(scripted_input(block)) == "golden questions:\n" + "\n".join(qs)
    assert read_message(scripted_input(["status", "next"])) == "status"
    pasted = ["\x1b[200~first line", "second line\x1b[201~"]
    assert read_message(scripted_input(pasted)) == "first line\nsecond line"


def test_terminal_paste_of_20_golden_questions_adds_20(tmp_path):
    ws_dir = tmp_path / "ws"
    doc = tmp_path / "ops.md"
    doc.write_text(DOC_OPS, encoding="utf-8")
    from bgetune.tools.ingest import ingest

    ws = Workspace(ws_dir)
    assert ingest(ws, [doc], settings=Settings(workspace=ws_dir)).ok
    ws.close()
    qs = [f"who approves deployment number {i}?" for i in range(1, 21)]
    qfile = tmp_path / "more.txt"
    qfile.write_text("how fast must a rollback be?\nwho writes the incident timeline?\n", encoding="utf-8")
    script = "\n".join(["golden questions:", *qs, "", f"golden questions: @{qfile}", "/quit", ""])
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "BGETUNE_LLM_BASE_URL": ""}
    out = subprocess.run(
        [sys.executable, "-m", "bgetune", "chat", "--cli", "--workspace", str(ws_dir)],
        input=script, capture_output=True, text=True, timeout=600, env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not sure what you mean" not in out.stdout, out.stdout[-3000:]
    ws = Workspace(ws_dir)
    stored = [r["query"] for r in ws.query("SELECT query FROM golden ORDER BY id")]
    assert stored[:20] == qs, stored
    assert stored[20:] == ["how fast must a rollback be?", "who writes the incident timeline?"], stored


def test_reject_reason_one_pair_kept_list_and_undo(reviewed_ws):
    ws = Workspace(reviewed_ws)
    ids = [r["id"] for r in ws.query("SELECT id FROM pairs WHERE status='approved' ORDER BY id")]
    ws.close()
    target, other = ids[1], ids[0]
    with AgentSession(reviewed_ws, Settings(workspace=reviewed_ws), "items") as s:
        _say(s, f"reject {target} because it's too vague")
        row = Workspace(reviewed_ws).query("SELECT status, status_why FROM pairs WHERE id=?", (target,))[0]
        assert (row["status"], row["status_why"]) == ("rejected", "it's too vague")
        one = _say(s, f"show pair {target}")
        assert f"#{target} (rejected)" in one and f"#{other} " not in one, one
        page = _say(s, "show 30 pairs")
        assert f"#{other} (approved)" in page and "(rejected)" not in page, page
        undone = _say(s, "undo that")
        assert "Undid the last rejection" in undone and f"#{target} -> approved" in undone, undone
        assert Workspace(reviewed_ws).scalar("SELECT status FROM pairs WHERE id=?", (target,)) == "approved"
        _say(s, "epochs 4")
        back = _say(s, "undo that")
        assert "epochs is back to 1" in back, back  # the fixture set epochs 1: the old value, said
        assert Workspace(reviewed_ws).get_setting("epochs") == 1


def test_typo_gets_the_nearest_request_and_help_covers_the_second_hour(tmp_path):
    ws = tmp_path / "ws"
    with AgentSession(ws, Settings(workspace=ws), "help") as s:
        typo = _say(s, "trian with 1 epcoh")
        assert 'Did you mean "train with 1 epoch"' in typo, typo
        helped = _say(s, "what can you do?")
        for words in ("golden questions", "serve it", "stop the server", "still miss", "ship anyway"):
            assert words in helped, words


def test_serve_what_shipped_and_stop_the_server(reviewed_ws):
    ws = Workspace(reviewed_ws)
    run = ws.start_run("train")  # a training whose ship decision kept the base model
    ws.finish_run(run, result={"model_dir": str(reviewed_ws / "artifacts" / "nothing"), "base_model": "bundled",
                               "decision": {"ship": False, "shipped": "base"}})
    ws.close()
    with AgentSession(reviewed_ws, Settings(workspace=reviewed_ws), "serve") as s:
        served = _say(s, "serve it")
        assert "kept the base model" in served and "bundled" in served, served
        stopped = _say(s, "stop the server")
        assert "Stopped the server at http://" in stopped, stopped
        again = _say(s, "stop serving")
        assert "No server is running" in again, again
