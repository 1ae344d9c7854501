"""CLI: `bgetune mine`, `bgetune train`, `bgetune export`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail, open_workspace


def _fmt_estimate(est: dict) -> str:
    return (
        f"training {est['pairs']} pairs ({est['val_pairs']} for validation) on {est['device']}"
        f"{' with bf16' if est.get('bf16') else ''}: {est['steps']} steps ({est['epochs']} epochs x "
        f"{est['steps_per_epoch']}), batch {est['batch_size']}, base model {est['base_model']} [{est['family']}]\n"
        f"expected time about {est['minutes']:.1f} min, peak memory about {est['peak_memory_gb']:.1f} GB"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def mine(
        workspace: Path | None = WorkspaceOpt,
        negatives: str = typer.Option(
            "dense", "--negatives", help="'dense' (mine with the base model) or 'in-batch'."
        ),
        base_model: str | None = typer.Option(None, "--base-model", help="Hub id, folder or 'bundled'."),
        range_min: int = typer.Option(
            2, "--range-min", help="Skip this many top-ranked chunks (likely positives)."
        ),
        range_max: int = typer.Option(50, "--range-max", help="Take candidates up to this rank."),
        num_negatives: int = typer.Option(7, "--num-negatives", help="Negatives kept per pair."),
        relative_margin: float = typer.Option(
            0.05, "--relative-margin", help="A negative must score below (1 - margin) x the positive's score."
        ),
        reranker: str | None = typer.Option(
            None, "--reranker", help="Cross-encoder folder to check candidates."
        ),
        as_json: bool = JsonOpt,
    ) -> None:
        """Mine hard negatives for the approved train/val pairs (faiss, rank window + score margin)."""
        from bgetune.tools.negatives import mine_negatives

        ws, _ = open_workspace(workspace)
        try:
            res = mine_negatives(
                ws,
                base_model=base_model,
                method=negatives,
                range_min=range_min,
                range_max=range_max,  # type: ignore[arg-type]
                num_negatives=num_negatives,
                relative_margin=relative_margin,
                reranker=reranker,
                progress=TqdmProgress("mine", unit="pair"),
            )
        except ValueError as exc:
            fail(str(exc))
            return
        emit(
            res,
            as_json,
            f"{res['method']}: {res['negatives']} negatives for {res['pairs']} pairs, "
            f"{res['dropped_false_negatives']} likely false negatives dropped\n{res['reason']}",
        )

    @app.command()
    def train(
        workspace: Path | None = WorkspaceOpt,
        yes: bool = typer.Option(
            False, "--yes", "-y", help="Start without asking (after printing the estimate)."
        ),
        resume: bool = typer.Option(
            False, "--resume", help="Continue the last interrupted run from its checkpoint."
        ),
        epochs: int | None = typer.Option(None, "--epochs", help="Epochs (default 3)."),
        lr: float | None = typer.Option(None, "--lr", help="Learning rate (default 2e-5 for small models)."),
        batch_size: int | None = typer.Option(None, "--batch-size", help="Pairs per step (default 32)."),
        mini_batch_size: int | None = typer.Option(
            None,
            "--mini-batch-size",
            help="GradCache (CachedMNRL) piece size, for big batches on small memory.",
        ),
        max_query_len: int | None = typer.Option(None, "--max-query-len", help="Default: p99 of the data."),
        max_passage_len: int | None = typer.Option(
            None, "--max-passage-len", help="Default: p99 of the data."
        ),
        hard_negatives: int | None = typer.Option(
            None, "--hard-negatives", help="Mined negatives per query per step."
        ),
        lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (merged on save)."),
        matryoshka: str | None = typer.Option(
            None, "--matryoshka", help="Comma-separated dims, e.g. 384,256,128."
        ),
        max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many steps."),
        wise_ft: float | None = typer.Option(
            None,
            "--wise-ft",
            min=0.0,
            max=1.0,
            help="Weight of the tuned model in the exported base/tuned weight merge (default 1 = no merge; 0.5 keeps more of the base).",
        ),
        attention_dropout: float | None = typer.Option(
            None, "--attention-dropout", help="Attention-probability dropout while training (default 0)."
        ),
        base_model: str | None = typer.Option(None, "--base-model", help="Hub id, folder or 'bundled'."),
        device: str | None = typer.Option(
            None, "--device", help="cpu, cuda, cuda:1 (default: best available)."
        ),
        as_json: bool = JsonOpt,
    ) -> None:
        """Fine-tune the base model on the approved pairs; shows the estimate and asks first unless --yes."""
        from bgetune.tools.training import TrainConfig, TrainingError, estimate_training
        from bgetune.tools.training import train as run_train

        ws, settings = open_workspace(workspace)
        kw: dict = {
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "mini_batch_size": mini_batch_size,
            "max_query_len": max_query_len,
            "max_passage_len": max_passage_len,
            "hard_negatives": hard_negatives,
            "max_steps": max_steps,
            "wise_ft": wise_ft,
            "attention_dropout": attention_dropout,
            "device": device or settings.device,
            "base_model": base_model or settings.base_model,
        }
        cfg = TrainConfig(
            **{k: v for k, v in kw.items() if v is not None},
            lora=lora,
            resume=resume,
            matryoshka_dims=[int(x) for x in matryoshka.split(",")] if matryoshka else None,
        )
        try:
            if not resume or not yes:
                est = estimate_training(ws, cfg)
                typer.echo(_fmt_estimate(est), err=as_json)
            if not yes:
                if not sys.stdin.isatty():
                    fail("training needs approval: pass --yes to start without a terminal to ask on")
                if not typer.confirm("start training?", default=True):
                    fail("cancelled; nothing was trained", code=1)
            res = run_train(ws, cfg, progress=TqdmProgress("train", unit="step"))
        except TrainingError as exc:
            fail(str(exc))
            return
        short = {k: v for k, v in res.items() if k != "loss_curve"}
        text = [
            f"run {res['run_id']}: {res['steps']} steps, {res['epochs_done']} epochs, model {res['model_dir']}"
        ]
        if res.get("resumed_from"):
            text.append(
                f"resumed from epoch {res['resumed_from']['epoch']} (step {res['resumed_from']['step']})"
            )
        if res.get("note"):
            text.append(f"note: {res['note']}")
        if res.get("best_val"):
            b, t = res.get("base_val") or {}, res["best_val"]
            text.append(
                f"val nDCG@10 {b.get('ndcg@10', float('nan')):.4f} -> {t['ndcg@10']:.4f} (epoch {res['best_epoch']})"
            )
        if res.get("merged_val"):
            text.append(
                f"exported the WiSE-FT merge ({res['wise_ft']:g} tuned + {1 - res['wise_ft']:g} base): "
                f"val nDCG@10 {res['merged_val']['ndcg@10']:.4f}; unmerged weights in {res['tuned_model_dir']}"
            )
        if res.get("warning"):
            text.append(f"warning: {res['warning']}")
        emit(short if as_json else res, as_json, "\n".join(text))

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
