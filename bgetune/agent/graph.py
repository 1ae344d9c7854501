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
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.config import get_config, get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from bgetune.agent.context import GraphContext
from bgetune.agent.context import of as context_of
from bgetune.agent.llm import normalize_ai_message
from bgetune.agent.planner import OFFLINE_NOTE, compose_reply, extract_paths, plan_request
from bgetune.agent.prompts import system_prompt
from bgetune.agent.registry import REGISTRY, ToolContext, ToolError, compact, stage_snapshot
from bgetune.agent.review import APPROVE, approved_args, decide, prepare_approval, reject_reply
from bgetune.agent.state import AgentState
from bgetune.agent.toolset import grounding, others_line, read_message, relevant_tools
from bgetune.core.config import redact
from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import reply_lang
from bgetune.surfaces import result_data, result_text

log = logging.getLogger(__name__)

MAX_TOOL_CALLS_PER_TURN = 12
MAX_HISTORY = 40
# messages the checkpointed state keeps; older ones move to <workspace>/chat/<thread>.jsonl (see archive_old)
MAX_STATE_MESSAGES = 40
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


def facts_of(tool: str, data: Any) -> dict[str, Any]:
    """What a result leaves for the next message, kept whole even when its JSON is cut for the prompt: the miss
    and query of a diagnosis, the open misses and biggest cause of a golden diagnosis, a preview's path."""
    if not isinstance(data, dict):
        return {}
    facts = {k: data.get(k) for k in FACTS if data.get(k) is not None}
    if tool == "diagnose_golden":
        items = [i for i in data.get("items") or [] if isinstance(i, dict) and i.get("miss_id")]
        facts["miss_ids"] = [i["miss_id"] for i in items]
        groups = [g for g in data.get("groups") or [] if isinstance(g, dict)]
        if groups:
            big = groups[0]
            ids = [i["miss_id"] for i in items if i.get("cause") == big.get("cause")]
            facts["biggest"] = {"cause": big.get("cause"), "action": big.get("action"), "miss_ids": ids}
    return facts


def _undo_record(tool: str, args: Any, ctx: ToolContext) -> dict[str, Any] | None:
    """Before a setting change or a review decision runs: what "undo that" needs to put back."""
    if tool == "set_setting":
        name = getattr(args, "name", None)
        return {"kind": "setting", "name": name, "old": ctx.ws.get_setting(name)} if name else None
    if tool in ("approve_pairs", "reject_pairs", "edit_pair", "approve_all_pairs"):
        return {"kind": "review", "tool": tool}
    return None


def _kept_context(intent: str, context: dict[str, Any]) -> dict[str, Any]:
    """What survives a turn that did not replace it: the last undoable action."""
    return {"undo": context["undo"]} if context.get("undo") and intent != "undo" else {}


def _next_context(
    intent: str, data: dict[str, Any], results: list[tuple], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What this turn leaves open for the next message: a labelling session, an import preview waiting for a
    yes, the last diagnosis (for "the second one" or "add it as a training pair"), the last undoable action."""
    ctx: dict[str, Any] = {"intent": intent} | _kept_context(intent, previous or {})
    for tool, res, ok, *_ in results:
        if not ok or not isinstance(res, dict):
            continue
        if res.get("undo"):
            ctx["undo"] = res["undo"]
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
        if tool == "diagnose_golden":
            ctx |= {
                "intent": "diagnose_golden",
                "miss_ids": res.get("miss_ids") or [],
                "biggest": res.get("biggest"),
            }
    return ctx


def _call(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": tool, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def _human_text(state: AgentState) -> str:
    messages = state.get("messages") or []
    return _text(messages[_last_human_index(messages)]) if messages else ""


def _tool_context(state: AgentState, gc: GraphContext, progress: Any = None) -> ToolContext:
    return ToolContext(
        ws=gc.workspace(state),
        settings=gc.settings,
        files=list(state.get("files") or []),
        progress=progress,
        lang=reply_lang(_human_text(state)),
    )


def _writer_progress(tool: str) -> Any:
    writer = get_stream_writer()

    def progress(done: int, total: int, label: str = "") -> None:
        writer({"type": "progress", "tool": tool, "done": done, "total": total, "label": label})

    return progress


def needs_confirm(state: AgentState, call: dict[str, Any], gc: GraphContext) -> bool:
    """LLM mode: a decision on the user's behalf (approve/reject/edit pairs, change a setting) that the user's
    own latest message did not ask for stops at a cheap confirm. The offline planner acts only on the user's
    words, so it never needs one."""
    spec = REGISTRY.get(call["name"])
    if gc.offline or spec is None or spec.capability is None or not spec.capability.decides:
        return False
    plan = plan_request(_human_text(state), stages=state.get("stages") or {})
    for step in plan.steps:
        if step["tool"] != call["name"]:
            continue
        if call["name"] != "set_setting" or step["args"].get("name") == (call.get("args") or {}).get("name"):
            return False
    return True


def archive_path(workspace: Any, thread_id: str) -> Any:
    return workspace.root / "chat" / f"{thread_id}.jsonl"


def message_events(message: Any) -> list[dict[str, Any]]:
    """The events one graph message stands for."""
    out: list[dict[str, Any]] = []
    if isinstance(message, AIMessage):
        for call in message.tool_calls or []:
            out.append(
                {"type": "tool_call", "tool": call["name"], "args": call.get("args") or {}, "id": call["id"]}
            )
        if isinstance(message.content, str) and message.content.strip():
            out.append({"type": "message", "content": message.content})
    elif isinstance(message, ToolMessage):
        out.append(
            {
                "type": "tool_result",
                "tool": message.name or "",
                "ok": message.status != "error",
                "content": str(message.content),
                "id": message.tool_call_id,
            }
        )
    return out


def archive_old(state: AgentState, gc: GraphContext) -> list[RemoveMessage]:
    """At a new user message, past ``MAX_STATE_MESSAGES``: the oldest whole turns are appended to the thread's
    archive in the workspace and removed from the state, so each checkpoint stays small."""
    import json

    messages = state.get("messages") or []
    if len(messages) <= MAX_STATE_MESSAGES or not isinstance(messages[-1], HumanMessage):
        return []
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    cut = next((i for i in starts if len(messages) - i <= MAX_STATE_MESSAGES), starts[-1])
    old = messages[:cut]
    if not old:
        return []
    thread = str((get_config().get("configurable") or {}).get("thread_id") or "default")
    path = archive_path(gc.workspace(state), thread)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for m in old:
            events = (
                [
                    {
                        "type": "user",
                        "content": _text(m),
                        "attachments": m.additional_kwargs.get("attachments", []),
                    }
                ]
                if isinstance(m, HumanMessage)
                else message_events(m)
            )
            for e in events:
                fh.write(json.dumps(e, ensure_ascii=False, default=str) + "\n")
    return [RemoveMessage(id=m.id) for m in old if m.id]


# ---------------------------------------------------------------------------------------------- nodes
def agent(state: AgentState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    """The LLM (tools bound) or, offline, the planner decides the next tool call or replies; at a new user
    message the oldest turns leave the state for the workspace's archive."""
    gc = context_of(runtime)
    removed = archive_old(state, gc)
    out = _agent(state, gc)
    if removed:
        out["messages"] = removed + list(out.get("messages") or [])
    return out


def _agent(state: AgentState, gc: GraphContext) -> dict[str, Any]:
    messages = state.get("messages") or []
    stages = stage_snapshot(gc.workspace(state))
    since = messages[_last_human_index(messages) + 1 :]
    n_calls = sum(1 for m in since if isinstance(m, AIMessage) and m.tool_calls)
    if n_calls >= MAX_TOOL_CALLS_PER_TURN:
        stop = f"I stopped after {n_calls} tool calls in one turn. Tell me how to go on."
        return {"messages": [AIMessage(stop)], "stages": stages, "plan": []}
    if gc.offline:
        return offline_agent(state, messages, stages)
    settings = gc.settings
    try:
        files = list(state.get("files") or [])
        called = [c["name"] for m in since if isinstance(m, AIMessage) for c in m.tool_calls]
        text = _human_text(state)
        plan = read_message(text, stages, files)
        names = relevant_tools(text, gc.workspace(state), stages, files=files, called=called, plan=plan)
        extra = "\n".join(x for x in (others_line(names), grounding(plan) if not since else "") if x)
        prompt = [SystemMessage(system_prompt(stages, files, extra))] + _trim(messages)
        ai = gc.bind(names).invoke(prompt)
    except Exception as exc:  # noqa: BLE001 - a server failure becomes a reply, never a crash
        log.warning("LLM call failed: %s", redact(str(exc), settings))
        reply = (
            f"The LLM server ({settings.llm_base_url or 'default'}) failed: {redact(str(exc), settings)[:300]}. "
            "Check BGETUNE_LLM_BASE_URL / BGETUNE_LLM_MODEL, or unset them to use offline mode."
        )
        return {"messages": [AIMessage(reply)], "stages": stages}
    ai = normalize_ai_message(ai, set(REGISTRY))
    if ai.tool_calls and _repeated(ai.tool_calls[0], messages):
        # small models loop on the same call: answer with what that call already returned
        result = next((m.content for m in reversed(messages) if isinstance(m, ToolMessage)), "")
        ai = AIMessage(f"Result of {ai.tool_calls[0]['name']}: {str(result)[:1500]}", id=ai.id)
    return {"messages": [ai], "stages": stages}


def offline_agent(state: AgentState, messages: list[AnyMessage], stages: dict[str, Any]) -> dict[str, Any]:
    """Offline: plan the user's message once, then issue its steps one per pass, then compose the reply."""
    last = messages[-1] if messages else None
    lang = reply_lang(_human_text(state))
    first = not any(isinstance(m, AIMessage) and m.content for m in messages)
    note = ("\n\n" + OFFLINE_NOTE[lang]) if first else ""
    update: dict[str, Any] = {}
    if isinstance(last, HumanMessage):
        typed = extract_paths(_text(last))
        attached = list(last.additional_kwargs.get("attachments") or [])
        files = attached + [p for p in typed if p not in attached]  # this message's files only
        context = state.get("context") or {}
        plan = plan_request(_text(last), files=files, new_files=bool(files), stages=stages, context=context)
        update = {"files": typed, "plan_data": plan.data}
        if plan.reply is not None:
            return update | {
                "messages": [AIMessage(plan.reply + note)],
                "plan": [],
                "intent": plan.intent,
                "stages": stages,
                "context": {"intent": plan.intent} | plan.data | _kept_context(plan.intent, context),
            }
        steps, intent = plan.steps, plan.intent
    else:
        steps, intent = list(state.get("plan") or []), state.get("intent") or ""
        if isinstance(last, ToolMessage) and last.status == "error":
            steps = []  # a failed step ends the plan; the reply explains
    if steps:
        call = _call(steps[0]["tool"], steps[0]["args"])
        return update | {
            "messages": [AIMessage("", tool_calls=[call])],
            "plan": steps[1:],
            "intent": intent,
            "stages": stages,
        }
    results = _turn_results(messages)
    data = state.get("plan_data") or {}
    reply = compose_reply(intent, lang, results, stages, data)
    context = _next_context(intent, data, results, state.get("context") or {})
    return {"messages": [AIMessage(reply + note)], "plan": [], "stages": stages, "context": context}


def route_agent(state: AgentState, runtime: Runtime[GraphContext]) -> str:
    """After the agent: a gated call goes to the gate, an unasked decision to confirm, others to tools."""
    gc = context_of(runtime)
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
    if spec.gated(gc.settings, args):
        return "gate"
    return "confirm" if needs_confirm(state, call, gc) else "tools"


def gate(state: AgentState, runtime: Runtime[GraphContext]) -> Command:
    """A gpu / paid-llm call: build the approval payload (estimate, editable settings), then review."""
    gc = context_of(runtime)
    call = state["messages"][-1].tool_calls[0]
    spec = REGISTRY[call["name"]]
    try:
        ctx = _tool_context(state, gc, _writer_progress(f"estimate {spec.name}"))
        payload = prepare_approval(spec, ctx, spec.parse(call.get("args")), call)
    except Exception as exc:  # noqa: BLE001 - cannot even estimate: report, run nothing
        msg = ToolMessage(
            f"cannot prepare {spec.name}: {redact(str(exc), gc.settings)}",
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
    """``interrupt(payload)``; the resume value alone decides. Side effects only after the interrupt."""
    pending = state.get("pending") or {}
    decision = interrupt(pending)
    # everything below runs once, after the user answered
    call = state["messages"][-1].tool_calls[0]
    spec = REGISTRY[call["name"]]
    action, edits = decide(decision)
    lang = reply_lang(_human_text(state))
    if action == APPROVE and pending.get("tool_call_id") == call["id"]:
        try:
            args = approved_args(spec, pending, edits)
        except ToolError as exc:
            msg = ToolMessage(f"not run: {exc}", tool_call_id=call["id"], name=spec.name, status="error")
            reply = AIMessage(f"{exc}. Nothing ran; ask again with a valid value.")
            return Command(goto=END, update={"messages": [msg, reply], "pending": None, "plan": []})
        approval = {"tool_call_id": call["id"], "tool": spec.name, "args": args}
        return Command(goto="tools", update={"approval": approval, "pending": None})
    msg = ToolMessage(
        f"The user rejected {spec.name}; it did not run.",
        tool_call_id=call["id"],
        name=spec.name,
        status="error",
    )
    update = {
        "messages": [msg, AIMessage(reject_reply(spec.name, lang))],
        "pending": None,
        "approval": None,
        "plan": [],
    }
    return Command(goto=END, update=update)


def tools(state: AgentState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
    """Run one call; a gated one only with the approval the review node recorded for that very call id."""
    gc = context_of(runtime)
    call = state["messages"][-1].tool_calls[0]
    name, call_id = call["name"], call["id"]
    writer = get_stream_writer()
    ctx = _tool_context(state, gc, _writer_progress(name))
    writer({"type": "tool_start", "tool": name, "args": call.get("args") or {}})
    try:
        msg = _run_call(state, call, ctx, gc)
    except BgetuneError as exc:
        msg = ToolMessage(str(exc), tool_call_id=call_id, name=name, status="error")
    except Exception as exc:  # noqa: BLE001 - a failing tool is reported to the agent and the user
        log.warning("tool %s failed: %s", name, redact(str(exc), gc.settings)[:300])
        log.debug("tool %s traceback", name, exc_info=True)
        text = f"{type(exc).__name__}: {redact(str(exc), gc.settings)}"[:2000]
        msg = ToolMessage(text, tool_call_id=call_id, name=name, status="error")
    writer({"type": "tool_end", "tool": name, "ok": msg.status != "error"})
    return {"messages": [msg], "approval": None, "stages": stage_snapshot(ctx.ws)}


def _run_call(state: AgentState, call: dict[str, Any], ctx: ToolContext, gc: GraphContext) -> ToolMessage:
    name, call_id = call["name"], call["id"]
    spec = REGISTRY.get(name)
    if spec is None:
        raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(REGISTRY)}")
    args = spec.parse(call.get("args"))
    if spec.gated(gc.settings, args) or needs_confirm(state, call, gc):
        approval = state.get("approval") or {}
        if approval.get("tool_call_id") != call_id or approval.get("tool") != name:
            raise ToolError(f"{name} needs the user's approval and was not approved; it did not run")
        args = spec.parse(approval["args"])
    before = _undo_record(name, args, ctx)
    result = spec.run(ctx, args)
    data = result_data(result)
    facts = facts_of(name, data) | ({"undo": before} if before else {})
    text = result_text(result, ctx.lang)
    return ToolMessage(
        compact(result), tool_call_id=call_id, name=name, additional_kwargs={"text": text, "facts": facts}
    )


def build_graph(checkpointer: Any = None) -> Any:
    """The compiled agent graph: agent -> (gate | confirm) -> review -> tools -> agent. Run it with
    ``context=GraphContext(settings=..., model=...)``; ``checkpointer``: None = in-memory (interrupts need one)."""
    from langgraph.checkpoint.memory import InMemorySaver

    builder = StateGraph(AgentState, context_schema=GraphContext)
    builder.add_node("agent", agent)
    builder.add_node("gate", gate, destinations=("review", "agent"))
    builder.add_node("confirm", confirm, destinations=("review",))
    builder.add_node("review", review, destinations=("tools", END))
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route_agent, ["gate", "confirm", "tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer if checkpointer is not None else InMemorySaver())
