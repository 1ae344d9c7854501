"""What the UI's handlers do, on one workspace and one agent session: the chat goes through the agent session;
every other action is a capability run through :func:`bgetune.ui.caps.run` (``invoke``, the one way in the chat
and the CLI use too), in :mod:`bgetune.ui.actions`. Reads of what the workspace already holds come from it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from bgetune.core.config import Settings, redact
from bgetune.ui import caps, render
from bgetune.ui.actions import DataActions, ResultActions
from bgetune.ui.uploads import store_uploads

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.25


class ChatActions:
    """The chat: one agent turn at a time, its events folded into Gradio messages as they come."""

    session: Any
    settings: Any
    workspace: Path
    busy: threading.Lock
    gated: frozenset[str]

    def chat_history(self) -> list[gr.ChatMessage]:
        """The thread rebuilt from the persisted graph state (page load)."""
        try:
            history = self.session.history()
            pending = self.session.pending_approval()
        except Exception as exc:  # noqa: BLE001 - a broken checkpoint must not blank the page
            log.warning("cannot load chat history: %s", exc)
            return [
                gr.ChatMessage(role="assistant", content=f"Warning: could not load the conversation: {exc}")
            ]
        msgs = render.render_events(history, gated=self.gated)
        if pending is not None:
            msgs = render.apply_event(msgs, pending | {"type": "approval"}, self.gated)
        return render.finish_turn(msgs)

    def stream(
        self, events: Iterator[dict[str, Any]], messages: list[gr.ChatMessage]
    ) -> Iterator[list[gr.ChatMessage]]:
        """Fold events into the chat, yielding it as it changes (progress throttled)."""
        last = 0.0
        for ev in events:
            messages = render.apply_event(messages, ev, self.gated)
            now = time.monotonic()
            if ev.get("type") == "progress" and now - last < PROGRESS_EVERY_S:
                continue
            last = now
            yield messages
        yield render.finish_turn(messages)

    def pending(self) -> dict[str, Any] | None:
        try:
            return self.session.pending_approval()
        except Exception:  # noqa: BLE001
            return None

    def send(self, value: dict[str, Any] | str | None, messages: list[gr.ChatMessage]) -> Iterator[Any]:
        """A user message with optional uploads, streamed."""
        if isinstance(value, str):
            value = {"text": value, "files": []}
        value = value or {}
        text = str(value.get("text") or "").strip()
        messages = list(messages or [])
        stored = store_uploads(
            self.workspace, value.get("files") or [], max_file_mb=self.settings.max_file_mb or 200.0
        )
        if not text and not stored.stored:
            if stored.refused:
                messages.append(render.note_message(stored.summary()))
            yield messages
            return
        messages.append(render.user_message(text, stored.stored))
        if stored.refused:
            messages.append(render.note_message(stored.summary()))
        yield messages
        paths = [str(p) for p in stored.stored] or None
        yield from self._locked_stream(lambda: self.session.send(text, files=paths), messages)

    def resume(
        self, action: str, edits: dict[str, Any], messages: list[gr.ChatMessage]
    ) -> Iterator[list[gr.ChatMessage]]:
        """Answer the pending approval, streamed: the chat says what was decided, with the settings that run."""
        messages = list(messages or [])
        pending = self.pending()
        if pending is None:
            messages.append(gr.ChatMessage(role="assistant", content="Nothing is waiting for approval."))
            yield messages
            return
        messages = render.answer_approval(messages, pending, action, edits)
        yield messages
        yield from self._locked_stream(lambda: self.session.resume(action, settings=edits or None), messages)

    def _locked_stream(
        self, start: Callable[[], Iterator[dict[str, Any]]], messages: list[gr.ChatMessage]
    ) -> Iterator[list[gr.ChatMessage]]:
        """Run one agent turn (``start()`` is called only once the busy lock is held) and stream its events."""
        if not self.busy.acquire(timeout=1):
            messages.append(
                gr.ChatMessage(role="assistant", content="Still busy with the last step; try again.")
            )
            yield messages
            return
        try:
            yield from self.stream(self._safe(start()), messages)
        finally:
            self.busy.release()

    def _safe(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        try:
            yield from events
        except Exception as exc:  # noqa: BLE001 - shown in the chat; the checkpoint stays usable
            log.exception("agent turn failed")
            yield {"type": "error", "content": f"{type(exc).__name__}: {redact(str(exc), self.settings)}"}


class Controller(ChatActions, DataActions, ResultActions):
    """Everything the UI's handlers do, on one workspace and one agent session (created on first use)."""

    def __init__(
        self,
        session: Any = None,
        *,
        workspace: str | Path | None = None,
        settings: Settings | None = None,
        thread_id: str = "main",
    ) -> None:
        self.settings = settings or Settings(workspace=Path(workspace) if workspace else None)
        self.workspace = Path(workspace or self.settings.workspace).expanduser().resolve()
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.thread_id = thread_id
        self._factory: Callable[[], Any] | None = None
        self._session: Any = None
        if session is None:
            self._factory = self._default_session
        elif callable(session) and not hasattr(session, "send"):
            self._factory = session
        else:
            self._session = session
        # plain Locks: Gradio runs each step of a streaming handler on any worker thread, so nothing held
        # across a yield may be thread-owned (an RLock would deadlock)
        self._create_lock = threading.Lock()
        self.busy = threading.Lock()
        self._ws: Any = None
        self._gated: frozenset[str] | None = None

    def _default_session(self) -> Any:
        from bgetune.agent.runner import AgentSession

        return AgentSession(self.workspace, self.settings, self.thread_id)

    @property
    def session(self) -> Any:
        with self._create_lock:
            if self._session is None:
                assert self._factory is not None
                self._session = self._factory()
            return self._session

    @property
    def ws(self) -> Any:
        if self._ws is None:
            from bgetune.core.workspace import Workspace

            self._ws = Workspace(self.workspace)
        return self._ws

    @property
    def mode_line(self) -> str:
        if self.settings.llm_configured:
            return f"LLM: `{self.settings.llm_model_name}`"
        return "offline mode (no LLM configured: a built-in planner and question generator)"

    @property
    def gated(self) -> frozenset[str]:
        """Capabilities that always stop at the approval gate: their chat row says 'estimating' first."""
        if self._gated is None:
            self._gated = frozenset(n for n in caps.gated_names() if not callable(caps.capability(n).cost))
        return self._gated

    def invoke(self, name: str, values: dict[str, Any] | None = None, files: list[str] | None = None) -> Any:
        """Run capability ``name`` on this workspace: the same options, prerequisites and results as the chat."""
        return caps.run(name, self.ws, self.settings, values, files=files)
