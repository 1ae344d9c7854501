"""The agent's chat model: ChatOpenAI against any OpenAI-compatible server, tools bound, thinking off, and a
repair step for servers (small local models) that answer a tool call as JSON text."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from bgetune.core.config import Settings

_FENCED = re.compile(r"```(?:json|JSON|tool_call|javascript)?\s*\n?(.*?)```", re.S)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)


def make_agent_model(settings: Settings) -> BaseChatModel:
    """ChatOpenAI for the agent: deterministic, Chat Completions API, provider thinking turned off."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model_name,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or "not-needed",
        temperature=0,
        max_tokens=1024,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries or 2,
        use_responses_api=False,
        # Qwen3 / vLLM / llama.cpp honour this; other servers ignore unknown template kwargs.
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )


def bind_agent_tools(model: Any, tools: list[dict[str, Any]]) -> Runnable:
    """Bind the registry's tool schemas, one call per turn (falls back where a model has no such option)."""
    try:
        return model.bind_tools(tools, parallel_tool_calls=False)
    except TypeError:  # a model class without parallel_tool_calls
        return model.bind_tools(tools)


def _candidates(text: str) -> list[str]:
    out = [m.group(1).strip() for m in _FENCED.finditer(text)]
    out += [m.group(1).strip() for m in _TAGGED.finditer(text)]
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        out.append(stripped)
        try:  # several objects, one per line, or prose after the first: keep the first complete value
            value, _ = json.JSONDecoder().raw_decode(stripped)
            out.append(json.dumps(value))
        except json.JSONDecodeError:
            pass
    return out


def _as_call(obj: Any, known: set[str]) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name") or obj.get("tool") or obj.get("tool_name")
    if name not in known:
        return None
    args = obj.get("arguments", obj.get("args", obj.get("parameters", {})))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


def text_tool_call(text: str, known: set[str]) -> dict[str, Any] | None:
    """A tool call written as JSON text (fenced, <tool_call>-tagged or bare) naming a registered tool, else None."""
    text = _THINK.sub("", text or "")
    for cand in _candidates(text):
        try:
            obj = json.loads(cand)
        except json.JSONDecodeError:
            continue
        for item in obj if isinstance(obj, list) else [obj]:
            call = _as_call(item, known)
            if call:
                return call
    return None


def normalize_ai_message(msg: AIMessage, known: set[str]) -> AIMessage:
    """One tool call at most; a text-encoded tool call becomes a real one; thinking blocks are dropped."""
    content = (
        msg.content
        if isinstance(msg.content, str)
        else "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in msg.content)
    )
    calls = [c for c in (msg.tool_calls or []) if c.get("name") in known]
    if msg.tool_calls and not calls:  # only unknown tools: tell the model instead of failing silently
        calls = msg.tool_calls[:1]
    if not calls:
        call = text_tool_call(content, known)
        if call:
            return AIMessage(content="", tool_calls=[call], id=msg.id)
    clean = _THINK.sub("", content).strip()
    return AIMessage(content=clean, tool_calls=calls[:1], id=msg.id, response_metadata=msg.response_metadata)
