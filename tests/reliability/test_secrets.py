"""Secrets and exposure: a unique canary API key never reaches the workspace (database bytes included), logs,
stdout/stderr, error messages, chat history or the model card, even when the server echoes the Authorization
header back; the UI binds to loopback by default and reads no file outside the workspace and the user's paths."""

from __future__ import annotations

import inspect
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

from bgetune.core.config import Settings
from bgetune.tools.qa_generation import generate_pairs
from tests.conftest import REPO
from tests.reliability.conftest import CANARY, py_env
from tests.reliability.llm_fault_server import echo_auth, ok


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_echoed_key_never_stored_or_shown(small_ws, fault_server, monkeypatch, caplog, capsys):
    monkeypatch.setenv("BGETUNE_LLM_API_KEY", CANARY)
    caplog.set_level(logging.DEBUG)
    fault_server.script(echo_auth(500), echo_auth(401), ok(), echo_auth(429))
    fault_server.default = echo_auth(500)
    settings = Settings(
        workspace=small_ws.root,
        llm_base_url=fault_server.base_url,
        llm_timeout_s=2,
        llm_max_retries=1,
        llm_concurrency=1,
    )
    assert settings.llm_api_key == CANARY
    out = generate_pairs(small_ws, settings)
    # the server really got (and echoed) the key: the test would catch a leak
    assert any(CANARY in r.headers.get("authorization", "") for r in fault_server.requests)
    assert out["chunks_failed"] >= 1 and out["errors"]
    assert any("Authorization" in e["error"] for e in out["errors"]), out["errors"]
    small_ws.close()
    seen = (
        json.dumps(out)
        + caplog.text
        + "".join(capsys.readouterr())
        + repr(settings)
        + str(settings.redacted())
    )
    assert CANARY not in seen
    assert CANARY.encode() not in _all_bytes(small_ws.root)


def test_agent_and_cli_never_print_the_key(tmp_path):
    """The CLI chat (agent on the fault server) and `status`, in a child process: stdout, stderr, workspace."""
    from tests.reliability.conftest import write_docs
    from tests.reliability.llm_fault_server import FaultServer

    docs = write_docs(tmp_path / "docs")
    ws = tmp_path / "ws"
    with FaultServer(default=echo_auth(500), lifetime=120) as srv:
        env = py_env(
            BGETUNE_LLM_API_KEY=CANARY,
            BGETUNE_LLM_BASE_URL=srv.base_url,
            BGETUNE_LLM_TIMEOUT="3",
            BGETUNE_LLM_MAX_RETRIES="1",
            BGETUNE_WORKSPACE=str(ws),
        )
        code = textwrap.dedent(
            f"""
            import logging, sys
            logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
            from bgetune.agent.runner import AgentSession
            with AgentSession({str(ws)!r}) as s:
                for ev in s.send("ingest these and generate pairs", files=[{str(docs / "backup.md")!r}]):
                    print(ev, flush=True)
                print(s.history())
            """
        )
        chat = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=180
        )
        assert srv.requests, "the agent never called the server: the test proves nothing"
        assert any(CANARY in r.headers.get("authorization", "") for r in srv.requests)
        st = subprocess.run(
            [sys.executable, "-m", "bgetune.cli", "status", "--json", "--workspace", str(ws)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert chat.returncode == 0, chat.stderr[-3000:]
    assert "failed" in chat.stdout or "error" in chat.stdout.lower()
    for text in (chat.stdout, chat.stderr, st.stdout, st.stderr):
        assert CANARY not in text
    assert CANARY.encode() not in _all_bytes(ws)


def test_model_card_and_export_hold_no_key(tmp_path, monkeypatch):
    from bgetune.core.workspace import Workspace, atomic_write_json
    from bgetune.tools import export  # an import break fails here, never skips
    monkeypatch.setenv("BGETUNE_LLM_API_KEY", CANARY)
    ws = Workspace(tmp_path / "ws")
    # a run recorded with the full settings dict a careless caller might pass: the key must not survive
    run_id = ws.start_run("train", {"settings": Settings(workspace=ws.root).redacted(), "epochs": 1})
    model_dir = ws.artifact_path("runs", run_id, "model", "x").parent
    model_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(model_dir / "modules.json", [])
    atomic_write_json(model_dir / "bgetune.json", {"base_model": "bundled", "query_prompt": ""})
    ws.finish_run(run_id, result={"model_dir": str(model_dir)}, artifact_dir=str(model_dir.parent))
    out = export.export_model(ws)
    card = Path(out["model_card"]).read_text(encoding="utf-8")
    assert card.strip()
    assert CANARY not in card and CANARY not in json.dumps(out)
    ws.close()
    assert CANARY.encode() not in _all_bytes(tmp_path)


def test_ui_binds_loopback_by_default():
    from bgetune.ui import app
    for fn in (app.main, app.launch):
        assert inspect.signature(fn).parameters["host"].default == "127.0.0.1", fn


def test_ui_upload_refuses_paths_outside_the_upload_cache(tmp_path):
    from bgetune.ui import uploads
    cache = tmp_path / "gradio-cache"
    cache.mkdir()
    good = cache / "notes.md"
    good.write_text("# Notes\n\nfine\n")
    secret = tmp_path / "outside" / "secret.md"
    secret.parent.mkdir()
    secret.write_text("PRIVATE-OUTSIDE-CONTENT\n")
    link = cache / "link.md"
    link.symlink_to(secret)
    escape = cache / ".." / "outside" / "secret.md"
    ws = tmp_path / "ws"
    res = uploads.store_uploads(
        ws,
        [
            str(good),
            "/etc/passwd",
            str(secret),
            str(link),
            str(escape),
            {"path": str(secret), "orig_name": "../../x.md"},
        ],
        allowed_roots=[cache],
    )
    assert [p.name for p in res.stored] == ["notes.md"]
    assert len(res.refused) == 5, res.refused
    stored = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"PRIVATE-OUTSIDE-CONTENT" not in stored and b"root:x:0:0" not in stored
    assert all(p.resolve().is_relative_to(ws.resolve()) for p in res.stored)
