"""`bgetune chat --cli`: the terminal chat with the same approval prompts."""

from __future__ import annotations

from typer.testing import CliRunner

from bgetune.agent.runner import AgentSession
from bgetune.agent.terminal import parse_edits, render_approval, run_cli_chat, split_attachments
from bgetune.core.config import Settings
from tests.graph.conftest import runs, scripted_input


def test_cli_command_offline_help(tmp_path):
    from bgetune.cli import app

    result = CliRunner().invoke(
        app, ["chat", "--cli", "--workspace", str(tmp_path / "ws")], input="help\n帮助\n/quit\n"
    )
    assert result.exit_code == 0, result.output
    assert "offline mode" in result.output and "approve all" in result.output and "全部通过" in result.output
    assert (tmp_path / "ws" / "chat.sqlite").exists()


def test_cli_approval_prompt_reject(tmp_path, reviewed_ws, capsys):
    with AgentSession(reviewed_ws, Settings(workspace=reviewed_ws), "cli") as s:
        run_cli_chat(s, prompt=scripted_input(["train", "maybe", "r", "/quit"]))
    out = capsys.readouterr().out
    assert "APPROVAL NEEDED (about " in out and "please answer a, r or e" in out
    assert "training was not started" in out
    assert runs(reviewed_ws) == []


def test_cli_input_ending_leaves_the_approval_pending(tmp_path, reviewed_ws):
    with AgentSession(reviewed_ws, Settings(workspace=reviewed_ws), "cli") as s:
        run_cli_chat(s, prompt=scripted_input(["train"]))
        assert s.pending_approval()["tool"] == "train"
    assert runs(reviewed_ws) == []


def test_helpers():
    assert parse_edits("epochs=2 max_steps=10 base_model='BAAI/bge-m3'") == {
        "epochs": "2",
        "max_steps": "10",
        "base_model": "BAAI/bge-m3",
    }
    assert split_attachments("fine-tune on these @a.pdf @docs/") == ("fine-tune on these", ["a.pdf", "docs/"])
    text = render_approval(
        {
            "cost": "gpu",
            "title": "Train x",
            "estimate": {"steps": 4, "device": "cpu"},
            "settings": {"epochs": 1},
            "message": "Approve?",
        }
    )
    assert "steps=4" in text and "- epochs: 1" in text


def test_progress_in_a_log_is_a_line_per_tenth_not_one_rewritten_line_per_item(capsys):
    from bgetune.agent.terminal import _Printer

    printer = _Printer()
    for i in range(1, 173):
        printer({"type": "progress", "tool": "generate_pairs", "done": i, "total": 172, "label": f"chunk {i}"})
    for i in range(1, 4):
        printer({"type": "progress", "tool": "generate_pairs", "done": i, "total": 3, "label": "filters"})
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and 10 <= len(lines) <= 16, lines
    assert lines[-4] == "  generate_pairs: 172/172 chunk 172" and lines[-1] == "  generate_pairs: 3/3 filters"
