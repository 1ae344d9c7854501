"""Evaluation, calibration, scoring, diagnosis and merging on a real (small) workspace with the real model."""

from __future__ import annotations

import json

import pytest

from bgetune.tools.calibration import calibrate, score_pair
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
