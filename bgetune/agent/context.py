"""What the graph's nodes get besides the state (langgraph ``context=``): settings, the chat model, workspaces.

Passed per run (``graph.stream(..., context=GraphContext(...))``), never read from globals and never part of the
checkpointed state; with no context given, the nodes use ``GraphContext()`` (settings from the environment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bgetune.core.config import Settings


@dataclass(kw_only=True)
class GraphContext:
    """``model``: a chat model (LLM mode); None = an LLM from ``settings`` when one is configured, else the
    offline planner."""

    settings: Settings = field(default_factory=Settings)
    model: Any = None
    bound: dict[tuple[str, ...], Any] = field(init=False, default_factory=dict, repr=False)
    workspaces: dict[str, Any] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        from bgetune.agent.llm import make_agent_model

        if self.model is None and self.settings.llm_configured:
            self.model = make_agent_model(self.settings)

    def bind(self, names: list[str]) -> Any:
        """The chat model with these tools bound (once per set of names)."""
        from bgetune.agent.llm import bind_agent_tools
        from bgetune.agent.registry import tool_schemas

        key = tuple(names)
        if key not in self.bound:
            self.bound[key] = bind_agent_tools(self.model, tool_schemas(self.settings, names))
        return self.bound[key]

    @property
    def offline(self) -> bool:
        return self.model is None

    def workspace(self, state: dict[str, Any]) -> Any:
        """The state's workspace, opened once per context."""
        from bgetune.core.workspace import Workspace

        path = str(Path(state.get("workspace") or self.settings.workspace).expanduser().resolve())
        if path not in self.workspaces:
            self.workspaces[path] = Workspace(path)
        return self.workspaces[path]


DEFAULT: GraphContext | None = None


def of(runtime: Any) -> GraphContext:
    """The run's context, or a default one (settings from the environment) when the caller gave none."""
    global DEFAULT
    ctx = getattr(runtime, "context", None)
    if isinstance(ctx, GraphContext):
        return ctx
    if DEFAULT is None:
        DEFAULT = GraphContext()
    return DEFAULT
