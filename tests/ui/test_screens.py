"""The screens built on the capability table, through gradio_client against a launched app on a small real
workspace (two pages of the R FAQ, the bundled model): the settings card, golden-question labelling, the
"why does this query miss?" panel with its fixes, history import with a column preview, the "use your model"
section, and a CSV dropped into the chat."""

from __future__ import annotations

import json
import re

import pytest
from gradio_client import Client, handle_file

pytestmark = pytest.mark.slow


def test_settings_card_comes_from_the_table(ui_small):
    from bgetune.capabilities import get, settings_of
    from bgetune.core.workspace import Workspace

    demo = ui_small["demo"]
    remembered = [f.name for f in settings_of(get("train")) if f.metadata.get("workspace")]
    assert [e["name"] for e in demo.train_entries] == [f.name for f in settings_of(get("train")) if not
                                                        f.metadata.get("positional")]  # fmt: skip
    approval = {e["name"] for e in demo.card_entries}
    assert {"epochs", "batch_size", "max_steps", "lr", "base_model", "mode", "max_chunks"} <= approval
    assert set(remembered) <= approval, "every training setting can be edited at the gate"

    client = Client(ui_small["url"], verbose=False)
    values = client.predict(api_name="/settings")
    by_name = dict(zip([e["name"] for e in demo.train_entries if e["remembered"]], values, strict=True))
    assert by_name["base_model"] == "bundled", "the workspace's remembered value is shown"
    new = [
        2 if n == "epochs" else "5e-5" if n == "lr" else by_name[n]
        for n in [e["name"] for e in demo.train_entries if e["remembered"]]
    ]
    *after, note = client.predict(*new, api_name="/save_settings")
    assert "epochs" in note and "lr" in note, note
    ws = Workspace(ui_small["workspace"])
    assert ws.get_setting("epochs") == 2 and ws.get_setting("lr") == pytest.approx(5e-5)
    bad = [101 if n == "epochs" else v for n, v in zip(by_name, new, strict=True)]
    *_, note = client.predict(*bad, api_name="/save_settings")
    assert "epochs" in note and "at most 100" in note and ws.get_setting("epochs") == 2, note


def test_golden_questions_add_label_none_skip(ui_small, tmp_path):
    from bgetune.core.workspace import Workspace

    client = Client(ui_small["url"], verbose=False)
    qfile = tmp_path / "questions.csv"
    qfile.write_text("question\nhow should I cite the R FAQ?\nwhat does R> mean?\n", encoding="utf-8")
    q_md, cands, table, note, text, _file = client.predict(
        "where do I get the latest version of this FAQ?", handle_file(str(qfile)), api_name="/golden_add"
    )
    assert "added 3 question(s)" in note, note
    qid = shown_id(q_md)
    assert "latest version" in q_md and len(table["data"]) == 3 and text == ""
    ws = Workspace(ui_small["workspace"])
    shown = json.loads(ws.scalar("SELECT candidates FROM golden WHERE id=?", (qid,)))["shown"]
    assert shown and len(cands["choices"]) == len(shown), "the numbered candidates are stored for the label"
    assert [c[1] for c in cands["choices"]] == list(range(1, len(shown) + 1))
    assert "model #1" in cands["choices"][0][0] and ".pdf" in cands["choices"][0][0]

    # skip (the session remembers the question shown), then label the next one with candidates 1 and 2 ...
    q_md, *_ = client.predict(api_name="/golden_skip")
    skipped_to = shown_id(q_md)
    assert skipped_to != qid
    q_md, _c, table, note = client.predict([1, 2], api_name="/golden_label")
    assert "labeled with 2 passage(s)" in note, note
    row = ws.conn.execute("SELECT status, pos_ids FROM golden WHERE id=?", (skipped_to,)).fetchone()
    stored = json.loads(ws.scalar("SELECT candidates FROM golden WHERE id=?", (skipped_to,)))["shown"]
    assert row["status"] == "labeled" and json.loads(row["pos_ids"]) == stored[:2]
    nxt = shown_id(q_md)
    # ... nothing ticked is refused; "none of these" keeps it as unanswerable
    *_, note = client.predict([], api_name="/golden_label")
    assert "Tick the passages" in note
    _q, _c, table, note = client.predict(api_name="/golden_none")
    assert (
        "unanswerable" in note and ws.scalar("SELECT status FROM golden WHERE id=?", (nxt,)) == "unanswerable"
    )
    statuses = sorted(r[1] for r in table["data"])
    assert statuses == ["? to label", "∅ none", "✓ labeled"], statuses


def val(x):
    """A component's value from a client output (updates come back as dicts)."""
    return x.get("value") if isinstance(x, dict) and x.get("__type__") == "update" else x


def shown_id(markdown: str) -> int:
    m = re.search(r"Question #(\d+)", markdown)
    assert m, markdown
    return int(m.group(1))


def test_diagnosis_panel_pick_a_row_and_fix(ui_small):
    from bgetune.core.workspace import Workspace

    client = Client(ui_small["url"], verbose=False)
    out = client.predict("how do I cite the R FAQ?", "", api_name="/diagnose")
    head, base, tuned, note = [val(x) for x in out]  # (buttons are not API outputs)
    assert "Verdict" in head and "Expected answer: not given" in head
    n = Workspace(ui_small["workspace"]).scalar(
        "SELECT count(*) FROM chunks"
    )  # fewer than 10: all are ranked
    assert base["headers"][:4] == ["#", "score", "p", "pass"] and len(base["data"]) == n
    assert [r[0] for r in base["data"]] == list(range(1, n + 1)) and all(
        r[4].endswith(".pdf") for r in base["data"]
    )
    assert tuned["data"] == [] or tuned["data"] == [[]] or not any(tuned["data"][0])
    # expected answer by text: its rank shows
    head, base, *_ = client.predict(
        "how do I cite the R FAQ?", "Obtaining this document The latest version", api_name="/diagnose"
    )
    assert "rank" in head and "base:" in head, head
    ws = Workspace(ui_small["workspace"])
    miss = ws.conn.execute("SELECT * FROM misses ORDER BY id DESC LIMIT 1").fetchone()
    assert miss["query"] == "how do I cite the R FAQ?" and miss["expected_chunk_id"]
    fixes = json.loads(miss["detail"])["actions"]
    assert fixes, "a miss with a known answer offers fixes"
    labels = [a["label_en"] for a in fixes]
    i = next(i for i, a in enumerate(fixes) if a["action"] == "add_golden")
    note = client.predict(api_name=f"/fix_{i}")
    assert "Golden question" in note, (labels, note)
    assert ws.scalar("SELECT count(*) FROM golden WHERE query=? AND status='labeled'", (miss["query"],)) == 1


def test_history_preview_then_confirm_imports(ui_small, tmp_path):
    from bgetune.core.workspace import Workspace

    csv = tmp_path / "history.csv"
    csv.write_text(
        "用户问题,答案标题,备注\n"
        "how do I cite R?,1.3 Citing this document,x\n"
        "where is the newest FAQ?,1.2 Obtaining this document,y\n",
        encoding="utf-8",
    )
    client = Client(ui_small["url"], verbose=False)
    md, cols, sample = [val(x) for x in client.predict(handle_file(str(csv)), api_name="/history_preview")]
    mapping = {r[0]: r[1] for r in cols["data"]}
    assert mapping["question"] == "用户问题" and "history.csv" in md and "2 rows" in md
    ws = Workspace(ui_small["workspace"])
    before = ws.scalar("SELECT count(*) FROM pairs")
    out = client.predict(cols, "all", "all", "all", "", api_name="/history_import")
    note = out[-1]
    assert "real questions imported" in note, note
    assert ws.scalar("SELECT count(*) FROM pairs") == before + 2


def test_csv_in_the_chat_is_an_attachment(ui_small, tmp_path):
    csv = tmp_path / "asked.csv"
    csv.write_text("question,answer\nhow do I cite R?,see 1.3\n", encoding="utf-8")
    client = Client(ui_small["url"], verbose=False)
    chat, *_ = client.predict({"text": "", "files": [handle_file(str(csv))]}, api_name="/send")
    stored = ui_small["workspace"] / "uploads" / "asked.csv"
    assert stored.is_file(), "a CSV is accepted, not refused"
    user = next(m for m in chat if m["role"] == "user")
    body = user["content"] if isinstance(user["content"], str) else json.dumps(user["content"])
    assert "asked.csv" in body, "the file name shows in the user message"
    events = ui_small["demo"].controller.session.history()
    sent = [e for e in events if e["type"] == "user"]
    assert sent and str(stored) in sent[-1]["attachments"], "the chat got the CSV as an attachment"


def test_use_your_model_without_a_model_says_what_to_do(ui_small):
    client = Client(ui_small["url"], verbose=False)
    *_, use = client.predict(api_name="/results")
    assert "No trained model yet" in use
    md, note = client.predict(api_name="/serve")
    assert "no exported model" in note and "bgetune export" in note, note
