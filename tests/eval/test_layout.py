"""One training run, one folder: evaluation, plots and export land in artifacts/runs/<train run id>/, and a
workspace written with the old layout (artifacts/eval/, plots/, export/) still shows its artifacts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bgetune.tools.layout import folder_for, latest_artifacts, train_run_for


def _fake_train_run(ws, st_model) -> tuple[str, Path]:
    """A finished train run whose model is the bundled model saved in its run folder (as training does)."""
    run_id = ws.start_run("train", {"base_model": "bundled"})
    model_dir = ws.artifact_path("runs", run_id, "model", "x").parent
    st_model.save(str(model_dir))
    (model_dir / "bgetune.json").write_text(json.dumps({"base_model": "bundled", "base_family": "generic"}))
    ws.finish_run(
        run_id,
        result={"model_dir": str(model_dir), "loss_curve": [[1, 0.9], [2, 0.7]]},
        artifact_dir=str(model_dir.parent),
    )
    return run_id, model_dir


def test_eval_calibrate_export_share_the_run_folder(eval_ws, st_model):
    from bgetune.tools.calibration import calibrate
    from bgetune.tools.evaluation import evaluate_workspace
    from bgetune.tools.export import export_model

    run_id, model_dir = _fake_train_run(eval_ws, st_model)
    folder = eval_ws.artifacts / "runs" / run_id
    assert train_run_for(eval_ws, model_dir) == run_id and folder_for(eval_ws, model_dir) == folder

    ev = evaluate_workspace(eval_ws, tuned_dir=str(model_dir), n_resamples=50)
    assert Path(ev["per_query"]).parent.parent == folder / "eval"
    assert ev["run_folder"] == str(folder)
    assert {Path(p).name for p in ev["plots"]} == {"metrics.png", "loss.png"}
    assert all(Path(p).is_relative_to(folder) for p in ev["plots"])

    cal = calibrate(eval_ws, model_dir=str(model_dir))
    assert cal["plots"] == [str(folder / "plots" / "score_histograms.png")]
    assert cal["run_folder"] == str(folder)

    ex = export_model(eval_ws)
    assert ex["model_dir"] == str(folder / "export") and ex["run_folder"] == str(folder)
    assert (folder / "export" / "modules.json").exists()
    # an export is recognised as that run's model (eval of the exported folder lands in the same place)
    assert train_run_for(eval_ws, folder / "export") == run_id

    art = latest_artifacts(eval_ws)
    assert art.run_id == run_id and art.folder == folder and art.export_dir == folder / "export"
    assert set(art.plots) == {"metrics", "loss", "score_histograms"}
    assert str(folder) in art.text() and "score_histograms.png" in art.text()
    for old in ("eval", "plots", "export"):  # nothing of this run outside its folder
        assert not (eval_ws.artifacts / old).exists() or not any((eval_ws.artifacts / old).iterdir()), old


def test_models_from_elsewhere_keep_the_workspace_folders(eval_ws, tuned_dir):
    from bgetune.tools.evaluation import evaluate_workspace

    assert train_run_for(eval_ws, tuned_dir) is None
    ev = evaluate_workspace(eval_ws, tuned_dir=tuned_dir, n_resamples=20, plots=False)
    assert Path(ev["per_query"]).parent == eval_ws.artifacts / "eval" / ev["run_id"]
    assert ev["run_folder"] == str(Path(ev["per_query"]).parent)


def test_old_layout_is_still_read(workspace, st_model):
    """Before run folders: eval in artifacts/eval/<eval id>/, the histogram in artifacts/plots/, the export in
    artifacts/export/<train id>/."""
    run_id, model_dir = _fake_train_run(workspace, st_model)
    assert latest_artifacts(workspace).plots == {}
    exp = workspace.artifact_path("export", run_id, "modules.json")
    exp.write_text("[]")
    ev_id = workspace.start_run("eval", {"tuned_dir": str(exp.parent)})
    ev_dir = workspace.artifact_path("eval", ev_id, "metrics.png").parent
    (ev_dir / "metrics.png").write_bytes(b"\x89PNG")
    (ev_dir / "per_query.json").write_text("[]")
    workspace.finish_run(ev_id, result={}, artifact_dir=str(ev_dir))
    hist = workspace.artifact_path("plots", "score_histograms.png")
    hist.write_bytes(b"\x89PNG")
    art = latest_artifacts(workspace)
    assert train_run_for(workspace, exp.parent) == run_id
    assert art.export_dir == exp.parent and art.eval_dir == ev_dir
    assert art.plots == {"metrics": ev_dir / "metrics.png", "score_histograms": hist}
    # a histogram older than the run belongs to an earlier run: not shown as this run's
    past = time.time() - 3 * 86400
    os.utime(hist, (past, past))
    assert "score_histograms" not in latest_artifacts(workspace).plots


def test_no_run_yet(workspace):
    art = latest_artifacts(workspace)
    assert art.folder is None and art.text() == "No training run yet." and "还没有" in art.text("zh")
