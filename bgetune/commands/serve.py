"""CLI: `bgetune serve`, an OpenAI-compatible embeddings server in the foreground.

(`bgetune export-onnx` is derived from the ``export_onnx`` capability in bgetune/tools/onnx_export.py.)"""

from __future__ import annotations

from pathlib import Path

import typer

from bgetune.cli_common import WorkspaceOpt, fail, open_workspace


def _model_folder(model_dir: Path | None, workspace: Path | None) -> Path:
    if model_dir:
        return model_dir
    from bgetune.core.config import Settings
    from bgetune.core.workspace import DB_NAME
    from bgetune.tools.serve import default_model_dir

    root = Settings(workspace=workspace).workspace
    if not (Path(root) / DB_NAME).exists():
        fail(f"no workspace at {root}: pass a model folder, or -w WORKSPACE holding an exported model")
    ws, _ = open_workspace(workspace, create=False)
    found = default_model_dir(ws)
    if not found:
        fail(
            f"no exported model in {ws.root}: run `bgetune export -w {ws.root}` first, or pass a model folder"
        )
    return Path(found)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        model_dir: Path | None = typer.Argument(
            None, help="sentence-transformers folder (default: the workspace's exported model)."
        ),
        workspace: Path | None = WorkspaceOpt,
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Interface; anything but loopback needs --api-key."
        ),
        port: int = typer.Option(8000, "--port", help="TCP port."),
        api_key: str | None = typer.Option(
            None,
            "--api-key",
            help="Require 'Authorization: Bearer KEY' (default: $BGETUNE_SERVE_API_KEY).",
        ),
        backend: str = typer.Option(
            "torch", "--backend", help="torch, or onnx (after `bgetune export --onnx`)."
        ),
        onnx_file: str | None = typer.Option(
            None,
            "--onnx-file",
            help="ONNX file in the folder (default onnx/model.onnx; int8: onnx/model_qint8.onnx).",
        ),
        name: str | None = typer.Option(
            None, "--name", help="Model name clients send (default: folder name)."
        ),
        max_batch: int = typer.Option(32, "--max-batch", help="Texts per forward pass."),
        max_queue: int = typer.Option(1024, "--max-queue", help="Texts waiting before requests get 503."),
        max_items: int = typer.Option(256, "--max-items", help="Texts per request."),
        max_chars: int = typer.Option(1_000_000, "--max-chars", help="Characters per request."),
    ) -> None:
        """Serve the model as an OpenAI-compatible embeddings API (POST /v1/embeddings, GET /v1/models)."""
        from bgetune.tools.serve import API_KEY_ENV, ServeConfig, ServeError, run_server, usage_snippets

        if backend not in ("torch", "onnx"):
            fail(f"--backend must be torch or onnx, got {backend!r}")
        folder = _model_folder(model_dir, workspace)
        cfg = ServeConfig(
            model_dir=folder,
            name=name,
            host=host,
            port=port,
            api_key=api_key,
            backend=backend,  # type: ignore[arg-type]
            onnx_file=onnx_file,
            max_batch=max_batch,
            max_queue=max_queue,
            max_items=max_items,
            max_chars=max_chars,
        )

        def ready(url: str) -> None:
            sn = usage_snippets(cfg.model_dir, url, name=cfg.name, api_key_required=bool(cfg.api_key))
            typer.echo(
                f"serving {cfg.model_dir} ({cfg.backend}) at {url}/v1 as {cfg.name!r}; "
                f"queries: model {cfg.name + ':query'!r} or input_type 'query'"
                + (f"; clients send the key from {API_KEY_ENV} or --api-key" if cfg.api_key else ""),
                err=True,
            )
            typer.echo("\n" + sn["openai"] + "\n", err=True)

        try:
            run_server(cfg, on_ready=ready)
        except ServeError as exc:
            fail(str(exc), 2)
