"""Questions a newcomer asks the offline chat, in English and Chinese, answered from where the workspace stands
(the planner's newcomer routes: next step, using the model, why pairs were rejected, cost, terms)."""

from __future__ import annotations

import pytest

from bgetune.agent.planner import plan_request
from bgetune.agent.toolset import FACT_INTENTS

EMPTY: dict = {"documents": 0, "pairs": {}, "last_runs": {}}
REVIEW = {"documents": 2, "pairs": {"proposed": 50, "rejected": 127}, "last_runs": {"generate": "done"}}
APPROVED = {"documents": 2, "pairs": {"approved": 80, "rejected": 20}, "last_runs": {"generate": "done"}}
ALL_REJECTED = {"documents": 1, "pairs": {"rejected": 40}, "last_runs": {"generate": "done"}}
EXPORTED = {
    "documents": 2,
    "pairs": {"approved": 80},
    "last_runs": {"train": "done", "eval": "done"},
    "export_dir": "/data/ws/artifacts/runs/r1/export",
}


def _plan(text: str, stages: dict):  # noqa: ANN202
    return plan_request(text, files=[], stages=stages, llm_configured=False)


@pytest.mark.parametrize(
    ("text", "stages", "want"),
    [
        ("what should I do next?", EMPTY, "Attach your documents"),
        ("下一步做什么？", EMPTY, "上传文档"),
        ("what should I do next?", REVIEW, "50 pairs wait for your review"),
        ("接下来该做什么", REVIEW, "有 50 个问答对等你审核"),
        ("what now?", APPROVED, '80 pairs are approved. Next: "train"'),
        ("what's next", ALL_REJECTED, "All 40 proposed pairs were rejected"),
        ("next steps?", EXPORTED, '"serve it"'),
    ],
)
def test_the_next_step_follows_the_workspace(text, stages, want):
    p = _plan(text, stages)
    assert p.intent == "next" and not p.steps and want in p.reply, p


@pytest.mark.parametrize(
    "text",
    [
        "how do I use the model in my app?",
        "where is the model saved?",
        "怎么在我的程序里用这个模型？",
        "模型保存在哪里？",
    ],
)
def test_using_the_model_names_its_folder_and_code_once_exported_and_what_comes_first_before(text):
    before = _plan(text, REVIEW)
    assert before.intent == "use_model" and not before.steps
    assert ("no tuned model yet" in before.reply) or ("还没有微调好的模型" in before.reply)
    after = _plan(text, EXPORTED)
    assert EXPORTED["export_dir"] in after.reply and "prompt_name='query'" in after.reply
    assert "SentenceTransformer('/data/ws/artifacts/runs/r1/export')" in after.reply


@pytest.mark.parametrize(
    "text",
    [
        "why so few pairs?",
        "why were so many pairs rejected?",
        "为什么只有这么几个问答对？",
        "为什么剔除了这么多？",
    ],
)
def test_why_so_few_pairs_shows_the_dataset_with_its_reasons(text):
    p = _plan(text, REVIEW)
    assert [s["tool"] for s in p.steps] == ["show_dataset"], p


def test_the_dataset_says_each_main_rejection_reason_in_plain_words():
    from bgetune.capabilities.data import DatasetResult
    from bgetune.tools.filtering import REASONS

    res = DatasetResult(
        status={"proposed": 10, "rejected": 40},
        by_reason={"round_trip_failed": 25, "query_too_short": 10, "duplicate_query": 5, "cut_off": 1},
    )
    en, zh = res.text("en"), res.text("zh")
    for code in ("round_trip_failed", "query_too_short", "duplicate_query"):
        assert REASONS[code][0] in en and REASONS[code][1] in zh
    assert REASONS["cut_off"][0] not in en  # the top three only
    assert "approve 12" in en and "通过 12" in zh  # more rejected than kept: what gives more pairs


@pytest.mark.parametrize(
    ("text", "stages", "tools", "want"),
    [
        ("how much will this cost?", REVIEW, [], "Nothing costly runs without your yes"),
        ("要花多少钱？", REVIEW, [], "不会运行任何花钱"),
        ("how much will this cost?", APPROVED, [], '"what does training cost?" measures it now'),
    ],
)
def test_cost_questions_get_the_estimate_once_there_is_something_to_estimate(text, stages, tools, want):
    p = _plan(text, stages)
    assert [s["tool"] for s in p.steps] == tools and want in (p.reply or ""), p


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("what does nDCG mean?", "0 to 1"),
        ("nDCG是什么意思？", "0 到 1"),
        ("what is a hard negative?", "looks relevant"),
        ("什么是难负例？", "看起来与问题相关"),
        ("what does epoch 1 x0.5 mean?", "WiSE-FT"),
        ("what are pseudo pairs?", "query log"),
        ("教师模型是什么？", "教师"),
        ("whats an epoch", "one pass over all your training pairs"),
        ("什么叫hard negative", "难负例"),
        ("学习率是什么东西", "每一批训练时"),
        ("sorry, what are golden questions?", "real questions your users asked"),
    ],
)
def test_terms_are_explained_in_the_language_asked(text, want):
    p = _plan(text, REVIEW)
    assert p.intent == "explain" and want in p.reply, p


def test_what_is_the_threshold_after_calibrating_is_not_a_definition():
    assert _plan("what is the threshold?", EXPORTED).intent != "explain"
    assert _plan("what does the threshold mean?", EXPORTED).intent == "explain"


@pytest.mark.parametrize("text", ["is the new model better?", "新模型比原来的好吗？"])
def test_is_it_better_reads_the_results_or_says_what_comes_first(text):
    assert _plan(text, REVIEW).intent == "results" and not _plan(text, REVIEW).steps
    done = dict(EXPORTED)
    assert [s["tool"] for s in _plan(text, done).steps] == ["show_results"]


@pytest.mark.parametrize("text", ["I have a list of questions users asked", "我有用户问过的问题列表"])
def test_offering_real_questions_gets_how_to_give_them(text):
    p = _plan(text, REVIEW)
    assert p.intent == "need_golden" and not p.steps, p


SHOWN = {**REVIEW, "last_pairs_view": {"ids": list(range(101, 131))}}


def _steps(text: str, stages: dict) -> list[tuple[str, dict]]:
    return [(s["tool"], s["args"]) for s in _plan(text, stages).steps]


def test_approving_and_training_in_one_message_approves_first():
    assert _steps("approve all and train", REVIEW)[0] == ("approve_all_pairs", {})
    assert _steps("approve 3 5 and train", REVIEW)[0] == ("approve_pairs", {"ids": [3, 5]})
    assert _steps("通过 3 5 然后开始训练", REVIEW)[0] == ("approve_pairs", {"ids": [3, 5]})
    assert [t for t, _ in _steps("approve all and train", REVIEW)][1:4] == [
        "split_dataset",
        "mine_negatives",
        "train",
    ]
    assert _steps("train", REVIEW)[0][0] == "split_dataset"  # nothing approved on the user's behalf


def test_the_first_n_or_these_with_train_mean_the_page_shown_and_ask_when_there_is_none():
    first_ten = ("approve_pairs", {"ids": list(range(101, 111))})
    assert _steps("approve the first 10 and train", SHOWN)[0] == first_ten  # it approved pair #10
    assert _steps("前10个都通过然后开始训练", SHOWN)[0] == first_ten  # it approved every pair
    assert _steps("approve these and train", SHOWN)[0] == ("approve_pairs", {"ids": list(range(101, 131))})
    assert _steps("approve all and train", SHOWN)[0] == ("approve_all_pairs", {})
    ask = _plan("approve the first 10 and train", REVIEW)  # no page shown: ask which, train nothing
    assert not ask.steps and "Which pairs?" in ask.reply


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("approve the first 20", list(range(101, 121))),
        ("通过前20个", list(range(101, 121))),
        ("approve these", list(range(101, 131))),
        ("approve 1-20", list(range(1, 21))),
        ("approve 3 and 5, those look good", [3, 5]),
        ("通过 5到8", [5, 6, 7, 8]),
        ("ok the first three look good, approve them", [101, 102, 103]),  # a count in words
        ("第2条和第7条留下", [2, 7]),  # 留下: keep
    ],
)
def test_the_first_n_and_these_mean_the_page_just_shown_and_ranges_are_every_id(text, ids):
    assert _steps(text, SHOWN) == [("approve_pairs", {"ids": ids})]


def test_rejecting_in_chinese_reads_counts_in_words_and_english_verbs():
    assert _steps("前三个不要", SHOWN) == [("reject_pairs", {"ids": [101, 102, 103], "why": None})]
    assert _steps("这些都不行，全部reject", SHOWN)[0][1]["ids"] == list(range(101, 131))


def test_asking_a_value_or_a_reason_is_not_a_definition_and_threshold_advice_is_given():
    assert _plan("what is the threshold?", REVIEW).intent != "explain"
    assert _plan("微调后的模型值得上线吗，还是继续用基础模型？理由是什么", REVIEW).intent != "explain"
    advice = _plan("is the default threshold ok or should it be higher", REVIEW)
    assert not advice.steps and "calibration measures it" in advice.reply


def test_the_first_n_with_no_page_shown_asks_which_pairs_instead_of_approving_pair_n():
    p = _plan("approve the first 20", REVIEW)
    assert not p.steps and "Which pairs?" in p.reply
    assert _steps("reject 3 to 5 because vague", REVIEW) == [
        ("reject_pairs", {"ids": [3, 4, 5], "why": "vague"})
    ]
    r = _plan("reject all", REVIEW)
    assert not r.steps and "reject 1-50" in r.reply


def test_a_question_about_resuming_is_answered_not_run():
    q = _plan("can I stop and resume later?", APPROVED)
    assert q.intent == "resume_question" and not q.steps and "checkpoint" in q.reply
    assert _steps("resume", APPROVED)[0] == ("train", {"resume": True})


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("how many epochs should I use?", "epochs"),
        ("what's the default learning rate?", "lr"),
        ("默认学习率是多少？", "lr"),
        ("用多少轮合适？", "epochs"),
        ("what is the default batch size?", "batch_size"),
    ],
)
def test_a_question_about_a_setting_gets_its_declared_help_and_value(text, name):
    from bgetune.capabilities import setting_field

    p = _plan(text, {**APPROVED, "settings": {"epochs": 2}})
    assert p.intent == "setting_question" and not p.steps, p
    assert p.reply.startswith(name) and setting_field(name).metadata["help"] in p.reply
    if name == "epochs":
        assert "2" in p.reply.split("workspace" if "workspace" in p.reply else "本工作区")[1]


@pytest.mark.parametrize(
    ("text", "intent", "tools"),
    [
        ("is training done?", "status", ["status"]),
        ("训练完了吗？", "status", ["status"]),
        ("show settings", "status", ["status"]),
        ("is my data sent anywhere?", "privacy", []),
        ("需要联网吗？", "privacy", []),
        ("I only have a CPU, is that OK?", "device", []),
        ("需要GPU吗？", "device", []),
        ("the questions look robotic", "better_questions", []),
        ("问题质量太差了", "better_questions", []),
        ("why is pair 5 rejected?", "show", ["show_pairs"]),
    ],
)
def test_more_newcomer_questions(text, intent, tools):
    p = _plan(text, REVIEW)
    assert p.intent == intent and [s["tool"] for s in p.steps] == tools, p


def test_privacy_says_what_leaves_the_machine_with_an_llm_configured():
    off = plan_request("is my data sent anywhere?", files=[], stages=REVIEW, llm_configured=False)
    on = plan_request("is my data sent anywhere?", files=[], stages=REVIEW, llm_configured=True)
    assert "nothing leaves this machine" in off.reply and "BGETUNE_LLM_BASE_URL" in on.reply


def test_training_on_the_gpu_in_chinese_trains():
    assert "train" in [t for t, _ in _steps("用GPU训练", APPROVED)]


# ------------------------------------------------------------------------------------- a blind newcomer set
# 120 messages (60 en, 60 zh) written by a writer who saw only the labels' one-line descriptions, never the planner.
# Scored once before any fix (2026-12-05): en 46.7% (28/60), zh 51.7% (31/60) with the newcomer routes of 865acd0
# and 953b0a7; en 13.3%, zh 15.0% at c843da5 (before them). The misses were then fixed; it stays as a regression set.
REPLY_INTENTS = FACT_INTENTS  # the replies that state facts: the labels with no tool
BLIND_STAGES = {
    "documents": 2,
    "pairs": {"proposed": 50, "approved": 10, "rejected": 127},
    "last_runs": {"generate": "done"},
    "last_pairs_view": {"ids": list(range(101, 131)), "filters": {}, "offset": 0, "limit": 30},
}


def _blind_hit(row: dict) -> bool:
    p = _plan(row["text"], BLIND_STAGES)
    tools = [s["tool"] for s in p.steps]
    if row["expect"] == "none":  # "don't train yet": nothing runs
        return not tools
    if row["expect"] in REPLY_INTENTS:
        return p.intent == row["expect"] and not tools
    return tools[:1] == [row["expect"]] or (row["expect"] == "show_dataset" and tools[:1] == ["show_pairs"])


@pytest.mark.parametrize(
    ("name", "size"),
    # the second set (160, 2026-12-05) was written later, blind as well; scored before any fix: en 63.7%, zh 57.5%
    [("heldout_utterances_newcomer.jsonl", 120), ("heldout_utterances_newcomer_2.jsonl", 160)],
)
def test_the_blind_newcomer_set_is_understood_in_both_languages(name, size):
    import json
    from pathlib import Path

    path = Path(__file__).parent / name
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= size
    for lang in ("en", "zh"):
        part = [r for r in rows if r["lang"] == lang]
        misses = [(r["expect"], r["text"]) for r in part if not _blind_hit(r)]
        assert 1 - len(misses) / len(part) >= 0.95, misses
