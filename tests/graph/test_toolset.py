"""An LLM call is offered the tools its message and stage make relevant, not all of them (a 15,131-token request
for "Show the workspace status." before), and a tool it is not offered still runs when called by name."""

from __future__ import annotations

from langchain_core.messages import SystemMessage

from bgetune.agent.registry import REGISTRY, tool_schemas
from bgetune.agent.runner import AgentSession
from bgetune.agent.toolset import relevant_tools, schema_chars
from bgetune.core.config import Settings
from tests.graph.conftest import call, drain

HEAVY = {"train", "estimate_training", "import_history", "preview_history", "serve_model", "generate_pairs"}


def session(ws, model):
    return AgentSession(ws, Settings(workspace=ws), "t", model=model)


def test_a_status_question_binds_a_few_small_tools_and_names_the_rest(tmp_path, scripted):
    fake = scripted(call("status"), "Nothing ingested yet.")
    with session(tmp_path / "ws", fake) as s:
        ev = drain(s.send("Show the workspace status."))
    assert [e["tool"] for e in ev if e["type"] == "tool_result"] == ["status"]
    first = fake.offered[0]
    assert "status" in first and not HEAVY & set(first), first
    everything = schema_chars(tool_schemas(Settings()))
    assert len(REGISTRY) > 3 * len(first) and schema_chars(tool_schemas(Settings(), first)) * 10 < everything
    system = fake.prompts[0][0]
    assert isinstance(system, SystemMessage) and "Other tools" in system.content
    assert all(n in system.content for n in REGISTRY if n not in first)  # every other tool is named


def test_a_tool_not_offered_still_runs_by_name_and_stays_offered_in_its_turn(tmp_path, scripted):
    fake = scripted(call("base_model_info"), call("status"), "done")
    with session(tmp_path / "ws", fake) as s:
        ev = drain(s.send("Show the workspace status."))
    results = [(e["tool"], e["ok"]) for e in ev if e["type"] == "tool_result"]
    assert results == [("base_model_info", True), ("status", True)]
    assert "base_model_info" not in fake.offered[0] and "base_model_info" in fake.offered[1]


def test_training_binds_train_with_its_estimate_once_pairs_are_approved(reviewed_ws, scripted):
    fake = scripted(call("estimate_training"), "About a minute.")
    with session(reviewed_ws, fake) as s:
        drain(s.send("what would training cost?"))
        offered = fake.offered[0]
    assert {"train", "estimate_training", "split_dataset"} <= set(offered)  # approved, not split yet
    assert "import_history" not in offered


def test_the_message_picks_its_tools_in_both_languages(tmp_path):
    from bgetune.core.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    stages: dict = {}
    assert "preview_history" in relevant_tools("import my search logs from logs.csv", ws, stages)
    assert "preview_history" in relevant_tools("导入历史问答 logs.csv", ws, stages)
    assert "diagnose" in relevant_tools("why does 'how do I pin a package' miss?", ws, stages)
    assert "train" not in relevant_tools("show the dataset", ws, stages)


def test_a_factual_question_reaches_the_llm_with_bgetunes_own_answer(tmp_path, scripted):
    fake = scripted("Your data stays here.", "Status shown.")
    with session(tmp_path / "ws", fake) as s:
        drain(s.send("is my data sent anywhere?"))
        drain(s.send("数据会上传吗？"))
    first, second = fake.prompts[0][0].content, fake.prompts[1][0].content
    assert "bgetune's own answer" in first and "stay in the workspace folder on this machine" in first
    assert "BGETUNE_LLM_BASE_URL" in first  # an LLM is configured here: it says what is sent to it
    assert "你的文档、问答对和模型都保存在本机" in second


def test_an_action_request_gets_no_grounding_line(tmp_path, scripted):
    fake = scripted(call("status"), "done")
    with session(tmp_path / "ws", fake) as s:
        drain(s.send("Show the workspace status."))
    assert all("bgetune's own answer" not in p[0].content for p in fake.prompts)
