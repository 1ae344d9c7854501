"""The bench runner's pure parts: `--list --json`, the protocol (b) halves and the pooled bootstrap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "suite"))

import runner  # noqa: E402


def test_list_json_names_every_committed_set():
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "quality.py"), "--list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sets = json.loads(out)
    assert {s["name"] for s in sets} >= {"debian-faq-en", "debian-faq-zh", "ctex-faq", "r-faq", "python-faq"}
    for s in sets:
        assert set(s) == {"name", "language", "questions", "passages"}
        assert s["passages"] > s["questions"] > 0
    assert sum(s["questions"] for s in sets) >= 600
    assert sum(s["questions"] for s in sets if s["language"] == "zh") >= 200


def test_halves_are_disjoint_and_stable():
    rows = [{"query": f"question {i}?", "pos_ids": [str(i)]} for i in range(41)]
    a, b = runner.halves(rows)
    assert len(a) == 20 and len(b) == 21
    assert not {r["query"] for r in a} & {r["query"] for r in b}
    assert runner.halves(list(reversed(rows))) == (a, b)  # by hash, not by input order


def test_pooled_bootstrap_over_sets():
    runs = [
        {"set": "x", "protocol": "nogold", "per_query": {"base": [0.5] * 50, "shipped": [0.6] * 50}},
        {
            "set": "y",
            "protocol": "nogold",
            "per_query": {"base": [0.5] * 50, "shipped": [0.5] * 25 + [0.3] * 25},
        },
    ]
    p = runner.pooled(runs)
    assert p["queries"] == 100
    assert abs(p["diff"] - 0.0) < 1e-9  # +0.1 x 50 and -0.2 x 25 over 100 queries = 0
    assert p["low"] < 0 < p["high"]
