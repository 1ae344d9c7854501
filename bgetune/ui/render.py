"""Pure functions from agent session events to Gradio chat messages, and from payloads to display text.

The UI is a thin adapter: :func:`apply_event` folds one :class:`bgetune.agent.runner.AgentSession` event into a
list of ``gr.ChatMessage`` (tool calls become collapsible steps, ``metadata={"title", "status", "id"}``, whose
content is live progress, then the result). Nothing here touches a workspace, a session or a browser.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import gradio as gr

from bgetune.core.options import out_of_limits

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
    "preview_history": "Reading the question history",
    "import_history": "Importing your real questions",
    "golden_add": "Adding golden questions",
    "golden_candidates": "Finding candidate passages",
    "golden_label": "Labelling a golden question",
    "golden_list": "Listing golden questions",
    "evaluate_golden": "Scoring on your golden questions",
    "apply_fix": "Applying a fix",
    "list_misses": "Listing misses",
    "serve_model": "Starting the embeddings server",
    "compare_models": "Comparing models",
}
RESULT_CHARS = 1200
BAR_WIDTH = 20
METRIC_ORDER = ("ndcg@10", "mrr@10", "recall@10", "hit@1")


def tool_label(tool: str) -> str:
    """A human title for a tool name (``estimate train`` -> ``Estimating cost: Training``)."""
    if tool.startswith("estimate ") and tool != "estimate_training":
        return estimating_label(tool.split(" ", 1)[1])
    return TOOL_LABELS.get(tool, tool.replace("_", " ").capitalize())


def estimating_label(tool: str) -> str:
    """The row of a gated call while its cost is estimated (it does not run before the approval)."""
    return f"Estimating cost: {tool_label(tool)}"


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
    """The user's text, then one line per attached file with its name (never a bare icon)."""
    names = [os.path.basename(str(a).rstrip("/\\")) or str(a) for a in attachments]
    files = "\n".join(f"attached: **{n}**" for n in names)  # words, not an emoji a browser may lack
    text = (text or "").strip()
    return gr.ChatMessage(role="user", content=(text + "\n\n" + files if text and files else text or files))


WAITING = "**Waiting for your approval:**"  # words, not an emoji a headless browser may lack a glyph for


def approval_message(payload: Mapping[str, Any]) -> gr.ChatMessage:
    title = payload.get("title") or f"Run {payload.get('tool')}"
    return gr.ChatMessage(
        role="assistant",
        content=f"{WAITING} {title}\n\nUse the approval card below the chat to approve, "
        "edit the settings, or reject. Nothing runs until you decide.",
    )


def note_message(text: str) -> gr.ChatMessage:
    """A short notice from the UI itself (a refused upload, a failed turn), marked in words."""
    return gr.ChatMessage(role="assistant", content=f"**Note:** {text}")


def _subject(pending: Mapping[str, Any]) -> str:
    """What the approval was for, without the estimate's numbers the card may have changed
    ('Train bundled on 12 pairs: 3 epochs, 12 steps' -> 'Train bundled on 12 pairs')."""
    title = str(pending.get("title") or tool_label(str(pending.get("tool") or "")))
    return title.split(":", 1)[0].strip() or title


def decision_text(pending: Mapping[str, Any], action: str, edits: Mapping[str, Any]) -> str:
    """The user's answer to an approval, with the settings that actually run."""
    if action != "approve":
        return f"**Rejected:** {_subject(pending)} (nothing ran)."
    shown = dict(pending.get("settings") or {})
    changed = [
        f"{k}={_fmt_value(v)}" + (f" (was {_fmt_value(shown[k])})" if shown.get(k) is not None else "")
        for k, v in edits.items()
    ]
    kept = [f"{k}={_fmt_value(v)}" for k, v in shown.items() if k not in edits and v is not None]
    parts = []
    if changed:
        parts.append("with " + ", ".join(changed))
    if kept:
        parts.append(("other settings as shown: " if changed else "with ") + ", ".join(kept))
    return f"**Approved:** {_subject(pending)}" + (" " + "; ".join(parts) if parts else "") + "."


def answer_approval(
    messages: Sequence[gr.ChatMessage], pending: Mapping[str, Any], action: str, edits: Mapping[str, Any]
) -> list[gr.ChatMessage]:
    """The chat once the user answered an approval: the waiting notice goes, the step says what was decided,
    and the answer (with the settings that run) is the user's message."""
    out = [m for m in messages if not str(m.content or "").startswith(WAITING)]
    i = _find_step(out, call_id=pending.get("tool_call_id"), tool=str(pending.get("tool") or ""))
    if i is not None:
        meta = _meta(out[i])
        label = tool_label(str(meta.get("tool") or pending.get("tool") or ""))
        if action == "approve":
            meta |= {"title": label, "log": "approved", "status": "pending"}
        else:
            meta |= {"title": f"{label} (rejected)", "status": "done"}
            meta.pop("awaiting", None)
            meta.pop("log", None)
        out[i] = _replace(out[i], metadata=meta)
    out.append(gr.ChatMessage(role="user", content=decision_text(pending, action, edits)))
    return out


_REPEATABLE = 40  # shorter lines (table rows, headings, bullets of numbers) may repeat


def drop_repeats(text: str) -> str:
    """A reply without the long lines it already said (composed replies of several steps can repeat one)."""
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        key = " ".join(line.split()).lstrip(
            "!-*•> "
        )  # the same sentence as a warning or a bullet is a repeat
        if len(key) >= _REPEATABLE and not line.lstrip().startswith("|"):
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return "\n".join(out)


Handler = Callable[[list[gr.ChatMessage], Mapping[str, Any], str, Collection[str]], None]


def apply_event(
    messages: Sequence[gr.ChatMessage], event: Mapping[str, Any], gated: Collection[str] = ()
) -> list[gr.ChatMessage]:
    """The chat after one session event (a new list; the input is not changed). ``gated``: tools that stop for
    an approval, whose step says it is estimating (not running) until the user approves."""
    out = list(messages)
    handler = _HANDLERS.get(str(event.get("type")))
    if handler is not None:
        handler(out, event, str(event.get("tool") or ""), gated)
    return out


def _on_user(out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]) -> None:
    out.append(user_message(str(ev.get("content") or ""), ev.get("attachments") or ()))


def _on_message(out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]) -> None:
    text = drop_repeats(str(ev.get("content") or "").strip())
    if text:
        out.append(gr.ChatMessage(role="assistant", content=text))


def _on_tool_call(
    out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]
) -> None:
    step = step_message(tool, call_id=ev.get("id"), content=format_args(ev.get("args")))
    if tool in gated:  # the approval gate estimates first: nothing runs yet
        step = _replace(step, metadata=_meta(step) | {"title": estimating_label(tool), "estimating": True})
    out.append(step)


def _on_tool_start(
    out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]
) -> None:
    i = _find_step(out, tool=tool)
    if i is None:
        out.append(step_message(tool, content=format_args(ev.get("args"))))
    else:
        out[i] = _replace(out[i], metadata=_running(_meta(out[i])))


def _on_progress(out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]) -> None:
    i = None
    if tool.startswith("estimate "):  # the estimate of an announced gated call shows in that call's row
        j = _find_step(out, tool=tool.split(" ", 1)[1])
        i = j if j is not None and _meta(out[j]).get("estimating") else None
    i = _find_step(out, tool=tool) if i is None else i
    if i is None:
        out.append(step_message(tool))
        i = len(out) - 1
    meta = _meta(out[i])
    meta = meta if meta.get("estimating") else _running(meta)
    args = meta.get("args_text")
    if args is None:
        args = str(out[i].content or "")
        meta["args_text"] = args
    bar = progress_bar(int(ev.get("done") or 0), int(ev.get("total") or 0), str(ev.get("label") or ""))
    meta["log"] = bar
    out[i] = _replace(out[i], content=(args + "\n\n" if args else "") + bar, metadata=meta)


def _on_tool_end(out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]) -> None:
    i = _find_step(out, tool=tool)
    if i is not None and ev.get("ok") is False:
        out[i] = _replace(out[i], metadata=_meta(out[i]) | {"title": "✗ " + tool_label(tool)})
    _close_estimates(out)


def _on_tool_result(
    out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]
) -> None:
    i = _find_step(out, call_id=ev.get("id"), tool=tool)
    ok = bool(ev.get("ok", True))
    body = format_result(str(ev.get("content") or ""))
    if i is None:
        out.append(step_message(tool, call_id=ev.get("id")))
        i = len(out) - 1
    meta = _meta(out[i])
    args = meta.pop("args_text", None)
    if args is None:
        args = str(out[i].content or "").split("\n\n", 1)[0]
        args = "" if "░" in args or "█" in args else args
    for key in ("log", "awaiting", "estimating"):
        meta.pop(key, None)
    meta["status"] = "done"
    meta["title"] = ("" if ok else "✗ ") + tool_label(tool).lstrip("✗ ")
    out[i] = _replace(out[i], content=(args + "\n\n" if args else "") + body, metadata=meta)
    _close_estimates(out)
    if ok:  # plots the tool made (histograms, before/after, loss) show inline, after its step
        out += [image_message(p) for p in image_paths(ev.get("content")) if os.path.isfile(p)]


def _on_approval(out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]) -> None:
    _close_estimates(out)
    i = _find_step(out, call_id=ev.get("tool_call_id"), tool=tool)
    if i is not None:
        meta = _meta(out[i]) | {"awaiting": True, "title": f"{tool_label(tool)}: waiting for your approval"}
        meta.pop("status", None)
        meta.pop("log", None)
        meta.pop("estimating", None)
        out[i] = _replace(out[i], metadata=meta)
    out.append(approval_message(ev))


def _on_error(out: list[gr.ChatMessage], ev: Mapping[str, Any], tool: str, gated: Collection[str]) -> None:
    _close_pending(out)
    out.append(gr.ChatMessage(role="assistant", content=f"**Error:** {ev.get('content')}"))


_HANDLERS: dict[str, Handler] = {
    "user": _on_user,
    "message": _on_message,
    "tool_call": _on_tool_call,
    "tool_start": _on_tool_start,
    "progress": _on_progress,
    "tool_end": _on_tool_end,
    "tool_result": _on_tool_result,
    "approval": _on_approval,
    "error": _on_error,
}


def _running(meta: dict[str, Any]) -> dict[str, Any]:
    """A step that starts running (after estimating and waiting for approval, if it did)."""
    if meta.pop("awaiting", None):
        meta.pop("log", None)
    meta.pop("estimating", None)
    if meta.get("tool") and not str(meta.get("title", "")).startswith("✗"):
        meta["title"] = tool_label(str(meta["tool"]))
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
    events: Iterable[Mapping[str, Any]], messages: Sequence[gr.ChatMessage] = (), gated: Collection[str] = ()
) -> list[gr.ChatMessage]:
    """Fold many events (e.g. a reloaded thread's history) into chat messages."""
    out = list(messages)
    for ev in events:
        out = apply_event(out, ev, gated)
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
    lines = [f"### Approval needed: {payload.get('title') or payload.get('tool')}", ""]
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
        lines += ["", "**Settings that will run:**"] + [
            f"- {k.replace('_', ' ')}: `{_fmt_value(v)}`" for k, v in shown
        ]
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


# ---------------------------------------------------------------------------------------------- settings fields
def setting_kind(entry: Mapping[str, Any]) -> str:
    """How a settings-card entry (``surfaces.settings_card``) is edited: choice | bool | int | float | list | str."""
    if entry.get("choices"):
        return "choice"
    t = str(entry.get("type") or "")
    if "bool" in t:
        return "bool"
    if "list" in t:
        return "list"
    if re.search(r"\bint\b", t):
        return "int"
    if "float" in t:
        return "float"
    return "str"


def setting_label(entry: Mapping[str, Any]) -> str:
    """``max steps (≥ 1)``, ``epochs (1–100)``: the name in words and its limits."""
    name = str(entry["name"]).replace("_", " ")
    lo, hi = entry.get("min"), entry.get("max")
    if lo is not None and hi is not None:
        return f"{name} ({_fmt_limit(lo)}–{_fmt_limit(hi)})"
    if lo is not None:
        return f"{name} (≥ {_fmt_limit(lo)})"
    if hi is not None:
        return f"{name} (≤ {_fmt_limit(hi)})"
    return name


def _fmt_limit(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def display_setting(entry: Mapping[str, Any], value: Any) -> Any:
    """A setting's value as its field shows it (floats and lists as text)."""
    kind = setting_kind(entry)
    if value is None:
        return False if kind == "bool" else None
    if kind == "float":
        return f"{value:g}" if isinstance(value, int | float) else str(value)
    if kind == "list" and isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if kind == "choice":  # a value that is not a choice (a summary put in its place) shows as unset
        return str(value) if str(value) in {str(c) for c in entry.get("choices") or ()} else None
    return value


def typed_setting(entry: Mapping[str, Any], value: Any) -> Any:
    """A value typed in a settings field, as the setting's type; None when left empty. ValueError names the
    setting, the limits and what was typed."""
    kind = setting_kind(entry)
    name = str(entry["name"])
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if kind == "bool":
            out: Any = (
                value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            )
        elif kind == "int":
            out = int(float(value))
        elif kind == "float":
            out = float(str(value).strip())
        elif kind == "list":
            out = (
                value if isinstance(value, list) else [p.strip() for p in str(value).split(",") if p.strip()]
            )
        elif kind == "choice":
            choices = list(entry.get("choices") or [])
            out = next((c for c in choices if str(c) == str(value).strip()), None)
            if out is None:
                raise ValueError(f"one of {', '.join(map(str, choices))}")
        else:
            out = str(value).strip()
    except (TypeError, ValueError) as exc:
        want = {"int": "a whole number", "float": "a number"}.get(kind, str(exc) or kind)
        raise ValueError(f"{name} must be {want}; got {value!r}") from exc
    bad = out_of_limits(out, entry.get("min"), entry.get("max"))
    if bad:
        raise ValueError(f"{name} must be {bad[0]} {_fmt_limit(bad[1])}; got {value!r}")
    return out


def card_edits(
    entries: Sequence[Mapping[str, Any]], shown: Mapping[str, Any], values: Sequence[Any]
) -> dict[str, Any]:
    """The settings changed on a card: fields of ``entries`` (in order, one value each) that were shown, whose
    typed value differs from the shown one. A cleared field is no change."""
    edits: dict[str, Any] = {}
    for entry, raw in zip(entries, values, strict=True):
        name = entry["name"]
        if name not in shown:
            continue
        new = typed_setting(entry, raw)
        old = shown[name]
        if new is None or (setting_kind(entry) == "bool" and bool(new) == bool(old)):
            continue
        if (
            isinstance(new, float)
            and isinstance(old, int | float)
            and abs(new - old) <= 1e-12 * max(1, abs(old))
        ):
            continue
        if new != old and str(new) != str(old):
            edits[name] = new
    return edits


# ---------------------------------------------------------------------------------------------- images in the chat
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg")
_QUOTED_IMAGE = re.compile(r'"((?:[^"\\]|\\.)+\.(?:png|jpe?g|webp|gif|svg))"', re.IGNORECASE)


def image_paths(content: Any) -> list[str]:
    """Image file paths named anywhere in a tool result (JSON text or data), in order, without repeats."""
    data = content
    if isinstance(content, str):
        try:
            data = json.loads(content)
        except ValueError:  # a result cut to the tool-message limit: the quoted paths still name the images
            data = [json.loads(f'"{m}"') for m in _QUOTED_IMAGE.findall(content)]
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if v.lower().endswith(IMAGE_SUFFIXES) and ("/" in v or "\\" in v) and v not in found:
                found.append(v)
        elif isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(data)
    return found


def image_message(path: str) -> gr.ChatMessage:
    return gr.ChatMessage(role="assistant", content={"path": path, "alt_text": os.path.basename(path)})


# ---------------------------------------------------------------------------------------------- golden questions
GOLDEN_COLUMNS = ["id", "status", "question", "right passages"]
GOLDEN_MARKS = {"labeled": "✓ labeled", "unanswerable": "∅ none", "unlabeled": "? to label"}


def candidate_choices(candidates: Iterable[Any], width: int = 240) -> list[tuple[str, int]]:
    """CheckboxGroup choices for golden candidates: ``(label, number)``; the label says which list found it
    (the base model's, BM25's or both), where it is, and its text."""
    out = []
    for c in candidates:
        src = " · ".join(
            s
            for s in (
                f"model #{c.dense_rank}" if c.dense_rank else "",
                f"BM25 #{c.bm25_rank}" if c.bm25_rank else "",
            )
            if s
        )
        where = " › ".join(x for x in (c.document, c.heading) if x)
        out.append((f"[{c.number}] {src} — {where}: {excerpt(c.text, width)}", int(c.number)))
    return out


def golden_question_markdown(question: Any, counts: Any) -> str:
    """The question being labelled (or that none is left) and the counts."""
    tally = (
        f"{counts.labeled} labeled · {counts.unanswerable} unanswerable · {counts.unlabeled} to label "
        f"(of {counts.total})"
    )
    if question is None:
        if not counts.total:
            return (
                "No golden questions yet: paste your team's real questions above, one per line.\n\n" + tally
            )
        return "✓ Every question is labeled.\n\n" + tally
    return (
        f"### Question #{question.id}\n**{question.query}**\n\nTick the passages that answer it "
        f"(model = the base model's rank, BM25 = keyword rank), or say none of them does.\n\n{tally}"
    )


def golden_rows(questions: Iterable[Any]) -> list[list[Any]]:
    return [[q.id, GOLDEN_MARKS.get(q.status, q.status), q.query, ", ".join(q.pos_ids)] for q in questions]


# ---------------------------------------------------------------------------------------------- diagnosis
DIAG_COLUMNS = ["#", "score", "p", "pass", "document", "page", "passage"]


def ranking_rows(ranking: Any, width: int = 110) -> list[list[Any]]:
    """A model's ranked results as table rows; the expected answer is starred."""
    if ranking is None:
        return []
    rows = []
    for r in ranking.results:
        p = "" if r.probability is None else f"{r.probability:.2f}"
        ok = "" if r.passes is None else ("✓ pass" if r.passes else "✗ fail")
        body = " ".join(r.text.split())
        title = (r.title or "").strip()
        text = excerpt(body if not title or body.startswith(title) else f"{title} — {body}", width)
        rows.append(
            [r.rank, f"{r.score:.3f}", p, ok, r.document, r.page or "", ("★ " if r.expected else "") + text]
        )
    return rows


def ranking_label(ranking: Any, name: str) -> str:
    if ranking is None:
        return f"{name}: none yet (train a model to compare)"
    thr = f", threshold {ranking.threshold:.3f}" if ranking.threshold is not None else ", no threshold yet"
    return f"{name} `{os.path.basename(str(ranking.spec).rstrip('/')) or ranking.spec}`{thr}"


def expected_markdown(d: Any) -> str:
    """Where the expected answer ranks with each model (or that none was given / found)."""
    e = d.expected
    if e is None:
        return "Expected answer: not given — type it, or click the right row in a result list."
    if not e.chunk_ids:
        return f"Expected answer: **not found** in the workspace (best term coverage {e.coverage:.0%})."
    where = f"{e.document} p.{e.page}" if e.page else (e.document or "")
    parts = []
    for m in (d.base, d.tuned):
        if m is None:
            continue
        if m.expected_rank is None:
            parts.append(f"{m.model}: not in the top {len(m.results)}")
            continue
        p = f", p={m.expected_probability:.2f}" if m.expected_probability is not None else ""
        parts.append(f"{m.model}: **rank {m.expected_rank}** (score {m.expected_score:.3f}{p})")
    title = excerpt(e.title or e.text or "", 80)
    return f"Expected answer: {where}" + (f" “{title}”" if title else "") + " — " + "; ".join(parts)


def diagnosis_head(d: Any, lang: str = "en") -> str:
    """Verdict, expected answer's rank and the evidence, above the two result lists."""
    lines = [f"**Verdict:** {d.verdict_in(lang)}", "", expected_markdown(d)]
    if d.tuned is None:
        lines += [
            "",
            "No tuned model yet: the base model's results only (train one to compare side by side).",
        ]
    ev = d.evidence(lang)
    if ev:
        lines += (
            ["", "<details><summary>evidence</summary>", ""] + [f"- {x}" for x in ev] + ["", "</details>"]
        )
    if d.miss_id is not None:
        lines += ["", f"Stored as miss #{d.miss_id}." + (" Fix it with a button below." if d.actions else "")]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- history import
PREVIEW_COLUMNS = ["field", "column"]


def preview_rows(preview: Any) -> list[list[str]]:
    """Detected column mapping (field -> header) of a history preview, then the unused headers."""
    rows = [[k, v] for k, v in preview.columns.items()]
    rows += [["(not used)", h] for h in preview.unmapped]
    return rows


def preview_markdown(preview: Any) -> str:
    head = (
        f"**{os.path.basename(preview.file)}** ({preview.format}): {preview.rows} rows, "
        f"{preview.questions} distinct questions."
    )
    lines = [head, ""] + [f"- {p}" for p in preview.plan] + [f"- **warning:** {w}" for w in preview.warnings]
    if preview.bad_rows:
        lines.append(f"- {len(preview.bad_rows)} row(s) cannot be used, e.g. row {preview.bad_rows[0]['row']}: "
                     f"{preview.bad_rows[0]['reason']}")  # fmt: skip
    lines += ["", "Check the columns, change one if it is wrong, then **Confirm import**."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- serving
SNIPPET_LANGS = {"tei": "bash", "vllm": "bash", "infinity": "bash", "dify": "text"}


def snippets_markdown(snippets: Mapping[str, str], model_dir: str, url: str | None = None) -> str:
    """The model folder and copy-paste snippets, one fenced block per client."""
    head = f"Model folder: `{model_dir}`" + (f" · serving at **{url}/v1** (OpenAI-compatible)" if url else "")
    parts = [head]
    for key, code in snippets.items():
        lang = SNIPPET_LANGS.get(key, "python")
        parts += [f"**{key}**", f"```{lang}\n{code.rstrip()}\n```"]
    return "\n\n".join(parts)


def local_usage(folder: str) -> str:
    """How to load the shipped model in-process (the server button adds the HTTP clients)."""
    code = f"from sentence_transformers import SentenceTransformer\n\nmodel = SentenceTransformer({str(folder)!r})\n"
    code += 'vectors = model.encode(["your text"])'
    return snippets_markdown({"sentence-transformers": code}, folder)


def kept_base_usage(decision: Mapping[str, Any]) -> str:
    """What to use when the ship decision kept the base model (nothing new was exported)."""
    first = str(decision.get("text") or "").split("\n", 1)[0]
    return (
        "**The base model was kept**, so there is no new model to use: keep using the base model. "
        + (first + " " if first else "")
        + "Tick “export even if the base model was kept” below to export the tuned weights anyway."
    )


# ---------------------------------------------------------------------------------------------- results tab
def _trained_line(train: Mapping[str, Any], run_id: str | None) -> str:
    """The training run, and which model came out of it: shipped, or the base kept (its weights not exported)."""
    head = f"**Trained:** run `{run_id}`, {train.get('steps', '?')} steps"
    decision = train.get("decision") if isinstance(train.get("decision"), Mapping) else None
    if decision is None:
        return f"{head} → `{train.get('model_dir', '')}`"
    said = str(decision.get("text") or "").split("\n", 1)[0]
    if decision.get("ship") or decision.get("forced"):
        return f"{head}. **Shipped:** {decision.get('shipped') or decision.get('best')} → `{train.get('model_dir', '')}`. {said}"
    return (
        f"{head}. **The base model was kept:** the tuned weights did not beat it on the evidence, so nothing new "
        f"is exported (the tuned weights stay in `{train.get('model_dir', '')}`). {said}"
    )


def results_view(
    train: Mapping[str, Any],
    ev: Mapping[str, Any],
    *,
    run_id: str | None,
    calibration: Mapping[str, Any] | None,
    plots: Mapping[str, str],
) -> dict[str, Any]:
    """What the Results tab shows (summary, metrics rows, plot paths) from the last runs' results."""
    lines = [_trained_line(train, run_id)] if run_id else []
    metrics: list[list[Any]] = []
    if ev:
        metrics = metrics_rows(ev.get("metrics") or {})
        lines.append(
            f"**Evaluated** on {ev.get('queries', '?')} held-out queries ({ev.get('split', 'test')} split), "
            f"base model `{ev.get('base_model', '')}`."
        )
        ci = ev.get("ci") or {}
        if ci:
            lines.append(
                f"nDCG@10 change {ci.get('diff', 0):+.4f} (95% CI {ci.get('low', 0):+.4f} … {ci.get('high', 0):+.4f})."
            )
    if calibration:
        thr, prec = calibration.get("threshold_f1"), calibration.get("threshold_precision")
        prec_s = f"{prec:.3f}" if isinstance(prec, int | float) else "not reachable on this data"
        lines.append(
            f"**Threshold** (max F1): {thr or 0:.3f}; for precision {calibration.get('precision_target', '')}: {prec_s}."
        )
    elif ev:
        lines.append(
            "Click **Calibrate threshold** to compute the score histograms and the relevance threshold."
        )
    if not lines:
        lines.append("No results yet: train a model from the Chat tab (say *train*), then come back here.")
    return {"summary": "\n\n".join(lines), "metrics": metrics} | {
        k: plots.get(k) for k in ("hist", "bars", "loss")
    }
