"""Command line: `bgetune ingest|status|...`. Every command works on a workspace folder and can print --json.

The commands are derived from the capability table (bgetune/surfaces.py: one command per declared capability,
groups such as `review` and `golden` from ``group=``); `chat` (bgetune/commands/agent.py) is the one written here.
"""

from __future__ import annotations

if __name__ == "__main__":  # `python -m bgetune.cli`: run the real module, never a second copy as __main__
    from bgetune.cli import main as _main

    _main()
    raise SystemExit(0)

import importlib
import os
import sys
from pathlib import Path

import typer

from bgetune.cli_common import JsonOpt, TqdmProgress, WorkspaceOpt, emit, fail, open_workspace  # noqa: F401

app = typer.Typer(
    name="bgetune",
    help="Fine-tune an embedding model on your own documents, and prove it retrieves better.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Hand-written command modules (each defines register(app)); everything else is derived from the table.
COMMAND_MODULES = ["agent"]


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (PDF, DOCX, Markdown, TXT, HTML, JSONL)."),
    workspace: Path | None = WorkspaceOpt,
    base_model: str | None = typer.Option(
        None, "--base-model", help="Hub id, local folder or 'bundled'; its tokenizer sizes the chunks."
    ),
    chunk_tokens: int | None = typer.Option(
        None, "--chunk-tokens", help="Chunk size in tokens (default 256)."
    ),
    chunk_overlap: int | None = typer.Option(None, "--chunk-overlap", help="Overlap in tokens (default 32)."),
    as_json: bool = JsonOpt,
) -> None:
    """Load and chunk documents into the workspace. Unchanged files are skipped; bad files are listed."""
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest as run_ingest

    settings = Settings(
        workspace=workspace, base_model=base_model, chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap
    )
    ws = Workspace(settings.workspace)
    if base_model:
        ws.set_setting("base_model", base_model)
    report = run_ingest(ws, paths, settings=settings, progress=TqdmProgress("ingest"))
    summary = report.summary() | {"workspace": str(ws.root)}
    lines = []
    if report.note:
        lines.append(f"note: {report.note}")
    for f in report.files:
        if f.status == "failed":
            lines.append(f"  FAILED  {f.path}: {f.error}")
        elif f.status == "duplicate":
            lines.append(f"  skipped {f.path}: {f.error}")
        else:
            pages = f" {f.pages} pages," if f.pages else ""
            lines.append(
                f"  {f.status:<8}{f.path}:{pages} {f.chunks} chunks"
                + (f" [{f.language}]" if f.language else "")
            )
    lines.append(
        f"{summary['added']} added, {summary['replaced']} replaced, {summary['unchanged']} unchanged, "
        f"{summary['failed']} failed; workspace {ws.root}"
    )
    emit(summary, as_json, "\n".join(lines))
    if not report.ok:
        raise typer.Exit(2)


@app.command()
def status(workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """What the workspace holds: documents, pages, chunks, pairs by status, splits, runs."""
    ws, _ = (
        open_workspace(workspace, create=False)
        if (workspace or os.environ.get("BGETUNE_WORKSPACE"))
        else open_workspace(None)
    )
    st = ws.stats()
    st["failures"] = [{"path": d["path"], "error": d["error"]} for d in ws.documents(status="error")]
    text = [
        f"workspace {st['workspace']}",
        f"documents {st['documents']} ({st['pages']} pages), failed {st['documents_failed']}",
        f"chunks {st['chunks']} {st['chunk_languages']}",
        "pairs " + ", ".join(f"{k} {v}" for k, v in st["pairs"].items()),
    ]
    if st["splits"]:
        text.append("splits " + ", ".join(f"{k} {v}" for k, v in st["splits"].items()))
    for f in st["failures"]:
        text.append(f"  failed: {f['path']}: {f['error']}")
    for r in st["runs"][:5]:
        hint = (
            " (its process is gone: re-run the stage to resume; `bgetune train --yes --resume` for training)"
            if r["status"] == "interrupted"
            else ""
        )
        text.append(f"  run {r['id']}: {r['status']}{hint}")
    emit(st, as_json, "\n".join(text))


def _register_areas() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"bgetune.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bgetune.commands.{name}":
                continue  # that area is not built yet
            raise
        module.register(app)


_register_areas()


def _register_capabilities() -> None:
    from bgetune.surfaces import register_cli

    register_cli(app)


_register_capabilities()


def load_env_file(path: Path | None = None) -> Path | None:
    """Read ./.env (as .env.example promises) into the environment; variables already set win."""
    from dotenv import load_dotenv

    env = path or Path.cwd() / ".env"
    if env.is_file():
        load_dotenv(env, override=False)
        return env
    return None


def main() -> None:
    from bgetune.core.errors import BgetuneError
    from bgetune.core.models import ModelError
    from bgetune.core.workspace import WorkspaceError

    load_env_file()
    try:
        app()
    except (BgetuneError, WorkspaceError, ModelError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
