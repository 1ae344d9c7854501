"""CLI commands of the evaluation area, the weight merge, and the Debian FAQ reference figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgetune.cli import app
from tests.conftest import DEBIAN_FAQ

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{") :])


def _small_debian(tmp_path, n: int = 25):
    corpus = tmp_path / "corpus.jsonl"
    golden = tmp_path / "golden.jsonl"
    rows = (DEBIAN_FAQ / "corpus.en.jsonl").read_text().splitlines()[:n]
    corpus.write_text("\n".join(rows) + "\n")
    ids = {json.loads(r)["id"] for r in rows}
    gold = [json.loads(g) for g in (DEBIAN_FAQ / "golden.en.jsonl").read_text().splitlines()]
    gold = [g for g in gold if set(g["pos_ids"]) <= ids][:12]
    # text positives (as a PDF user would write them) for half, ids for the rest, one that is not in the corpus
    lines = [
        {"query": g["query"], "pos": [g["pos"][0][:200]]}
        if i % 2
        else {"query": g["query"], "pos_ids": g["pos_ids"]}
        for i, g in enumerate(gold)
    ]
    lines.append({"query": "Where is the moon?", "pos": ["The moon is made of cheese and lives in a jar."]})
    golden.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return corpus, golden


def test_cli_eval_golden_with_base(tmp_path, bundled_path):
    corpus, golden = _small_debian(tmp_path)
    out = _json(
        runner.invoke(
            app,
            [
                "eval",
                "--model",
                "bundled",
                "--base",
                "bundled",
                "--corpus",
                str(corpus),
                "--golden",
                str(golden),
                "--json",
            ],
        )
    )
    assert out["queries"] == 12 and len(out["unmatched"]) == 1 and out["unmatched"][0]["line"] == 13
    assert out["metrics"]["base"] == out["metrics"]["tuned"]
    assert out["metrics"]["tuned"]["ndcg@10"] > 0.5
    assert out["ci"]["diff"] == 0
    text = runner.invoke(
        app, ["eval", "--model", "bundled", "--corpus", str(corpus), "--golden", str(golden)]
    )
    assert text.exit_code == 0 and "ndcg@10" in text.output and "unmatched (line 13)" in text.output
    bad = runner.invoke(
        app, ["eval", "--model", "bundled", "--corpus", str(tmp_path / "no.jsonl"), "--golden", str(golden)]
    )
    assert bad.exit_code == 2 and "no.jsonl does not exist" in bad.output  # a user error: exit 2


def test_cli_workspace_commands(eval_ws, tuned_dir):
    w = ["--workspace", str(eval_ws.root)]
    ev = _json(runner.invoke(app, ["eval", "--model", tuned_dir, *w, "--json"]))
    assert set(ev["metrics"]) == {"base", "tuned"}
    cal = _json(runner.invoke(app, ["calibrate", "--model", tuned_dir, *w, "--json"]))
    assert cal["threshold"] == cal["after"]["threshold_f1"]
    q = eval_ws.query("SELECT query, passage, chunk_id FROM pairs WHERE split='test' LIMIT 1")[0]
    sc = _json(runner.invoke(app, ["score", q["query"], q["passage"], "--model", tuned_dir, "--json"]))
    assert sc["threshold"] == cal["threshold"] and sc["probability"] is not None
    # the base model scored with the workspace's calibration gets the 'before' threshold
    base = _json(runner.invoke(app, ["score", q["query"], q["passage"], "--model", "bundled", *w, "--json"]))
    assert base["threshold"] == cal["before"]["threshold_f1"] and base["score"] == sc["score"]
    none = runner.invoke(app, ["score", "a", "b", *w])  # no trained model in this workspace
    assert none.exit_code == 2 and "pass --model" in none.output
    dg = runner.invoke(
        app, ["diagnose", q["query"], "--expected-id", q["chunk_id"], "--model", tuned_dir, *w]
    )
    # the diagnosis: a ranked table, the verdict, and numbered one-step fixes
    assert dg.exit_code == 0 and "| 1 |" in dg.output and "bgetune fix" in dg.output, dg.output[-800:]
    both = runner.invoke(app, ["diagnose", "x", "--expected", "a", "--expected-id", "b", *w])
    assert both.exit_code == 2 and "one way" in both.output  # a user error: exit 2 with the reason


def test_merge_weights_interpolates(st_model, _session_model):
    import copy

    import torch

    from bgetune.tools.merge import merge_weights

    tuned = copy.deepcopy(st_model)
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(1.0)
    half = merge_weights(st_model, tuned, 0.5)
    name, base_p = next(iter(st_model.state_dict().items()))
    for n, v in half.state_dict().items():
        if torch.is_floating_point(v):
            assert torch.allclose(v, st_model.state_dict()[n] + 0.5, atol=1e-5), n
            break
    assert torch.equal(merge_weights(st_model, tuned, 0.0).state_dict()[name], base_p)
    with pytest.raises(ValueError):
        merge_weights(st_model, tuned, 1.5)


@pytest.mark.slow
def test_debian_faq_reference_figures(bundled_path):
    """The metric code reproduces the benchmark README's figures for the bundled model (no prompt)."""
    from bgetune.tools.evaluation import evaluate_golden

    en = evaluate_golden("bundled", DEBIAN_FAQ / "corpus.en.jsonl", DEBIAN_FAQ / "golden.en.jsonl")
    assert en["queries"] == 120 and not en["unmatched"]
    assert en["metrics"]["ndcg@10"] == pytest.approx(0.708, abs=0.002)
    assert en["metrics"]["hit@10"] == pytest.approx(0.883, abs=0.002)
    zh = evaluate_golden("bundled", DEBIAN_FAQ / "corpus.zh.jsonl", DEBIAN_FAQ / "golden.zh.jsonl")
    assert zh["metrics"]["ndcg@10"] == pytest.approx(0.179, abs=0.002)


@pytest.mark.slow
def test_forgetting_guard_offers_a_merge(eval_ws, st_model, tmp_path):
    """A 'tuned' model with damaged weights forgets the out-of-domain set; the guard picks a mix on val data."""
    import torch

    from bgetune.tools.merge import ALPHAS, forgetting_guard

    torch.manual_seed(0)
    with torch.no_grad():
        for p in st_model.parameters():
            p.add_(torch.randn_like(p) * p.std() * 0.6)
    damaged = tmp_path / "damaged"
    st_model.save(str(damaged))
    corpus, golden = _small_debian(tmp_path)
    res = forgetting_guard(eval_ws, tuned_dir=str(damaged), ood_corpus=str(corpus), ood_golden=str(golden))
    assert res["ood_set"] == "user: golden.jsonl" and res["ood_queries"] == 12
    assert res["forgetting"] > 0.01 and res["merge_recommended"]
    assert [r["alpha"] for r in res["merge"]["alphas"]] == list(ALPHAS)
    assert res["merge"]["alpha"] < 1.0
    if 0 < res["merge"]["alpha"] < 1:
        assert "merged" in res["ood"] and (Path(res["merged_dir"]) / "config.json").exists()
