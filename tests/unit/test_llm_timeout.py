"""The LLM answer timeout follows the server: a CPU server on this machine shares its cores between the calls it
answers at once, so it gets minutes where a hosted one gets a minute; BGETUNE_LLM_TIMEOUT always wins."""

from __future__ import annotations

import pytest

from bgetune.core.config import LLM_TIMEOUT_LOCAL_S, LLM_TIMEOUT_REMOTE_S, Settings


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8088/v1",
        "http://localhost:11434/v1",
        "http://[::1]:8000/v1",
        "http://192.168.1.20:8000/v1",
        "http://10.0.0.5/v1",
        "http://gpu-box.local:8000/v1",
    ],
)
def test_a_server_on_this_machine_or_the_private_network_gets_the_local_timeout(url, monkeypatch):
    monkeypatch.delenv("BGETUNE_LLM_TIMEOUT", raising=False)
    assert Settings(llm_base_url=url).llm_timeout_s == LLM_TIMEOUT_LOCAL_S


@pytest.mark.parametrize("url", ["https://api.deepseek.com/v1", "https://8.8.8.8/v1", None])
def test_a_hosted_server_gets_the_hosted_timeout(url, monkeypatch):
    monkeypatch.delenv("BGETUNE_LLM_TIMEOUT", raising=False)
    monkeypatch.delenv("BGETUNE_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert Settings(llm_base_url=url).llm_timeout_s == LLM_TIMEOUT_REMOTE_S
    assert LLM_TIMEOUT_LOCAL_S > LLM_TIMEOUT_REMOTE_S


def test_the_environment_and_an_explicit_setting_win_over_the_server_rule(monkeypatch):
    monkeypatch.setenv("BGETUNE_LLM_TIMEOUT", "42")
    assert Settings(llm_base_url="http://127.0.0.1:8088/v1").llm_timeout_s == 42.0
    monkeypatch.delenv("BGETUNE_LLM_TIMEOUT")
    assert Settings(llm_base_url="http://127.0.0.1:8088/v1", llm_timeout_s=7).llm_timeout_s == 7
