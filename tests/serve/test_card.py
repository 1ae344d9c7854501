"""`bgetune export` puts the drop-in snippets into the model card, naming the exported folder."""

from __future__ import annotations

import shutil
from pathlib import Path


def test_export_writes_a_use_it_section_for_the_exported_folder(tmp_path, model_dir):
    from bgetune.core.workspace import Workspace
    from bgetune.tools.export import export_model
    from bgetune.tools.onnx_export import check_folder

    ws = Workspace(tmp_path / "ws")
    run_id = ws.start_run("train", {"epochs": 1})
    trained = ws.artifact_path("runs", run_id, "model", "x").parent
    shutil.copytree(model_dir, trained, dirs_exist_ok=True)
    ws.finish_run(run_id, result={"model_dir": str(trained)}, artifact_dir=str(trained.parent))
    out = export_model(ws, out_dir=tmp_path / "shipped", ship_anyway=True)
    card = (tmp_path / "shipped" / "README.md").read_text(encoding="utf-8")
    assert card.count("## Use it") == 1
    assert f'SentenceTransformer("{tmp_path / "shipped"}")' in card and ".tmp-export" not in card
    assert "check_embedding_ctx_length=False" in card and "OpenAI-API-compatible" in card
    assert "--runner pooling" in card and "text-embeddings-inference" in card
    assert check_folder(out["model_dir"]) == []
    assert "Folder check (the files TEI, vLLM and Infinity read): complete." in card
    ws.close()


def test_the_default_model_to_serve_is_the_exported_folder(tmp_path, model_dir):
    from bgetune.core.workspace import Workspace
    from bgetune.tools.export import export_model
    from bgetune.tools.serve import default_model_dir

    ws = Workspace(tmp_path / "ws")
    assert default_model_dir(ws) is None
    run_id = ws.start_run("train", {"epochs": 1})
    trained = ws.artifact_path("runs", run_id, "model", "x").parent
    shutil.copytree(model_dir, trained, dirs_exist_ok=True)
    ws.finish_run(run_id, result={"model_dir": str(trained)}, artifact_dir=str(trained.parent))
    assert default_model_dir(ws) == trained  # trained, not exported yet
    out = export_model(ws, ship_anyway=True)
    assert default_model_dir(ws).resolve() == Path(out["model_dir"]).resolve() != trained.resolve()
    ws.close()
