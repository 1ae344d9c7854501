"""Reliability fixtures: a small real workspace, the scripted LLM fault server, helpers for subprocesses."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.reliability.llm_fault_server import FaultServer

CANARY = "sk-canary-7f3a9c2e51d84b6aa0e4c9d1b2f8e6c3"

DOCS = {
    "backup.md": "# Backups\n\nThe backup job runs every night at 02:00 and copies the srv volume to the NAS in rack B. "
    "Snapshots are kept for thirty days.\n",
    "restore.md": "# Restores\n\nTo restore a file, mount the NAS snapshot read-only and copy the file back with rsync. "
    "Always compare the checksum with the manifest.\n",
    "access.md": "# Access\n\nOnly members of the ops group may start a restore. Requests go through the ticket queue "
    "and are answered within one working day.\n",
    "deploy.md": "# Deployments\n\nDeployments happen on Tuesdays and Thursdays after the change board approves the "
    "ticket. Every release carries a rollback script.\n",
}


def write_docs(folder: Path, docs: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (docs or DOCS).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_ws(tmp_path):
    """A workspace with four one-chunk Markdown documents ingested."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    ws = Workspace(tmp_path / "ws")
    report = ingest(ws, [write_docs(tmp_path / "docs")], settings=Settings(workspace=ws.root))
    assert report.ok, report.summary()
    assert ws.scalar("SELECT count(*) FROM chunks") == len(DOCS)
    yield ws
    ws.close()


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with FaultServer(lifetime=240) as srv:
        yield srv


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def py_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGETUNE_")}
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def spawn(code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """A python -c child in its own process group, stdout/stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env or py_env(),
        cwd=cwd or REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(predicate, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    """Poll until predicate() is true; fail (and show the child's output) if the child dies or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return
        except sqlite3.Error:
            pass
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"child exited ({proc.returncode}) before {what}:\n{out[-2000:]}\n{err[-4000:]}"
            )
        time.sleep(0.05)
    if proc is not None:
        sigkill(proc)
    raise AssertionError(f"timed out waiting for {what}")


def sigkill(proc: subprocess.Popen) -> tuple[str, str]:
    """SIGKILL the child's whole process group and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    out, err = proc.communicate(timeout=30)
    return out, err


def count(db: Path, sql: str, params: tuple = ()) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(conn.execute(sql, params).fetchone()[0] or 0)
    finally:
        conn.close()
