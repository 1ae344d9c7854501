"""CLI: `bgetune export` (mine and train are derived from the capability table: bgetune/stages.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, WorkspaceOpt, emit, fail, open_workspace


def _fmt_estimate(est: dict) -> str:
    return (
        f"training {est['pairs']} pairs ({est['val_pairs']} for validation) on {est['device']}"
        f"{' with bf16' if est.get('bf16') else ''}: {est['steps']} steps ({est['epochs']} epochs x "
        f"{est['steps_per_epoch']}), batch {est['batch_size']}, base model {est['base_model']} [{est['family']}]\n"
        f"expected time about {est['minutes']:.1f} min, peak memory about {est['peak_memory_gb']:.1f} GB"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        workspace: Path | None = WorkspaceOpt,
        run_id: str | None = typer.Option(
            None, "--run", help="Training run id (default: the latest finished)."
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Folder to write (default artifacts/runs/<run>/export)."
        ),
        as_json: bool = JsonOpt,
    ) -> None:
        """Write the trained model as a sentence-transformers folder with a model card."""
        from bgetune.tools.export import ExportError, export_model

        ws, _ = open_workspace(workspace)
        try:
            res = export_model(ws, run_id=run_id, out_dir=out)
        except ExportError as exc:
            fail(str(exc))
            return
        emit(res, as_json, f"exported {res['run_id']} to {res['model_dir']} (pooling {res['pooling']})")
