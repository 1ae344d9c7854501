"""CLI: `bgetune run DOCS... --workspace W [--base-model M] [--llm-base-url U] --yes --json`."""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        paths: list[Path] = typer.Argument(
            ..., help="Documents or folders (PDF, DOCX, Markdown, TXT, HTML, JSONL)."
        ),
        workspace: Path | None = WorkspaceOpt,
        base_model: str | None = typer.Option(None, "--base-model", help="Hub id, folder or 'bundled'."),
        llm_base_url: str | None = typer.Option(
            None,
            "--llm-base-url",
            help="OpenAI-compatible server for query generation (none: offline generator).",
        ),
        yes: bool = typer.Option(
            False, "--yes", "-y", help="Approve every pair the filters keep, and train."
        ),
        epochs: int | None = typer.Option(None, "--epochs", help="Training epochs (default: the trainer's)."),
        max_steps: int | None = typer.Option(
            None, "--max-steps", help="Stop training after N steps (smoke runs)."
        ),
        guard: bool = typer.Option(False, "--guard", help="Also run the out-of-domain forgetting guard."),
        as_json: bool = JsonOpt,
    ) -> None:
        """The whole pipeline without questions: ingest, generate, filter, train, evaluate, calibrate, export."""
        from bgetune.core.config import Settings
        from bgetune.core.models import ModelError
        from bgetune.pipeline import PipelineError, run_pipeline
        from bgetune.tools.evaluation import EvaluationError

        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            fail(f"not found: {', '.join(missing)}")
        cfg = None
        if epochs is not None or max_steps is not None:
            from bgetune.tools.training import TrainConfig

            cfg = TrainConfig(
                base_model=base_model, max_steps=max_steps, **({"epochs": epochs} if epochs else {})
            )
        ws_path = Settings(workspace=workspace).workspace
        # stage lines and progress bars go to stderr, so `--json` keeps stdout to the one JSON object
        log = lambda m: typer.echo(m, err=True)  # noqa: E731
        bars: dict[str, TqdmProgress] = {}

        def stage_progress(name: str) -> TqdmProgress:
            bars[name] = TqdmProgress(name, unit="step")
            return bars[name]

        def confirm_cost(est: dict) -> bool:
            typer.echo(
                f"LLM generation: {est.get('calls')} calls, ~{est.get('tokens_in')} tokens in, "
                f"~{est.get('tokens_out')} out"
                + (
                    f", about {est['money']} {est.get('currency') or ''}"
                    if est.get("money") is not None
                    else ""
                ),
                err=True,
            )
            if yes:
                return True
            import sys

            if not sys.stdin.isatty():
                return False
            return typer.confirm("spend these LLM tokens?", default=False)

        try:
            res = run_pipeline(
                paths,
                workspace=ws_path,
                base_model=base_model,
                llm_base_url=llm_base_url,
                yes=yes,
                train_config=cfg,
                guard=guard,
                log=log,
                stage_progress=stage_progress,
                confirm_cost=confirm_cost,
            )
        except (PipelineError, EvaluationError, ModelError) as exc:
            fail(str(exc))
            return
        if res.get("status") != "done":
            emit(
                res,
                as_json,
                f"{res['pairs']['kept']} pairs kept, {res['pairs']['rejected']} rejected. "
                f"Next: {res['next_step']}",
            )
            return
        b, t = res["metrics"]["base"], res["metrics"].get("tuned", {})
        ci = res.get("ci") or {}
        lines = [
            f"model: {res['model_dir']} (base {res['base_model']})",
            f"pairs: {res['pairs']['kept']} kept, {res['pairs']['rejected']} rejected",
            f"nDCG@10 {b['ndcg@10']:.3f} -> {t.get('ndcg@10', float('nan')):.3f}"
            + (f" (gain {ci['diff']:+.3f}, 95% CI {ci['low']:+.3f}..{ci['high']:+.3f})" if ci else ""),
            f"MRR@10 {b['mrr@10']:.3f} -> {t.get('mrr@10', float('nan')):.3f}; "
            f"hit@1 {b['hit@1']:.3f} -> {t.get('hit@1', float('nan')):.3f}",
            f"threshold {res['threshold']:.3f} (max F1 on held-out pairs)",
        ]
        decision = res.get("decision") or {}
        if decision.get("text"):
            lines.append(f"ship decision: {decision['text']}")
        folder = res.get("run_folder") or (res.get("stages", {}).get("evaluate") or {}).get("run_folder")
        if folder:
            lines.append(f"everything from this run (model, export, evaluation, plots): {folder}")
        emit(res, as_json, "\n".join(lines))
