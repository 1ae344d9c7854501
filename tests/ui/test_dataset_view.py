"""The Dataset tab's page is the page "approve the first 10" means in the chat, as a page the chat showed is."""

from __future__ import annotations


def test_the_first_n_in_the_chat_means_the_rows_the_dataset_tab_shows(sample_ws):
    from bgetune.agent.planner import plan_request
    from bgetune.capabilities.data import stage_snapshot
    from bgetune.core.config import Settings
    from bgetune.tools.qa_generation import generate_pairs
    from bgetune.ui.controller import Controller

    generate_pairs(sample_ws, Settings(workspace=sample_ws.root), mode="offline")
    sample_ws.close()
    ctl = Controller(object(), workspace=sample_ws.root, settings=Settings(workspace=sample_ws.root))
    rows, _ = ctl.dataset("proposed", "all", "all", "")
    shown = [int(r[0]) for r in rows]
    assert len(shown) >= 10
    plan = plan_request("approve the first 10", files=[], stages=stage_snapshot(ctl.ws))
    assert [(s["tool"], s["args"]) for s in plan.steps] == [("approve_pairs", {"ids": shown[:10]})]
