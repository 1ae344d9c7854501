"""The ship decision on a real knowledge base (Debian FAQ sections) with the bundled model: the noise rule on
known scores, then after real training runs: the base kept (and nothing exported unless the user insists), and a
tuned candidate shipped on golden evidence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from bgetune.core.workspace import now_iso
from bgetune.tools import decision as d
from bgetune.tools import golden as g
from bgetune.tools.training import TrainConfig, train
from tests.faq_kb import faq_rows, faq_workspace


def _scores(rng, mean, n=40):
    return list(np.clip(rng.normal(mean, 0.05, n), 0, 1))


def test_noise_rule_ships_only_a_gain_whose_ci_clears_zero():
    rng = np.random.default_rng(0)
    base = _scores(rng, 0.5)
    better = [b + 0.1 for b in base]
    same = [b + (0.01 if i % 2 else -0.01) for i, b in enumerate(base)]
    worse = [b - 0.08 for b in base]
    cands = d.score_candidates(
        base,
        [
            ("epoch 1", "epoch", 1, 1.0, same),
            ("epoch 2", "epoch", 2, 1.0, better),
            ("epoch 2 x0.5", "mix", 2, 0.5, same),
        ],
    )
    dec = d.choose(
        cands, evidence="golden", evidence_detail="40 golden", queries=40, corpus=100, golden_labeled=40
    )
    assert dec.ship and dec.shipped == "epoch 2" and dec.candidate("epoch 2").low > 0
    assert "Shipping epoch 2" in dec.text("en") and "发布 epoch 2" in dec.text("zh")
    assert dec.recommendations == []
    # within the noise: keep the base, say so, recommend what to change
    cands = d.score_candidates(base, [("epoch 1", "epoch", 1, 1.0, same)])
    dec = d.choose(cands, evidence="held-out", evidence_detail="40 held-out", queries=40, corpus=100)
    assert not dec.ship and dec.shipped == "base" and "including zero" in dec.reason
    assert "Keeping the base model" in dec.text("en") and "保留基础模型" in dec.text("zh")
    assert [r.split("]")[0] for r in dec.recommendations] == ["[golden", "[llm", "[documents"]
    # worse: also told to review the pairs
    cands = d.score_candidates(base, [("epoch 1", "epoch", 1, 1.0, worse)])
    dec = d.choose(
        cands, evidence="golden", evidence_detail="x", queries=40, corpus=100, generation_mode="llm:x"
    )
    assert not dec.ship and "worse than the base" in dec.reason
    assert [r.split("]")[0] for r in dec.recommendations] == ["[documents", "[review"]
    assert d.ShipDecision.from_dict(json.loads(json.dumps(dec.to_dict()))) == dec


def _insert(ws, chunks, queries, split):
    now = now_iso()
    with ws.tx() as c:
        for ch, q in zip(chunks, queries, strict=True):
            c.execute(
                "INSERT INTO pairs(chunk_id, query, passage, source, kind, language, status, split, created_at, "
                "updated_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
                (ch["id"], q, ch["text"], "test", "question", ch["language"], "approved", split, now, now),
            )
            c.execute("UPDATE chunks SET split=? WHERE id=?", (split, ch["id"]))


def test_evidence_rule_and_bounded_scoring_corpus(tmp_path):
    ws = faq_workspace(tmp_path, "en", 40)
    chunks = ws.chunks()
    assert d.evidence_set(ws) is None  # no test split, no golden set: no decision
    _insert(ws, chunks[30:36], [_first_words(c["text"]) for c in chunks[30:36]], "test")
    with ws.tx() as c:  # a test pair whose extra positive lies in a trained chunk is not evidence
        c.execute("UPDATE chunks SET split='train' WHERE id=?", (chunks[0]["id"],))
        pid = c.execute("SELECT id FROM pairs WHERE chunk_id=?", (chunks[30]["id"],)).fetchone()[0]
        c.execute(
            "INSERT INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)", (pid, chunks[0]["id"], "t")
        )
    _, real = faq_rows("en", 40)
    g.add_questions(ws, [{"query": r["query"], "pos_ids": r["pos_ids"]} for r in real[:19]])
    kind, detail, qs = d.evidence_set(ws)
    assert kind == "held-out" and len(qs.queries) == 5 and "19 labeled, fewer than 20" in detail
    g.add_questions(ws, [{"query": real[19]["query"], "pos_ids": real[19]["pos_ids"]}])
    ids, _ = g.add_questions(ws, ["a question nobody can answer here"])
    g.label_question(ws, ids[0], "none")
    kind, _, qs = d.evidence_set(ws)
    assert kind == "golden" and len(qs.queries) == 20  # the unanswerable one is kept but not scored
    sub = d.CandidateScorer(qs, corpus_max=25).qs
    positives = set().union(*qs.positives)
    assert len(sub.corpus_ids) == max(25, len(positives)) and positives <= set(sub.corpus_ids)
    assert (
        sub.corpus_ids == d.CandidateScorer(qs, corpus_max=25).qs.corpus_ids
    )  # the same for every candidate


def _two_epochs(lr: float) -> TrainConfig:
    """Two short CPU epochs of the bundled model, no hard negatives: candidates to decide between."""
    return TrainConfig(
        base_model="bundled",
        epochs=2,
        batch_size=8,
        lr=lr,
        hard_negatives=0,
        max_passage_len=96,
        device="cpu",
    )


def _first_words(text: str) -> str:
    return "what about " + " ".join(re.findall(r"\w+", text)[2:10]).lower()


def test_base_kept_when_no_candidate_beats_it_and_export_needs_ship_anyway(tmp_path, monkeypatch):
    import bgetune.core.models as models

    ws = faq_workspace(tmp_path, "en", 40)
    chunks = ws.chunks()
    _insert(ws, chunks[:24], [_first_words(c["text"]) for c in chunks[:24]], "train")
    _insert(ws, chunks[24:28], [_first_words(c["text"]) for c in chunks[24:28]], "val")
    _insert(ws, chunks[28:40], [_first_words(c["text"]) for c in chunks[28:40]], "test")
    _, real = faq_rows("en", 40)
    g.add_questions(ws, [{"query": r["query"], "pos_ids": r["pos_ids"]} for r in real[:5]])
    corpus_encodings: list[int] = []
    real_encode = models.encode

    def counting(m, texts, **kw):
        if len(texts) == len(chunks):
            corpus_encodings.append(len(texts))
        return real_encode(m, texts, **kw)

    monkeypatch.setattr(models, "encode", counting)
    # a learning rate so small that every candidate scores like the base: nothing beats it
    res = train(ws, _two_epochs(lr=1e-12))
    # the corpus is encoded once per model: the base as loaded (its teacher index) and at the training length of
    # 96 tokens (validation before training), each epoch (its validation), each mix. The ship decision finds the
    # base and both epochs in the cache, and encodes only the 3 mixes (before: 3 more encodings)
    assert len(corpus_encodings) == 2 + 2 + 3
    dec = res["decision"]
    assert dec["evidence"] == "held-out" and dec["queries"] == 12 and dec["golden_labeled"] == 5
    names = [c["name"] for c in dec["candidates"]]
    assert names == [
        "base",
        "epoch 1",
        "epoch 2",
        "epoch 2 x0.25",
        "epoch 2 x0.5",
        "epoch 2 x0.75",
    ] or names == ["base", "epoch 1", "epoch 2", "epoch 1 x0.25", "epoch 1 x0.5", "epoch 1 x0.75"]
    assert not dec["ship"] and res["shipped"] == "base" and "Keeping the base model" in res["warning"]
    run_dir = ws.artifact_path("runs", res["run_id"], "x").parent
    assert not (run_dir / "epochs").exists() and (run_dir / "decision.json").exists()
    # the run's model folder is the base itself; the best tuned candidate waits in model-best-tuned
    from sentence_transformers import SentenceTransformer

    from bgetune.core.models import load_model, resolve_base_model

    shipped = SentenceTransformer(res["model_dir"], device="cpu").state_dict()
    base = load_model(resolve_base_model("bundled"), device="cpu").state_dict()
    key = next(k for k in shipped if k.endswith("encoder.layer.0.attention.self.query.weight"))
    assert torch.equal(shipped[key], base[key])
    assert (run_dir / "model-best-tuned" / "modules.json").exists()
    # export writes nothing new, unless the user insists
    from bgetune.tools.export import export_model, exported_model_dir
    from bgetune.tools.serve import default_model_dir, shipped_base

    out = export_model(ws, out_dir=tmp_path / "export")
    assert out["model_dir"] is None and out["shipped"] is False and not (tmp_path / "export").exists()
    assert shipped_base(ws)[1] == "bundled"  # what `bgetune serve` serves: the base, which shipped
    out = export_model(ws, out_dir=tmp_path / "export", ship_anyway=True)
    folder = tmp_path / "export"
    # "ship anyway" to a folder of the user's choosing: serve, evaluate and compare now mean that folder
    assert shipped_base(ws) is None
    assert default_model_dir(ws) == folder.resolve() and exported_model_dir(ws) == str(folder.resolve())
    # and the chat's "how do I use the model?" names that folder (it looked only in the run folder before)
    from bgetune.agent.planner import plan_request
    from bgetune.capabilities.data import stage_snapshot

    snap = stage_snapshot(ws)
    assert snap["export_dir"] == str(folder.resolve())
    plan = plan_request("how do I use the model in my app?", stages=snap)
    assert plan.intent == "use_model" and str(folder.resolve()) in plan.reply
    meta = json.loads((folder / "bgetune.json").read_text())
    assert meta["decision"]["forced"] is True and meta["decision"]["shipped"] == "base"
    assert meta["golden"] == {"questions": 5, "answerable": 5, "folder": "golden"}
    assert len((folder / "golden" / "golden.jsonl").read_text().splitlines()) == 5
    card = (folder / "README.md").read_text()
    assert "## Ship decision" in card and "at the user's request against the evidence" in card
    assert "| epoch 1 |" in card


@pytest.mark.slow
def test_golden_evidence_decides_and_a_real_gain_ships(tmp_path):
    """Chinese FAQ questions the English base model barely finds; training on them (the test knowingly trains on
    its evidence, to have a gain certain to clear the noise) makes a candidate that must ship."""
    ws = faq_workspace(tmp_path, "zh", 60)
    _, real = faq_rows("zh", 60)
    assert len(real) >= 20
    g.add_questions(ws, [{"query": r["query"], "pos_ids": r["pos_ids"]} for r in real[:24]])
    by_ext = {c["ext_id"]: c for c in ws.chunks()}
    pos = [by_ext[r["pos_ids"][0]] for r in real[:24]]
    _insert(ws, pos, [r["query"] for r in real[:24]], "train")
    kind, _, qs = d.evidence_set(ws)
    assert kind == "golden" and len(qs.queries) == 24
    res = train(ws, _two_epochs(lr=1e-4))
    dec = d.ShipDecision.from_dict(res["decision"])
    assert dec.evidence == "golden" and dec.queries == 24
    best = dec.candidate(dec.best)
    assert dec.ship and best.low > 0 and res["shipped"] == dec.best
    assert "Shipping" in dec.text("en") and "golden questions" in dec.text("en")
    # the shipped folder scores as the decision said
    from bgetune.tools.evaluation import load_eval_model

    scorer = d.CandidateScorer(qs)
    got = float(np.mean(scorer.score(load_eval_model(res["model_dir"])[0])))
    assert abs(got - best.ndcg) < 1e-3
    from bgetune.tools.export import export_model

    out = export_model(ws, out_dir=tmp_path / "export")
    assert (
        out["shipped"] is True
        and json.loads((tmp_path / "export" / "bgetune.json").read_text())["decision"]["ship"]
    )
