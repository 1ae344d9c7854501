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
