"""The agent graph: agent -> (gate -> review) -> tools -> agent.

- ``agent``: the LLM (tools bound) or, with no LLM configured, the offline planner, decides the next tool call
  or replies.
- ``gate``: for a tool costing gpu or paid-llm, builds the approval payload (estimate, editable settings).
- ``review``: ``interrupt(payload)``; the resume value alone decides. Approve -> ``tools`` with the approved
  arguments; reject -> a helpful reply, end of turn. Side effects come after the interrupt (the node re-runs
  from its top on resume).
- ``tools``: runs one call; a gated tool runs only with the approval the review node recorded for that very
  call id. Progress goes to the custom stream (``get_stream_writer``).

Input: ``{"messages": [HumanMessage(text, additional_kwargs={"attachments": [...]})], "workspace": path,
"files": [...]}``; resume: ``Command(resume={"action": "approve"|"reject", "settings": {...}})``.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from bgetune.agent.llm import bind_agent_tools, make_agent_model, normalize_ai_message
from bgetune.agent.planner import OFFLINE_NOTE, compose_reply, extract_paths, language, plan_request
from bgetune.agent.prompts import system_prompt
from bgetune.agent.registry import REGISTRY, ToolContext, ToolError, compact, stage_snapshot, tool_schemas
from bgetune.agent.review import APPROVE, approved_args, decide, prepare_approval, reject_reply
from bgetune.agent.state import AgentState
from bgetune.core.config import Settings, redact
from bgetune.core.errors import BgetuneError
from bgetune.surfaces import result_data, result_text

log = logging.getLogger(__name__)

MAX_TOOL_CALLS_PER_TURN = 12
MAX_HISTORY = 40
# what a result leaves for the next message (kept whole even when the result's JSON is cut for the prompt)
FACTS = ("miss_id", "query", "question_id", "path", "file", "actions")


def _last_human_index(messages: list[AnyMessage]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i
    return -1


def _text(msg: AnyMessage | None) -> str:
    if msg is None:
        return ""
    c = msg.content
    return (
        c if isinstance(c, str) else " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in c)
    )


def _trim(messages: list[AnyMessage], limit: int = MAX_HISTORY) -> list[AnyMessage]:
    """The last ``limit`` messages, starting at a user message (never orphaning tool results)."""
    if len(messages) <= limit:
        return list(messages)
    tail = messages[-limit:]
    for i, m in enumerate(tail):
        if isinstance(m, HumanMessage):
            return tail[i:]
    return messages[_last_human_index(messages) :]


def _turn_results(messages: list[AnyMessage]) -> list[tuple[str, Any, bool, str | None]]:
    """(tool, result, ok, text) of every tool run since the last user message."""
    import json

    out = []
    for m in messages[_last_human_index(messages) + 1 :]:
        if isinstance(m, ToolMessage):
            ok = m.status != "error"
            try:
                res = json.loads(m.content) if ok else m.content
            except (TypeError, ValueError):
                res = m.content
            text = m.additional_kwargs.get("text") if ok else None
            facts = m.additional_kwargs.get("facts") or {}
            if ok and facts:
                res = (res if isinstance(res, dict) else {}) | facts
            out.append((m.name or "", res, ok, text))
    return out


def _repeated(call: dict[str, Any], messages: list[AnyMessage]) -> bool:
    """True when this turn already made the same call (same tool, same arguments)."""
    for m in messages[_last_human_index(messages) + 1 :]:
        if isinstance(m, AIMessage):
            for c in m.tool_calls or []:
                if c["name"] == call["name"] and c.get("args") == call.get("args"):
                    return True
    return False


def _next_context(intent: str, data: dict[str, Any], results: list[tuple]) -> dict[str, Any]:
    """What this turn leaves open for the next message: a labelling session, an import preview waiting for a
    yes, the last diagnosis (for "the second one" or "add it as a training pair")."""
    ctx: dict[str, Any] = {"intent": intent}
    for tool, res, ok, *_ in results:
        if not ok or not isinstance(res, dict):
            continue
        if tool == "golden_candidates" and res.get("question_id") is not None:
            ctx["intent"] = "golden_label"
        if tool == "preview_history":
            ctx |= {
                "intent": "history_preview",
                "path": data.get("path") or res.get("path") or res.get("file"),
            }
        if tool == "diagnose":
            acts = res.get("actions") or []
            first = acts[0].get("action") if acts and isinstance(acts[0], dict) else None
            ctx |= {
                "intent": "diagnose",
                "query": res.get("query"),
                "miss_id": res.get("miss_id"),
                "action": first,
            }
    return ctx


def _call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": tool, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def build_graph(checkpointer: Any = None, model: Any = None, settings: Settings | None = None) -> Any:
    """A compiled agent graph. ``model``: a chat model (LLM mode); None = an LLM from ``settings`` if one is
    configured, else the offline planner. ``checkpointer``: None = in-memory (interrupts need one)."""
    from langgraph.checkpoint.memory import InMemorySaver

    settings = settings or Settings()
    if model is None and settings.llm_configured:
        model = make_agent_model(settings)
    offline = model is None
    bound = None if offline else bind_agent_tools(model, tool_schemas(settings))
    known = set(REGISTRY)
    workspaces: dict[str, Any] = {}

    def open_ws(state: AgentState) -> Any:
        from bgetune.core.workspace import Workspace

        path = str(Path(state.get("workspace") or settings.workspace).expanduser().resolve())
        if path not in workspaces:
            workspaces[path] = Workspace(path)
        return workspaces[path]

    def ctx_for(state: AgentState, progress: Any = None) -> ToolContext:
        messages = state.get("messages") or []
        human = messages[_last_human_index(messages)] if messages else None
        return ToolContext(
            ws=open_ws(state),
            settings=settings,
            files=list(state.get("files") or []),
            progress=progress,
            lang=language(_text(human)),
        )

    def needs_confirm(state: AgentState, call: dict[str, Any]) -> bool:
        """LLM mode: a decision on the user's behalf (approve/reject/edit pairs, change a setting) that the user's
        own latest message did not ask for stops at a cheap confirm. The offline planner acts only on the
        user's words, so it never needs one."""
        spec = REGISTRY.get(call["name"])
        if offline or spec is None or spec.capability is None or not spec.capability.decides:
            return False
        messages = state.get("messages") or []
        human = _text(messages[_last_human_index(messages)]) if messages else ""
        plan = plan_request(human, stages=state.get("stages") or {})
        for step in plan.steps:
            if step["tool"] != call["name"]:
                continue
            if call["name"] == "set_setting":
                args = call.get("args") or {}
                if step["args"].get("name") == args.get("name"):
                    return False
                continue
            return False
        return True

    # ------------------------------------------------------------------ agent
    def agent(state: AgentState) -> dict[str, Any]:
        messages = state.get("messages") or []
        stages = stage_snapshot(open_ws(state))
        n_calls = sum(
            1
            for m in messages[_last_human_index(messages) + 1 :]
            if isinstance(m, AIMessage) and m.tool_calls
        )
        if n_calls >= MAX_TOOL_CALLS_PER_TURN:
            return {
                "messages": [
                    AIMessage(f"I stopped after {n_calls} tool calls in one turn. Tell me how to go on.")
                ],
                "stages": stages,
                "plan": [],
            }
        if offline:
            return offline_agent(state, messages, stages)
        try:
            ai = bound.invoke(
                [SystemMessage(system_prompt(stages, list(state.get("files") or [])))] + _trim(messages)
            )
        except Exception as exc:  # noqa: BLE001 - a server failure becomes a reply, never a crash
            log.warning("LLM call failed: %s", redact(str(exc), settings))
            return {
                "messages": [
                    AIMessage(
                        f"The LLM server ({settings.llm_base_url or 'default'}) failed: {redact(str(exc), settings)[:300]}. "
                        "Check BGETUNE_LLM_BASE_URL / BGETUNE_LLM_MODEL, or unset them to use offline mode."
                    )
                ],
                "stages": stages,
            }
        ai = normalize_ai_message(ai, known)
        if ai.tool_calls and _repeated(ai.tool_calls[0], messages):
            # small models loop on the same call: answer with what that call already returned
            result = next((m.content for m in reversed(messages) if isinstance(m, ToolMessage)), "")
            ai = AIMessage(f"Result of {ai.tool_calls[0]['name']}: {str(result)[:1500]}", id=ai.id)
        return {"messages": [ai], "stages": stages}

    def offline_agent(
        state: AgentState, messages: list[AnyMessage], stages: dict[str, Any]
    ) -> dict[str, Any]:
        last = messages[-1] if messages else None
        human = messages[_last_human_index(messages)] if messages else None
        lang = language(_text(human))
        first = not any(isinstance(m, AIMessage) and m.content for m in messages)
        note = ("\n\n" + OFFLINE_NOTE[lang]) if first else ""
        update: dict[str, Any] = {}
        if isinstance(last, HumanMessage):
            typed = extract_paths(_text(last))
            attached = list(last.additional_kwargs.get("attachments") or [])
            files = attached + [p for p in typed if p not in attached]  # this message's files only
            plan = plan_request(
                _text(last),
                files=files,
                new_files=bool(files),
                stages=stages,
                context=state.get("context") or {},
            )
            update = {"files": typed, "plan_data": plan.data}
            if plan.reply is not None:
                return update | {
                    "messages": [AIMessage(plan.reply + note)],
                    "plan": [],
                    "intent": plan.intent,
                    "stages": stages,
                    "context": {"intent": plan.intent} | plan.data,
                }
            steps, intent = plan.steps, plan.intent
        else:
            steps, intent = list(state.get("plan") or []), state.get("intent") or ""
            if isinstance(last, ToolMessage) and last.status == "error":
                steps = []  # a failed step ends the plan; the reply explains
        if steps:
            step = steps[0]
            return update | {
                "messages": [AIMessage("", tool_calls=[_call(step["tool"], step["args"])])],
                "plan": steps[1:],
                "intent": intent,
                "stages": stages,
            }
        results = _turn_results(messages)
        data = state.get("plan_data") or {}
        reply = compose_reply(intent, lang, results, stages, data)
        return {
            "messages": [AIMessage(reply + note)],
            "plan": [],
            "stages": stages,
            "context": _next_context(intent, data, results),
        }

    def route_agent(state: AgentState) -> str:
        last = (state.get("messages") or [None])[-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return END
        call = last.tool_calls[0]
        spec = REGISTRY.get(call["name"])
        if spec is None:
            return "tools"
        try:
            args = spec.parse(call.get("args"))
        except ToolError:
            return "tools"  # reports the bad arguments
        if spec.gated(settings, args):
            return "gate"
        return "confirm" if needs_confirm(state, call) else "tools"

    # ------------------------------------------------------------------ gate + review
    def gate(state: AgentState) -> Command:
        call = state["messages"][-1].tool_calls[0]
        spec = REGISTRY[call["name"]]
        writer = get_stream_writer()

        def progress(done: int, total: int, label: str = "") -> None:
            writer(
                {
                    "type": "progress",
                    "tool": f"estimate {spec.name}",
                    "done": done,
                    "total": total,
                    "label": label,
                }
            )

        try:
            payload = prepare_approval(spec, ctx_for(state, progress), spec.parse(call.get("args")), call)
        except Exception as exc:  # noqa: BLE001 - cannot even estimate: report, run nothing
            msg = ToolMessage(
                f"cannot prepare {spec.name}: {redact(str(exc), settings)}",
                tool_call_id=call["id"],
                name=spec.name,
                status="error",
            )
            return Command(goto="agent", update={"messages": [msg]})
        return Command(goto="review", update={"pending": payload})

    def confirm(state: AgentState) -> Command:
        """A decision the user did not ask for: name what will change and wait for their yes."""
        call = state["messages"][-1].tool_calls[0]
        args = dict(call.get("args") or {})
        what = ", ".join(f"{k}={v}" for k, v in args.items()) or "no arguments"
        payload = {
            "type": "approval",
            "kind": "confirm",
            "tool": call["name"],
            "tool_call_id": call["id"],
            "title": f"Confirm {call['name']} ({what})",
            "cost": "free",
            "settings": {},
            "args": args,
            "estimate": {},
            "message": (
                f"The assistant wants to run {call['name']} ({what}), which changes your data or settings, but your "
                "last message did not ask for it (a document may have). Approve to let it run, or reject."
            ),
        }
        return Command(goto="review", update={"pending": payload})

    def review(state: AgentState) -> Command:
        pending = state.get("pending") or {}
        decision = interrupt(pending)
        # everything below runs once, after the user answered
        call = state["messages"][-1].tool_calls[0]
        spec = REGISTRY[call["name"]]
        action, edits = decide(decision)
        lang = language(_text(state["messages"][_last_human_index(state["messages"])]))
        if action == APPROVE and pending.get("tool_call_id") == call["id"]:
            try:
                args = approved_args(spec, pending, edits)
            except ToolError as exc:
                msg = ToolMessage(f"not run: {exc}", tool_call_id=call["id"], name=spec.name, status="error")
                return Command(
                    goto=END,
                    update={
                        "messages": [msg, AIMessage(f"{exc}. Nothing ran; ask again with a valid value.")],
                        "pending": None,
                        "plan": [],
                    },
                )
            approval = {"tool_call_id": call["id"], "tool": spec.name, "args": args}
            return Command(goto="tools", update={"approval": approval, "pending": None})
        msg = ToolMessage(
            f"The user rejected {spec.name}; it did not run.",
            tool_call_id=call["id"],
            name=spec.name,
            status="error",
        )
        return Command(
            goto=END,
            update={
                "messages": [msg, AIMessage(reject_reply(spec.name, lang))],
                "pending": None,
                "approval": None,
                "plan": [],
            },
        )

    # ------------------------------------------------------------------ tools
    def tools(state: AgentState) -> dict[str, Any]:
        call = state["messages"][-1].tool_calls[0]
        name, call_id = call["name"], call["id"]
        writer = get_stream_writer()

        def progress(done: int, total: int, label: str = "") -> None:
            writer({"type": "progress", "tool": name, "done": done, "total": total, "label": label})

        ctx = ctx_for(state, progress)
        writer({"type": "tool_start", "tool": name, "args": call.get("args") or {}})
        try:
            spec = REGISTRY.get(name)
            if spec is None:
                raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(REGISTRY)}")
            args = spec.parse(call.get("args"))
            if spec.gated(settings, args) or needs_confirm(state, call):
                approval = state.get("approval") or {}
                if approval.get("tool_call_id") != call_id or approval.get("tool") != name:
                    raise ToolError(f"{name} needs the user's approval and was not approved; it did not run")
                args = spec.parse(approval["args"])
            result = spec.run(ctx, args)
            data = result_data(result)
            facts = {k: data.get(k) for k in FACTS if isinstance(data, dict) and data.get(k) is not None}
            msg = ToolMessage(
                compact(result),
                tool_call_id=call_id,
                name=name,
                additional_kwargs={"text": result_text(result, ctx.lang), "facts": facts},
            )
        except BgetuneError as exc:
            msg = ToolMessage(str(exc), tool_call_id=call_id, name=name, status="error")
        except Exception as exc:  # noqa: BLE001 - a failing tool is reported to the agent and the user
            log.warning("tool %s failed: %s", name, redact(str(exc), settings)[:300])
            log.debug("tool %s traceback", name, exc_info=True)
            msg = ToolMessage(
                f"{type(exc).__name__}: {redact(str(exc), settings)}"[:2000],
                tool_call_id=call_id,
                name=name,
                status="error",
            )
        writer({"type": "tool_end", "tool": name, "ok": msg.status != "error"})
        return {"messages": [msg], "approval": None, "stages": stage_snapshot(ctx.ws)}

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("gate", gate, destinations=("review", "agent"))
    builder.add_node("confirm", confirm, destinations=("review",))
    builder.add_node("review", review, destinations=("tools", END))
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route_agent, ["gate", "confirm", "tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer if checkpointer is not None else InMemorySaver())
