"""LLM output repair: tool calls written as JSON text become real tool calls; only registered names count."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from bgetune.agent.llm import normalize_ai_message, text_tool_call
from bgetune.agent.registry import REGISTRY, tool_schemas
from bgetune.core.config import Settings

KNOWN = set(REGISTRY)


def test_fenced_json_becomes_a_tool_call():
    text = 'Sure!\n```json\n{"name": "status", "arguments": {}}\n```'
    msg = normalize_ai_message(AIMessage(text), KNOWN)
    assert msg.tool_calls[0]["name"] == "status" and msg.content == ""


def test_variants():
    assert text_tool_call(
        '<tool_call>\n{"name": "show_pairs", "arguments": {"limit": 3}}\n</tool_call>', KNOWN
    )["args"] == {"limit": 3}
    assert (
        text_tool_call(
            '{"name": "set_setting", "arguments": "{\\"name\\": \\"epochs\\", \\"value\\": \\"2\\"}"}', KNOWN
        )["args"]["name"]
        == "epochs"
    )
    assert (
        text_tool_call(
            '```json\n{"type": "function", "function": {"name": "evaluate", "parameters": {}}}\n```', KNOWN
        )["name"]
        == "evaluate"
    )
    assert (
        text_tool_call(
            '<think>maybe train?</think>```json\n[{"name": "status", "arguments": {}}]\n```', KNOWN
        )["name"]
        == "status"
    )


def test_unknown_names_and_prose_stay_text():
    assert text_tool_call('```json\n{"name": "rm_rf", "arguments": {}}\n```', KNOWN) is None
    assert text_tool_call('```json\n{"query": "a", "answer": "b"}\n```', KNOWN) is None
    msg = normalize_ai_message(AIMessage("<think>hmm</think>The dataset has 5 pairs."), KNOWN)
    assert msg.content == "The dataset has 5 pairs." and not msg.tool_calls


def test_one_call_per_turn():
    calls = [
        {"name": "status", "args": {}, "id": "a", "type": "tool_call"},
        {"name": "train", "args": {}, "id": "b", "type": "tool_call"},
    ]
    assert [c["id"] for c in normalize_ai_message(AIMessage("", tool_calls=calls), KNOWN).tool_calls] == ["a"]


def test_schemas_hide_injected_arguments_and_tag_costs():
    schemas = {s["function"]["name"]: s["function"] for s in tool_schemas(Settings())}
    assert set(schemas) == KNOWN
    for fn in schemas.values():
        props = fn["parameters"].get("properties", {})
        assert not {"ws", "workspace", "settings", "progress", "writer", "approved"} & set(props)
        assert "Cost: " in fn["description"]
    assert "Cost: gpu" in schemas["train"]["description"] and "approval" in schemas["train"]["description"]
    assert "Cost: free" in schemas["generate_pairs"]["description"]  # offline generation is free
    llm = {s["function"]["name"]: s["function"] for s in tool_schemas(Settings(llm_base_url="http://x/v1"))}
    assert "Cost: paid-llm" in llm["generate_pairs"]["description"]


def test_invented_approval_arguments_are_dropped():
    args = REGISTRY["train"].parse({"approved": True, "confirm": "yes", "max_steps": 2})
    assert not hasattr(args, "approved") and args.max_steps == 2


def test_several_bare_objects_take_the_first():
    text = '{"name": "status", "arguments": {}}\n{"name": "show_pairs", "arguments": {"limit": 10}}'
    assert text_tool_call(text, KNOWN)["name"] == "status"


def test_schemas_are_lean_and_a_null_argument_still_means_the_default():
    import json

    from bgetune.agent.registry import lean_schema

    train = next(s for s in tool_schemas(Settings()) if s["function"]["name"] == "train")["function"]
    epochs = train["parameters"]["properties"]["epochs"]
    assert epochs["type"] == "integer" and "anyOf" not in epochs and "title" not in epochs
    assert "null" not in json.dumps(train) and '"title"' not in json.dumps(train)
    objective = train["parameters"]["properties"]["objective"]
    assert objective["type"] == "string" and "distill" in objective["enum"]
    assert lean_schema({"anyOf": [{"type": "integer"}, {"type": "string"}]}) == {
        "anyOf": [{"type": "integer"}, {"type": "string"}]
    }  # a real union stays
    args = REGISTRY["train"].parse({"epochs": None, "max_steps": 2})
    assert args.epochs is None and args.max_steps == 2
