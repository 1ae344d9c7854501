"""Offline planner: real utterances in English and Chinese, including ones it must not misread."""

from __future__ import annotations

import pytest

from bgetune.agent.planner import compose_reply, plan_request

READY = {"documents": 2, "chunks": 12, "pairs": {"proposed": 5}, "splits": {}, "negatives": 0}


def tools(plan) -> list[str]:
    return [s["tool"] for s in plan.steps]


@pytest.mark.parametrize(
    "text",
    [
        "fine-tune bge on these PDFs",
        "Fine tune BGE on these docs please",
        "用这些PDF微调bge模型",
        "帮我用这些文档微调一个模型",
    ],
)
def test_finetune_with_files(text):
    plan = plan_request(text, files=["/x/a.pdf"], new_files=True, stages={})
    assert plan.intent == "finetune"
    assert tools(plan) == ["ingest", "base_model_info", "generate_pairs", "show_dataset"]
    assert plan.steps[2]["args"]["mode"] == "offline"


def test_finetune_without_any_document_asks_for_files():
    for text in ("fine-tune bge on these PDFs", "用这些PDF微调bge模型"):
        plan = plan_request(text, stages={"documents": 0})
        assert plan.intent == "need_files" and not plan.steps and plan.reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("show pairs", ["show_pairs"]),
        ("看看数据", ["show_pairs"]),
        ("approve all", ["approve_all_pairs"]),
        ("全部通过", ["approve_all_pairs"]),
        ("evaluate", ["evaluate"]),
        ("评估一下", ["evaluate"]),
        ("status", ["status"]),
        ("进度", ["status"]),
        ("export", ["export_model"]),
        ("导出模型", ["export_model"]),
        ("calibrate", ["calibrate"]),
        ("show rejected pairs", ["show_pairs"]),
    ],
)
def test_simple_commands(text, expected):
    assert tools(plan_request(text, stages=READY)) == expected


def test_pair_ids_and_edits():
    p = plan_request("approve 3 5", stages=READY)
    assert p.steps == [{"tool": "approve_pairs", "args": {"ids": [3, 5]}}]
    p = plan_request("通过 3, 5、8", stages=READY)
    assert p.steps[0]["args"]["ids"] == [3, 5, 8]
    p = plan_request("reject 4", stages=READY)
    assert p.steps[0]["tool"] == "reject_pairs" and p.steps[0]["args"]["ids"] == [4]
    p = plan_request("拒绝 4", stages=READY)
    assert p.steps[0]["tool"] == "reject_pairs" and p.steps[0]["args"]["ids"] == [4]
    p = plan_request("edit 7: how often does the backup run", stages=READY)
    assert p.steps == [{"tool": "edit_pair", "args": {"id": 7, "query": "how often does the backup run"}}]
    p = plan_request("修改 7：备份多久运行一次", stages=READY)
    assert p.steps == [{"tool": "edit_pair", "args": {"id": 7, "query": "备份多久运行一次"}}]
    # a query that mentions training is still an edit, never a train command
    p = plan_request("edit 2: how do I train new staff", stages=READY)
    assert tools(p) == ["edit_pair"]


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("epochs 3", "epochs", "3"),
        ("3 epochs", "epochs", "3"),
        ("训练3轮", "epochs", "3"),
        ("batch size 16", "batch_size", "16"),
        ("lr 2e-5", "lr", "2e-5"),
        ("max steps 50", "max_steps", "50"),
        ("use bge-m3", "base_model", "BAAI/bge-m3"),
        ("用 bge-m3", "base_model", "BAAI/bge-m3"),
        ("换成 bge-small-zh", "base_model", "BAAI/bge-small-zh-v1.5"),
        ("use bundled", "base_model", "bundled"),
    ],
)
def test_settings_are_settings_not_training(text, name, value):
    plan = plan_request(text, stages=READY)
    assert plan.steps == [{"tool": "set_setting", "args": {"name": name, "value": value}}]
    assert "train" not in tools(plan)


@pytest.mark.parametrize(
    "text", ["train", "start training", "开始训练", "训练", "Train the model now", "go ahead and train"]
)
def test_train_commands(text):
    plan = plan_request(text, stages=READY)
    assert plan.intent == "train"
    assert tools(plan) == [
        "split_dataset",
        "mine_negatives",
        "train",
        "evaluate",
        "calibrate",
        "export_model",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("train for at most 20 minutes", 1200),
        ("train, 20 min max", 1200),
        ("train within 1.5 hours", 5400),
        ("训练最多20分钟", 1200),
        ("最多训练30分钟", 1800),
    ],
)
def test_a_time_budget_said_in_the_chat_goes_to_the_training_step(text, seconds):
    from bgetune.tools.budget import parse_duration

    def train_args(said: str) -> dict:
        return next(s for s in plan_request(said, stages=READY).steps if s["tool"] == "train")["args"]

    assert parse_duration(train_args(text)["time_budget"]) == seconds  # the card fits epochs and steps to it
    assert "time_budget" not in train_args("train")


def test_train_skips_done_stages_and_keeps_settings():
    plan = plan_request("train for 2 epochs", stages=READY | {"splits": {"train": 5}, "negatives": 20})
    assert tools(plan) == ["set_setting", "train", "evaluate", "calibrate", "export_model"]
    assert plan.steps[0]["args"] == {"name": "epochs", "value": "2"}


@pytest.mark.parametrize(
    "text",
    [
        "don't train yet",
        "do not start training",
        "先别训练",
        "先不要训练，我再看看数据",
        "wait, don't fine-tune yet",
        "hold off on training",
        "不要导出",
    ],
)
def test_negations_never_act(text):
    plan = plan_request(text, files=["/x/a.pdf"], stages=READY)
    assert plan.intent == "hold" and not plan.steps and plan.reply


@pytest.mark.parametrize(
    "text",
    [
        "what does training cost?",
        "How long will training take?",
        "训练要多久？",
        "训练需要多少钱",
        "should I train now?",
    ],
)
def test_cost_questions_estimate_only(text):
    plan = plan_request(text, stages=READY)
    assert plan.intent == "estimate"
    assert tools(plan) == ["estimate_training"]


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("why does 'nightly backup time' miss", "nightly backup time"),
        ('Why is "restore a file" not found?', "restore a file"),
        ("为什么'备份保留多久'检索不到", "备份保留多久"),
        ("为什么“如何回滚”找不到", "如何回滚"),
        ("why does 'how to train a model' miss?", "how to train a model"),
    ],
)
def test_diagnose(text, query):
    plan = plan_request(text, stages=READY)
    assert plan.steps == [{"tool": "diagnose", "args": {"query": query}}]


@pytest.mark.parametrize("text", ["help", "帮助", "what can you do?"])
def test_help(text):
    plan = plan_request(text, stages=READY)
    assert plan.intent == "help"
    assert "approve all" in plan.reply or "全部通过" in plan.reply


@pytest.mark.parametrize("text", ["the weather is nice", "嗯", "banana", "tell me a joke"])
def test_unclear_asks(text):
    plan = plan_request(text, stages=READY)
    assert plan.intent == "clarify" and not plan.steps
    assert "?" in plan.reply or "？" in plan.reply


def test_attachments_alone_are_ingested():
    assert tools(plan_request("", files=["/x/a.pdf"], new_files=True, stages={})) == ["ingest"]


def test_replies_are_in_the_users_language_and_say_what_next():
    approved = READY | {"pairs": {"approved": 4}}
    zh = compose_reply(
        "approve_all", "zh", [("approve_all_pairs", {"action": "approved", "count": 4}, True)], approved
    )
    assert "已通过 4" in zh and "开始训练" in zh
    en = compose_reply(
        "finetune",
        "en",
        [("generate_pairs", {"pairs_added": 9, "mode": "offline", "chunks_done": 3}, True)],
        READY,
    )
    assert "Generated 9 pairs" in en and "approve all" in en
    failed = compose_reply("train", "en", [("train", "the training step is not available", False)], READY)
    assert "failed" in failed and "status" in failed


DIAG = {"intent": "diagnose", "miss_id": 3, "query": "how do I hold a package", "action": "add_golden"}
GOLD = {"intent": "diagnose_golden", "miss_ids": [1, 2, 4],
        "biggest": {"cause": "threshold", "action": "set_threshold", "miss_ids": [2, 4]}}


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("why does 'how do I hold a package' miss?", {}, [("diagnose", {"query": "how do I hold a package"})]),
        ("add it as a training pair", DIAG, [("apply_fix", {"miss_id": 3, "action": "add_training_pair"})]),
        ("把它加入训练", DIAG, [("apply_fix", {"miss_id": 3, "action": "add_training_pair"})]),
        ("fix 1 add as training pair", {}, [("apply_fix", {"miss_id": 1, "action": "add_training_pair"})]),
        ("add them as training pairs", GOLD,
         [("apply_fix", {"miss_id": i, "action": "add_training_pair"}) for i in (1, 2, 4)]),
        ("fix the biggest cause", GOLD, [("apply_fix", {"miss_id": i, "action": "set_threshold"}) for i in (2, 4)]),
        ("none of these, the answer is the part about hold", DIAG,
         [("diagnose", {"query": "how do I hold a package", "expected": "the part about hold"})]),
    ],
)
def test_diagnosis_fix_phrases_route_to_the_fix(text, context, expected):
    plan = plan_request(text, stages=READY, context=context)
    assert [(s["tool"], s["args"]) for s in plan.steps] == expected


def test_fix_phrases_without_an_open_miss_say_what_to_do_first():
    plan = plan_request("add it as a training pair", stages=READY)
    assert not plan.steps and "which of my questions still miss" in plan.reply
