"""The approval gate: costly tool calls (gpu, paid-llm) stop here until the user answers.

``prepare_approval`` builds the payload (what will run, editable settings, estimate, cost) before the interrupt;
``decide`` reads the resume value. Approval can only come from that resume value: a dict
``{"action": "approve", "settings": {...}}``. Anything else — a missing value, model output, tool arguments,
document text — counts as "not approved".
"""

from __future__ import annotations

from typing import Any

from bgetune.agent.registry import ToolContext, ToolError, ToolSpec
from bgetune.core.i18n import say

APPROVE = "approve"


def prepare_approval(spec: ToolSpec, ctx: ToolContext, args: Any, call: dict[str, Any]) -> dict[str, Any]:
    """The interrupt payload of the approval contract (docs/CONTRACTS.md). Reads only; runs nothing."""
    estimate = spec.estimate(ctx, args) if spec.estimate else {}
    editable = spec.editable(ctx, args, estimate) if spec.editable else {}
    title = spec.title(ctx, args, estimate) if spec.title else f"Run {spec.name}"
    cost = spec.cost_for(ctx.settings, args)
    label = cost_label(cost, estimate)
    return {
        "type": "approval",
        "tool": spec.name,
        "tool_call_id": call["id"],
        "title": title,
        "cost": cost,
        "cost_label": label,
        "settings": editable,
        "args": dict(call.get("args") or {}),
        "estimate": estimate,
        "message": (
            f"{title}. This uses {label}. Approve to run it, approve with edited settings, or reject to stop "
            "(nothing runs until you approve)."
        ),
    }


def cost_label(cost: str, estimate: dict[str, Any]) -> str:
    """What a gated call really spends, in words: the device it runs on, the time, the tokens and money."""
    if cost == "gpu":
        device = str(estimate.get("device") or "this machine")
        minutes = estimate.get("minutes")
        kind = (
            "GPU time" if device.startswith("cuda") or device.startswith("mps") else "CPU time (no GPU here)"
        )
        when = f"about {minutes:.1f} min of " if isinstance(minutes, int | float) else ""
        return f"{when}{kind} on {device}"
    if cost == "paid-llm":
        money = estimate.get("money")
        calls = estimate.get("calls")
        parts = [f"{calls} LLM calls" if calls is not None else "LLM calls"]
        if estimate.get("tokens_in") is not None:
            parts.append(f"~{estimate.get('tokens_in')} tokens in, ~{estimate.get('tokens_out')} out")
        if isinstance(money, int | float):
            parts.append(f"about {money:.4g} {estimate.get('currency') or ''}".rstrip())
        return "paid LLM tokens: " + ", ".join(parts)
    return cost


def decide(value: Any) -> tuple[str, dict[str, Any]]:
    """(action, edits) from a resume value; only an explicit ``{"action": "approve"}`` approves."""
    if not isinstance(value, dict):
        return "reject", {}
    action = str(value.get("action", "")).strip().lower()
    edits = value.get("settings") or {}
    if action != APPROVE:
        return "reject", {}
    return APPROVE, edits if isinstance(edits, dict) else {}


def approved_args(spec: ToolSpec, pending: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """The arguments that will run: the call's, the settings shown (so what was approved is what runs), the edits.

    Only keys shown as editable settings may be edited; raises ToolError on invalid values."""
    shown = pending.get("settings") or {}
    unknown = sorted(set(edits) - set(shown))
    if unknown:
        raise ToolError(
            f"cannot edit {', '.join(unknown)} here; editable settings: {', '.join(shown) or 'none'}"
        )
    args = dict(pending.get("args") or {})
    args.update({k: v for k, v in shown.items() if v is not None})
    args.update({k: v for k, v in edits.items() if v not in (None, "")})
    spec.parse(args)  # validate now: a bad edit is reported, not run
    return args


def reject_reply(tool: str, lang: str) -> str:
    """A helpful answer after the user said no: nothing ran, and what they can do next."""
    if tool == "train":
        return say(
            lang,
            'OK — training was not started; nothing ran. You can change settings ("epochs 1", "max steps 50", '
            '"batch size 16", "use bge-m3"), review the data again ("show pairs"), ask "what does training '
            'cost?", or say "train" when you are ready.',
            "好的，训练没有开始，什么都没运行。你可以修改设置（“训练1轮”、“最多 50 步”、“batch size 16”、“用 bge-m3”），"
            "再看看数据（“看看数据”），问“训练要多久？”，准备好了再说“开始训练”。",
        )
    if tool == "generate_pairs":
        return say(
            lang,
            'OK — no LLM calls were made. You can generate with the free offline generator ("generate offline"), '
            "or approve again with fewer chunks (edit max_chunks).",
            "好的，没有调用 LLM。你可以用免费的离线生成器（“离线生成”），或减少分块数（修改 max_chunks）后再批准。",
        )
    return say(
        lang,
        f'OK — {tool} did not run. Tell me what to change, or say "help".',
        f"好的，{tool} 没有运行。告诉我要改什么，或说“帮助”。",
    )
