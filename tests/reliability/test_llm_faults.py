"""LLM faults through the real generation code against a real loopback server: retries, Retry-After, partial
progress kept, clear messages, bounded time, no done work lost."""

from __future__ import annotations

import time

import pytest

from bgetune.core.config import Settings
from bgetune.tools.qa_generation import generate_pairs
from tests.reliability.llm_fault_server import (
    closed_port,
    hang,
    non_json,
    ok,
    slow_stream,
    status,
    truncated,
)

# a generous upper bound: with llm_timeout_s=1.5 and one retry a chunk is given up after ~5 s
BOUND_S = 30.0


def _settings(ws, url: str, **kw) -> Settings:
    base = {"llm_timeout_s": 1.5, "llm_max_retries": 1, "llm_concurrency": 1, "llm_model": "fault-model"}
    return Settings(workspace=ws.root, llm_base_url=url, **(base | kw))


def _pairs(ws) -> list[tuple]:
    return [tuple(r) for r in ws.query("SELECT chunk_id, query FROM pairs ORDER BY chunk_id, query")]


def _assert_no_duplicates(ws) -> None:
    assert (
        ws.scalar(
            "SELECT count(*) FROM (SELECT chunk_id, query FROM pairs GROUP BY 1, 2 HAVING count(*) > 1)"
        )
        == 0
    )


def test_retry_after_is_honoured(small_ws, fault_server):
    fault_server.script(status(429, retry_after=2))
    out = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url))
    assert out["chunks_done"] == 4 and out["chunks_failed"] == 0, out
    first, second = fault_server.requests[0], fault_server.requests[1]
    assert first.behaviour == "status"
    # the client waited at least what the server asked for (jittered backoff alone would be 0.5-1.5 s)
    assert second.at - first.at >= 1.9


def test_500s_are_retried_then_succeed(small_ws, fault_server):
    fault_server.script(status(500), status(503), status(502))
    out = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url, llm_max_retries=3))
    assert out["chunks_done"] == 4 and out["chunks_failed"] == 0, out
    assert out["pairs_added"] == 8
    assert len(fault_server.requests) == 7


def test_partial_progress_is_kept_and_resumed(small_ws, fault_server):
    """Two chunks answered, then the server breaks: the done chunks stay, the rerun asks only for the rest."""
    fault_server.script(ok(), ok())
    fault_server.default = status(500, body="model overloaded")
    out = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url))
    assert out["chunks_done"] == 2 and out["chunks_failed"] == 2, out
    assert all("500" in e["error"] and e["document"] for e in out["errors"]), out["errors"]
    kept = _pairs(small_ws)
    assert len(kept) == 4
    run = small_ws.last_run("generate")
    assert run["result"]["chunks_failed"] == 2

    fault_server.default = ok()
    before = len(fault_server.requests)
    out2 = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url))
    assert out2["chunks_cached"] == 2 and out2["chunks_done"] == 2 and out2["chunks_failed"] == 0, out2
    assert len(fault_server.requests) - before == 2, "finished chunks cost no new call"
    assert set(kept) <= set(_pairs(small_ws))
    assert len(_pairs(small_ws)) == 8
    _assert_no_duplicates(small_ws)
    # a third run changes nothing and calls nobody
    before = len(fault_server.requests)
    out3 = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url))
    assert out3["pairs_added"] == 0 and out3["chunks_cached"] == 4
    assert len(fault_server.requests) == before
    assert small_ws.integrity_check() == "ok"


@pytest.mark.parametrize(
    "fault",
    [hang(50), slow_stream(50, 0.2)],
    ids=["hang", "endless-slow-stream"],
)
def test_never_hangs_past_its_timeout(small_ws, fault_server, fault):
    fault_server.default = fault
    t0 = time.monotonic()
    out = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url, llm_concurrency=2))
    elapsed = time.monotonic() - t0
    assert elapsed < BOUND_S, f"generation took {elapsed:.0f}s against a server that never answers"
    assert out["chunks_failed"] == 4 and out["pairs_added"] == 0
    assert all("time" in e["error"].lower() for e in out["errors"]), out["errors"]
    assert small_ws.last_run("generate")["status"] == "done"


@pytest.mark.parametrize("fault", [truncated(), non_json()], ids=["truncated-body", "non-json-body"])
def test_broken_bodies_fail_the_chunk_not_the_run(small_ws, fault_server, fault):
    fault_server.script(ok())
    fault_server.default = fault
    out = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url))
    assert out["chunks_done"] >= 1 and out["chunks_failed"] >= 1, out
    assert out["chunks_done"] + out["chunks_failed"] == 4
    assert out["errors"] and all(e["error"] for e in out["errors"])
    # the broken answers were not cached: a rerun against a healthy server finishes the job
    fault_server.default = ok()
    out2 = generate_pairs(small_ws, _settings(small_ws, fault_server.base_url))
    assert out2["chunks_failed"] == 0 and out2["chunks_done"] == out["chunks_failed"], out2
    assert len(_pairs(small_ws)) == 8
    _assert_no_duplicates(small_ws)


def test_connection_refused_is_quick_and_clear(small_ws):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    t0 = time.monotonic()
    out = generate_pairs(small_ws, _settings(small_ws, url))
    assert time.monotonic() - t0 < BOUND_S
    assert out["chunks_failed"] == 4 and out["pairs_added"] == 0
    assert all("connect" in e["error"].lower() for e in out["errors"]), out["errors"]
    assert small_ws.integrity_check() == "ok"


def test_mixed_faults_never_lose_or_duplicate_work(small_ws, fault_server):
    """Every fault interleaved with good answers, two concurrent calls: rerun until done, nothing lost or doubled."""
    fault_server.script(
        ok(),
        status(429, retry_after=0.2),
        status(500),
        truncated(),
        non_json(),
        hang(50),
        ok(),
        status(500),
        truncated(),
        ok(),
    )
    settings = _settings(small_ws, fault_server.base_url, llm_concurrency=2)
    seen: set[tuple] = set()
    for _ in range(6):
        generate_pairs(small_ws, settings)
        now = set(_pairs(small_ws))
        assert seen <= now, "a rerun lost pairs"
        seen = now
        _assert_no_duplicates(small_ws)
        if small_ws.scalar("SELECT count(DISTINCT chunk_id) FROM pairs") == 4:
            break
    assert small_ws.scalar("SELECT count(DISTINCT chunk_id) FROM pairs") == 4
    assert small_ws.scalar("SELECT count(*) FROM llm_cache") == 4
    assert small_ws.integrity_check() == "ok"
