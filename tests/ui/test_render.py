"""render.py: session events -> chat messages, approval card text, table rows (no browser)."""

from __future__ import annotations

import json

import gradio as gr

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
    assert msgs[-1].content.startswith("⚠️") and "disk full" in msgs[-1].content
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
    assert "Approval needed" in md and "GPU" in md and "| steps | 3 |" in md and "| minutes | 0.21 |" in md
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
    md = render.diagnosis_markdown({"verdict": "ranked 7th", "next_step": "add pairs", "rank": 7})
    assert "ranked 7th" in md and "add pairs" in md and "rank" in md


def test_a_step_waits_for_approval_without_a_spinner_then_runs_and_finishes():
    msgs = render.apply_event([], {"type": "tool_call", "tool": "train", "args": {}, "id": "t1"})
    msgs = render.apply_event(
        msgs, {"type": "approval", "tool": "train", "tool_call_id": "t1", "title": "Train"}
    )
    m = meta(msgs[0])
    assert "status" not in m and m["log"] == "waiting for your approval"
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
