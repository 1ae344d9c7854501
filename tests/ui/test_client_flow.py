"""The whole flow headlessly through gradio_client against a launched app: upload, converse, review, approve
with edited settings, train (2 steps), results, downloads; a second client (a reloaded page) sees the card."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.ui.conftest import pair_ids

pytestmark = pytest.mark.slow


def text_of(message: dict) -> str:
    c = message.get("content")
    if isinstance(c, list):
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in c)
    return str(c)


def files_of(message: dict) -> list[str]:
    """Paths of the file parts of a chat message (images shown inline), not of its text."""
    parts = message.get("content")
    parts = parts if isinstance(parts, list) else [parts]
    out = []
    for p in parts:
        if isinstance(p, dict) and (p.get("type") == "file" or "file" in p or "path" in p):
            f = p.get("file") or p
            out.append(f if isinstance(f, str) else str(f.get("path") or f.get("url") or ""))
    return out


def card_of(load_out: list, entries: list[dict]) -> tuple[bool, str, dict]:
    """(shown, markdown, visible setting fields) of the approval card from /load_chat's outputs (the client
    drops the card's Group: the card is shown exactly when its text is not empty)."""
    md = load_out[1] if isinstance(load_out[1], str) else ""
    names = [e["name"] for e in entries]
    ups = load_out[2 : 2 + len(names)]
    fields = {
        n: u.get("value") for n, u in zip(names, ups, strict=True) if isinstance(u, dict) and u.get("visible")
    }
    return bool(md), md, fields


def approve_args(entries: list[dict], **values) -> list:
    """/approve's inputs: the other-settings JSON, then one value per card field (None = unchanged)."""
    return ["", *[values.get(e["name"]) for e in entries]]


def test_full_flow_through_gradio_client(ui_server, flow_pdf):
    ws: Path = ui_server["workspace"]
    entries = ui_server["demo"].card_entries
    client = Client(ui_server["url"], verbose=False)

    chat, *_ = client.predict(
        {"text": "fine-tune bge on this", "files": [handle_file(str(flow_pdf))]}, api_name="/send"
    )
    assert (ws / "uploads" / flow_pdf.name).is_file(), "the upload is stored in the workspace"
    steps = [m for m in chat if (m.get("metadata") or {}).get("title")]
    titles = [s["metadata"]["title"] for s in steps]
    assert titles[0] == "Reading documents" and "Generating question–passage pairs" in titles, titles
    assert all(s["metadata"]["status"] == "done" for s in steps)
    assert "Offline mode" in text_of(chat[-1])
    proposed = pair_ids(ws, "proposed")
    assert len(proposed) >= 3

    table, summary, *_ = client.predict("all", "all", "all", "", api_name="/dataset")
    rows = table["data"]
    assert {r[0] for r in rows} == set(pair_ids(ws)) and "pairs" in summary
    # reject one, edit another (form and in place), approve the rest
    client.predict(str(proposed[0]), "all", "all", "all", "", api_name="/pairs_reject")
    out = client.predict(
        proposed[1], "where is the GPL text kept?", "all", "all", "all", "", api_name="/edit_query"
    )
    assert "now asks" in out[-2]
    edited_rows = [
        list(r) for r in client.predict("proposed", "all", "all", "", api_name="/dataset")[0]["data"]
    ]
    edited_rows[0][2] = "who maintains the R FAQ?"
    target = edited_rows[0][0]
    client.predict(
        {"headers": table["headers"], "data": edited_rows, "metadata": None},
        "proposed",
        "all",
        "all",
        "",
        api_name="/table_edit",
    )
    client.predict("", "all", "all", "all", "", api_name="/pairs_approve_all")
    assert pair_ids(ws, "rejected")[:1] and proposed[0] in pair_ids(ws, "rejected")
    assert set(pair_ids(ws, "edited")) == {proposed[1], target}
    assert pair_ids(ws, "proposed") == []
    from bgetune.core.workspace import Workspace

    w = Workspace(ws)
    assert w.scalar("SELECT query FROM pairs WHERE id=?", (target,)) == "who maintains the R FAQ?"
    assert w.scalar("SELECT count(*) FROM pair_events WHERE action='edit'") == 2

    chat, *_ = client.predict({"text": "train", "files": []}, api_name="/send")
    assert "Waiting for your approval" in text_of(chat[-1])
    assert w.scalar("SELECT count(*) FROM runs WHERE kind='train'") == 0, "nothing trains before approval"

    # a reloaded page (a new client session) rebuilds the same card from the persisted graph state
    reloaded = Client(ui_server["url"], verbose=False)
    out = reloaded.predict(api_name="/load_chat")
    visible, md, fields = card_of(out, entries)
    assert visible and "Approval needed" in md and "| steps |" in md and "`train`" in md
    assert {"epochs", "batch_size", "max_steps", "base_model", "lr", "hard_negatives"} <= set(fields), fields
    assert "Waiting for your approval" in text_of(out[0][-1])

    chat, _box = reloaded.predict(
        *approve_args(entries, epochs=1, batch_size=4, max_steps=2), api_name="/approve"
    )
    titles = [(m.get("metadata") or {}).get("title") for m in chat]
    assert "Training" in titles and "Evaluating base vs tuned" in titles, [
        text_of(m)[:300] for m in chat[-4:]
    ]
    run = w.last_run("train")
    params = w.run(run["id"])["params"]
    assert params["max_steps"] == 2 and params["batch_size"] == 4 and params["epochs"] == 1, "the edits ran"
    assert not card_of(Client(ui_server["url"], verbose=False).predict(api_name="/load_chat"), entries)[0]
    images = [f for m in chat for f in files_of(m)]
    assert any(f.endswith(".png") for f in images), ("plots show inline in the chat", chat[-6:])

    summary, metrics, hist, bars, loss, use = client.predict(api_name="/results")
    assert [r[0] for r in metrics["data"]][:1] == ["ndcg@10"] and bars and loss and "Evaluated" in summary
    decision = (w.last_run("train")["result"] or {}).get("decision") or {}
    if decision and not decision.get("ship", True):  # the Results tab says the base was kept, and what to use
        assert "The base model was kept" in summary and "base model was kept" in use, (summary, use)
    else:
        assert "Model folder" in use and "SentenceTransformer(" in use
    summary, metrics, hist, bars, loss, use, note = client.predict(api_name="/calibrate")
    assert hist and Path(hist).suffix == ".png" and "Threshold" in note, note
    files = client.predict(api_name="/export_jsonl")
    first = json.loads(Path(files[-1]).read_text(encoding="utf-8").splitlines()[0])
    assert {"query", "pos", "neg"} <= set(first)
    if decision and not decision.get("ship", True):  # 2 steps rarely beat the base: export needs the tick
        with pytest.raises(Exception, match="Not exported"):
            client.predict(False, api_name="/export_zip")
    files = client.predict(True, api_name="/export_zip")
    assert Path(files[-1]).name.endswith(".zip")
    head, base, tuned, note = client.predict(
        "what is the GNU General Public License?", "", api_name="/diagnose"
    )
    assert "Verdict" in head, note
    assert "tuned model" in tuned["label"] and tuned["value"]["data"][0][0] == 1, (
        "base and tuned side by side"
    )

    # use the model: start the OpenAI-compatible server and call it
    md, note = client.predict(api_name="/serve")
    url = re.search(r"serving at \*\*(http://[^*]+)/v1\*\*", md)
    assert url, (md, note)
    import httpx

    r = httpx.post(f"{url.group(1)}/v1/embeddings", json={"model": "x", "input": ["hello"]}, timeout=60)
    if r.status_code == 404:  # the model name must match: take it from the snippet
        name = re.search(r'model="([^":]+)"', md).group(1)
        r = httpx.post(f"{url.group(1)}/v1/embeddings", json={"model": name, "input": ["hello"]}, timeout=60)
    assert r.status_code == 200 and len(r.json()["data"][0]["embedding"]) == 384, r.text
