"""Opt-in: generation against a real OpenAI-compatible server (set BGETUNE_TEST_LLM_URL, e.g. from
`../shared/tools/local-llm start`)."""

from __future__ import annotations

import os

import pytest

from bgetune.core.config import Settings
from bgetune.tools.qa_generation import generate_pairs

URL = os.environ.get("BGETUNE_TEST_LLM_URL")


@pytest.mark.llm
@pytest.mark.slow
@pytest.mark.skipif(not URL, reason="set BGETUNE_TEST_LLM_URL to a running OpenAI-compatible server")
def test_real_llm_generation_and_cache(tiny_ws):
    ws = tiny_ws
    st = Settings(workspace=ws.root, llm_base_url=URL, llm_model="qwen", llm_concurrency=2, llm_timeout_s=120)
    ids = [c["id"] for c in ws.chunks()[:3]]
    first = generate_pairs(ws, st, chunk_ids=ids)
    assert first["mode"] == "llm" and first["chunks_done"] + first["chunks_failed"] == 3
    assert first["chunks_done"] >= 1, first["errors"]
    again = generate_pairs(ws, st, chunk_ids=ids)
    assert again["calls"] == 0 and again["chunks_cached"] == first["chunks_done"]
