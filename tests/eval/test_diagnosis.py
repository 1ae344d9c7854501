"""Why does this query miss? Each cause on a constructed case, the fixes, the misses view, batch and CLI.

Real model (the bundled all-MiniLM-L6-v2), real SQLite, real ingest. The R-FAQ workspace is built once per
module with its corpus embeddings cached, and copied per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bgetune.core.config import Settings
from bgetune.core.workspace import Workspace, now_iso
from bgetune.tools import diagnosis as D
from bgetune.tools.diagnosis import (
    CAUSES,
    DiagnosisError,
    apply_fix,
    diagnose,
    diagnose_golden,
    fixed_pairs_summary,
    misses,
    stem,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
INSTALL_Q = "how do I install packages from CRAN"
INSTALL_TITLE = "5.2 How can add-on packages be installed?"


def _ingest(root: Path, paths: list[Path], **kw) -> Workspace:
    from bgetune.tools.ingest import ingest

    ws = Workspace(root)
    ws.set_setting("base_model", "bundled")
    rep = ingest(ws, paths, settings=Settings(workspace=ws.root, **kw), base_model="bundled")
    assert rep.ok, rep.summary()
    return ws


def _warm(ws: Workspace) -> None:
    """Cache the bundled model's corpus embeddings inside the workspace (copies inherit them)."""
    from bgetune.core.models import corpus_embeddings, model_fingerprint
    from bgetune.tools.evaluation import resolve_workspace_base

    res = resolve_workspace_base(ws)
    model = D.load_cached(res)
    corpus_embeddings(ws, model, fingerprint=model_fingerprint(model))


@pytest.fixture(scope="module")
def _rfaq(tmp_path_factory):
    root = tmp_path_factory.mktemp("rfaq") / "ws"
    ws = _ingest(root, [SAMPLES / "en" / "R-FAQ.pdf"])
    _warm(ws)
    ws.close()
    return root


@pytest.fixture
def rfaq(_rfaq, tmp_path):
    dst = tmp_path / "rfaq"
    shutil.copytree(_rfaq, dst)
    return Workspace(dst)


def _calibrate(ws: Workspace, pos: list[float], neg: list[float]) -> float:
    """A real calibration block (threshold, Platt mapping) fitted on the given scores, stored for the base."""
    from bgetune.core.workspace import atomic_write_json
    from bgetune.tools.calibration import CALIBRATION_FILE, calibrate_scores

    block = calibrate_scores(np.array(pos), np.array(neg))
    cal = {"model": "bundled", "base_model": "bundled", "threshold": block["threshold_f1"], **block}
    cal.update(before=block, after=None)
    atomic_write_json(ws.artifact_path(CALIBRATION_FILE), cal)
    return block["threshold_f1"]


def _tiny(tmp_path: Path, records: list[dict | str], name: str = "kb.jsonl") -> Workspace:
    """A small knowledge base: one JSONL export, one record per chunk (ext ids r0, r1, ...)."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    path = src / name
    lines = [
        json.dumps({"id": f"r{i}", "text": r} if isinstance(r, str) else r, ensure_ascii=False)
        for i, r in enumerate(records)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return _ingest(tmp_path / "ws", [path])


def _chunk_of(ws: Workspace, ext_id: str) -> str:
    return ws.scalar("SELECT id FROM chunks WHERE ext_id=?", (ext_id,))


# ---------------------------------------------------------------------------------------------- the scripted checks
def test_a_query_that_does_not_miss_is_told_so_with_its_rank_1_result(rfaq):
    thr = _calibrate(rfaq, [0.45, 0.5, 0.6, 0.7, 0.8], [0.1, 0.2, 0.25, 0.3, 0.38])
    d = diagnose(rfaq, INSTALL_Q)
    assert d.cause == "not_a_miss" and d.lang == "en"
    top = d.main.results[0]
    assert top.title == INSTALL_TITLE and top.document == "R-FAQ.pdf" and top.page
    assert top.passes and top.probability is not None and top.score >= thr
    text = d.text()
    assert "does not miss" in d.verdict and INSTALL_TITLE in d.verdict
    assert INSTALL_TITLE in text and f"{thr:.3f}" in text
    assert d.actions[0].action == "add_golden" and d.actions[0].args["chunk_id"] == top.chunk_id
    assert [m.status for m in misses(rfaq)] == ["not-a-miss"]

    # the same with the expected answer named by document and page
    d2 = diagnose(rfaq, INSTALL_Q, expected="R-FAQ.pdf p. 26")
    assert d2.cause == "not_a_miss" and d2.base.expected_rank == 1 and d2.expected.how == "page"
    assert "comes first" in d2.verdict and d2.miss_id == d.miss_id


def test_an_expected_answer_ranked_seventh_gets_its_rank_the_passages_above_and_a_verdict(rfaq):
    first = diagnose(rfaq, INSTALL_Q, record=False)
    seventh = first.base.results[6]
    d = diagnose(rfaq, INSTALL_Q, expected_id=seventh.chunk_id)
    assert d.base.expected_rank == 7 and d.tuned is None
    assert d.cause in CAUSES and d.cause not in ("not_a_miss", "unconfirmed") and d.is_miss
    text = d.text("en")
    assert "rank 7" in text and d.verdict in text and "Evidence:" in text
    for above in first.base.results[:6]:
        assert above.title[:40] in text
    assert "★ " + seventh.title[:30] in text
    acts = [a.action for a in d.actions]
    assert "add_training_pair" in acts and "add_golden" in acts
    assert "1. " in text and d.actions[0].label("en") in text
    row = rfaq.conn.execute("SELECT * FROM misses WHERE id=?", (d.miss_id,)).fetchone()
    assert (
        row["status"] == "open" and row["expected_chunk_id"] == seventh.chunk_id and row["cause"] == d.cause
    )


def test_chinese_query_against_english_documents_gets_the_language_verdict_in_chinese(rfaq):
    d = diagnose(rfaq, "如何安装R包")
    assert d.lang == "zh" and d.query_language == "zh" and d.corpus_language == "en"
    assert d.cause == "language_mismatch"
    assert d.tokenizer.unknown >= 3 and d.tokenizer.rate >= 0.5  # measured: 4 of 6 pieces are [UNK]
    v = d.verdict
    assert "中文" in v and "英文" in v and "[UNK]" not in v and "The query" not in v
    text = d.text()
    assert "结论" in text and "BAAI/bge-m3" in text and "568M" in text and "[UNK]" in text
    assert "Verdict" not in text and "What you can do" not in text
    switch = d.actions[0]
    assert switch.action == "switch_base_model" and switch.args == {"model": "BAAI/bge-m3"}
    assert "基础模型" in switch.label("zh")
    assert "multilingual" in d.text("en") or "100+ languages" in d.text("en")


def test_add_as_training_pair_adds_exactly_one_approved_pair_with_its_provenance(rfaq):
    first = diagnose(rfaq, INSTALL_Q, record=False)
    target = first.base.results[6].chunk_id
    d = diagnose(rfaq, INSTALL_Q, expected_id=target)
    before = rfaq.scalar("SELECT count(*) FROM pairs")
    res = apply_fix(rfaq, d.miss_id, "add_training_pair")
    assert res.changed and res.status == "fixed:train"
    rows = rfaq.query("SELECT * FROM pairs WHERE source='diagnosis'")
    assert rfaq.scalar("SELECT count(*) FROM pairs") == before + 1 and len(rows) == 1
    p = rows[0]
    assert (p["status"], p["chunk_id"], p["query"], p["kind"]) == ("approved", target, INSTALL_Q, "real")
    assert p["passage"] == rfaq.chunk(target)["text"] and f"miss #{d.miss_id}" in p["status_why"]
    events = rfaq.query("SELECT * FROM pair_events WHERE pair_id=?", (p["id"],))
    assert len(events) == 1 and events[0]["action"] == "diagnosis"
    assert json.loads(events[0]["new"])["miss_id"] == d.miss_id
    assert f"#{p['id']}" in res.text() and "训练样本" in res.text("zh")
    again = apply_fix(rfaq, d.miss_id, "add_training_pair")
    assert not again.changed and rfaq.scalar("SELECT count(*) FROM pairs WHERE source='diagnosis'") == 1
    assert rfaq.scalar("SELECT count(*) FROM pair_events WHERE pair_id=?", (p["id"],)) == 1
    s = fixed_pairs_summary(rfaq)
    assert s.training_pairs == 1 and s.training_pairs_since_train == 1 and s.needs_retrain
    assert "1 training pair" in s.text() and "bgetune train" in s.text()
    # the fix taught the coverage check: the next diagnosis finds the pair on the expected passage
    d2 = diagnose(rfaq, INSTALL_Q, expected_id=target)
    assert d2.cause != "no_training_pairs"


# ---------------------------------------------------------------------------------------------- the expected answer
def test_pick_the_second_one_from_the_last_result_list(rfaq):
    first = diagnose(rfaq, INSTALL_Q)
    d = diagnose(rfaq, "", expected_pick=2)
    assert d.query == INSTALL_Q and d.expected.how == "pick"
    assert d.expected.chunk_id == first.main.results[1].chunk_id and d.base.expected_rank == 2
    assert d.miss_id == first.miss_id  # the same miss, now with its answer
    with pytest.raises(DiagnosisError, match="pick a number from 1 to 10"):
        diagnose(rfaq, "", expected_pick=11)


def test_expected_text_not_in_the_documents(rfaq):
    d = diagnose(rfaq, INSTALL_Q, expected="zebra quantum marmalade nowhere to be seen")
    assert d.cause == "expected_not_found" and "not in the workspace" in d.verdict
    assert not any(a.action == "add_training_pair" for a in d.actions)
    with pytest.raises(DiagnosisError, match="no chunk with id"):
        diagnose(rfaq, INSTALL_Q, expected_id="nope")
    with pytest.raises(DiagnosisError, match="no text on page 999"):
        diagnose(rfaq, INSTALL_Q, expected="R-FAQ.pdf p. 999")


# ---------------------------------------------------------------------------------------------- causes
def test_threshold_is_the_only_problem_and_set_threshold_fixes_it(rfaq):
    thr = _calibrate(rfaq, [0.8, 0.85, 0.9, 0.95], [0.2, 0.3, 0.5, 0.7])
    d = diagnose(rfaq, INSTALL_Q, expected="R-FAQ.pdf p. 26")
    assert d.base.expected_rank == 1 and d.base.expected_score < thr
    assert d.cause == "threshold_only" and "only problem" in d.verdict
    fix = d.actions[0]
    assert fix.action == "set_threshold" and fix.args["value"] < d.base.expected_score
    res = apply_fix(rfaq, d.miss_id, "set_threshold")
    assert rfaq.get_setting("threshold") == fix.args["value"] and res.status == "fixed:threshold"
    after = diagnose(rfaq, INSTALL_Q, expected="R-FAQ.pdf p. 26")
    assert after.cause == "not_a_miss" and after.base.threshold == fix.args["value"]


def test_no_training_pairs_near_the_topic_then_competitors(rfaq):
    q = "How can I create an R package from my own functions?"
    first = diagnose(rfaq, q, record=False)
    qs = D.stems(D.terms(q))
    target = next(
        r
        for r in first.base.results[1:10]
        if D.coverage(qs, D.stems(D.terms(rfaq.chunk(r.chunk_id)["text"]))) >= 0.5
    )
    d = diagnose(rfaq, q, expected_id=target.chunk_id)
    causes = [f.cause for f in d.findings]
    assert d.cause == "no_training_pairs", causes
    assert "no training pairs yet" in d.verdict and "训练样本" in d.verdict_in("zh")
    assert d.actions[0].action == "add_training_pair"
    now = now_iso()
    with rfaq.tx() as c:  # a trained pair on that passage: the topic is covered, the real competitors remain
        c.execute(
            "INSERT INTO pairs(chunk_id, query, passage, source, status, split, created_at, updated_at) "
            "VALUES(?,?,?,?,?,?,?,?)",
            (target.chunk_id, q, "x", "test", "approved", "train", now, now),
        )
    d2 = diagnose(rfaq, q, expected_id=target.chunk_id)
    assert d2.cause in ("competitors", "missing_label"), [f.cause for f in d2.findings]
    assert "no_training_pairs" not in [f.cause for f in d2.findings]


def test_tokenizer_that_cannot_read_the_query(tmp_path):
    ws = _tiny(
        tmp_path,
        [
            "申请营业执照需要携带身份证和经营场所证明，到市场监督管理局窗口办理。",
            "食品经营许可证的有效期为五年，到期前三十日内申请延续。",
            "个体工商户可以在网上办理注销登记，无需到现场。",
        ],
    )
    d = diagnose(ws, "怎么办理营业执照")
    assert d.corpus_language == "zh" and d.query_language == "zh"
    assert d.cause == "tokenizer_coverage" and d.tokenizer.poor
    assert "分词器" in d.verdict and "未知" in d.verdict
    rec = d.finding.facts["recommend"]
    assert rec["model"] == "BAAI/bge-small-zh-v1.5" and rec["ratio"] >= 1
    assert d.actions[0].args == {"model": "BAAI/bge-small-zh-v1.5"}


def test_language_mismatch_with_a_tokenizer_that_reads_the_query(tmp_path):
    ws = _tiny(
        tmp_path,
        [
            "申请营业执照需要携带身份证和经营场所证明，到市场监督管理局窗口办理。",
            "食品经营许可证的有效期为五年，到期前三十日内申请延续。",
        ],
    )
    d = diagnose(ws, "how do I apply for a business license")
    assert d.cause == "language_mismatch" and d.lang == "en" and d.tokenizer.rate == 0
    assert d.verdict.startswith("The query is in English but the documents are in Chinese")
    assert "unknown" not in d.verdict


def test_vocabulary_gap_names_the_words_the_documents_use(tmp_path):
    ws = _tiny(
        tmp_path,
        [
            "Automobile maintenance: change the engine oil of the vehicle every 8000 kilometres and rotate the "
            "tyres at each inspection.",
            "Car service desk: the car pool service desk hands out car keys on weekdays between eight and five.",
            "Customer service for the car sharing app: how often you may book a car depends on your plan.",
            "Car parking: cars may park in the underground garage next to the office after six in the evening.",
            "Expense claims are submitted through the finance portal within thirty days of purchase.",
        ],
    )
    d = diagnose(ws, "how often should I service my car", expected_id="r0")
    assert d.base.expected_rank > 1
    gap = next(f for f in d.findings if f.cause == "vocabulary_gap")
    assert d.cause == "vocabulary_gap", [f.cause for f in d.findings]
    assert set(gap.facts["missing"]) == {"often", "service", "car"}
    instead = set(gap.facts["instead"])
    assert instead and instead <= D.terms(ws.chunk(_chunk_of(ws, "r0"))["text"])
    assert instead & {"automobile", "vehicle", "maintenance", "engine", "inspection", "tyres"}
    assert "instead" in d.verdict and "文档用的是" in d.verdict_in("zh")
    assert d.actions[0].action == "add_training_pair"


def test_truncation_past_the_max_sequence_length(tmp_path):
    filler = " ".join(
        f"Section {i} of the handbook describes the general office routine and the weekly team meeting."
        for i in range(40)
    )
    answer = "The launch code of project falcon is stored in the blue vault on the third floor."
    ws = _tiny(
        tmp_path,
        [
            filler + " " + answer,
            "Project falcon launch schedule: the falcon launch is planned for May, after the code review.",
            "The cafeteria opens at eight and serves breakfast until ten.",
        ],
    )
    d = diagnose(ws, "where is the launch code of project falcon stored", expected=answer)
    trunc = next(f for f in d.findings if f.cause == "truncation")
    assert trunc.facts["tokens"] > trunc.facts["max_seq_length"] == 256 and trunc.facts["answer_beyond_limit"]
    assert d.cause == "truncation" and "never sees it" in d.verdict
    fix = d.actions[0]
    assert fix.action == "rechunk" and fix.args == {"document": "kb.jsonl", "chunk_tokens": 128}


def test_answer_split_across_chunks(tmp_path):
    ws = _tiny(
        tmp_path,
        [
            "Router reset FAQ: resetting the router deletes the wifi password, so reset the router only if "
            "support asks you to reset it.",
            "Before calling support, check the cables. To reset the router, first unplug the power cable and "
            "wait ten seconds.",
            "Then hold the small button on the back for thirty seconds until the light blinks orange, and plug "
            "the power back in.",
            "The guest network password is printed on the sticker under the device.",
        ],
    )
    spanning = "unplug the power cable and wait ten seconds. Then hold the small button on the back for thirty seconds"
    d = diagnose(ws, "how do I reset the router", expected=spanning)
    assert d.expected.split_across_chunks and set(d.expected.chunk_ids) == {
        _chunk_of(ws, "r1"),
        _chunk_of(ws, "r2"),
    }
    assert d.base.expected_rank > 1
    assert d.cause == "split_answer", [f.cause for f in d.findings]
    assert "split across two neighbouring chunks" in d.verdict
    assert d.actions[0].action == "rechunk" and d.actions[0].args["chunk_overlap"] == 96


def test_missing_label_a_competitor_says_the_same_thing(tmp_path):
    ws = _tiny(
        tmp_path,
        [
            "To request vacation leave, submit the leave form in the HR portal at least two weeks in advance.",
            "To request vacation leave, submit the leave form in the HR portal at least two weeks before.",
            "Sick leave must be reported to your manager before nine on the first day of absence.",
            "The office is closed on public holidays; the building stays open for security staff.",
        ],
    )
    first = diagnose(ws, "how do I request vacation leave", record=False)
    top2 = [r.chunk_id for r in first.base.results[:2]]
    assert set(top2) == {_chunk_of(ws, "r0"), _chunk_of(ws, "r1")}
    d = diagnose(ws, "how do I request vacation leave", expected_id=top2[1])
    assert d.base.expected_rank == 2 and d.cause == "missing_label"
    assert d.finding.facts["similarity"] >= 0.9 and "missing label" in d.verdict
    relabel = d.actions[0]
    assert relabel.action == "relabel_competitor" and relabel.args == {"chunk_id": top2[0]}
    # no training pair on this query yet: the relabel lands in the golden set with both answers
    res = apply_fix(ws, d.miss_id, "relabel_competitor", chunk_id=top2[0])
    g = ws.conn.execute("SELECT * FROM golden WHERE query=?", (d.query,)).fetchone()
    assert res.status == "fixed:relabel" and set(json.loads(g["pos_ids"])) == set(top2)
    assert g["status"] == "labeled" and g["source"] == "diagnosis"
    # with an approved pair the competitor becomes an extra positive of that pair
    apply_fix(ws, d.miss_id, "add_training_pair")
    res2 = apply_fix(ws, d.miss_id, "relabel_competitor", chunk_id=top2[0])
    pid = ws.scalar("SELECT id FROM pairs WHERE source='diagnosis'")
    extra = ws.query("SELECT chunk_id, origin FROM pair_positives WHERE pair_id=?", (pid,))
    assert res2.facts["pair_id"] == pid and [(r["chunk_id"], r["origin"]) for r in extra] == [
        (top2[0], "diagnosis")
    ]
    assert fixed_pairs_summary(ws).extra_positives == 1


# ---------------------------------------------------------------------------------------------- fixes and views
def test_other_fixes_and_the_misses_view(rfaq, tmp_path):
    d = diagnose(rfaq, INSTALL_Q, expected="R-FAQ.pdf p. 26")
    g = apply_fix(rfaq, d.miss_id, "add_golden")
    row = rfaq.conn.execute("SELECT * FROM golden WHERE id=?", (g.facts["golden_id"],)).fetchone()
    assert (row["query"], row["status"], row["source"]) == (INSTALL_Q, "labeled", "diagnosis")
    assert json.loads(row["pos_ids"]) == [d.expected.chunk_id]
    assert not apply_fix(rfaq, d.miss_id, "add_golden").changed

    zh = diagnose(rfaq, "如何安装R包")
    sw = apply_fix(rfaq, zh.miss_id, "switch_base_model")
    assert rfaq.get_setting("base_model") == "BAAI/bge-m3" and sw.status == "fixed:base-model"
    assert "BAAI/bge-m3" in sw.text("zh") and "基础模型" in sw.text("zh")
    with pytest.raises(DiagnosisError, match="no expected answer"):
        apply_fix(rfaq, zh.miss_id, "add_training_pair")
    with pytest.raises(DiagnosisError, match="unknown fix"):
        apply_fix(rfaq, zh.miss_id, "reboot")
    with pytest.raises(DiagnosisError, match="no miss #999"):
        apply_fix(rfaq, 999, "dismiss")
    rows = misses(rfaq)
    assert [r.query for r in rows] == ["如何安装R包", INSTALL_Q]
    assert [r.status for r in rows] == ["fixed:base-model", "fixed:golden"]
    assert [r.id for r in misses(rfaq, status="fixed")] == [zh.miss_id, d.miss_id]
    text = D.MissList(rows).text("zh")
    assert "查询与文档语言不同" in text and "如何安装R包" in text


def test_rechunk_reingests_the_document_with_smaller_chunks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    doc = src / "guide.md"
    doc.write_text(
        "# Guide\n\n"
        + "\n\n".join(
            f"Paragraph {i}: the onboarding guide explains badges, desks, laptops and the coffee machine rules."
            for i in range(30)
        ),
        encoding="utf-8",
    )
    ws = _ingest(tmp_path / "ws", [doc], chunk_tokens=256)
    n_before = ws.scalar("SELECT count(*) FROM chunks")
    d = diagnose(ws, "coffee machine rules", expected_id=ws.chunks()[0]["id"])
    res = apply_fix(ws, d.miss_id, "rechunk", document="guide.md", chunk_tokens=64)
    n_after = ws.scalar("SELECT count(*) FROM chunks")
    assert res.status == "fixed:rechunk" and res.facts["chunks"] == n_after > n_before
    assert max(c["n_tokens"] for c in ws.chunks()) <= 64
    assert "guide.md" in res.text()


def test_diagnose_golden_groups_failures_by_cause_biggest_first(rfaq, tmp_path):
    install = rfaq.chunk(diagnose(rfaq, INSTALL_Q, record=False).base.results[0].chunk_id)
    gold = tmp_path / "golden.jsonl"
    rows = [
        {"query": INSTALL_Q, "pos_ids": [install["id"]]},
        {"query": "如何安装R包", "pos_ids": [install["id"]]},
        {"query": "怎样安装附加包", "pos": [install["text"][:120]]},
        {"query": "Where do I report a bug in R?", "pos": ["zebra quantum marmalade nowhere"]},
    ]
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    b = diagnose_golden(rfaq, gold)
    assert b.total == 3 and b.unmatched == ["Where do I report a bug in R?"]
    assert b.passing == 1 and b.failing == 2  # no threshold: the English question is found first
    assert [(g.cause, g.count) for g in b.groups] == [("language_mismatch", 2)]
    assert b.groups[0].action == "switch_base_model"
    assert "2 of 3 golden questions still miss" in b.text() and "查询与文档语言不同: 2" in b.text("zh")
    assert {m.query for m in misses(rfaq)} == {"如何安装R包", "怎样安装附加包"}
    with pytest.raises(DiagnosisError, match="no golden questions"):
        diagnose_golden(rfaq, None)  # the workspace golden table is empty


def test_base_and_tuned_side_by_side(rfaq, st_model, tmp_path):
    tuned = tmp_path / "tuned"
    st_model.max_seq_length = 128  # a different fingerprint: its own corpus embeddings
    st_model.save(str(tuned))
    (tuned / "bgetune.json").write_text(json.dumps({"base_family": "generic"}))
    d = diagnose(rfaq, INSTALL_Q, model_dir=str(tuned), expected="R-FAQ.pdf p. 26", top_k=5)
    assert d.tuned is not None and d.tuned.spec == str(tuned) and len(d.tuned.results) == 5
    assert d.base.expected_rank == 1 and d.tuned.expected_rank is not None
    text = d.text()
    assert "| base: passage |" in text and "| tuned: passage |" in text and "tuned model's list" in text
    assert "rank 1 with base" in text


# ---------------------------------------------------------------------------------------------- surfaces
def test_cli_diagnose_misses_fix(rfaq):
    from typer.testing import CliRunner

    from bgetune.cli import app  # diagnose, misses and fix are derived from the diagnosis capabilities

    run = CliRunner().invoke
    r = run(app, ["diagnose", INSTALL_Q, "--expected", "R-FAQ.pdf p. 26", "-w", str(rfaq.root), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["cause"] == "not_a_miss" and out["base"]["expected_rank"] == 1 and out["miss_id"]
    r = run(app, ["diagnose", "如何安装R包", "-w", str(rfaq.root)])
    assert r.exit_code == 0 and "结论" in r.stdout and "BAAI/bge-m3" in r.stdout
    r = run(app, ["misses", "-w", str(rfaq.root)])
    assert r.exit_code == 0 and "2 diagnosed queries" in r.stdout and "如何安装R包" in r.stdout
    r = run(app, ["fix", str(out["miss_id"]), "add-golden", "-w", str(rfaq.root), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "fixed:golden"
    r = run(app, ["diagnose", "--golden", "-", "-w", str(rfaq.root)])
    assert r.exit_code == 0, r.output
    assert "0 of 1 golden questions still miss" in r.stdout
    r = run(app, ["fix", "999", "dismiss", "-w", str(rfaq.root)])
    assert r.exit_code == 2 and "no miss #999" in r.output  # a user error: exit 2 with the reason


def test_capabilities_declared_and_runnable(rfaq):
    from bgetune.capabilities import Context, resolve_field_types
    from bgetune.capabilities.diagnose import CAPABILITIES

    caps = {c.name: c for c in CAPABILITIES}
    assert set(caps) == {"diagnose", "diagnose_golden", "list_misses", "apply_fix"}
    assert caps["diagnose"].cost == "cpu-minutes" and caps["apply_fix"].decides
    assert [c.command for c in CAPABILITIES] == ["diagnose", "diagnose-golden", "misses", "fix"]
    for c in CAPABILITIES:
        resolve_field_types(c.options)
    assert caps["apply_fix"].missing(rfaq)  # nothing diagnosed yet
    ctx = Context(ws=rfaq, settings=Settings(workspace=rfaq.root), lang="zh")
    d = caps["diagnose"].run(
        ctx, caps["diagnose"].make_options({"query": INSTALL_Q, "expected": "R-FAQ.pdf p. 26"})
    )
    assert isinstance(d, D.Diagnosis) and d.lang == "zh" and "没有漏检" in d.text()
    opts = caps["apply_fix"].make_options({"miss_id": str(d.miss_id), "action": "add_golden"})
    fix = caps["apply_fix"].run(ctx, opts)
    assert fix.status == "fixed:golden" and "黄金问题" in fix.text("zh")
    view = caps["list_misses"].run(ctx, caps["list_misses"].make_options({}))
    assert view.misses.rows[0].status == "fixed:golden" and "1 diagnosed queries" in view.text()


def test_stem_and_the_result_is_a_dataclass_not_a_dict(rfaq):
    assert stem("packages") == stem("package") and stem("installed") == stem("install")
    d = diagnose(rfaq, INSTALL_Q, record=False)
    assert not hasattr(d, "get") and not hasattr(d, "__getitem__")  # the legacy dict shim is gone
    data = d.data()
    assert (
        data["verdict"] == d.verdict and data["base"]["results"][0]["chunk_id"] == d.base.results[0].chunk_id
    )
    assert d.miss_id is None and not misses(rfaq)


def test_every_cause_is_one_module_with_detect_verdict_evidence_fixes():
    from bgetune.tools.diagnosis import causes

    assert tuple(m.NAME for m in causes.MODULES) == CAUSES and len(set(CAUSES)) == len(CAUSES) == 13
    for m in causes.MODULES:
        assert m.__name__.endswith("." + m.NAME)
        assert all(callable(getattr(m, f)) for f in ("detect", "verdict", "evidence", "fixes")), m.__name__
    assert tuple(D.HANDLERS) == D.ACTIONS


def test_the_sentence_catalog_fills_both_languages_from_the_same_facts():
    """Every verdict, evidence line and fix label is one catalog entry in English and Chinese: both use the same
    facts, so a Chinese reply cannot fail on a fact the English one does not need."""
    import string

    from bgetune.tools.diagnosis.text import _catalog

    def fields(t: str) -> set[str]:
        # 'languages' / 'languages_zh': the same fact in each language
        return {
            f.split("[")[0].removesuffix("_zh") for _, f, _, _ in string.Formatter().parse(t) if f is not None
        }

    from bgetune.tools.diagnosis.causes import MODULES

    catalog = _catalog()
    assert {m.NAME for m in MODULES} - {"tokenizer_coverage"} <= set(catalog)  # it speaks with 'language'
    for group, entries in catalog.items():
        for name, (en, zh) in entries.items():
            assert fields(en) == fields(zh), (group, name, fields(en) ^ fields(zh))
            assert en and zh and en != zh, (group, name)


# ---------------------------------------------------------------------------------------------- issue 22 item 2
def _label(ws: Workspace, query: str, chunk_id: str) -> int:
    from bgetune.tools.golden import add_questions

    ids, _ = add_questions(ws, [{"query": query, "pos_ids": [chunk_id]}])
    return ids[0]


def test_the_golden_label_is_the_expected_answer_as_in_the_golden_misses(rfaq):
    """A question the user labelled: 'why does it miss?' uses the label, and agrees with the golden misses list
    (before: 'It does not miss: rank 1 is ...' for a question the list called a miss)."""
    _calibrate(rfaq, [0.45, 0.5, 0.6, 0.7, 0.8], [0.1, 0.2, 0.25, 0.3, 0.38])
    assert diagnose(rfaq, INSTALL_Q, record=False).cause == "not_a_miss"  # without the label: rank 1 passes
    seventh = diagnose(rfaq, INSTALL_Q, record=False).base.results[6]
    gid = _label(rfaq, INSTALL_Q, seventh.chunk_id)
    batch = diagnose_golden(rfaq)
    assert [it.query for it in batch.items] == [INSTALL_Q] and batch.failing == 1
    for asked in (INSTALL_Q, "How do I install packages from CRAN?"):  # as pasted, or retyped
        d = diagnose(rfaq, asked, record=False)
        assert (
            d.expected is not None and d.expected.how == "golden" and d.expected.chunk_id == seventh.chunk_id
        )
        assert d.base.expected_rank == 7 and d.is_miss and d.cause == batch.items[0].cause
        assert "does not miss" not in d.verdict
        assert f"golden question #{gid}" in d.text()
    assert not any(a.action == "add_golden" for a in d.actions)  # it is in the golden set already


def test_add_as_training_pair_on_a_held_out_document_says_why_not_and_what_works_instead(rfaq):
    target = diagnose(rfaq, INSTALL_Q, record=False).base.results[6].chunk_id
    with rfaq.tx() as c:
        c.execute("UPDATE chunks SET split='test' WHERE id=?", (target,))
    d = diagnose(rfaq, INSTALL_Q, expected_id=target)
    assert d.expected.held_out and not any(a.action == "add_training_pair" for a in d.actions)
    before = rfaq.scalar("SELECT count(*) FROM pairs")
    res = apply_fix(rfaq, d.miss_id, "add_training_pair")  # asked anyway ("add it as a training pair")
    assert not res.changed and res.status == "open"
    assert rfaq.scalar("SELECT count(*) FROM pairs") == before  # nothing was added that would not train
    text = res.text()
    assert "held out" in text and "nothing would train" in text and "What will work instead" in text
    assert "Retrain to learn it" not in text and "不会参与训练" in res.text("zh")
    first = res.facts["instead"][0]
    assert first["action"] == "add_golden" and f"bgetune fix {d.miss_id} add_golden" in text
    done = apply_fix(rfaq, d.miss_id, first["action"])  # the offered fix works
    assert done.changed and done.status == "fixed:golden"


def test_golden_misses_list_every_question_they_count(rfaq):
    """'only the threshold is wrong: 4' listed 3: every counted question is now listed, with its miss number."""
    queries = [
        INSTALL_Q,
        "how do I cite R in a paper",
        "where can I download R",
        "what is the R mailing list",
        "how do I report a bug",
    ]
    top = [diagnose(rfaq, q, record=False).base.results[0].chunk_id for q in queries]
    for q, cid in zip(queries, top, strict=True):
        _label(rfaq, q, cid)
    rfaq.set_setting("threshold", 0.99)  # every labelled answer is first, and below the threshold
    b = diagnose_golden(rfaq)
    assert [(g.cause, g.count) for g in b.groups] == [("threshold_only", 5)]
    lines = b.text().splitlines()
    i = lines.index("1. only the threshold is wrong: 5 -> set_threshold")
    listed = [x for x in lines[i + 1 :] if x.startswith("   - ")]
    assert len(listed) == 5 == b.groups[0].count
    assert all(x.startswith(f"   - #{it.miss_id} ") for x, it in zip(listed, b.items, strict=True))


def test_ranks_agree_with_evaluation_after_a_real_calibration(eval_ws, tuned_dir):
    """Ported from test_workspace_eval: a held-out miss of `bgetune eval` gets the same ranks here."""
    from bgetune.tools.calibration import calibrate
    from bgetune.tools.evaluation import evaluate_workspace

    calibrate(eval_ws, model_dir=tuned_dir, plots=False)
    ev = evaluate_workspace(eval_ws, tuned_dir=tuned_dir, n_resamples=50, plots=False)
    per = json.loads(Path(ev["per_query"]).read_text())
    miss = next(q for q in per if q["tuned"]["rank"] != 1)
    d = diagnose(eval_ws, miss["query"], expected_id=miss["positives"][0], model_dir=tuned_dir)
    assert d.tuned.expected_rank == miss["tuned"]["rank"] and d.base.expected_rank == miss["base"]["rank"]
    assert d.tuned.threshold is not None and d.tuned.expected_probability is not None
    assert all(r.probability is not None and r.passes is not None for r in d.tuned.results)
    if d.tuned.expected_rank > 3 or not d.tuned.expected_passes:
        assert d.is_miss and d.verdict.endswith(".") and d.actions
    top = diagnose(eval_ws, miss["query"], model_dir=tuned_dir)
    assert top.cause in ("not_a_miss", "nothing_passes") and "threshold" in top.verdict


def test_none_of_these_keeps_an_unanswerable_golden_question(rfaq):
    q = "what is the airspeed velocity of an unladen swallow"
    d = diagnose(rfaq, q)
    assert d.cause == "unconfirmed" and d.expected is None
    acts = {a.action: a for a in d.actions}
    assert set(acts) == {"add_golden", "no_answer"} and "If result 1 is right" in acts["add_golden"].label()
    assert "都不是" in acts["no_answer"].label("zh")
    res = apply_fix(rfaq, d.miss_id, "no_answer")
    g = rfaq.conn.execute("SELECT * FROM golden WHERE query=?", (q,)).fetchone()
    assert (g["status"], g["pos_ids"], g["source"]) == ("unanswerable", "[]", "diagnosis")
    assert (
        res.status == "no-answer" and misses(rfaq)[0].status == "no-answer" and "unanswerable" in res.text()
    )
