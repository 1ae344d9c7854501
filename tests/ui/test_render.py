"""render.py: session events -> chat messages, approval card text, table rows (no browser)."""

from __future__ import annotations

import json

import gradio as gr
import pytest

from bgetune.ui import render


def meta(m: gr.ChatMessage) -> dict:
    return dict(m.metadata or {})


def test_tool_call_becomes_a_pending_step_then_done_with_the_result():
    msgs = render.apply_event(
        [], {"type": "tool_call", "tool": "ingest", "args": {"paths": ["/x/a.pdf"]}, "id": "c1"}
    )
    assert len(msgs) == 1 and meta(msgs[0])["status"] == "pending" and meta(msgs[0])["id"] == "c1"
    assert (
        meta(msgs[0])["title"] == "Reading documents"
        and "a.pdf" in msgs[0].content
        and "/x/" not in msgs[0].content
    )
    msgs = render.apply_event(msgs, {"type": "tool_start", "tool": "ingest", "args": {}})
    assert len(msgs) == 1, "tool_start of an announced call adds nothing"
    msgs = render.apply_event(
        msgs, {"type": "progress", "tool": "ingest", "done": 3, "total": 10, "label": "page 3"}
    )
    assert "3/10 (30%)" in msgs[0].content and "page 3" in msgs[0].content and "a.pdf" in msgs[0].content
    assert meta(msgs[0])["log"].endswith("page 3")
    result = json.dumps({"files": 1, "chunks_written": 4, "errors": []})
    msgs = render.apply_event(
        msgs, {"type": "tool_result", "tool": "ingest", "ok": True, "content": result, "id": "c1"}
    )
    m = meta(msgs[0])
    assert m["status"] == "done" and "log" not in m and m["title"] == "Reading documents"
    assert "chunks_written" in msgs[0].content and "a.pdf" in msgs[0].content and "▰" not in msgs[0].content
    assert "errors" not in msgs[0].content, "empty values are left out"


def test_input_is_not_mutated_and_a_failed_tool_is_marked():
    start = render.apply_event([], {"type": "tool_call", "tool": "train", "args": {}, "id": "t"})
    before = meta(start[0])
    out = render.apply_event(
        start, {"type": "tool_result", "tool": "train", "ok": False, "content": "boom", "id": "t"}
    )
    assert meta(start[0]) == before
    assert meta(out[0])["title"].startswith("✗") and "boom" in out[0].content


def test_progress_without_a_call_opens_an_estimate_step_closed_by_the_approval():
    msgs = render.apply_event(
        [], {"type": "progress", "tool": "estimate train", "done": 1, "total": 2, "label": ""}
    )
    assert meta(msgs[0])["status"] == "pending" and "Estimating cost: Training" == meta(msgs[0])["title"]
    payload = {"type": "approval", "tool": "train", "title": "Train bundled on 9 pairs", "settings": {}}
    msgs = render.apply_event(msgs, payload)
    assert meta(msgs[0])["status"] == "done"
    assert "Waiting for your approval" in msgs[-1].content and "Train bundled on 9 pairs" in msgs[-1].content


EMOJI_RANGES = ((0x2300, 0x23FF), (0x2600, 0x27BF), (0x1F000, 0x1FAFF), (0xFE0F, 0xFE0F))


def has_emoji(text: str) -> bool:
    """Characters headless Chromium without an emoji font draws as an empty box."""
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in EMOJI_RANGES)


def test_a_gated_call_says_estimating_then_waiting_then_runs_with_what_was_approved():
    """Issue 22 items 6-7: no spinning 'Training' row during the estimate; after approving with epochs=1 the chat
    says so (not '3 epochs ... with epochs=1') and the waiting notice goes."""
    gated = {"train"}
    msgs = render.apply_event([], {"type": "tool_call", "tool": "train", "args": {}, "id": "t1"}, gated)
    assert meta(msgs[0])["title"] == "Estimating cost: Training" and meta(msgs[0])["status"] == "pending"
    msgs = render.apply_event(
        msgs,
        {"type": "progress", "tool": "estimate train", "done": 1, "total": 3, "label": "timing steps"},
        gated,
    )
    assert len(msgs) == 1 and "1/3" in msgs[0].content and meta(msgs[0])["title"].startswith("Estimating")
    pending = {
        "type": "approval",
        "tool": "train",
        "tool_call_id": "t1",
        "title": "Train bundled on 12 pairs: 3 epochs, 12 steps",
        "settings": {"epochs": 3, "batch_size": 32, "max_steps": None, "base_model": "bundled"},
    }
    msgs = render.apply_event(msgs, pending, gated)
    assert meta(msgs[0])["title"] == "Training: waiting for your approval" and "status" not in meta(msgs[0])
    assert msgs[-1].content.startswith(render.WAITING)
    msgs = render.answer_approval(msgs, pending, "approve", {"epochs": 1, "batch_size": 4, "max_steps": 2})
    said = msgs[-1].content
    assert msgs[-1].role == "user" and said.startswith(
        "**Approved:** Train bundled on 12 pairs with epochs=1 (was 3)"
    )
    assert "batch_size=4 (was 32)" in said and "max_steps=2" in said and "base_model=bundled" in said
    assert "3 epochs" not in said and "12 steps" not in said
    assert not any("Waiting for your approval" in str(m.content) for m in msgs)
    msgs = render.apply_event(msgs, {"type": "tool_start", "tool": "train", "args": {}}, gated)
    assert meta(msgs[0])["title"] == "Training" and meta(msgs[0])["status"] == "pending"
    rejected = render.answer_approval(render.apply_event([], pending, gated), pending, "reject", {})
    assert rejected[-1].content == "**Rejected:** Train bundled on 12 pairs (nothing ran)."


def test_approval_texts_have_no_emoji_and_a_reply_says_a_paragraph_once():
    payload = {"tool": "train", "title": "Train bundled on 9 pairs", "cost": "gpu", "estimate": {"steps": 3}}
    assert not has_emoji(render.approval_markdown(payload)) and "Approval needed" in render.approval_markdown(
        payload
    )
    assert not has_emoji(render.approval_message(payload).content)
    kept = (
        "Keeping the base model: on 40 queries of held-out documents (test split) no fine-tuned candidate beat it by "
        "more than the noise."
    )
    reply = "\n".join(
        [
            "Training done: 12 steps.",
            kept,
            "  ! " + kept,
            "Evaluation: ...",
            kept,
            "Nothing new was exported.",
        ]
    )
    msgs = render.apply_event([], {"type": "message", "content": reply})
    assert (
        msgs[0].content.count("Keeping the base model") == 1
        and "Nothing new was exported." in msgs[0].content
    )
    # a summary shown in a choice setting's place (the estimate's objective) is no value the dropdown can hold
    entry = {"name": "objective", "choices": ("contrastive", "distill", "margin-mse")}
    assert render.display_setting(entry, {"kind": "contrastive", "text": "MNRL"}) is None
    assert render.display_setting(entry, "distill") == "distill"


def test_results_say_when_the_base_model_was_kept():
    kept = {
        "ship": False,
        "shipped": "base",
        "text": "Keeping the base model: on 40 queries no candidate beat it.",
    }
    train = {"steps": 12, "model_dir": "/ws/artifacts/runs/r1/model", "decision": kept}
    view = render.results_view(train, {}, run_id="r1", calibration=None, plots={})
    assert "The base model was kept" in view["summary"] and "nothing new is exported" in view["summary"]
    assert "Keeping the base model: on 40 queries" in view["summary"]
    shipped = train | {"decision": {"ship": True, "shipped": "epoch 1", "text": "Shipping epoch 1: ..."}}
    assert (
        "**Shipped:** epoch 1"
        in render.results_view(shipped, {}, run_id="r1", calibration=None, plots={})["summary"]
    )
    assert "base model was kept" in render.kept_base_usage(kept)


def test_messages_user_history_errors_and_finish_turn():
    events = [
        {"type": "user", "content": "fine-tune bge on this", "attachments": ["/ws/uploads/faq.pdf"]},
        {"type": "tool_call", "tool": "generate_pairs", "args": {"mode": "offline"}, "id": "g"},
        {"type": "message", "content": "I propose 11 pairs."},
        {"type": "message", "content": "   "},
        {"type": "error", "content": "RuntimeError: disk full"},
    ]
    msgs = render.render_events(events)
    assert msgs[0].role == "user" and "faq.pdf" in msgs[0].content and "/ws/" not in msgs[0].content
    assert [m.role for m in msgs] == ["user", "assistant", "assistant", "assistant"]
    assert meta(msgs[1])["status"] == "done", "an error closes running steps"
    assert msgs[-1].content.startswith("**Error:**") and "disk full" in msgs[-1].content
    pending = render.apply_event([], {"type": "tool_call", "tool": "evaluate", "args": {}, "id": "e"})
    assert meta(render.finish_turn(pending)[0])["status"] == "done"


def test_unknown_tool_and_progress_bar_edges():
    assert render.tool_label("some_new_tool") == "Some new tool"
    assert render.progress_bar(5, 0) == "5 done"
    assert render.progress_bar(12, 10).count("█") == render.BAR_WIDTH


def test_approval_markdown_and_setting_edits():
    payload = {
        "tool": "train",
        "title": "Train bundled on 9 pairs: 1 epochs, 3 steps",
        "cost": "gpu",
        "settings": {"epochs": 3, "batch_size": 32, "lr": None, "max_steps": None, "base_model": "bundled"},
        "estimate": {"steps": 3, "minutes": 0.21, "device": "cpu", "nested": {"x": 1}},
        "message": "Approve to run it.",
    }
    md = render.approval_markdown(payload)
    assert (
        "Approval needed" in md
        and "compute time" in md
        and "| steps | 3 |" in md
        and "| minutes | 0.21 |" in md
    )
    assert "**3 steps**" in md and "**~0.2 minutes** on **cpu**" in md and "<details>" in md
    assert "nested" not in md and render.approval_markdown(None) == ""
    shown = payload["settings"]
    entered = {
        "epochs": 1.0,
        "batch_size": 32.0,
        "lr": "2e-5",
        "max_steps": 2.0,
        "base_model": " bundled ",
        "x": 1,
    }
    assert render.setting_edits(shown, entered) == {"epochs": 1, "lr": "2e-5", "max_steps": 2}
    assert render.setting_edits(shown, {"epochs": None, "lr": ""}) == {}


def test_dataset_and_results_rows():
    pairs = [
        {
            "id": 3,
            "status": "rejected",
            "query": "q",
            "passage": "word " * 100,
            "document": "a.pdf",
            "source": "offline",
            "reasons": ["query_too_short", "duplicate"],
        }
    ]
    row = render.pair_rows(pairs)[0]
    assert (
        row[0] == 3 and row[6] == "query_too_short, duplicate" and len(row[3]) <= 160 and row[3].endswith("…")
    )
    assert "No pairs yet" in render.summary_markdown({"pairs": 0})
    s = render.summary_markdown(
        {
            "pairs": 13,
            "trainable": 0,
            "status": {"proposed": 11, "rejected": 2},
            "by_reason": {"query_too_short": 2},
        }
    )
    assert "**13** pairs" in s and "proposed 11" in s and "query_too_short (2)" in s
    rows = render.metrics_rows(
        {"base": {"ndcg@10": 0.5, "hit@1": 0.25}, "tuned": {"ndcg@10": 0.75, "hit@1": 0.5}}
    )
    assert rows[0] == ["ndcg@10", "0.5000", "0.7500", "+0.2500"] and rows[1][0] == "hit@1"
    assert render.metrics_rows({"base": {"ndcg@10": 0.5}})[0][2:] == ["", ""]


def test_a_step_waits_for_approval_without_a_spinner_then_runs_and_finishes():
    msgs = render.apply_event([], {"type": "tool_call", "tool": "train", "args": {}, "id": "t1"})
    msgs = render.apply_event(
        msgs, {"type": "approval", "tool": "train", "tool_call_id": "t1", "title": "Train"}
    )
    m = meta(msgs[0])
    assert "status" not in m and m["title"] == "Training: waiting for your approval" and "log" not in m
    assert "status" not in meta(render.finish_turn(msgs)[0]), (
        "a turn ending at the gate leaves the step waiting"
    )
    msgs = render.apply_event(msgs, {"type": "tool_start", "tool": "train", "args": {}})
    assert len(msgs) == 2 and meta(msgs[0])["status"] == "pending" and "log" not in meta(msgs[0])
    msgs = render.apply_event(
        msgs, {"type": "progress", "tool": "train", "done": 1, "total": 2, "label": "step 1"}
    )
    assert "1/2" in msgs[0].content
    msgs = render.apply_event(
        msgs,
        {
            "type": "tool_result",
            "tool": "train",
            "ok": True,
            "id": "t1",
            "content": '{"steps": 2, "loss_curve": [[1, 0.5], [2, 0.25]]}',
        },
    )
    assert (
        meta(msgs[0])["status"] == "done"
        and "last loss 0.2500" in msgs[0].content
        and "1/2" not in msgs[0].content
    )


# ---------------------------------------------------------------------------------------------- derived screens
def test_settings_fields_are_typed_and_checked_from_the_card():
    from bgetune.surfaces import settings_card

    entries = {e["name"]: e for e in settings_card("train")}
    assert render.setting_kind(entries["epochs"]) == "int" and render.setting_kind(entries["lr"]) == "float"
    assert (
        render.setting_kind(entries["lora"]) == "bool" and render.setting_kind(entries["base_model"]) == "str"
    )
    assert render.setting_kind({"name": "mode", "type": "Literal", "choices": ("auto", "llm")}) == "choice"
    assert render.setting_label(entries["epochs"]) == "epochs (1–100)"
    assert render.setting_label(entries["max_steps"]) == "max steps (≥ 1)"
    assert (
        render.typed_setting(entries["epochs"], 2.0) == 2
        and render.typed_setting(entries["lr"], "2e-5") == 2e-5
    )
    assert render.typed_setting(entries["epochs"], "") is None
    with pytest.raises(ValueError, match="epochs must be at most 100"):
        render.typed_setting(entries["epochs"], 101)
    with pytest.raises(ValueError, match="lr must be a number"):
        render.typed_setting(entries["lr"], "fast")
    assert render.display_setting(entries["lr"], 2e-05) == "2e-05"

    order = [entries[n] for n in ("epochs", "lr", "max_steps", "lora", "base_model")]
    shown = {"epochs": 3, "lr": 2e-05, "max_steps": None, "lora": False, "base_model": "bundled"}
    assert render.card_edits(order, shown, [3, "2e-05", None, False, "bundled"]) == {}
    assert render.card_edits(order, shown, [1, "1e-5", 2, True, " bundled "]) == {
        "epochs": 1,
        "lr": 1e-5,
        "max_steps": 2,
        "lora": True,
    }
    assert render.card_edits(order, {"epochs": 3}, [1, "1e-5", 2, True, "x"]) == {"epochs": 1}, (
        "only shown settings are edits"
    )


def test_plots_named_in_a_result_show_inline_after_the_step(tmp_path):
    png = tmp_path / "run" / "metrics.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    content = json.dumps(
        {"metrics": {}, "plots": [str(png), str(tmp_path / "gone.png")], "run_folder": str(tmp_path)}
    )
    assert render.image_paths(content) == [str(png), str(tmp_path / "gone.png")]
    assert render.image_paths("not json") == [] and render.image_paths('{"x": "a.png"}') == []
    cut = content[: content.index("gone.png")] + " ...[truncated]"
    assert render.image_paths(cut) == [str(png)], "a result cut short still names its plots"
    msgs = render.apply_event([], {"type": "tool_call", "tool": "evaluate", "args": {}, "id": "e"})
    msgs = render.apply_event(
        msgs, {"type": "tool_result", "tool": "evaluate", "ok": True, "content": content, "id": "e"}
    )
    assert len(msgs) == 2, "one image (the missing file is left out)"
    assert msgs[1].content == {"path": str(png), "alt_text": "metrics.png"} and msgs[1].role == "assistant"
    failed = render.apply_event(
        [], {"type": "tool_result", "tool": "evaluate", "ok": False, "content": content, "id": "x"}
    )
    assert len(failed) == 1


def test_user_message_names_each_attached_file():
    m = render.user_message("", ["/ws/uploads/asked.csv", "/ws/uploads/faq.pdf"])
    assert m.content == "attached: **asked.csv**\nattached: **faq.pdf**"
    assert (
        render.user_message("import these", ["/a/b.xlsx"]).content == "import these\n\nattached: **b.xlsx**"
    )


def test_golden_candidates_and_rows():
    from bgetune.tools.golden import Candidate, GoldenCounts, GoldenQuestion

    cands = [
        Candidate(
            1, "c1", "The R FAQ " * 40, document="faq.pdf", heading="1.3 Citing", dense_rank=1, bm25_rank=2
        ),
        Candidate(2, "c2", "Notation", document="faq.pdf", bm25_rank=1),
    ]
    choices = render.candidate_choices(cands)
    assert [v for _, v in choices] == [1, 2]
    assert choices[0][0].startswith("[1] model #1 · BM25 #2 — faq.pdf › 1.3 Citing: The R FAQ")
    assert choices[0][0].endswith("…") and choices[1][0] == "[2] BM25 #1 — faq.pdf: Notation"
    q = GoldenQuestion(7, "how do I cite R?", "unlabeled", [])
    counts = GoldenCounts(total=3, unlabeled=2, labeled=1)
    md = render.golden_question_markdown(q, counts)
    assert "Question #7" in md and "how do I cite R?" in md and "1 labeled" in md
    assert "Every question is labeled" in render.golden_question_markdown(
        None, GoldenCounts(total=1, labeled=1)
    )
    assert "No golden questions yet" in render.golden_question_markdown(None, GoldenCounts())
    rows = render.golden_rows([q, GoldenQuestion(8, "x", "labeled", ["c1", "c2"])])
    assert rows == [[7, "? to label", "how do I cite R?", ""], [8, "✓ labeled", "x", "c1, c2"]]


def test_diagnosis_rankings_side_by_side():
    from bgetune.tools.diagnosis import ExpectedAnswer, ModelRanking, ResultRow

    def row(rank, cid, score, p, ok, expected=False):
        return ResultRow(rank, cid, score, p, ok, "faq.pdf", str(rank + 4), "", f"passage {cid}", expected)

    base = ModelRanking(
        "base", "bundled", 0.5, [row(1, "a", 0.61, 0.7, True), row(2, "b", 0.42, 0.3, False, True)]
    )
    base.expected_rank, base.expected_score, base.expected_probability = 2, 0.42, 0.3
    tuned = ModelRanking("tuned", "/ws/artifacts/runs/3/model", None, [row(1, "b", 0.8, None, None, True)])
    tuned.expected_rank, tuned.expected_score = 1, 0.8
    assert render.ranking_rows(base) == [
        [1, "0.610", "0.70", "✓ pass", "faq.pdf", "5", "passage a"],
        [2, "0.420", "0.30", "✗ fail", "faq.pdf", "6", "★ passage b"],
    ]
    assert render.ranking_rows(tuned)[0][2:4] == ["", ""] and render.ranking_rows(None) == []
    titled = ModelRanking(
        "base", "b", None, [ResultRow(1, "t", 0.5, None, None, "f.pdf", None, "1.3 Citing", "In papers")]
    )
    assert render.ranking_rows(titled)[0][5:] == ["", "1.3 Citing — In papers"]
    assert render.ranking_label(base, "base model") == "base model `bundled`, threshold 0.500"
    assert "none yet" in render.ranking_label(None, "tuned model")

    class D:
        expected = ExpectedAnswer(
            ["b"], "exact", chunk_id="b", document="faq.pdf", page="6", text="passage b"
        )

    D.base, D.tuned = base, tuned
    md = render.expected_markdown(D)
    assert md.startswith("Expected answer: faq.pdf p.6") and "base: **rank 2** (score 0.420, p=0.30)" in md
    assert "tuned: **rank 1** (score 0.800)" in md
    D.expected = None
    assert "click the right row" in render.expected_markdown(D)


def test_history_preview_and_snippets():
    from bgetune.tools.history import HistoryPreview

    p = HistoryPreview(
        file="/ws/uploads/h.csv",
        format="csv",
        rows=2,
        headers=["用户问题", "答案标题", "备注"],
        columns={"question": "用户问题", "title": "答案标题"},
        unmapped=["备注"],
        sample=[],
        questions=2,
        plan=["answers linked to your chunks by title"],
        warnings=["the workspace has no chunks yet"],
    )
    assert render.preview_rows(p) == [["question", "用户问题"], ["title", "答案标题"], ["(not used)", "备注"]]
    md = render.preview_markdown(p)
    assert (
        "**h.csv** (csv): 2 rows, 2 distinct questions" in md
        and "**warning:** the workspace has no chunks" in md
    )
    md = render.snippets_markdown({"openai": "client = OpenAI()", "tei": "docker run x"}, "/m", "http://h:1")
    assert "serving at **http://h:1/v1**" in md and "```python\nclient = OpenAI()\n```" in md
    assert "```bash\ndocker run x\n```" in md
