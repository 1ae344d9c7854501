"""Scripted offline conversations through AgentSession: history import, diagnosis (en and zh), golden set + ship
decision, serving. Real workspaces, the bundled model, the real graph with its approval gate."""

from __future__ import annotations

import json
import shutil

import pytest

from bgetune.agent.runner import AgentSession
from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace
from tests.data.conftest import tiny_ws  # noqa: F401 - fixture
from tests.eval.test_diagnosis import INSTALL_Q, INSTALL_TITLE, _calibrate, _rfaq  # noqa: F401 - fixtures
from tests.graph.conftest import drain, last_message


def _say(s: AgentSession, text: str, files=None) -> tuple[str, list[dict]]:  # noqa: ANN001
    ev = drain(s.send(text, files=files))
    return last_message(ev), [e["tool"] for e in ev if e["type"] == "tool_call"]


def test_history_csv_preview_confirm_review(tiny_ws, tmp_path):  # noqa: F811
    csv = tmp_path / "questions.csv"
    csv.write_text(
        "question,answer title,clicked\n"
        "how do I keep a package at one version,Pinning,yes\n"
        "apt through a corporate proxy,Proxy settings,yes\n"
        "what is the refund policy,Refund policy,yes\n",
        encoding="utf-8",
    )
    root = tiny_ws.root
    tiny_ws.close()
    with AgentSession(root, Settings(workspace=root), "history") as s:
        preview, tools = _say(s, "here are our users' questions", files=[csv])
        assert tools == ["preview_history"]
        assert "answer title" in preview and "clicked" in preview  # the detected columns, named
        assert Workspace(root).scalar("SELECT count(*) FROM pairs") == 0  # nothing written before the yes
        done, tools = _say(s, "yes")
        assert tools == ["import_history"]
        assert "title" in done and "Refund policy" in done  # link methods; the unlinkable row and its reason
        listed, tools = _say(s, "show pairs from history")
        assert tools == ["show_pairs"]
    ws = Workspace(root)
    rows = ws.query("SELECT query, link_method, kind FROM pairs")
    assert {r["link_method"] for r in rows} == {"title"} and all(r["kind"] == "real" for r in rows)
    assert ws.scalar("SELECT count(*) FROM import_rows WHERE status='unlinked'") == 1
    assert "keep a package" in listed


@pytest.fixture
def rfaq_copy(_rfaq, tmp_path):  # noqa: F811
    dst = tmp_path / "rfaq"
    shutil.copytree(_rfaq, dst)
    return dst


def test_diagnosis_conversation_en(rfaq_copy):
    ws = Workspace(rfaq_copy)
    _calibrate(ws, [0.45, 0.5, 0.6, 0.7, 0.8], [0.1, 0.2, 0.25, 0.3, 0.38])
    from bgetune.tools.diagnosis import diagnose

    seventh = diagnose(ws, INSTALL_Q, record=False).base.results[6]
    ws.close()
    with AgentSession(rfaq_copy, Settings(workspace=rfaq_copy), "why") as s:
        reply, tools = _say(s, f"why does '{INSTALL_Q}' miss?")
        assert tools == ["diagnose"]
        assert "does not miss" in reply and INSTALL_TITLE in reply  # told so, with its rank-1 result
        reply, _ = _say(s, f"why does '{INSTALL_Q}' miss? it should find {seventh.chunk_id}")
        assert "rank 7" in reply and "Evidence" in reply
        before = Workspace(rfaq_copy).scalar("SELECT count(*) FROM pairs WHERE status='approved'")
        reply, tools = _say(s, "add it as a training pair")
        assert tools == ["apply_fix"]
    ws = Workspace(rfaq_copy)
    assert ws.scalar("SELECT count(*) FROM pairs WHERE status='approved'") == before + 1
    pair = ws.query("SELECT * FROM pairs WHERE source='diagnosis'")
    assert len(pair) == 1 and pair[0]["chunk_id"] == seventh.chunk_id and pair[0]["query"] == INSTALL_Q
    assert ws.scalar("SELECT count(*) FROM pair_events WHERE pair_id=?", (pair[0]["id"],)) >= 1


def test_diagnosis_conversation_zh_language_verdict(rfaq_copy):
    with AgentSession(rfaq_copy, Settings(workspace=rfaq_copy), "why-zh") as s:
        reply, tools = _say(s, "为什么'如何安装R包'检索不到？")
    assert tools == ["diagnose"]
    assert "语言" in reply and "bge-m3" in reply
    assert "does not" not in reply and "Evidence" not in reply  # the verdict is in Chinese


@pytest.mark.slow
def test_golden_set_built_in_chat_then_train_names_evidence_and_decision(tmp_path):
    records = [
        {
            "id": f"r{i}",
            "text": f"Topic {i}: the {w} service restarts every {i + 2} hours and logs to /var/log/{w}.",
        }
        for i, w in enumerate(
            "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar "
            "papa quebec romeo sierra tango uniform victor".split()
        )
    ]
    kb = tmp_path / "kb.jsonl"
    kb.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    questions = [
        f"how often does the {w} service restart?"
        for w in "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango".split()
    ]
    ws = tmp_path / "ws"
    with AgentSession(ws, Settings(workspace=ws), "golden") as s:
        _say(s, "fine-tune on this knowledge base", files=[kb])
        _say(s, "approve all")
        _say(s, "max steps 2")
        _say(s, "epochs 1")
        reply, tools = _say(s, "golden questions:\n" + "\n".join(questions))
        assert tools[:2] == ["golden_add", "golden_candidates"]
        for _ in questions:
            reply, tools = _say(s, "1")
            assert tools[0] == "golden_label"
        assert Workspace(ws).scalar("SELECT count(*) FROM golden WHERE status='labeled'") == 20
        drain(s.send("train"))
        assert s.pending_approval()["tool"] == "train"
        reply = last_message(drain(s.resume("approve")))
    assert "golden" in reply.lower() and "20" in reply  # the evidence: which set, how many questions
    assert any(w in reply.lower() for w in ("ship", "keep", "kept"))  # the decision, said plainly


def test_serve_it_in_the_chat_gives_a_url_and_snippets(tmp_path):
    from bgetune.core.models import bundled_model_path

    st_model_dir = bundled_model_path()
    ws = Workspace(tmp_path / "ws")
    run = ws.start_run("export", {})
    ws.finish_run(run, result={"model_dir": str(st_model_dir)}, artifact_dir=str(st_model_dir))
    ws.close()
    with AgentSession(tmp_path / "ws", Settings(workspace=tmp_path / "ws"), "serve") as s:
        reply, tools = _say(s, "serve it")
        assert tools == ["serve_model"]
    assert "http://127.0.0.1:" in reply and "OpenAIEmbeddings" in reply and "/v1" in reply
