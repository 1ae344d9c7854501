"""Pure functions from agent session events to Gradio chat messages, and from payloads to display text.

The UI is a thin adapter: :func:`apply_event` folds one :class:`bgetune.agent.runner.AgentSession` event into a
list of ``gr.ChatMessage`` (tool calls become collapsible steps, ``metadata={"title", "status", "id"}``, whose
content is live progress, then the result). Nothing here touches a workspace, a session or a browser.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import gradio as gr

TOOL_LABELS: dict[str, str] = {
    "ingest": "Reading documents",
    "status": "Checking the workspace",
    "generate_pairs": "Generating question–passage pairs",
    "filter_pairs": "Filtering pairs",
    "show_dataset": "Summarising the dataset",
    "show_pairs": "Listing pairs",
    "approve_pairs": "Approving pairs",
    "reject_pairs": "Rejecting pairs",
    "edit_pair": "Editing a pair",
    "approve_all_pairs": "Approving all proposed pairs",
    "split_dataset": "Splitting by document",
    "mine_negatives": "Mining hard negatives",
    "train": "Training",
    "estimate_training": "Estimating training cost",
    "evaluate": "Evaluating base vs tuned",
    "calibrate": "Calibrating the threshold",
    "diagnose": "Diagnosing a query",
    "score": "Scoring a pair",
    "export_model": "Exporting the model",
    "set_setting": "Changing a setting",
}
RESULT_CHARS = 1200
BAR_WIDTH = 20
METRIC_ORDER = ("ndcg@10", "mrr@10", "recall@10", "hit@1")


def tool_label(tool: str) -> str:
    """A human title for a tool name (``estimate train`` -> ``Estimating: Training``)."""
    if tool.startswith("estimate ") and tool != "estimate_training":
        return f"Estimating cost: {tool_label(tool.split(' ', 1)[1])}"
    return TOOL_LABELS.get(tool, tool.replace("_", " ").capitalize())


def progress_bar(done: int, total: int, label: str = "") -> str:
    """``███░░░ 3/10 (30%) · label``; an unknown total shows the count only."""
    label = " · " + label if label else ""
    if not total or total <= 0:
        return f"{done} done{label}"
    frac = max(0.0, min(1.0, done / total))
    filled = round(frac * BAR_WIDTH)
    return f"{'█' * filled}{'░' * (BAR_WIDTH - filled)} {done}/{total} ({frac:.0%}){label}"


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_args(args: Mapping[str, Any] | None) -> str:
    """Tool arguments as one short line; attached paths show as file names."""
    if not args:
        return ""
    parts = []
    for k, v in args.items():
        if k == "paths" and isinstance(v, list):
            v = [os.path.basename(str(p)) for p in v]
        parts.append(f"{k}={_short(v)}")
    return "`" + ", ".join(parts) + "`"


def format_result(content: str, *, limit: int = RESULT_CHARS) -> str:
    """A tool result (JSON text) as a compact readable block."""
    try:
        data = json.loads(content)
    except (TypeError, ValueError):
        data = None
    if isinstance(data, dict):
        lines = []
        for k, v in data.items():
            if v in (None, [], {}):
                continue
            if k == "loss_curve" and isinstance(v, list) and v:
                v = f"{len(v)} points, last loss {v[-1][-1]:.4f}" if isinstance(v[-1], list) else v
            elif k == "metrics" and isinstance(v, dict):
                v = "; ".join(f"{m}: {format_metrics_inline(vals)}" for m, vals in v.items())
            lines.append(f"- **{k}**: {_short(v, 200)}")
        text = "\n".join(lines)
    else:
        text = str(content)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_metrics_inline(values: Any) -> str:
    if not isinstance(values, Mapping):
        return _short(values)
    keys = [k for k in METRIC_ORDER if k in values] or list(values)
    return ", ".join(
        f"{k} {values[k]:.3f}" if isinstance(values[k], int | float) else f"{k} {values[k]}" for k in keys
    )


# ---------------------------------------------------------------------------------------------- messages
def _meta(msg: gr.ChatMessage) -> dict[str, Any]:
    return dict(msg.metadata or {}) if not isinstance(msg.metadata, dict) else dict(msg.metadata)


def _replace(msg: gr.ChatMessage, **changes: Any) -> gr.ChatMessage:
    return dataclasses.replace(msg, **changes)


def _find_step(
    messages: Sequence[gr.ChatMessage],
    *,
    call_id: str | None = None,
    tool: str | None = None,
    pending_only: bool = True,
) -> int | None:
    """Index of the newest step matching the call id (or else the tool name)."""
    for i in range(len(messages) - 1, -1, -1):
        meta = _meta(messages[i])
        if "title" not in meta:
            continue
        if pending_only and meta.get("status") != "pending" and not meta.get("awaiting"):
            continue
        if call_id and meta.get("id") == call_id:
            return i
        if tool and meta.get("tool") == tool and (not call_id or not meta.get("id")):
            return i
    return None


def step_message(
    tool: str, *, call_id: str | None = None, content: str = "", status: str = "pending"
) -> gr.ChatMessage:
    """A collapsible tool step."""
    meta: dict[str, Any] = {"title": tool_label(tool), "status": status, "tool": tool}
    if call_id:
        meta["id"] = call_id
    return gr.ChatMessage(role="assistant", content=content, metadata=meta)


def user_message(text: str, attachments: Iterable[str] = ()) -> gr.ChatMessage:
    names = [os.path.basename(str(a)) for a in attachments]
    files = ("\n\n" + " ".join(f"📎 `{n}`" for n in names)) if names else ""
    return gr.ChatMessage(role="user", content=(text or "") + files)


def approval_message(payload: Mapping[str, Any]) -> gr.ChatMessage:
    title = payload.get("title") or f"Run {payload.get('tool')}"
    return gr.ChatMessage(
        role="assistant",
        content=f"⏸ **Waiting for your approval:** {title}\n\nUse the approval card below the chat to approve, "
        "edit the settings, or reject. Nothing runs until you decide.",
    )


def apply_event(messages: Sequence[gr.ChatMessage], event: Mapping[str, Any]) -> list[gr.ChatMessage]:
    """The chat after one session event (a new list; the input is not changed)."""
    out = list(messages)
    kind = event.get("type")
    tool = str(event.get("tool") or "")
    if kind == "user":
        out.append(user_message(str(event.get("content") or ""), event.get("attachments") or ()))
    elif kind == "message":
        text = str(event.get("content") or "").strip()
        if text:
            out.append(gr.ChatMessage(role="assistant", content=text))
    elif kind == "tool_call":
        out.append(step_message(tool, call_id=event.get("id"), content=format_args(event.get("args"))))
    elif kind == "tool_start":
        i = _find_step(out, tool=tool)
        if i is None:
            out.append(step_message(tool, content=format_args(event.get("args"))))
        else:
            out[i] = _replace(out[i], metadata=_running(_meta(out[i])))
    elif kind == "progress":
        i = _find_step(out, tool=tool)
        if i is None:
            out.append(step_message(tool))
            i = len(out) - 1
        meta = _running(_meta(out[i]))
        args = meta.get("args_text")
        if args is None:
            args = str(out[i].content or "")
            meta["args_text"] = args
        bar = progress_bar(
            int(event.get("done") or 0), int(event.get("total") or 0), str(event.get("label") or "")
        )
        meta["log"] = bar
        out[i] = _replace(out[i], content=(args + "\n\n" if args else "") + bar, metadata=meta)
    elif kind == "tool_end":
        i = _find_step(out, tool=tool)
        if i is not None and event.get("ok") is False:
            meta = _meta(out[i]) | {"title": "✗ " + tool_label(tool)}
            out[i] = _replace(out[i], metadata=meta)
        _close_estimates(out)
    elif kind == "tool_result":
        i = _find_step(out, call_id=event.get("id"), tool=tool)
        ok = bool(event.get("ok", True))
        body = format_result(str(event.get("content") or ""))
        if i is None:
            out.append(step_message(tool, call_id=event.get("id")))
            i = len(out) - 1
        meta = _meta(out[i])
        args = meta.pop("args_text", None)
        if args is None:
            args = str(out[i].content or "").split("\n\n", 1)[0]
            args = "" if "░" in args or "█" in args else args
        meta.pop("log", None)
        meta.pop("awaiting", None)
        meta["status"] = "done"
        meta["title"] = ("" if ok else "✗ ") + tool_label(tool).lstrip("✗ ")
        out[i] = _replace(out[i], content=(args + "\n\n" if args else "") + body, metadata=meta)
        _close_estimates(out)
    elif kind == "approval":
        _close_estimates(out)
        i = _find_step(out, call_id=event.get("tool_call_id"), tool=tool)
        if i is not None:
            meta = _meta(out[i]) | {"awaiting": True, "log": "waiting for your approval"}
            meta.pop("status", None)
            out[i] = _replace(out[i], metadata=meta)
        out.append(approval_message(event))
    elif kind == "error":
        _close_pending(out)
        out.append(gr.ChatMessage(role="assistant", content=f"⚠️ {event.get('content')}"))
    return out


def _running(meta: dict[str, Any]) -> dict[str, Any]:
    """A step that starts running (after waiting for approval, if it did)."""
    if meta.pop("awaiting", None):
        meta.pop("log", None)
    meta["status"] = "pending"
    return meta


def _close_estimates(messages: list[gr.ChatMessage]) -> None:
    """Estimate steps have no result event: mark them done once anything else happens."""
    for i, m in enumerate(messages):
        meta = _meta(m)
        if meta.get("status") == "pending" and str(meta.get("tool", "")).startswith("estimate "):
            meta["status"] = "done"
            meta.pop("args_text", None)
            messages[i] = _replace(m, metadata=meta)


def _close_pending(messages: list[gr.ChatMessage]) -> None:
    for i, m in enumerate(messages):
        meta = _meta(m)
        if meta.get("status") == "pending":
            meta["status"] = "done"
            meta.pop("args_text", None)
            messages[i] = _replace(m, metadata=meta)


def render_events(
    events: Iterable[Mapping[str, Any]], messages: Sequence[gr.ChatMessage] = ()
) -> list[gr.ChatMessage]:
    """Fold many events (e.g. a reloaded thread's history) into chat messages."""
    out = list(messages)
    for ev in events:
        out = apply_event(out, ev)
    return out


def finish_turn(messages: Sequence[gr.ChatMessage]) -> list[gr.ChatMessage]:
    """At the end of a turn nothing is still running: close leftover pending steps."""
    out = list(messages)
    _close_pending(out)
    return out


# ---------------------------------------------------------------------------------------------- approval card
def approval_markdown(payload: Mapping[str, Any] | None) -> str:
    """The approval card's text: what will run, what it costs, the estimate."""
    if not payload:
        return ""
    cost = payload.get("cost_label") or {
        "gpu": "compute time",
        "paid-llm": "paid LLM tokens",
        "cpu-minutes": "CPU minutes",
    }.get(str(payload.get("cost")), str(payload.get("cost") or ""))
    lines = [f"### ⏸ Approval needed: {payload.get('title') or payload.get('tool')}", ""]
    lines.append(f"**Will run:** `{payload.get('tool')}` · **costs:** {cost}")
    est = payload.get("estimate") or {}
    head = _estimate_line(est)
    if head:
        lines += ["", head]
    rows = [(k, v) for k, v in est.items() if not isinstance(v, dict | list) and v is not None]
    if rows:
        lines += ["", "<details><summary>full estimate</summary>", "", "| estimate | value |", "|---|---|"]
        lines += [f"| {k.replace('_', ' ')} | {_fmt_value(v)} |" for k, v in rows]
        lines += ["", "</details>"]
    settings = payload.get("settings") or {}
    shown = [(k, v) for k, v in settings.items() if v is not None]
    if shown:
        lines += ["", "**Settings that will run:**"] + [f"- {k.replace('_', ' ')}: `{_fmt_value(v)}`" for k, v in shown]
    if payload.get("message"):
        lines += ["", str(payload["message"])]
    return "\n".join(lines)


def _estimate_line(est: Mapping[str, Any]) -> str:
    """The few numbers that decide: steps, time, device, memory, data, money."""
    parts = []
    if est.get("steps") is not None:
        ep = f" ({est['epochs']} epochs)" if est.get("epochs") is not None else ""
        parts.append(f"**{est['steps']} steps**{ep}")
    minutes = est.get("minutes")
    if isinstance(minutes, int | float):
        parts.append(
            f"**~{minutes:.1f} minutes**" + (f" on **{est['device']}**" if est.get("device") else "")
        )
    if est.get("peak_memory_gb") is not None:
        parts.append(f"peak memory {_fmt_value(est['peak_memory_gb'])} GB")
    if est.get("pairs") is not None:
        parts.append(f"{est['pairs']} pairs")
    if est.get("calls") is not None:
        parts.append(f"{est['calls']} LLM calls")
    if est.get("tokens_in") is not None or est.get("tokens_out") is not None:
        parts.append(f"{est.get('tokens_in') or 0:,} tokens in / {est.get('tokens_out') or 0:,} out")
    if est.get("money") is not None:
        parts.append(f"**{_fmt_value(est['money'])} {est.get('currency') or ''}**".strip())
    return " · ".join(parts)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v).replace("|", "\\|")


def parse_setting(value: Any, shown: Any) -> Any:
    """A setting typed in the card, converted to the shown value's type; '' / None = unchanged."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(shown, bool):
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    if isinstance(shown, int) or (
        shown is None and isinstance(value, int | float) and float(value).is_integer()
    ):
        return int(float(value))
    if isinstance(shown, float):
        return float(value)
    return value.strip() if isinstance(value, str) else value


def setting_edits(shown: Mapping[str, Any], entered: Mapping[str, Any]) -> dict[str, Any]:
    """Only the settings the user changed, typed like the shown ones."""
    edits: dict[str, Any] = {}
    for k, v in entered.items():
        if k not in shown:
            continue
        new = parse_setting(v, shown[k])
        if new is not None and new != shown[k]:
            edits[k] = new
    return edits


# ---------------------------------------------------------------------------------------------- dataset + results
def excerpt(text: str | None, n: int = 160) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


DATASET_COLUMNS = ["id", "status", "query", "passage", "document", "source", "reasons"]


def pair_rows(pairs: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """Rows for the dataset table (columns: :data:`DATASET_COLUMNS`)."""
    return [
        [
            int(p["id"]),
            p.get("status") or "",
            p.get("query") or "",
            excerpt(p.get("passage")),
            p.get("document") or "",
            p.get("source") or "",
            ", ".join(p.get("reasons") or []),
        ]
        for p in pairs
    ]


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """One line of counts for the dataset tab."""
    if not summary or not summary.get("pairs"):
        return "No pairs yet. Upload documents in the Chat tab and say *fine-tune bge on this*."
    st = summary.get("status") or {}
    parts = [f"**{summary['pairs']}** pairs", f"**{summary.get('trainable', 0)}** trainable"]
    parts += [f"{k} {v}" for k, v in st.items() if v]
    reasons = summary.get("by_reason") or {}
    tail = (
        ("  ·  rejected because: " + ", ".join(f"{k} ({v})" for k, v in reasons.items())) if reasons else ""
    )
    return " · ".join(parts) + tail


def metrics_rows(metrics: Mapping[str, Mapping[str, float]]) -> list[list[Any]]:
    """[metric, base, tuned, change] rows."""
    base = metrics.get("base") or {}
    tuned = metrics.get("tuned") or {}
    names = [m for m in METRIC_ORDER if m in base or m in tuned] + [
        m for m in list(base) + list(tuned) if m not in METRIC_ORDER
    ]
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    rows = []
    for n in seen:
        b, t = base.get(n), tuned.get(n)
        delta = f"{t - b:+.4f}" if isinstance(b, int | float) and isinstance(t, int | float) else ""
        rows.append([n, _num(b), _num(t), delta])
    return rows


def _num(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, int | float) else ""


def diagnosis_markdown(result: Mapping[str, Any]) -> str:
    """A diagnosis dict as text: verdict, next step, the rest as a short list."""
    lines = []
    if result.get("verdict"):
        lines.append(f"**Verdict:** {result['verdict']}")
    if result.get("next_step"):
        lines.append(f"**Next step:** {result['next_step']}")
    for k, v in result.items():
        if k in ("verdict", "next_step") or v in (None, [], {}):
            continue
        if k in ("top", "results") and isinstance(v, list):
            lines.append(f"**{k}:**")
            for item in v[:5]:
                if isinstance(item, Mapping):
                    text = excerpt(
                        str(item.get("text") or item.get("snippet") or item.get("chunk_id") or ""), 120
                    )
                    score = item.get("score")
                    lines.append(f"- {score:.3f} · {text}" if isinstance(score, int | float) else f"- {text}")
                else:
                    lines.append(f"- {_short(item, 160)}")
            continue
        lines.append(f"- **{k}**: {_short(v, 240)}")
    return "\n".join(lines) or "No diagnosis."
