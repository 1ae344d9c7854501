"""One definition per capability: every declared capability reaches every surface, and costs are gated on each.

Lives beside the reliability fixtures (the loopback LLM fault server counts the calls a gate must prevent).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgetune.capabilities import Capability, setting, settings_of, table
from tests.graph.conftest import trained_stages

# An utterance a user would type for each capability (en, zh where the planner has one). A capability missing
# here fails the coverage test: a new capability must be reachable from the offline chat.
UTTERANCES: dict[str, list[str]] = {
    "ingest": ["load these files"],
    "generate_pairs": ["generate pairs", "生成问答对"],
    "filter_pairs": ["filter the pairs"],
    "approve_all_pairs": ["approve all", "全部通过"],
    "split_dataset": ["split the data"],
    "mine_negatives": ["mine hard negatives", "挖掘难负例"],
    "train": ["train", "开始训练"],
    "evaluate": ["evaluate", "评估一下"],
    "calibrate": ["calibrate the threshold", "校准"],
    "export_model": ["export", "导出模型"],
    "status": ["status", "进度"],
    "show_dataset": ["show the dataset summary"],
    "show_pairs": ["show 30 pairs", "show rejected pairs", "看看数据"],
    "approve_pairs": ["approve 3 5"],
    "reject_pairs": ["reject 4"],
    "edit_pair": ["edit 7: how do I restore a backup"],
    "estimate_training": ["what does training cost?", "训练要多久？"],
    "score": ["score 'how to install R' against 'R is installed with apt'"],
    "export_data": ["export the training data as jsonl", "导出训练数据"],
    "forgetting_guard": ["check forgetting", "检查遗忘"],
    "compare_models": ["compare bundled and bge-m3", "比较 bundled 和 bge-m3"],
    "set_setting": ["epochs 2", "学习率 1e-5"],
    "base_model_info": ["which base model will you use?"],
    "show_results": ["how good is it now?"],
    "golden_add": ["golden questions:\nhow do I install packages?\nwhere is the config file?"],
    "golden_candidates": ["label golden questions"],
    "golden_label": ["1 3"],
    "golden_list": ["list golden questions"],
    "golden_edit": ["rename golden question 2: how do I install R packages?"],
    "evaluate_golden": ["evaluate on the golden questions"],
    "ship_decision": ["which model will you ship?"],
    "serve_model": ["serve it", "部署"],
    "export_onnx": ["export onnx int8"],
    "diagnose": ["why does 'install packages' miss?", "为什么'安装R包'检索不到"],
    "diagnose_golden": ["which of my questions still miss?", "哪些问题还检索不到？"],
    "list_misses": ["misses"],
    "apply_fix": ["add it as a training pair"],
    "preview_history": ["here are our questions: questions.csv"],
    "import_history": ["yes"],
    "undo_review": ["undo that"],
    "stop_serving": ["stop the server", "把服务关掉"],
    "import_queries": ["here is our search log", "这是我们的搜索日志"],
    "style_report": ["show the style report", "how close are these to my users' questions?", "问题风格报告"],
    "score_teacher": ["score the candidates with the teacher", "run the teacher fusion", "用教师模型打分"],
}
CONTEXT = {
    "golden_label": {"intent": "golden_label"},
    "import_history": {"intent": "history_preview", "path": "/x/q.csv"},
    "apply_fix": {"intent": "diagnose", "miss_id": 1, "query": "x"},
    "undo_review": {"undo": {"kind": "review"}},
}
READY = trained_stages()


def _planned_tools(cap: Capability) -> list[list[str]]:
    """Tools the offline planner plans for each utterance; every planned step's arguments are valid options."""
    from bgetune.agent.planner import plan_request

    out = []
    for text in UTTERANCES[cap.name]:
        files = {"preview_history": ["/x/q.csv"], "ingest": ["/x/a.pdf"], "import_queries": ["/x/q.txt"]}.get(
            cap.name, []
        )
        plan = plan_request(text, stages=READY, files=files, context=CONTEXT.get(cap.name))
        for step in plan.steps:
            table()[step["tool"]].make_options(step["args"])  # raises on a name or value the tool lacks
        out.append([s["tool"] for s in plan.steps])
    return out


@pytest.mark.parametrize("name", sorted(table()))
def test_every_capability_reaches_every_surface(name):
    from bgetune.agent.registry import REGISTRY, tool_schemas
    from bgetune.cli import app
    from bgetune.core.config import Settings

    cap = table()[name]
    # the agent (LLM tools): one tool per capability, its schema carries every declared setting
    schemas = {s["function"]["name"]: s["function"] for s in tool_schemas(Settings())}
    if not cap.chat:  # `bgetune run`: the chat runs the stages one by one instead
        assert name not in REGISTRY and cap.command
        return
    assert name in REGISTRY and name in schemas
    props = schemas[name]["parameters"].get("properties", {})
    assert {f.name for f in settings_of(cap)} <= set(props)
    assert f"Cost: {cap.cost if not callable(cap.cost) else ''}" in schemas[name]["description"]
    # the CLI: a command whose options are the declared settings
    if cap.command:
        group, _, sub = cap.command.partition(" ")
        names = {c.name or c.callback.__name__ for c in app.registered_commands}
        names |= {g.name for g in app.registered_groups}
        assert group in names, f"no CLI command {cap.command!r}"
        if not sub:
            res = CliRunner().invoke(app, [group, "--help"])
            assert res.exit_code == 0, res.output
    # the offline chat: a plain utterance plans exactly this capability
    assert name in UTTERANCES, f"add an utterance for {name} (and teach the planner if needed)"
    for tools in _planned_tools(cap):
        assert name in tools, (name, tools)


def test_a_new_setting_appears_on_every_surface(monkeypatch):
    """Adding one setting(...) field is the only edit: tool schema, CLI option, chat phrase, UI card follow."""
    from bgetune.agent import planner
    from bgetune.agent.registry import Args
    from bgetune.capabilities import train as train_caps
    from bgetune.surfaces import args_model, make_command, settings_card

    @dataclasses.dataclass(kw_only=True)
    class Opts(train_caps.TrainOptions):
        warmup_ratio: float | None = setting(
            None, help="Share of steps spent warming up.", min=0.0, max=0.5, workspace=True, say=("warmup",)
        )

    cap = dataclasses.replace(table()["train"], options=Opts)
    from bgetune.capabilities import resolve_field_types

    resolve_field_types(Opts)
    monkeypatch.setitem(table(), "train", cap)
    assert "warmup_ratio" in args_model(cap, Args).model_json_schema()["properties"]
    import inspect

    assert "warmup_ratio" in inspect.signature(make_command(cap)).parameters
    found, _, _ = planner.extract_settings("set warmup 0.1")
    assert found.get("warmup_ratio") == "0.1"
    assert any(f["name"] == "warmup_ratio" for f in settings_card("train"))


def test_bad_setting_values_name_the_setting_and_the_limit():
    from bgetune.capabilities import SettingError

    cap = table()["train"]
    with pytest.raises(SettingError, match="epochs must be at least 1"):
        cap.make_options({"epochs": "0"})
    with pytest.raises(SettingError, match="lr must be float"):
        cap.make_options({"lr": "fast"})


def test_partial_understanding_is_said():
    from bgetune.agent.planner import compose_reply, plan_request

    plan = plan_request("use 2 epochs and a smaller learning rate", stages=READY)
    args = {s["args"]["name"]: s["args"]["value"] for s in plan.steps if s["tool"] == "set_setting"}
    assert args == {"epochs": "2", "lr": "1e-05"}
    plan = plan_request("use 2 epochs and change the warmup somehow", stages=READY)
    assert [s["args"]["name"] for s in plan.steps] == ["epochs"]
    plan = plan_request("set the learning rate to something sensible", stages=READY)
    assert not plan.steps and "did not understand" in (plan.reply or "") and "lr" in (plan.reply or "")
    reply = compose_reply("settings", "en", [], READY, {"not_understood": ["lr"]})
    assert "did not understand" in reply and "lr" in reply


def test_typed_paths_become_attachments(tmp_path):
    from bgetune.agent.planner import extract_paths

    d = tmp_path / "my docs"
    d.mkdir()
    (d / "a.pdf").write_bytes(b"%PDF-1.4")
    found = extract_paths(f'fine-tune bge on these PDFs: "{d}"')
    assert found == [str(d.resolve())]
    assert extract_paths(f"use {d / 'a.pdf'} please") == []  # a space in the folder needs quotes
    assert extract_paths("fine-tune on ./definitely-not-here") == []


def _cli_env(ws: Path, url: str) -> dict[str, str]:
    from tests.reliability.conftest import py_env

    return py_env(BGETUNE_WORKSPACE=str(ws), BGETUNE_LLM_BASE_URL=url, BGETUNE_LLM_API_KEY="sk-test")


def test_generate_with_an_llm_needs_yes_without_a_tty(small_ws, fault_server):
    import subprocess

    bgetune = str(Path(sys.executable).parent / "bgetune")
    args = [
        bgetune,
        "generate",
        "-w",
        str(small_ws.root),
        "--llm-base-url",
        fault_server.base_url,
        "--mode",
        "llm",
    ]
    env = _cli_env(small_ws.root, fault_server.base_url)
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode != 0 and "--yes" in out.stderr, out.stderr[-800:]
    assert "calls" in out.stderr  # the estimate was shown
    assert len(fault_server.requests) == 0
    out = subprocess.run(
        [*args, "--yes", "--json", "--no-filter"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-800:]
    assert len(fault_server.requests) > 0
    res = json.loads(out.stdout[out.stdout.index("{") :])
    assert res["pairs_added"] > 0


def test_paid_generation_rejected_at_the_graph_gate_makes_no_call(small_ws, fault_server):
    from bgetune.agent.runner import AgentSession
    from bgetune.core.config import Settings

    settings = Settings(workspace=small_ws.root, llm_base_url=fault_server.base_url, llm_api_key="sk-test")
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class Scripted(BaseChatModel):  # wiring only: asks for LLM generation, then says ok
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools, **kwargs):  # noqa: ANN001
            return self

        def _generate(self, messages, stop=None, run_manager=None, **kw):  # noqa: ANN001
            asked = any(getattr(m, "tool_calls", None) for m in messages)
            msg = (
                AIMessage("ok")
                if asked
                else AIMessage(
                    "", tool_calls=[{"name": "generate_pairs", "args": {"mode": "llm"}, "id": "g1"}]
                )
            )
            return ChatResult(generations=[ChatGeneration(message=msg)])

    fake = Scripted()
    with AgentSession(small_ws.root, settings, "gate", model=fake) as s:  # a scripted model (wiring only)
        list(s.send("generate training questions with the LLM"))
        payload = s.pending_approval()
        assert payload and payload["tool"] == "generate_pairs" and payload["cost"] == "paid-llm"
        assert "LLM calls" in payload["cost_label"]
        list(s.resume("reject"))
    assert len(fault_server.requests) == 0
    assert small_ws.scalar("SELECT count(*) FROM pairs") == 0


def test_planner_routes_name_only_declared_capabilities():
    """The planner is a table of routes: every step a route declares is a capability of the table, and every
    route's own examples plan steps whose arguments are valid options of those capabilities."""
    from bgetune.agent.planner import plan_request
    from bgetune.agent.routes import ROUTES

    caps = table()
    assert ROUTES
    for route in ROUTES:
        unknown = [s for s in route.steps if s not in caps]
        assert not unknown, f"route {route.intent!r} names unknown capabilities {unknown}"
        for text in route.examples:
            for step in plan_request(text, stages=READY).steps:
                caps[step["tool"]].make_options(step["args"])  # raises on a name or value the tool lacks
