"""A process killed while an approval is pending: a new process sees the same approval and can approve it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from bgetune.agent.runner import AgentSession
from bgetune.core.config import Settings
from tests.conftest import REPO
from tests.graph.conftest import drain, last_message, runs

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from bgetune.agent.runner import AgentSession
    from bgetune.core.config import Settings
    ws, files = sys.argv[1], sys.argv[2:]
    s = AgentSession(ws, Settings(workspace=ws), "restart-me")
    for text, att in [("fine-tune bge on these PDFs", files), ("approve all", None), ("epochs 1", None),
                      ("max steps 2", None), ("batch size 4", None), ("train", None)]:
        list(s.send(text, files=att))
    print("PENDING " + json.dumps(s.pending_approval()), flush=True)
    time.sleep(600)
    """
)


def test_kill_while_pending_then_resume_in_a_new_process(tmp_path, docs):
    ws = tmp_path / "ws"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ws), *map(str, docs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        deadline = time.time() + 240
        line = ""
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith("PENDING") or not line:
                break
        assert line.startswith("PENDING"), f"child ended without a pending approval (rc={proc.poll()})"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    import json

    before = json.loads(line.split(" ", 1)[1])
    assert runs(ws) == []

    s = AgentSession(ws, Settings(workspace=ws), "restart-me")
    pending = s.pending_approval()
    assert pending == before and pending["tool"] == "train"
    assert pending["settings"]["max_steps"] == 2
    ev = drain(s.resume("approve"))
    assert [r["status"] for r in runs(ws)] == ["done"]
    assert "Training done" in last_message(ev) and s.pending_approval() is None
    # another thread on the same workspace is independent
    assert AgentSession(ws, Settings(workspace=ws), "other").pending_approval() is None
