"""One driver for the CLI chat and the Gradio UI: a persistent conversation on a workspace.

``AgentSession(workspace, settings, thread_id)`` keeps the graph's checkpoints in ``<workspace>/chat.sqlite``
(SqliteSaver), so a restarted process continues the same thread, a pending approval included.

Events (plain dicts) yielded by :meth:`AgentSession.send` and :meth:`AgentSession.resume`:

- ``{"type": "message", "content": str}`` — the assistant's reply text
- ``{"type": "tool_call", "tool": str, "args": dict, "id": str}`` — the agent decided to call a tool
- ``{"type": "tool_start" | "tool_end", "tool": str, ...}`` — a tool began / finished (``ok`` on tool_end)
- ``{"type": "progress", "tool": str, "done": int, "total": int, "label": str}`` — long-tool progress
- ``{"type": "tool_result", "tool": str, "ok": bool, "content": str, "id": str}`` — a tool's result (JSON text)
- ``{"type": "approval", "tool", "title", "cost", "settings", "estimate", "message", "tool_call_id", "args"}`` —
  the graph stopped and waits: answer with ``resume("approve", settings={...edits})`` or ``resume("reject")``
- ``{"type": "error", "content": str}`` — the turn failed (the conversation stays usable)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from bgetune.agent.graph import message_events  # noqa: F401 (re-exported)
from bgetune.core.config import Settings, redact

CHAT_DB = "chat.sqlite"
KEEP_CHECKPOINTS = 4


class AgentSession:
    """A conversation thread on one workspace, persisted in ``<workspace>/chat.sqlite``."""

    def __init__(
        self,
        workspace: str | Path | None = None,
        settings: Settings | None = None,
        thread_id: str = "main",
        *,
        model: Any = None,
        checkpointer: Any = None,
    ) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        from bgetune.agent.context import GraphContext
        from bgetune.agent.graph import build_graph

        self.settings = settings or Settings(workspace=Path(workspace) if workspace else None)
        self.workspace = Path(workspace or self.settings.workspace).expanduser().resolve()
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.thread_id = thread_id
        self._conn: sqlite3.Connection | None = None
        if checkpointer is None:
            self._conn = sqlite3.connect(self.workspace / CHAT_DB, check_same_thread=False)
            checkpointer = SqliteSaver(self._conn)
        self.checkpointer = checkpointer
        self.context = GraphContext(settings=self.settings, model=model)
        self.graph = build_graph(checkpointer=checkpointer)
        self.config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}

    # ------------------------------------------------------------------ driving
    def send(self, text: str, files: list[str | Path] | None = None) -> Iterator[dict[str, Any]]:
        """One user message (with optional attachments). A pending approval is rejected first: the user moved on."""
        if self.pending_approval() is not None:
            yield from self.resume("reject")
        paths = [str(Path(f).expanduser().resolve()) for f in files or []]
        message = HumanMessage(text, additional_kwargs={"attachments": paths} if paths else {})
        yield from self._stream({"messages": [message], "workspace": str(self.workspace), "files": paths})

    def prune(self, keep: int = KEEP_CHECKPOINTS) -> None:
        """Drop this thread's checkpoints but the newest ``keep`` (the latest one holds the conversation and any
        pending approval; older ones only served time travel), so chat.sqlite stops growing."""
        if self._conn is None:
            return
        tid = self.thread_id
        with self._conn:
            self._conn.execute(
                "DELETE FROM checkpoints WHERE thread_id=? AND checkpoint_id NOT IN (SELECT checkpoint_id FROM "
                "checkpoints WHERE thread_id=? ORDER BY checkpoint_id DESC LIMIT ?)",
                (tid, tid, keep),
            )
            self._conn.execute(
                "DELETE FROM writes WHERE thread_id=? AND checkpoint_id NOT IN (SELECT checkpoint_id FROM "
                "checkpoints WHERE thread_id=?)",
                (tid, tid),
            )

    def resume(self, action: str, settings: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Answer the pending approval: ``"approve"`` (optionally with edited settings) or ``"reject"``."""
        if self.pending_approval() is None:
            yield {"type": "error", "content": "nothing is waiting for approval"}
            return
        yield from self._stream(Command(resume={"action": action, "settings": dict(settings or {})}))

    def _stream(self, graph_input: Any) -> Iterator[dict[str, Any]]:
        try:
            # durability="sync": a checkpoint (a pending approval included) is on disk before its event is shown,
            # so a process killed right after the approval prompt still has it after a restart
            for mode, chunk in self.graph.stream(
                graph_input,
                self.config,
                context=self.context,
                stream_mode=["updates", "custom"],
                durability="sync",
            ):
                if mode == "custom":
                    if isinstance(chunk, dict):
                        yield chunk
                    continue
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        for intr in update:
                            yield dict(intr.value) | {"type": "approval"}
                    elif isinstance(update, dict):
                        for m in update.get("messages") or []:
                            yield from message_events(m)
        except Exception as exc:  # noqa: BLE001 - shown to the user; the checkpoint before the failure stays
            yield {"type": "error", "content": f"{type(exc).__name__}: {redact(str(exc), self.settings)}"}
        finally:
            self.prune()

    # ------------------------------------------------------------------ inspection
    def pending_approval(self) -> dict[str, Any] | None:
        """The approval payload the thread waits on, or None."""
        state = self.graph.get_state(self.config)
        for intr in state.interrupts or ():
            if isinstance(intr.value, dict) and intr.value.get("type") == "approval":
                return dict(intr.value)
        return None

    def history(self) -> list[dict[str, Any]]:
        """The conversation so far as events (for a UI reloading a thread)."""
        import json

        values = self.graph.get_state(self.config).values or {}
        archive = self.workspace / "chat" / f"{self.thread_id}.jsonl"
        out: list[dict[str, Any]] = []
        if archive.exists():  # turns moved out of the checkpointed state
            out += [json.loads(line) for line in archive.read_text(encoding="utf-8").splitlines() if line]
        for m in values.get("messages") or []:
            if isinstance(m, HumanMessage):
                out.append(
                    {
                        "type": "user",
                        "content": m.content,
                        "attachments": m.additional_kwargs.get("attachments", []),
                    }
                )
            else:
                out.extend(message_events(m))
        return out

    def stages(self) -> dict[str, Any]:
        """What each pipeline stage holds now."""
        from bgetune.agent.registry import stage_snapshot
        from bgetune.core.workspace import Workspace

        return stage_snapshot(Workspace(self.workspace))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> AgentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
