"""Shared fixtures: everything offline, every path under tmp_path, one real model loaded per session."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
FIXTURES = REPO / "tests" / "fixtures"
DEBIAN_FAQ = FIXTURES / "debian-faq"  # GPL-2+ (Debian doc-debian), see its README.md


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test reads the user's configuration or writes outside tmp_path."""
    for var in list(os.environ):
        if var.startswith("BGETUNE_") and var != "BGETUNE_TEST_LLM_URL":
            monkeypatch.delenv(var, raising=False)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BGETUNE_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def bundled_path() -> str:
    from bgetune.core.models import bundled_model_path

    return bundled_model_path()


@pytest.fixture(scope="session")
def _session_model(bundled_path):
    from bgetune.core.models import load_model, resolve_base_model

    return load_model(resolve_base_model("bundled"), device="cpu")


@pytest.fixture
def st_model(_session_model):
    """The real bundled all-MiniLM-L6-v2, deep-copied so a test may change it."""
    return copy.deepcopy(_session_model)


@pytest.fixture
def workspace(tmp_path):
    from bgetune.core.workspace import Workspace

    return Workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def _ingested_samples(tmp_path_factory):
    """A workspace with a real English PDF and a real Chinese law (Markdown) ingested, built once."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    root = tmp_path_factory.mktemp("samples-ws")
    ws = Workspace(root / "ws")
    report = ingest(
        ws,
        [SAMPLES / "en" / "R-FAQ.pdf", SAMPLES / "zh" / "food-safety-law.md"],
        settings=Settings(workspace=ws.root),
    )
    assert report.ok, report.summary()
    ws.close()
    return root / "ws"


@pytest.fixture
def sample_ws(_ingested_samples, tmp_path):
    """A private copy of the ingested-samples workspace."""
    from bgetune.core.workspace import Workspace

    dst = tmp_path / "sample-ws"
    shutil.copytree(_ingested_samples, dst)
    return Workspace(dst)
