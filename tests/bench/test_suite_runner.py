"""The bench runner's pure parts: `--list --json`, the protocol (b) halves and the pooled bootstrap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def _cand(name: str, gain: float, low: float, alpha: float | None = 1.0) -> dict:
    return {
        "name": name,
        "kind": "mix" if alpha != 1.0 else "epoch",
        "alpha": alpha,
        "ndcg": 0.5 + gain,
        "low": low,
    }


def test_decision_rules_replay_the_stored_evidence_and_score_picks_on_the_real_questions():
    """The rule table: each rule picks from the stored generated / judged candidates; its pick is scored with
    ``candidates_real``; a pick the bench could not re-score counts as unknown, never as a gain."""
    base = [0.5] * 4
    gen = [_cand("epoch 2", 0.30, 0.20), _cand("epoch 2 x0.5", 0.20, 0.10, 0.5)]
    judged = [_cand("epoch 2", -0.40, -0.50), _cand("epoch 2 x0.5", 0.05, 0.01, 0.5)]
    real = {
        "epoch 2": {"per_query": [0.6] * 4, "gain": runner.bootstrap([0.1] * 4)},
        "epoch 2 x0.5": {"per_query": [0.55] * 4, "gain": runner.bootstrap([0.05] * 4)},
    }
    run = {
        "set": "s1",
        "protocol": "nogold",
        "per_query": {"base": base},
        "decision": {"candidates": [_cand("base", 0, 0, None) | {"kind": "base"}, *gen], "judged": judged},
        "candidates_real": real,
    }
    gen_d = {c["name"]: c for c in gen}
    jud_d = {c["name"]: c for c in judged}
    assert runner._rule_confirmed(gen_d, jud_d) == "base"  # the teacher vetoes the generated pick
    assert runner._rule_generated(gen_d, jud_d) == "epoch 2"
    assert runner._rule_teacher(gen_d, jud_d) == "epoch 2 x0.5"
    assert runner._rule_agree(gen_d, jud_d) == "epoch 2 x0.5"
    assert runner._rule_either(gen_d, jud_d) == "epoch 2 x0.5"
    md = runner.rules_md([run])
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert "epoch 2: +0.100" in rows["generated only (before issue 25)"]
    assert "| base |" in rows["confirmed (best on generated, confirmed by the teacher; until 2026-12-03)"]
    assert "epoch 2 x0.5: +0.050" in rows["today: teacher only (the teacher's pick)"]
    # the generated pick's weights were not re-scored (another epoch): unknown, not a gain
    unknown = {**run, "candidates_real": {"epoch 2 x0.5": real["epoch 2 x0.5"]}}
    line = next(x for x in runner.rules_md([unknown]).splitlines() if x.startswith("| generated only"))
    assert "epoch 2: ?" in line and "(1 unknown)" in line
    assert runner.rules_md([{**run, "protocol": "gold30"}]) == ""  # real questions decide there
    # two training seeds: a column per (set, seed), pooled per seed, and each question's gain averaged over seeds
    s14 = {
        **run,
        "seed": 14,
        "decision": {**run["decision"], "judged": judged[:1]},
    }  # the teacher keeps the base
    two = runner.rules_md([{**run, "seed": 13}, s14])
    assert "| s1 s13 | s1 s14 |" in two
    row = next(x for x in two.splitlines() if x.startswith("| today: teacher only"))
    assert "s13 +0.050, s14 +0.000" in row and "+0.025 [" in row and "(1 sets)" in row


def test_compare_variants_pairs_the_same_questions(tmp_path, monkeypatch):
    """Issue 24 protocol (b): styled vs unstyled per query on the same real questions, pooled over sets; a set
    scored on other questions is refused rather than compared."""
    monkeypatch.setattr(runner, "RESULTS", tmp_path)
    monkeypatch.setattr(runner, "list_sets", lambda: [{"name": "x"}, {"name": "y"}])

    def put(
        variant: str, name: str, shipped: list[float], tuned: list[float] | None = None, idx=None
    ) -> None:
        pq = {
            "query_index": idx or list(range(len(shipped))),
            "base": [0.5] * len(shipped),
            "shipped": shipped,
        }
        if tuned is not None:
            pq["best_tuned"] = tuned
        d = tmp_path / variant
        d.mkdir(exist_ok=True)
        run = {"set": name, "seed": 13, "protocol": "gold30", "per_query": pq}
        (d / f"{name}.gold30.s13.json").write_text(json.dumps(run))

    put("a", "x", [0.5] * 40, tuned=[0.7] * 40)  # kept the base; its trained model was better
    put("b", "x", [0.5] * 40, tuned=[0.6] * 40)
    put("a", "y", [0.6] * 20)  # shipped (no separate tuned model)
    put("b", "y", [0.5] * 20)
    c = runner.compare_variants("a", "b", "gold30")
    assert c["pooled"]["shipped"]["queries"] == 60
    assert abs(c["pooled"]["shipped"]["diff"] - 20 * 0.1 / 60) < 1e-9
    assert abs(c["pooled"]["tuned"]["diff"] - 0.1) < 1e-9  # x: 0.7 - 0.6; y: shipped is the tuned model
    assert c["sets"]["x"]["shipped"]["diff"] == 0.0
    assert "**pooled** | 60" in runner.compare_md(c)
    put("b", "y", [0.5] * 20, idx=list(range(1, 21)))
    with pytest.raises(SystemExit, match="different questions"):
        runner.compare_variants("a", "b", "gold30")
