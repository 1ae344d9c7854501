"""Helpers shared by every CLI command module: workspace option, JSON output, errors, tqdm progress.

Kept apart from cli.py so that command modules never import the module that imports them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from bgetune.core.config import Settings
from bgetune.core.encode import strip_eta
from bgetune.core.workspace import Workspace

WorkspaceOpt = typer.Option(
    None, "--workspace", "-w", help="Project folder (default: $BGETUNE_WORKSPACE or ./bgetune-workspace)."
)
JsonOpt = typer.Option(False, "--json", help="Print one JSON object instead of text.")


def open_workspace(workspace: Path | None, *, create: bool = True):
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
    """A progress callback (done, total, label) drawing a tqdm bar on stderr, with tqdm's time left.

    Each phase of a stage (a new total, or a count that goes back, e.g. "1/3 round trip" then "0/897 chunks
    encoded") gets its own bar, so the rate and the time left describe the phase that is running. The label's
    own "· about ... left" part (bgetune.core.encode) is dropped: tqdm draws the estimate.
    """

    def __init__(self, desc: str, unit: str = "file", disable: bool = False) -> None:
        self.desc, self.unit, self.disable = desc, unit, disable
        self.bar = None

    def __call__(self, done: int, total: int, label: str = "") -> None:
        from tqdm import tqdm

        if self.bar is None or total != self.bar.total or done < self.bar.n:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(
                total=total, desc=self.desc, unit=self.unit, disable=self.disable, file=sys.stderr
            )
        if label:
            self.bar.set_postfix_str(strip_eta(label)[-48:], refresh=False)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)  # update(), not n=: tqdm's rate and time left follow it
        else:
            self.bar.refresh()
        if done >= total:
            self.bar.close()
            self.bar = None
