"""Fixtures for the server tests: the bundled model as an exported folder with a query prompt, served for real."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from bgetune.core.models import BGE_EN_INSTRUCTION

NAME = "tuned-demo"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, bundled_path):
    """The bundled MiniLM copied into a folder named like an export, with the BGE English query prompt."""
    d = tmp_path_factory.mktemp("export") / NAME
    shutil.copytree(bundled_path, d)
    cfg_path = d / "config_sentence_transformers.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["prompts"] = {"query": BGE_EN_INSTRUCTION, "document": ""}
    cfg["default_prompt_name"] = None
    cfg_path.write_text(json.dumps(cfg))
    return d


@pytest.fixture(scope="session")
def reference(model_dir):
    """What the user compares against: SentenceTransformer(dir) on torch."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def torch_encoder(model_dir):
    from bgetune.tools.serve import TorchEncoder

    return TorchEncoder(model_dir, device="cpu")


def _start(model_dir, encoder, **kw):
    from bgetune.tools.serve import ServeConfig, start_server

    cfg = ServeConfig(model_dir=model_dir, port=0, **kw)
    cfg.api_key = kw.get("api_key")  # never the developer's BGETUNE_SERVE_API_KEY
    return start_server(cfg, encoder=encoder)


@pytest.fixture(scope="session")
def server(model_dir, torch_encoder):
    """A real uvicorn server on a free loopback port, small request limits so the limit errors are cheap."""
    running = _start(model_dir, torch_encoder, max_items=8, max_chars=5000)
    yield running
    running.stop()


@pytest.fixture
def start(model_dir, torch_encoder):
    """Start extra servers (stopped after the test): start(encoder=None, **ServeConfig fields)."""
    started = []

    def _go(encoder=None, **kw):
        s = _start(model_dir, encoder or torch_encoder, **kw)
        started.append(s)
        return s

    yield _go
    for s in started:
        s.stop()


class GatedEncoder:
    """The real encoder, but the first call waits until the test opens the gate (deterministic batching)."""

    def __init__(self, inner):
        self.inner = inner
        self.dim, self.max_tokens, self.prompts = inner.dim, inner.max_tokens, inner.prompts
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[int] = []

    def encode(self, texts, prompt):
        self.entered.set()
        self.gate.wait(60)
        self.calls.append(len(texts))
        return self.inner.encode(texts, prompt)
