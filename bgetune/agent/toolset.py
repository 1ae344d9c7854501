"""Which tools one LLM call is offered: those the message and the stage make relevant, not every tool.

Binding all the agent's tools sent 50,413 characters of JSON schemas with every call: "Show the workspace
status." was a 15,131-token request, minutes of prompt processing on a small local model, more than a 4k or 8k
context server holds, and about 15k paid input tokens per agent step. A call now binds:

- a core set (status, results, the dataset, settings);
- the tools the offline planner reads in the user's last message (its routes know "train", "导入历史", ...);
- the pipeline's frontier: the last three stages whose prerequisites the workspace meets;
- the tools already called in this turn (a multi-step turn keeps what it is using);
- ``train`` and ``estimate_training`` together (what it costs is asked next to "train").

Every other tool is named in the system prompt, and a call to it by name still runs (the tool node validates the
arguments against the same declaration).
"""

from __future__ import annotations

import json
from typing import Any

from bgetune.agent.planner import plan_request
from bgetune.agent.registry import REGISTRY
from bgetune.capabilities import table

CORE = ("status", "show_results", "show_dataset", "set_setting")
FRONTIER = 3  # pipeline stages offered: the last ones whose prerequisites are met
PAIRED = (("train", "estimate_training"),)


def frontier(ws: Any, n: int = FRONTIER) -> list[str]:
    """The last ``n`` pipeline stages (in order) whose prerequisites ``ws`` meets: where the user is now."""
    ready = [c.name for c in table().values() if c.stage is not None and c.chat and not c.missing(ws)]
    return ready[-n:]


# the planner's direct replies that state facts (the workspace's state, declared settings, what leaves the machine):
# an LLM call gets them as grounding instead of answering from its own guesses
FACT_INTENTS = frozenset(
    {
        "next",
        "use_model",
        "cost",
        "explain",
        "setting_question",
        "privacy",
        "device",
        "resume_question",
        "better_questions",
        "results",
    }
)


def read_message(text: str, stages: dict[str, Any], files: list[str] | None = None) -> Any:
    """The offline planner's reading of the user's message, once per LLM call (tools and grounding)."""
    return plan_request(text, files=list(files or []), stages=stages, llm_configured=True)


def grounding(plan: Any) -> str:
    """A system-prompt line with bgetune's own answer when the message asks a factual question it knows."""
    if plan is None or not plan.reply or plan.intent not in FACT_INTENTS:
        return ""
    return (
        "bgetune's own answer to the user's last message, from this workspace and its declarations (accurate: "
        "answer with it, in the user's language, and add nothing it does not say):\n" + plan.reply
    )


def relevant_tools(
    text: str,
    ws: Any,
    stages: dict[str, Any],
    *,
    files: list[str] | None = None,
    called: list[str] | None = None,
    plan: Any = None,
) -> list[str]:
    """The tool names to bind for one LLM call, in registry order (``plan``: the message already read)."""
    names = set(CORE) | set(called or []) | set(frontier(ws))
    plan = plan if plan is not None else read_message(text, stages, files)
    names |= {s["tool"] for s in plan.steps}
    for group in PAIRED:
        if names & set(group):
            names |= set(group)
    return [n for n in REGISTRY if n in names]


def others_line(bound: list[str]) -> str:
    """The system prompt's line naming the tools not bound to this call."""
    rest = [n for n in REGISTRY if n not in set(bound)]
    return "Other tools (call one by name when the user needs it): " + ", ".join(rest) if rest else ""


def schema_chars(schemas: list[dict[str, Any]]) -> int:
    """How many characters of JSON the schemas add to a request."""
    return sum(len(json.dumps(s, ensure_ascii=False)) for s in schemas)
