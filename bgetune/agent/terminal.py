"""`bgetune chat`: the Gradio UI, or with --cli a terminal chat with the same approval prompts.

In the terminal one message may span lines: a bracketed paste (the terminal marks it) is one message, and a line
ending with a colon ("golden questions:") opens a block that the next blank line (or the end of input) closes.
``@path`` attaches a file, as the UI's upload does."""

from __future__ import annotations

import importlib
import inspect
import json
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer

EXIT_WORDS = {"/quit", "/exit", "quit", "exit", "退出"}
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
BRACKETED_PASTE_ON, BRACKETED_PASTE_OFF = "\x1b[?2004h", "\x1b[?2004l"


def read_message(prompt: Callable[[str], str], first_prompt: str = "you> ") -> str:
    """One user message from the terminal: a line; a bracketed paste (all its lines); or, after a line that ends
    with a colon, the lines up to a blank line. Raises EOFError when input ended before anything was read."""
    line = prompt(first_prompt)
    if PASTE_START in line:
        lines = [line.replace(PASTE_START, "")]
        while PASTE_END not in lines[-1]:
            try:
                lines.append(prompt(""))
            except EOFError:
                break
        lines[-1] = lines[-1].replace(PASTE_END, "")
        return "\n".join(lines).strip("\n")
    if not line.rstrip().endswith((":", "：")):
        return line
    lines = [line]
    while True:
        try:
            more = prompt("... ")
        except EOFError:
            break
        if not more.strip():
            break
        lines.append(more)
    return "\n".join(lines)


def _echo(text: str, **style: Any) -> None:
    typer.secho(text, **style)


def render_approval(payload: dict[str, Any]) -> str:
    """The approval payload as terminal text."""
    lines = [f"APPROVAL NEEDED ({payload.get('cost_label') or payload.get('cost')}): {payload.get('title')}"]
    est = payload.get("estimate") or {}
    keep = {k: v for k, v in est.items() if not isinstance(v, dict | list) and v is not None}
    if keep:
        lines.append(
            "  estimate: "
            + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in keep.items())
        )
    settings = payload.get("settings") or {}
    if settings:
        lines.append("  settings (edit with name=value):")
        lines += [f"    - {k}: {v}" for k, v in settings.items() if v is not None]
    lines.append("  " + str(payload.get("message", "")))
    return "\n".join(lines)


def parse_edits(text: str) -> dict[str, str]:
    """`epochs=2 max_steps=10` -> {"epochs": "2", "max_steps": "10"} (values are validated by the agent)."""
    out = {}
    for token in shlex.split(text):
        if "=" in token:
            k, v = token.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def split_attachments(text: str) -> tuple[str, list[str]]:
    """`fine-tune on these @a.pdf @docs/` -> ("fine-tune on these", ["a.pdf", "docs/"]); the lines of a
    multi-line message are kept."""
    files: list[str] = []
    out_lines = []
    for line in text.split("\n"):
        words = []
        for token in line.split():
            if token.startswith("@") and len(token) > 1:
                files.append(token[1:])
            else:
                words.append(token)
        out_lines.append(" ".join(words))
    return "\n".join(out_lines).strip(), files


class _Printer:
    """Prints session events; progress as one rewritten line on stderr."""

    def __init__(self) -> None:
        self.progress_open = False
        self.last_tenth: tuple[Any, int, int] | None = None

    def _end_progress(self) -> None:
        if self.progress_open:
            sys.stderr.write("\n")
            self.progress_open = False

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "progress":
            total = event.get("total") or 0
            line = f"  {event.get('tool')}: {event.get('done')}/{total} {str(event.get('label', ''))[:40]}"
            if not sys.stderr.isatty():  # a log or a pipe: a line per tenth of the work, not one per item
                done = event.get("done") or 0
                tenth = (10 * done // total) if total else -1
                key = (event.get("tool"), total, tenth)
                if key == self.last_tenth and done != total:
                    return
                self.last_tenth = key
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
                return
            sys.stderr.write(f"\r{line:<60}")
            sys.stderr.flush()
            self.progress_open = True
            return
        self._end_progress()
        if kind == "message":
            _echo(f"bgetune> {event['content']}", fg=typer.colors.GREEN)
        elif kind == "tool_call":
            args = json.dumps(event.get("args") or {}, ensure_ascii=False)
            _echo(f"  -> {event['tool']} {args}", dim=True)
        elif kind == "tool_result" and not event.get("ok"):
            _echo(f"  ! {event['tool']}: {event['content'][:500]}", fg=typer.colors.YELLOW)
        elif kind == "error":
            _echo(f"error: {event['content']}", fg=typer.colors.RED, err=True)


def ask_approval(session: Any, prompt: Callable[[str], str], show: Callable[[dict[str, Any]], None]) -> bool:
    """Ask until the pending approval is answered; False when input ended (the approval stays pending)."""
    while (payload := session.pending_approval()) is not None:
        _echo(render_approval(payload), fg=typer.colors.CYAN)
        try:
            answer = prompt("approve? [a]pprove / [r]eject / [e]dit settings: ").strip().lower()
        except EOFError:
            return False
        if answer in ("a", "approve", "y", "yes", "批准", "同意"):
            events: Iterable[dict[str, Any]] = session.resume("approve")
        elif answer in ("r", "reject", "n", "no", "拒绝"):
            events = session.resume("reject")
        elif answer in ("e", "edit", "修改"):
            try:
                edits = parse_edits(prompt("settings (e.g. epochs=2 max_steps=10): "))
            except (EOFError, ValueError):
                continue
            events = session.resume("approve", settings=edits)
        else:
            _echo("please answer a, r or e", fg=typer.colors.YELLOW)
            continue
        for event in events:
            show(event)
    return True


def run_cli_chat(
    session: Any,
    *,
    prompt: Callable[[str], str] = input,
    first: str | None = None,
    files: list[str] | None = None,
) -> None:
    """The terminal chat loop (testable: pass ``prompt``)."""
    show = _Printer()
    mode = "LLM " + session.settings.llm_model_name if session.settings.llm_configured else "offline mode"
    _echo(
        f"bgetune chat — workspace {session.workspace}, thread {session.thread_id}, {mode}. "
        "Attach files with @path; a line ending with ':' takes the lines after it, up to a blank line, "
        "as one message; /quit to leave.",
        dim=True,
    )
    if not ask_approval(session, prompt, show):
        return
    pending_first = first
    tty = prompt is input and sys.stdin.isatty() and sys.stdout.isatty()
    if tty:
        sys.stdout.write(BRACKETED_PASTE_ON)  # the terminal marks pastes, so a pasted list is one message
        sys.stdout.flush()
    try:
        _loop(session, prompt, pending_first, files, show)
    finally:
        if tty:
            sys.stdout.write(BRACKETED_PASTE_OFF)
            sys.stdout.flush()


def _loop(
    session: Any,
    prompt: Callable[[str], str],
    pending_first: str | None,
    files: list[str] | None,
    show: Callable[[dict[str, Any]], None],
) -> None:
    while True:
        if pending_first is not None:
            line, pending_first = pending_first, None
        else:
            try:
                line = read_message(prompt)
            except (EOFError, KeyboardInterrupt):
                _echo("")
                return
        if line.strip().lower() in EXIT_WORDS:
            return
        text, attached = split_attachments(line)
        attached = (files or []) + attached
        files = None
        missing = [f for f in attached if not Path(f).expanduser().exists()]
        if missing:
            _echo(f"not found: {', '.join(missing)}", fg=typer.colors.RED)
            continue
        if not text.strip() and not attached:
            continue
        for event in session.send(text, files=attached or None):
            show(event)
        if not ask_approval(session, prompt, show):
            return


def _launch_ui(**kwargs: Any) -> None:
    try:
        ui_app = importlib.import_module("bgetune.ui.app")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bgetune.ui.app", "gradio"):
            raise
        typer.secho(
            f"error: the web UI is not available ({exc.name} is missing); use `bgetune chat --cli`",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2) from exc

    params = inspect.signature(ui_app.main).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    ui_app.main(**{k: v for k, v in kwargs.items() if accepts_any or k in params})


def register(app: typer.Typer) -> None:
    from bgetune.cli_common import WorkspaceOpt  # here, not at the top: bgetune.cli imports this module

    @app.command()
    def chat(
        workspace: Path | None = WorkspaceOpt,
        cli: bool = typer.Option(False, "--cli", help="Chat in the terminal instead of the browser UI."),
        thread: str = typer.Option(
            "main", "--thread", help="Conversation id (kept in <workspace>/chat.sqlite)."
        ),
        file: list[Path] = typer.Option(None, "--file", "-f", help="Attach documents to the first message."),
        message: str | None = typer.Option(None, "--message", "-m", help="First message to send."),
        llm_base_url: str | None = typer.Option(
            None, "--llm-base-url", help="OpenAI-compatible server (default: offline)."
        ),
        llm_model: str | None = typer.Option(None, "--llm-model", help="Model name on that server."),
        host: str = typer.Option("127.0.0.1", "--host", help="UI: address to listen on."),
        port: int | None = typer.Option(None, "--port", help="UI: port (default: Gradio's)."),
    ) -> None:
        """Talk to the assistant: it runs the pipeline and asks before anything costly (GPU or paid LLM)."""
        from bgetune.core.config import Settings

        settings = Settings(workspace=workspace, llm_base_url=llm_base_url, llm_model=llm_model)
        if not cli:
            _launch_ui(
                workspace=settings.workspace, settings=settings, thread_id=thread, host=host, port=port
            )
            return
        from bgetune.agent.runner import AgentSession

        with AgentSession(settings.workspace, settings, thread) as session:
            run_cli_chat(session, first=message, files=[str(f) for f in file or []])
