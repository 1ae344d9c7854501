"""Where the artifacts of one training run live: all in ``artifacts/runs/<train run id>/``.

::

    artifacts/runs/<train run id>/
        model/                    the trained model (training writes it; checkpoints and loss_curve.json beside)
        eval/<eval run id>/       per_query.json, metrics.png (before/after with 95% CIs), loss.png
        plots/score_histograms.png
        export/                   the shipped sentence-transformers folder (model card, calibration.json)

The workspace-wide ``artifacts/calibration.json`` stays where diagnosis and scoring read it (the model's own
copy is in ``model/`` and ``export/``). Evaluations of a model that no training run of this workspace produced
(a hub id, a folder elsewhere, the base model alone) keep the old places: ``artifacts/eval/<eval run id>/`` and
``artifacts/plots/``. Readers look in the run folder first and fall back to those old places, so workspaces
written before this layout still show their plots and exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

RUNS = "runs"
LEGACY = {"eval": "eval", "plots": "plots", "export": "export"}  # artifacts/<kind>/ before this layout


def _under(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def train_run_for(ws: Workspace, model_dir: str | Path | None) -> str | None:
    """The id of the training run of ``ws`` that produced ``model_dir`` (its model, a checkpoint or merge inside
    its folder, or an export of it, new or old layout), else None."""
    if not model_dir:
        return None
    path = Path(model_dir).expanduser()
    runs = ws.artifacts / RUNS
    if _under(path, runs):
        rel = path.resolve().relative_to(runs.resolve())
        run_id = rel.parts[0] if rel.parts else None
        if run_id and ws.scalar("SELECT kind FROM runs WHERE id=?", (run_id,)) == "train":
            return run_id
    legacy = ws.artifacts / LEGACY["export"]
    if _under(path, legacy):
        rel = path.resolve().relative_to(legacy.resolve())
        if rel.parts and ws.scalar("SELECT kind FROM runs WHERE id=?", (rel.parts[0],)) == "train":
            return rel.parts[0]
    # an export written elsewhere (--out): its bgetune.json names the run
    info = path / "bgetune.json"
    if info.is_file():
        import json

        try:
            run_id = json.loads(info.read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError, AttributeError):
            run_id = None
        if run_id and ws.scalar("SELECT kind FROM runs WHERE id=?", (run_id,)) == "train":
            return str(run_id)
    return None


def run_folder(ws: Workspace, run_id: str, *, mkdir: bool = True) -> Path:
    """``artifacts/runs/<run_id>/``."""
    return ws.artifact_path(RUNS, run_id, "x", mkdir=mkdir).parent


def folder_for(ws: Workspace, model_dir: str | Path | None) -> Path | None:
    """The run folder of the training run that produced ``model_dir``, or None."""
    train_id = train_run_for(ws, model_dir)
    return run_folder(ws, train_id, mkdir=False) if train_id else None


def eval_dir(ws: Workspace, eval_run_id: str, tuned_dir: str | Path | None) -> Path:
    """Where an evaluation writes: the tuned model's run folder, else ``artifacts/eval/<eval run id>/``."""
    train_id = train_run_for(ws, tuned_dir)
    if train_id:
        return ws.artifact_path(RUNS, train_id, "eval", eval_run_id, "x").parent
    return ws.artifact_path(LEGACY["eval"], eval_run_id, "x").parent


def plots_dir(ws: Workspace, tuned_dir: str | Path | None) -> Path:
    """Where calibration plots go: ``<run folder>/plots/``, else ``artifacts/plots/``."""
    train_id = train_run_for(ws, tuned_dir)
    if train_id:
        return ws.artifact_path(RUNS, train_id, "plots", "x").parent
    return ws.artifact_path(LEGACY["plots"], "x").parent


def export_dir(ws: Workspace, train_run_id: str) -> Path:
    """The default export folder of a training run: ``<run folder>/export/``."""
    return ws.artifact_path(RUNS, train_run_id, "export", "x").parent


@dataclass
class RunArtifacts:
    """What one training run left, for replies and the results screen (``None``/empty: not there yet)."""

    run_id: str | None
    folder: Path | None
    model_dir: Path | None = None
    export_dir: Path | None = None
    eval_dir: Path | None = None
    plots: dict[str, Path] = field(default_factory=dict)  # "metrics", "loss", "score_histograms" -> png

    def text(self, lang: str = "en") -> str:
        if self.folder is None:
            return "还没有训练结果。" if lang == "zh" else "No training run yet."
        names = ", ".join(p.name for p in self.plots.values())
        if lang == "zh":
            return f"本次训练的全部结果在 {self.folder}" + (f"（图表：{names}）" if names else "")
        return f"Everything from this run is in {self.folder}" + (f" (plots: {names})" if names else "")


def _epoch(iso: str | None) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).timestamp() if iso else 0.0
    except ValueError:
        return 0.0


def _newest(paths: list[Path]) -> Path | None:
    have = [p for p in paths if p.exists()]
    return max(have, key=lambda p: p.stat().st_mtime) if have else None


def run_export_dir(ws: Workspace, train_run_id: str) -> Path | None:
    """Where training run ``train_run_id`` was exported: its run folder's ``export/``, else the old
    ``artifacts/export/<run id>/`` (the newer when both exist); None when it was not exported there."""
    return _newest(
        [ws.artifacts / RUNS / train_run_id / "export", ws.artifacts / LEGACY["export"] / train_run_id]
    )


def latest_artifacts(ws: Workspace, run_id: str | None = None) -> RunArtifacts:
    """The artifacts of training run ``run_id`` (default: the newest finished one), new layout first, then the
    old places (``artifacts/eval/``, ``artifacts/plots/``, ``artifacts/export/<run id>/``)."""
    run = ws.run(run_id) if run_id else ws.last_run("train")
    if run is None:
        return RunArtifacts(run_id=None, folder=None)
    rid = run["id"]
    folder = ws.artifacts / RUNS / rid
    res = run.get("result") or {}
    model = Path(res["model_dir"]) if res.get("model_dir") else folder / "model"
    export = run_export_dir(ws, rid)
    evals = sorted((folder / "eval").glob("*/per_query.json")) if (folder / "eval").is_dir() else []
    ev = max(evals, key=lambda p: p.stat().st_mtime).parent if evals else None
    if ev is None:  # old layout: the newest evaluation of this run's model
        import json

        for row in ws.query(
            "SELECT id, artifact_dir, params FROM runs WHERE kind='eval' AND status='done' "
            "ORDER BY started_at DESC"
        ):
            tuned = (json.loads(row["params"] or "{}") or {}).get("tuned_dir")
            if tuned and train_run_for(ws, tuned) == rid and row["artifact_dir"]:
                ev = Path(row["artifact_dir"])
                break
    plots: dict[str, Path] = {}
    if ev is not None:
        for name in ("metrics", "loss"):
            if (ev / f"{name}.png").exists():
                plots[name] = ev / f"{name}.png"
    hist = folder / "plots" / "score_histograms.png"
    old = ws.artifacts / LEGACY["plots"] / "score_histograms.png"
    if not hist.exists() and old.exists() and old.stat().st_mtime >= _epoch(run.get("started_at")):
        hist = old  # old layout: calibrated after this run started
    if hist.exists():
        plots["score_histograms"] = hist
    return RunArtifacts(
        run_id=rid,
        folder=folder if folder.exists() else None,
        model_dir=model if model.exists() else None,
        export_dir=export,
        eval_dir=ev,
        plots=plots,
    )


def last_export(ws: Workspace) -> dict[str, Any] | None:
    """The newest export (its result: ``model_dir``, ``decision``, ...), wherever ``--out`` put it, when it is of
    the newest finished training run: None when that run was not exported (an older run's export is not "the
    model")."""
    train = ws.last_run("train")
    exp = ws.last_run("export")
    res = (exp or {}).get("result") or {}
    if train is not None and res.get("run_id") != train["id"]:
        return None
    d = res.get("model_dir")
    return res if d and (Path(d) / "modules.json").is_file() else None
