"""Workspace store and base-model rules."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from bgetune.core.models import (
    BGE_EN_INSTRUCTION,
    BGE_ZH_INSTRUCTION,
    FAMILIES,
    ModelError,
    encode,
    family_for,
    load_model,
    resolve_base_model,
)
from bgetune.core.workspace import MIGRATIONS, Workspace, WorkspaceError, atomic_write_json


def test_schema_version_and_pragmas(workspace):
    assert workspace.schema_version == len(MIGRATIONS)
    assert workspace.scalar("PRAGMA journal_mode") == "wal"
    assert workspace.scalar("PRAGMA foreign_keys") == 1


def test_transaction_rolls_back_on_error(workspace):
    with pytest.raises(RuntimeError):
        with workspace.tx() as c:
            c.execute("INSERT INTO settings(key, value) VALUES('epochs', '3')")
            raise RuntimeError("killed mid-stage")
    assert workspace.get_setting("epochs") is None
    workspace.set_setting("epochs", 3)
    assert Workspace(workspace.root).get_setting("epochs") == 3


def test_newer_schema_is_refused(workspace):
    with workspace.tx() as c:
        c.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(WorkspaceError, match="newer bgetune"):
        Workspace(workspace.root)


def test_runs_metrics_and_artifacts(workspace):
    run = workspace.start_run("eval", {"split": "test"})
    workspace.record_metrics(run, "base", "test", {"ndcg@10": 0.5})
    workspace.finish_run(run, result={"ok": True})
    assert workspace.last_run("eval")["result"] == {"ok": True}
    assert workspace.metrics(run) == {"base": {"test": {"ndcg@10": 0.5}}}
    p = atomic_write_json(workspace.artifact_path("eval", "x.json"), {"a": 1})
    assert json.loads(p.read_text()) == {"a": 1}
    with pytest.raises(WorkspaceError):
        workspace.artifact_path("..", "..", "etc", "passwd")


def test_workspace_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(WorkspaceError, match="is a file"):
        Workspace(f)


def test_family_rules():
    assert family_for("BAAI/bge-small-en-v1.5").query_prompt == BGE_EN_INSTRUCTION
    assert family_for("BAAI/bge-large-zh-v1.5").query_prompt == BGE_ZH_INSTRUCTION
    assert family_for("BAAI/bge-m3").query_prompt == ""
    assert family_for("BAAI/bge-m3").pooling == "cls" and family_for("BAAI/bge-m3").temperature == 0.02
    assert family_for("sentence-transformers/all-MiniLM-L6-v2") == FAMILIES["generic"]
    assert family_for("BAAI/bge-reranker-base") == FAMILIES["generic"]


def test_offline_fallback_to_bundled_with_one_line_note():
    r = resolve_base_model(None, language="zh", offline=True)
    assert r.spec == "bundled"
    assert "bge-small-zh-v1.5" in r.note and "\n" not in r.note


def test_offline_detection_is_fast(monkeypatch):
    from bgetune.core import models

    models.is_offline.cache_clear()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # loopback, nothing listening
    t = time.monotonic()
    assert models.is_offline(timeout_s=0.5) is True
    assert time.monotonic() - t < 5
    models.is_offline.cache_clear()


def test_bad_model_folder(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        resolve_base_model(str(tmp_path))


def test_bge_rules_on_bundled_model(bundled_path):
    """BGE rules applied to the real bundled weights: CLS pooling and the query instruction as the `query` prompt."""
    r = resolve_base_model("bundled", family="bge-en")
    m = load_model(r, device="cpu")
    assert m.prompts["query"] == BGE_EN_INSTRUCTION
    pooling = [mod for mod in m if type(mod).__name__ == "Pooling"][0]
    assert pooling.pooling_mode == "cls" or "cls" in str(pooling.get_config_dict())
    q = encode(m, ["how do I install R"], kind="query")
    p = encode(m, ["how do I install R"], kind="passage")
    assert q.shape == p.shape == (1, 384)
    # the instruction changes the query vector (it is really prepended)
    assert float((q * p).sum()) < 0.999


def test_status_json_cli(sample_ws):
    out = subprocess.run(
        [sys.executable, "-m", "bgetune.cli", "status", "--workspace", str(sample_ws.root), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    st = json.loads(out.stdout)
    assert st["documents"] == 2 and st["pages"] == 52 and st["chunks"] > 100
    assert set(st["chunk_languages"]) >= {"en", "zh"}
