"""Graph state: the conversation, the workspace it acts on, what each stage holds, and the pending approval."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


def merge_files(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Attachments accumulate over the conversation, each once, in order."""
    out = list(old or [])
    out += [f for f in (new or []) if f not in out]
    return out


class Approval(TypedDict):
    """A user's explicit yes for one tool call; written only by the review node from a resume value."""

    tool_call_id: str
    tool: str
    args: dict[str, Any]


class AgentState(TypedDict, total=False):
    """What the graph carries between steps (and what the checkpointer stores)."""

    messages: Annotated[list[AnyMessage], add_messages]
    workspace: str  # the workspace folder (absolute path)
    files: Annotated[list[str], merge_files]  # files the user gave or uploaded in this conversation
    stages: dict[str, Any]  # compact snapshot of ws.stats(): what each pipeline stage holds now
    pending: dict[str, Any] | None  # the approval payload waiting for the user (see review.py)
    approval: Approval | None  # set by review after an explicit approve; consumed by the tools node
    plan: list[dict[str, Any]]  # offline planner: remaining steps of the current request
    intent: str | None  # offline planner: what the current request is (for the final reply)
    context: dict[str, Any]  # offline planner: what the last turn left open (intent, query, path, miss id)
    plan_data: dict[str, Any]  # offline planner: notes of the current request (settings not understood, ...)
