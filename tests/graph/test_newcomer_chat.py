"""A newcomer's first hour in the offline chat: every promise of the first replies is checked through AgentSession."""

from __future__ import annotations

import re

import pytest

from bgetune.agent.runner import AgentSession
from bgetune.core.config import Settings
from tests.graph.conftest import drain, last_message, runs


def _say(s: AgentSession, text: str, files=None) -> str:  # noqa: ANN001
    return last_message(drain(s.send(text, files=files)))


def test_first_reply_review_paging_and_partial_settings(tmp_path, docs):
    ws = tmp_path / "ws"
    with AgentSession(ws, Settings(workspace=ws), "newcomer") as s:
        first = _say(s, "fine-tune bge on these PDFs", files=docs)
        # which model is tuned, and why, in one line (no BGE weights are reachable offline)
        assert "Base model: bundled all-MiniLM-L6-v2" in first
        assert "offline" in first.lower() and "BAAI/bge-small-en-v1.5" in first
        assert "Examples" in first  # the dataset block, once
        total = s.stages()["pairs"]
        n = sum(v for k, v in total.items() if k != "rejected")
        page = _say(s, "show 30 pairs")
        assert "Examples" not in page  # "show pairs" does not repeat the example block
        assert f"Pairs 1-{min(30, n)} of {n}" in page  # the pairs in play: proposed and kept
        assert "(rejected)" not in page, page  # no rejected pair mixed in
        first_two = [int(x) for x in re.findall(r"^  #(\d+) \(", page, re.M)[:2]]
        before = s.stages()["pairs"].get("approved", 0)
        _say(s, "approve the first 2")  # the first two of the page just shown, not pair #2
        assert s.stages()["pairs"].get("approved", 0) == before + 2
        from bgetune.core.workspace import Workspace

        w = Workspace(ws)
        assert all(w.scalar("SELECT status FROM pairs WHERE id=?", (i,)) == "approved" for i in first_two)
        w.close()
        n = sum(v for k, v in s.stages()["pairs"].items() if k != "rejected")
        if n > 30:
            more = _say(s, "show more")
            assert f"Pairs 31-{min(60, n)} of {n}" in more
        rejected = _say(s, "show rejected")
        assert "status=rejected" in rejected or "No pairs" in rejected
        if s.stages()["pairs"].get("rejected"):  # the reasons in plain words, not only their codes
            from bgetune.tools.filtering import REASONS

            why = _say(s, "why were so many pairs rejected?")
            assert "Rejected because" in why and any(en in why for en, _ in REASONS.values()), why
        nxt = _say(s, "what should I do next?")
        assert "wait for your review" in nxt and '"train"' in nxt, nxt
        use = _say(s, "how do I use the model in my app?")
        assert "no tuned model yet" in use, use
        both = _say(s, "use 2 epochs and a smaller learning rate")
        assert "Set epochs = 2" in both and "Set lr = 1e-05" in both
        vague = _say(s, "set the learning rate to something sensible")
        assert "did not understand" in vague and "lr" in vague


def test_a_csv_in_the_chat_gets_the_history_import_preview(tmp_path, docs):
    ws = tmp_path / "ws"
    csv = tmp_path / "questions.csv"
    csv.write_text("question,answer title\nhow do I restore a file?,Restore\n", encoding="utf-8")
    with AgentSession(ws, Settings(workspace=ws), "csv") as s:
        _say(s, "fine-tune bge on these PDFs", files=docs)
        ev = drain(s.send("here are our users' questions", files=[csv]))
        tools = [e["tool"] for e in ev if e["type"] == "tool_call"]
        assert tools and tools[0] == "preview_history", tools
        assert "PDF" not in last_message(ev)


@pytest.mark.slow
def test_honest_card_gain_with_meaning_and_results_without_rerun(reviewed_ws):
    with AgentSession(reviewed_ws, Settings(workspace=reviewed_ws), "train") as s:
        ev = drain(s.send("train"))
        card = s.pending_approval()
        assert card and card["tool"] == "train", [e for e in ev if e["type"] != "progress"]
        assert "CPU time (no GPU here) on cpu" in card["cost_label"]  # not "(gpu)" on a CPU
        assert card["settings"]["lr"] is not None and card["settings"]["epochs"] == 1
        assert "GPU/compute" not in card["message"]
        reply = last_message(drain(s.resume("approve")))
        assert runs(reviewed_ws) and runs(reviewed_ws)[0]["status"] == "done"
        assert "nDCG@10 gain" in reply and "95% CI" in reply
        assert any(w in reply for w in ("within noise", "real improvement", "WORSE"))
        assert "say export" not in reply.lower() and 'Next: "calibrate"' not in reply
        evals = len(runs(reviewed_ws, "eval"))
        good = _say(s, "how good is it now?")
        assert "nDCG@10" in good and len(runs(reviewed_ws, "eval")) == evals  # interpreted, not re-run
        use = _say(s, "how do I use the model in my app?")
        exported = s.stages().get("export_dir")
        if exported:  # the folder it names loads, with the query prompt the reply shows
            assert exported in use and "prompt_name='query'" in use, use
            from sentence_transformers import SentenceTransformer

            assert SentenceTransformer(exported, local_files_only=True).encode(["q"]).shape[0] == 1
        else:  # the decision kept the base: the reply says how to export the tuned one anyway
            assert "ship anyway" in use, use
