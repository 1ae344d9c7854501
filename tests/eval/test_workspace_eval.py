"""Evaluation, calibration, scoring, diagnosis and merging on a real (small) workspace with the real model."""

from __future__ import annotations

import json

import pytest

from bgetune.tools.calibration import calibrate, score_pair
from bgetune.tools.diagnosis import diagnose, locate_expected
from bgetune.tools.evaluation import EvaluationError, evaluate_workspace

PNG = b"\x89PNG"


def test_evaluate_workspace_base_vs_tuned(eval_ws, tuned_dir):
    res = evaluate_workspace(eval_ws, tuned_dir=tuned_dir, n_resamples=200)
    assert res["queries"] == 12 and res["corpus"] == 75
    base, tuned = res["metrics"]["base"], res["metrics"]["tuned"]
    assert set(base) >= {
        "hit@1",
        "hit@5",
        "hit@10",
        "mrr@10",
        "ndcg@10",
        "recall@10",
        "recall@100",
        "map@100",
    }
    assert 0.3 < base["ndcg@10"] <= 1.0
    assert tuned == pytest.approx(base, abs=1e-3)  # same weights saved as 'tuned'
    assert res["ci"]["low"] <= 0 <= res["ci"]["high"]
    per = json.loads(open(res["per_query"]).read())
    assert len(per) == 12 and {"base", "tuned", "query", "positives"} <= set(per[0])
    stored = eval_ws.metrics(res["run_id"])
    assert stored["base"]["test"]["ndcg@10"] == pytest.approx(base["ndcg@10"], abs=1e-4)
    assert open(res["plots"][0], "rb").read(4) == PNG
    assert eval_ws.last_run("eval")["status"] == "done"


def test_evaluate_without_test_split_says_what_to_do(sample_ws):
    with pytest.raises(EvaluationError, match="split"):
        evaluate_workspace(sample_ws)


def test_calibrate_and_score(eval_ws, tuned_dir):
    res = calibrate(eval_ws, model_dir=tuned_dir)
    assert res["data"]["pairs"] == 18  # val + test
    for block in (res["before"], res["after"]):
        assert block["positives"] == 18 and block["negatives"] > 18
        assert block["hard_negatives"] > 0
        assert 0 < block["threshold_f1"] < 1
        # the calibrated threshold separates positives from hard negatives better than a fixed 0.8 cut
        vs = block["vs_hard_negatives"]
        assert vs["calibrated"]["f1"] > vs["fixed_cut"]["f1"]
    saved = json.loads((eval_ws.artifacts / "calibration.json").read_text())
    assert saved["threshold"] == res["threshold"] and saved["after"]
    assert (
        tuned_dir
        and json.loads(open(f"{tuned_dir}/calibration.json").read())["threshold"] == res["threshold"]
    )
    assert open(res["plots"][0], "rb").read(4) == PNG

    pair = eval_ws.query("SELECT query, passage FROM pairs WHERE split='test' LIMIT 1")[0]
    other = eval_ws.query("SELECT text FROM chunks WHERE language='zh' LIMIT 1")[0]["text"]
    good = score_pair(tuned_dir, pair["query"], pair["passage"])
    bad = score_pair(tuned_dir, pair["query"], other)
    assert good["score"] > bad["score"]
    assert good["probability"] > bad["probability"]
    assert good["threshold"] == res["threshold"]
    assert bad["decision"] == "not relevant"
    assert good["decision"] == ("relevant" if good["score"] >= res["threshold"] else "not relevant")


def test_score_without_calibration_says_so(bundled_path):
    res = score_pair("bundled", "how to install R", "Install R from CRAN.")
    assert res["probability"] is None and "bgetune calibrate" in res["note"]


def test_diagnose_a_miss_and_without_expected(eval_ws, tuned_dir):
    calibrate(eval_ws, model_dir=tuned_dir, plots=False)
    ev = evaluate_workspace(eval_ws, tuned_dir=tuned_dir, n_resamples=50, plots=False)
    per = json.loads(open(ev["per_query"]).read())
    miss = next(q for q in per if q["tuned"]["rank"] != 1)
    res = diagnose(eval_ws, miss["query"], expected_id=miss["positives"][0], model_dir=tuned_dir)
    assert res["ranks"]["tuned"]["rank"] == miss["tuned"]["rank"]
    assert res["ranks"]["base"]["rank"] == miss["base"]["rank"]
    assert res["ranks"]["tuned"]["gap_to_winner"] > 0
    assert res["ranks"]["tuned"]["gap_to_threshold"] is not None
    assert len(res["competitors"]) == min(miss["tuned"]["rank"] - 1, 5)
    assert {"plausible_answer", "similarity_to_expected", "why"} <= set(res["competitors"][0])
    assert res["training_coverage"]["nearest_training_queries"]
    assert res["verdict"].endswith(".") and res["next_step"]
    assert f"Ranked {miss['tuned']['rank']}" in res["verdict"]

    top = diagnose(eval_ws, miss["query"], model_dir=tuned_dir)
    assert len(top["results"]) == 5 and top["results"][0]["probability"] is not None
    assert "threshold" in top["verdict"]

    gone = diagnose(eval_ws, miss["query"], expected="zebra quantum marmalade nowhere", model_dir=tuned_dir)
    assert "not in the workspace" in gone["verdict"]


def test_diagnose_truncation_and_split(eval_ws, st_model, tmp_path):
    short = tmp_path / "short"
    st_model.max_seq_length = 32
    st_model.save(str(short))
    chunks = [c for c in eval_ws.chunks() if c["language"] == "en"]
    ch = chunks[0]
    tail = " ".join(ch["text"].split()[-12:])
    res = diagnose(eval_ws, "a question about this", expected=tail, model_dir=str(short))
    assert res["truncation"][0]["truncated"] and res["truncation"][0]["max_seq_length"] == 32
    if res["ranks"]["tuned"]["rank"] > 1:
        assert "Re-chunk" in res["next_step"]

    a, b = chunks[3], chunks[4]
    assert a["document_id"] == b["document_id"] and a["ord"] + 1 == b["ord"]
    spanning = " ".join(a["text"].split()[-30:]) + " " + " ".join(b["text"].split()[:30])
    loc = locate_expected(eval_ws, expected=spanning, expected_id=None)
    if loc["how"] != "exact":  # chunk overlap may already hold both halves
        assert loc["split_across_chunks"] and set(loc["chunk_ids"]) == {a["id"], b["id"]}
    with pytest.raises(EvaluationError, match="no chunk with id"):
        locate_expected(eval_ws, expected=None, expected_id="nope")
