"""The offline planner on two sets of utterances written blind (without the planner's rules), en and zh.

Set 1 was written first and the planner tuned on its misses; set 2 was then written blind and measured once
(80.0% before it too was used to improve the rules: the honest held-out figure, see the closing note).
Set 3 (150, issue 21) was written after the planner became a table of routes, from the README and the issue
texts, and scored once before any fix: en 90.7% (68/75), zh 85.3% (64/75). Its writer had read the planner's
code before (not a fully blind writer). The misses were then fixed. All three stay as regression sets; the target
is >= 95% per set and per language.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bgetune.agent.planner import plan_request
from tests.graph.conftest import trained_stages

HERE = Path(__file__).parent
STAGES = {**trained_stages(), "golden": {"labeled": 5}}
NO_TOOL = {"help", "hold", "clarify", "undo"}


def routed(row: dict) -> bool:
    files = row.get("files") or []
    plan = plan_request(
        row["text"], files=files, new_files=bool(files), stages=STAGES, context=row.get("context")
    )
    expect = "estimate_training" if row["expect"] == "estimate" else row["expect"]
    if expect in NO_TOOL:
        return plan.intent == expect and not plan.steps
    return bool(plan.steps) and plan.steps[0]["tool"] == expect


@pytest.mark.parametrize(
    "name", ["heldout_utterances.jsonl", "heldout_utterances_2.jsonl", "heldout_utterances_3.jsonl"]
)
def test_planner_accuracy_on_blind_utterances(name):
    rows = [
        json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    assert len(rows) >= 150
    for lang in ("en", "zh"):
        part = [r for r in rows if r["lang"] == lang]
        misses = [r["text"] for r in part if not routed(r)]
        accuracy = 1 - len(misses) / len(part)
        print(f"{name} {lang}: {accuracy:.1%} of {len(part)}")
        assert accuracy >= 0.95, misses
