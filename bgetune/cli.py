"""Command line: `bgetune ingest|status|...`. Every command works on a workspace folder and can print --json.

The commands are derived from the capability table (bgetune/surfaces.py: one command per declared capability,
groups such as `review` and `golden` from ``group=``); `chat` (bgetune/commands/agent.py) is the one written here.
"""

from __future__ import annotations

if __name__ == "__main__":  # `python -m bgetune.cli`: run the real module, never a second copy as __main__
    from bgetune.cli import main as _main

    _main()
    raise SystemExit(0)

import sys
from pathlib import Path

import typer

from bgetune.commands import agent as chat
from bgetune.core.errors import BgetuneError
from bgetune.surfaces import register_cli

app = typer.Typer(
    name="bgetune",
    help="Fine-tune an embedding model on your own documents, and prove it retrieves better.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

chat.register(app)  # `bgetune chat`: the one command written by hand (bgetune/commands/agent.py)
register_cli(app)


def load_env_file(path: Path | None = None) -> Path | None:
    """Read ./.env (as .env.example promises) into the environment; variables already set win."""
    from dotenv import load_dotenv

    env = path or Path.cwd() / ".env"
    if env.is_file():
        load_dotenv(env, override=False)
        return env
    return None


def main() -> None:
    load_env_file()
    try:
        app()
    except BgetuneError as exc:  # one error base: every error a user can act on
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
