"""UI fixtures: a small real PDF (two pages of the R FAQ) and a launched app on a free loopback port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, SAMPLES

ARTIFACTS = REPO / "test-artifacts" / "ui"
FAST_TRAIN = {"epochs": 1, "max_steps": 2, "batch_size": 4}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def faq_slice(out: Path, first: int, last: int) -> Path:
    """Pages ``first``..``last`` (1-based) of the real R FAQ as their own PDF."""
    from pypdf import PdfReader, PdfWriter

    reader, writer = PdfReader(SAMPLES / "en" / "R-FAQ.pdf"), PdfWriter()
    for page in reader.pages[first - 1 : last]:
        writer.add_page(page)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        writer.write(fh)
    return out


@pytest.fixture
def small_pdf(tmp_path: Path) -> Path:
    """Pages 5-6 of the real R FAQ (4 chunks): enough to rank, label and diagnose in seconds."""
    return faq_slice(tmp_path / "docs" / "r-faq-slice.pdf", 5, 6)


@pytest.fixture
def flow_pdf(tmp_path: Path) -> Path:
    """Pages 5-9 of the real R FAQ (16 chunks, ~17 proposed pairs): enough pairs that the held-out side of a
    split is not empty after a review, small enough to train 2 steps in CI."""
    return faq_slice(tmp_path / "docs" / "r-faq-slice.pdf", 5, 9)


@contextmanager
def launched(ws: Path) -> Iterator[dict[str, Any]]:
    """The real app on workspace ``ws``, launched on a free loopback port (offline planner: no LLM)."""
    from bgetune.core.config import Settings
    from bgetune.ui.app import build_app, launch

    demo = build_app(None, workspace=ws, settings=Settings(workspace=ws))
    port = free_port()
    launch(demo, port=port, block=False, quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "workspace": ws, "demo": demo}
    finally:
        close_app(demo, ws)


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The real app on a fresh workspace."""
    with launched(tmp_path / "ws") as app:
        yield app


def close_app(demo: Any, ws: Path) -> None:
    """Stop the app, its agent session and any model server it started on the workspace's models."""
    demo.close()
    ctl = demo.controller
    if ctl._session is not None:
        ctl._session.close()
    try:
        from bgetune.tools import serve
    except ImportError:
        return
    for key, running in list(serve._RUNNING.items()):
        if Path(key).resolve().is_relative_to(ws.resolve()):
            running.stop()


def pair_ids(ws: Path, status: str | None = None) -> list[int]:
    from bgetune.core.workspace import Workspace

    w = Workspace(ws)
    try:
        sql = "SELECT id FROM pairs" + (" WHERE status=?" if status else "") + " ORDER BY id"
        return [r["id"] for r in w.query(sql, (status,) if status else ())]
    finally:
        w.close()


@pytest.fixture
def small_ws(tmp_path: Path, small_pdf: Path) -> Path:
    """A workspace with the two R FAQ pages ingested with the bundled model (4 chunks): golden questions and
    diagnosis have something to rank, in seconds."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    ws = Workspace(tmp_path / "small-ws")
    ws.set_setting("base_model", "bundled")
    report = ingest(ws, [small_pdf], settings=Settings(workspace=ws.root))
    assert report.ok, report.summary()
    ws.close()
    return tmp_path / "small-ws"


@pytest.fixture
def ui_small(small_ws: Path) -> Iterator[dict[str, Any]]:
    """The real app launched on :func:`small_ws`."""
    with launched(small_ws) as app:
        yield app
