"""The whole pipeline, offline, on a small real knowledge-base export (the CLI `bgetune run --json` contract)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgetune.cli import app
from tests.conftest import DEBIAN_FAQ


@pytest.fixture
def small_kb(tmp_path) -> Path:
    path = tmp_path / "kb.jsonl"
    path.write_text("\n".join((DEBIAN_FAQ / "corpus.en.jsonl").read_text().splitlines()[:40]) + "\n")
    return path


def test_run_without_yes_stops_for_review(small_kb, tmp_path, bundled_path):
    from bgetune.pipeline import run_pipeline

    res = run_pipeline([small_kb], workspace=tmp_path / "ws", base_model="bundled")
    assert res["status"] == "awaiting review" and res["pairs"]["kept"] > 0
    assert "--yes" in res["next_step"]
    from bgetune.core.workspace import Workspace

    assert not Workspace(tmp_path / "ws").scalar("SELECT count(*) FROM pairs WHERE status='approved'")


@pytest.mark.slow
def test_cli_run_whole_pipeline_json(small_kb, tmp_path, bundled_path):
    ws = tmp_path / "ws"
    r = CliRunner().invoke(
        app,
        [
            "run",
            str(small_kb),
            "--workspace",
            str(ws),
            "--base-model",
            "bundled",
            "--yes",
            "--epochs",
            "1",
            "--max-steps",
            "3",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[r.stdout.index("{") :])
    assert out["status"] == "done" and out["base_model"] == "bundled"
    assert out["pairs"]["kept"] > 0 and "rejected" in out["pairs"]
    for name in ("base", "tuned"):
        assert {"ndcg@10", "mrr@10", "recall@10", "hit@1"} <= set(out["metrics"][name])
    assert 0 < out["threshold"] < 1
    model_dir = Path(out["model_dir"])
    assert (model_dir / "calibration.json").exists()
    # one run, one folder: model, evaluation and plots all under artifacts/runs/<train run id>/
    folder = ws / "artifacts" / "runs" / out["train_run"]
    assert model_dir.is_relative_to(folder) and out["plots"]
    assert all(Path(p).is_relative_to(folder) for p in out["plots"]), out["plots"]
    assert out["stages"]["evaluate"]["run_folder"] == str(folder)
    # --json keeps the progress bars, on stderr
    assert "%|" in r.stderr and "chunks encoded" in r.stderr
    from sentence_transformers import SentenceTransformer

    SentenceTransformer(str(model_dir))  # loads offline as a plain sentence-transformers folder


@pytest.mark.slow
def test_run_honours_the_workspace_settings_and_mines_impression_log_negatives(small_kb, tmp_path, bundled_path):
    """`bgetune run` is the declared stages through invoke: the workspace's remembered lr, batch size and LoRA
    reach training, and mining keeps the impression-log negatives the mine capability adds (issue 21 bug a)."""
    from bgetune.capabilities import Context, invoke
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.pipeline import run_pipeline
    from bgetune.tools.training import TrainConfig
    from tests.data.conftest import EN_DOC

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "apt-guide.md").write_text(EN_DOC, encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    ctx = Context(ws=ws, settings=Settings(workspace=ws.root), files=None)  # code caller: any path
    invoke("ingest", {"paths": [str(docs / "apt-guide.md")], "chunk_tokens": 64, "chunk_overlap": 8}, ctx)
    log = tmp_path / "log.tsv"
    rows = [
        ("session", "query", "clicked title", "clicked", "rank", "time"),
        ("s1", "change apt mirror", "Proxy settings", "0", "1", "2026-11-01 10:03:00"),
        ("s1", "change apt mirror", "Installing packages", "1", "2", "2026-11-01 10:03:00"),
    ]
    log.write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    imported = invoke("import_history", {"path": str(log), "embedding": False, "then_filter": False}, ctx)
    assert imported.skipped_negatives == 1
    for name, value in (("lr", 3e-5), ("batch_size", 4), ("lora", True)):
        invoke("set_setting", {"name": name, "value": str(value)}, ctx)

    out = run_pipeline(
        [docs / "apt-guide.md", small_kb],
        workspace=ws.root,
        base_model="bundled",
        yes=True,
        train_config=TrainConfig(epochs=1, max_steps=2),
    )
    params = ws.run(out["train_run"])["params"]
    assert params["lr"] == 3e-5 and params["batch_size"] == 4 and params["lora"] is True, params
    assert params["epochs"] == 1 and params["max_steps"] == 2  # the explicit values win over remembered ones
    assert out["stages"]["mine"].get("skipped_negatives") == 1
    assert ws.scalar("SELECT count(*) FROM negatives WHERE method='skipped'") == 1
