"""Helpers shared by every CLI command module: workspace option, JSON output, errors, tqdm progress.

Kept apart from cli.py so that command modules never import the module that imports them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="Project folder (default: $BGETUNE_WORKSPACE or ./bgetune-workspace)."
)
JsonOpt = typer.Option(False, "--json", help="Print one JSON object instead of text.")


def open_workspace(workspace: Path | None, *, create: bool = True):
    from bgetune.config import Settings
    from bgetune.workspace import Workspace

    settings = Settings(workspace=workspace)
    return Workspace(settings.workspace, create=create), settings


def emit(obj: Any, as_json: bool, text: str | None = None) -> None:
    """Print JSON (one object, last on stdout) or the human text."""
    if as_json:
        typer.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
    elif text is not None:
        typer.echo(text)


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


class TqdmProgress:
    """A progress callback (done, total, label) drawing a tqdm bar on stderr."""

    def __init__(self, desc: str, unit: str = "file", disable: bool = False) -> None:
        self.desc, self.unit, self.disable = desc, unit, disable
        self.bar = None

    def __call__(self, done: int, total: int, label: str = "") -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=total, desc=self.desc, unit=self.unit, disable=self.disable, file=sys.stderr
            )
        self.bar.total = total
        self.bar.n = done
        if label:
            self.bar.set_postfix_str(label[-40:], refresh=False)
        self.bar.refresh()
        if done >= total:
            self.bar.close()
