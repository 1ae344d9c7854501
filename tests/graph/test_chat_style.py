"""Issue 24 items 1, 2 and 4 in the offline chat: a search log attached in the chat is imported as a style source
(and pseudo pairs where the teacher is confident), and the style report is one request away."""

from __future__ import annotations

from bgetune.agent.runner import AgentSession
from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace
from tests.graph.conftest import drain, last_message


def test_search_log_in_the_chat_is_a_style_source_and_the_style_report_answers(reviewed_ws, tmp_path):
    log = tmp_path / "search-log.txt"
    log.write_text(
        "how do I roll back a release\nwho decides when to escalate to the vendor\nwhen do deployments happen\n"
        "what do I do when the pager fires\nhow long do we keep snapshots\n",
        encoding="utf-8",
    )
    with AgentSession(reviewed_ws, Settings(workspace=reviewed_ws), "style") as s:
        ev = drain(s.send("here is our search log", files=[log]))
        tools = [e["tool"] for e in ev if e["type"] == "tool_call"]
        assert tools[:1] == ["import_queries"], tools
        result = next(e for e in ev if e["type"] == "tool_result" and e["tool"] == "import_queries")
        assert result["ok"], result
        ws = Workspace(reviewed_ws)
        sources = ws.query("SELECT count(*) FROM pairs WHERE kind='pseudo'")[0][0]
        reply = last_message(ev)
        assert "5" in reply, reply  # the five queries are counted in the reply
        report = last_message(drain(s.send("show the style report")))
        assert "5 real questions" in report and "did not understand" not in report, report
        # pseudo pairs are never evidence for the ship decision
        from bgetune.tools.evidence import heldout_queryset

        held = set(heldout_queryset(ws).queries)
        pseudo = {r[0] for r in ws.query("SELECT query FROM pairs WHERE kind='pseudo'")}
        assert not (held & pseudo), (sources, held & pseudo)
