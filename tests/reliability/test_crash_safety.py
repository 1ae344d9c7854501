"""SIGKILL mid-stage: generation (offline and LLM), mining, training and a pending approval. After each kill the
database passes integrity_check, every approved/edited/rejected decision is intact, nothing is duplicated, and the
stage resumes or re-runs cleanly. Each stage runs in a real child process that is killed with SIGKILL."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from bgetune.core.workspace import DB_NAME
from tests.conftest import DEBIAN_FAQ
from tests.reliability.conftest import count, integrity, py_env, sigkill, spawn, wait_for
from tests.reliability.llm_fault_server import FaultServer, ok

N_CHUNKS = 40
# chunks with pairs (and human decisions) before the killed stage (15 offline pairs: 10 get decisions)
PRE = 14

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    ws = Workspace(os.environ["WS"])
    settings = Settings(workspace=ws.root)
    SLOW = float(os.environ.get("SLOW", "0"))
    def progress(done, total, label=""):
        with open(os.environ["PROG"], "a") as fh:
            fh.write(f"{done}/{total} {label}\\n")
        time.sleep(SLOW)
    """
)


def _corpus(path: Path) -> Path:
    lines = (DEBIAN_FAQ / "corpus.en.jsonl").read_text(encoding="utf-8").splitlines()[:N_CHUNKS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> Path:
    """40 real Debian FAQ chunks; offline pairs for the first 10 chunks with approvals, edits and rejections."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools import review
    from bgetune.tools.ingest import ingest
    from bgetune.tools.qa_generation import generate_pairs

    root = tmp_path_factory.mktemp("crash")
    ws = Workspace(root / "ws")
    assert ingest(ws, [_corpus(root / "faq.jsonl")], settings=Settings(workspace=ws.root)).ok
    first = [r["id"] for r in ws.query("SELECT id FROM chunks ORDER BY document_id, ord LIMIT ?", (PRE,))]
    generate_pairs(ws, Settings(workspace=ws.root), chunk_ids=first, mode="offline")
    ids = [r["id"] for r in ws.query("SELECT id FROM pairs ORDER BY id")]
    assert len(ids) >= 12
    review.approve(ws, ids[:6], why="looks right")
    review.edit(ws, ids[6], query="how do I find the debian faq answers")
    review.edit(ws, ids[7], query="who writes the debian faq")
    review.reject(ws, ids[8:10], why="vague")
    ws.close()
    return root / "ws"


@pytest.fixture
def crash_ws(_template, tmp_path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(_template, dst)
    return dst


def _rows(ws_path: Path, sql: str) -> list[tuple]:
    """``sql``'s rows read straight from the workspace database (a plain connection, no Workspace)."""
    import sqlite3

    conn = sqlite3.connect(ws_path / DB_NAME)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def decisions(ws_path: Path) -> dict[int, tuple]:
    """Every human decision: id -> (status, query, original_query, passage, chunk_id, number of events)."""
    rows = _rows(
        ws_path,
        "SELECT p.id, p.status, p.query, p.original_query, p.passage, p.chunk_id, "
        "(SELECT count(*) FROM pair_events e WHERE e.pair_id=p.id) FROM pairs p "
        "WHERE p.status IN ('approved','edited','rejected') AND p.status_by='user'",
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def pair_keys(ws_path: Path) -> list[tuple]:
    return sorted(_rows(ws_path, "SELECT ifnull(chunk_id,''), query, source FROM pairs"))


def _after_kill(ws_path: Path, before: dict[int, tuple]) -> None:
    db = ws_path / DB_NAME
    assert integrity(db) == "ok"
    assert decisions(ws_path) == before, "a human decision changed or vanished"
    keys = pair_keys(ws_path)
    assert len(keys) == len(set(keys)), "duplicated pairs"


def _run_child(code: str, ws: Path, tmp_path: Path, **env: str):
    prog = tmp_path / f"progress-{len(list(tmp_path.glob('progress-*')))}.txt"
    proc = spawn(CHILD + textwrap.dedent(code), env=py_env(WS=str(ws), PROG=str(prog), **env))
    return proc, prog


def _finish(proc, timeout: float = 240) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}"
    return out


GEN_OFFLINE = """
from bgetune.tools.qa_generation import generate_pairs
print(json.dumps(generate_pairs(ws, settings, mode="offline", progress=progress)))
"""


def test_sigkill_during_offline_generation(crash_ws, _template, tmp_path):
    before = decisions(crash_ws)
    n0 = len(pair_keys(crash_ws))
    db = crash_ws / DB_NAME
    proc, _ = _run_child(GEN_OFFLINE, crash_ws, tmp_path, SLOW="0.15")
    wait_for(lambda: count(db, "SELECT count(*) FROM pairs") > n0 + 5, 120, proc, "new pairs")
    sigkill(proc)
    _after_kill(crash_ws, before)
    assert count(db, "SELECT count(*) FROM runs WHERE kind='generate' AND status='running'") == 1
    # `bgetune status` tells the killed stage from a running one
    from bgetune.core.workspace import Workspace

    runs = Workspace(crash_ws).stats()["runs"]
    assert [r["status"] for r in runs if r["kind"] == "generate"][0] == "interrupted"

    # restart: the run finishes; the result equals an uninterrupted run on a fresh copy of the same workspace
    out = _finish(_run_child(GEN_OFFLINE, crash_ws, tmp_path)[0])
    assert json.loads(out.strip().splitlines()[-1])["chunks_skipped"] > PRE
    _after_kill(crash_ws, before)
    ref = tmp_path / "ref"
    shutil.copytree(_template, ref)
    _finish(_run_child(GEN_OFFLINE, ref, tmp_path)[0])
    assert pair_keys(crash_ws) == pair_keys(ref)


PAID = "SELECT count(*) FROM llm_cache WHERE model <> 'offline'"
GEN_LLM = """
from bgetune.tools.qa_generation import generate_pairs
s = Settings(workspace=ws.root, llm_base_url=os.environ["LLM_URL"], llm_model="fault-model", llm_concurrency=2,
             llm_timeout_s=10, llm_max_retries=1, llm_api_key="sk-test")
print(json.dumps(generate_pairs(ws, s, mode="llm", progress=progress)))
"""


def test_sigkill_during_llm_generation_repeats_no_paid_call(crash_ws, tmp_path):
    # paid answers only: the offline generator keeps its own memo rows (model 'offline') in the same table
    before = decisions(crash_ws)
    db = crash_ws / DB_NAME
    with FaultServer(default=ok(delay=0.25), lifetime=240) as srv:
        proc, _ = _run_child(GEN_LLM, crash_ws, tmp_path, LLM_URL=srv.base_url)
        wait_for(lambda: count(db, PAID) >= 6, 120, proc, "6 answered chunks")
        sigkill(proc)
        _after_kill(crash_ws, before)
        cached = count(db, PAID)
        # an answer is stored with its pairs in one transaction: no paid answer without its pairs
        assert count(db, PAID + " AND key NOT IN (SELECT gen_key FROM pairs)") == 0
        calls_before = len(srv.requests)
        assert calls_before >= cached

        srv.default = ok()
        out = json.loads(
            _finish(_run_child(GEN_LLM, crash_ws, tmp_path, LLM_URL=srv.base_url)[0]).strip().splitlines()[-1]
        )
        assert out["chunks_cached"] == cached and out["chunks_failed"] == 0, out
        assert len(srv.requests) - calls_before == N_CHUNKS - cached, "a finished chunk was paid for twice"
    _after_kill(crash_ws, before)
    assert count(db, PAID) == N_CHUNKS
    per_chunk = count(
        db, "SELECT max(n) FROM (SELECT count(*) n FROM pairs WHERE source LIKE 'llm:%' GROUP BY chunk_id)"
    )
    assert per_chunk == 2


def _prepare_training_data(ws_path: Path) -> None:
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools import review
    from bgetune.tools.qa_generation import generate_pairs
    from bgetune.tools.split import make_split

    ws = Workspace(ws_path)
    generate_pairs(ws, Settings(workspace=ws.root), mode="offline")
    # a small training set keeps the CPU cost down: the first 40 proposed pairs besides the human decisions
    ids = [r["id"] for r in ws.query("SELECT id FROM pairs WHERE status='proposed' ORDER BY id LIMIT 40")]
    review.approve(ws, ids, actor="agent")
    ws.query("UPDATE pairs SET status='rejected', status_by='filter' WHERE status='proposed'")
    make_split(ws)
    ws.close()


def _negatives(ws_path: Path) -> list[tuple]:
    return sorted(_rows(ws_path, "SELECT pair_id, chunk_id, rank FROM negatives"))


MINE = """
from bgetune.tools.negatives import mine_negatives
print(json.dumps(mine_negatives(ws, base_model="bundled", method="dense", progress=progress)))
"""


def test_sigkill_during_mining_keeps_the_previous_negatives(crash_ws, tmp_path):
    from bgetune.core.workspace import Workspace
    from bgetune.tools.negatives import mine_negatives

    _prepare_training_data(crash_ws)
    before = decisions(crash_ws)
    ws = Workspace(crash_ws)
    mine_negatives(ws, base_model="bundled", method="dense")
    ws.close()
    baseline = _negatives(crash_ws)
    assert baseline

    proc, prog = _run_child(MINE, crash_ws, tmp_path, SLOW="0.05")
    wait_for(lambda: prog.exists() and "mining" in prog.read_text(), 180, proc, "mining progress")
    sigkill(proc)
    _after_kill(crash_ws, before)
    assert _negatives(crash_ws) == baseline, "a killed mining run left a partial negatives table"

    ws = Workspace(crash_ws)
    mine_negatives(ws, base_model="bundled", method="dense")
    ws.close()
    assert _negatives(crash_ws) == baseline
    _after_kill(crash_ws, before)


TRAIN = """
from bgetune.tools.training import TrainConfig, train
cfg = TrainConfig(base_model="bundled", epochs=2, batch_size=8, hard_negatives=0, device="cpu",
                  max_query_len=32, max_passage_len=64, resume=os.environ.get("RESUME") == "1")
print(json.dumps(train(ws, cfg, progress=progress), default=str))
"""


def test_sigkill_during_training_resumes_from_the_checkpoint(crash_ws, tmp_path):
    from bgetune.tools.training import CKPT_PREFIX, COMPLETE

    _prepare_training_data(crash_ws)
    before = decisions(crash_ws)
    db = crash_ws / DB_NAME
    runs_dir = crash_ws / "artifacts" / "runs"
    proc, _ = _run_child(TRAIN, crash_ws, tmp_path, SLOW="0.3")
    wait_for(lambda: any(runs_dir.glob(f"*/{CKPT_PREFIX}1/{COMPLETE}")), 240, proc, "the epoch-1 checkpoint")
    sigkill(proc)
    _after_kill(crash_ws, before)
    assert count(db, "SELECT count(*) FROM runs WHERE kind='train' AND status='running'") == 1
    run_id = next(runs_dir.glob(f"*/{CKPT_PREFIX}1/{COMPLETE}")).parent.parent.name

    out = _finish(_run_child(TRAIN, crash_ws, tmp_path, RESUME="1")[0], timeout=300)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["run_id"] == run_id
    assert result["resumed_from"] and result["resumed_from"]["epoch"] == 1, result
    assert Path(result["model_dir"]).is_dir()
    assert count(db, "SELECT count(*) FROM runs WHERE kind='train'") == 1
    assert count(db, "SELECT count(*) FROM runs WHERE kind='train' AND status='done'") == 1
    _after_kill(crash_ws, before)


PENDING = """
from bgetune.agent.runner import AgentSession
s = AgentSession(ws.root, settings, "crash-thread")
for ev in s.send("train the model"):
    if ev["type"] == "approval":
        Path(os.environ["PROG"]).write_text("PENDING " + ev["tool"])
        time.sleep(120)
print("no approval was asked", flush=True)
"""


def test_sigkill_while_an_approval_is_pending(crash_ws, tmp_path):
    from bgetune.agent.runner import CHAT_DB, AgentSession
    from bgetune.core.config import Settings

    _prepare_training_data(crash_ws)
    from bgetune.core.workspace import Workspace

    ws = Workspace(crash_ws)
    ws.set_setting("epochs", 1)
    ws.set_setting("max_steps", 1)
    ws.set_setting("batch_size", 4)
    ws.close()
    before = decisions(crash_ws)
    db = crash_ws / DB_NAME
    proc, prog = _run_child(PENDING, crash_ws, tmp_path)
    wait_for(
        lambda: prog.exists() and prog.read_text().startswith("PENDING"), 240, proc, "the approval prompt"
    )
    assert prog.read_text() == "PENDING train"
    sigkill(proc)
    _after_kill(crash_ws, before)
    assert integrity(crash_ws / CHAT_DB) == "ok"
    assert count(db, "SELECT count(*) FROM runs WHERE kind='train'") == 0

    # restart: the same thread still waits on the same approval; nothing ran meanwhile
    with AgentSession(crash_ws, Settings(workspace=crash_ws), "crash-thread") as s:
        pending = s.pending_approval()
        assert pending and pending["tool"] == "train"
        events = list(s.resume("approve"))
        assert not [e for e in events if e["type"] == "error"], events
        assert s.pending_approval() is None
    assert count(db, "SELECT count(*) FROM runs WHERE kind='train' AND status='done'") == 1
    _after_kill(crash_ws, before)
    assert integrity(crash_ws / CHAT_DB) == "ok"
