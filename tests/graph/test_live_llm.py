"""Opt-in: the agent against a real OpenAI-compatible server (`../shared/tools/local-llm start` prints its URL).

BGETUNE_TEST_LLM_URL=http://127.0.0.1:8088/v1 pytest tests/graph/test_live_llm.py
"""

from __future__ import annotations

import os

import pytest

from bgetune.agent.registry import REGISTRY
from bgetune.agent.runner import AgentSession
from bgetune.core.config import Settings
from tests.graph.conftest import runs

URL = os.environ.get("BGETUNE_TEST_LLM_URL")
pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(not URL, reason="set BGETUNE_TEST_LLM_URL to a local LLM server"),
]


def test_real_server_drives_a_real_tool_call(tmp_path):
    ws = tmp_path / "ws"
    settings = Settings(
        workspace=ws,
        llm_base_url=URL,
        llm_model=os.environ.get("BGETUNE_TEST_LLM_MODEL", "local"),
        llm_timeout_s=240,
    )
    with AgentSession(ws, settings, "live") as s:
        events = list(s.send("Show the workspace status."))
    results = [e for e in events if e["type"] == "tool_result"]
    assert results, f"no tool ran: {events}"
    assert all(e["tool"] in REGISTRY for e in results)  # registered tools ran, through the graph
    assert any(e["ok"] for e in results), results
    assert not [e for e in events if e["type"] == "error"], events
    assert runs(ws) == []  # nothing costly without approval
    assert (ws / "chat.sqlite").exists()
