"""The golden set on a real knowledge base (Debian FAQ sections and their real questions) with the bundled model:
adding questions from text and files, candidates (model + BM25), labels, export, evaluation, capabilities, CLI."""

from __future__ import annotations

import json

import pytest

from bgetune.capabilities import Context
from bgetune.core.config import Settings
from bgetune.tools import golden as g
from tests.faq_kb import faq_rows, faq_workspace


@pytest.fixture(scope="module")
def _faq_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("faq")
    ws = faq_workspace(root, "en", 40)
    ws.close()
    return ws.root


@pytest.fixture
def faq_ws(_faq_ws, tmp_path):
    import shutil

    from bgetune.core.workspace import Workspace

    shutil.copytree(_faq_ws, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def test_parse_questions_strips_bullets_and_duplicates():
    text = "1. How do I install it?\n- 如何升级系统？\nQ: why is it free\n\n2) How do I install it?\n# note"
    assert g.parse_questions(text) == ["How do I install it?", "如何升级系统？", "why is it free"]
    # a quoted line loses its quotes; a quote inside the question stays
    assert g.parse_questions('"Is it free?"\n“测试”的过程是怎样的？') == [
        "Is it free?",
        "“测试”的过程是怎样的？",
    ]


def test_read_questions_from_txt_csv_xlsx_jsonl(tmp_path):
    import openpyxl

    (tmp_path / "q.txt").write_text("What is Debian?\n\n* How big is it?\n", encoding="utf-8")
    (tmp_path / "q.csv").write_text("id,问题\n1,如何安装？\n2,什么是 Debian？\n", encoding="utf-8")
    wb = openpyxl.Workbook()
    wb.active.append(["Question", "Answer"])
    wb.active.append(["Where are the sources?", "in the archive"])
    wb.save(tmp_path / "q.xlsx")
    (tmp_path / "q.jsonl").write_text(
        json.dumps({"query": "What is this FAQ?", "pos_ids": ["en-1.1"]}) + "\n"
    )
    assert [r["query"] for r in g.read_questions_file(tmp_path / "q.txt")] == [
        "What is Debian?",
        "How big is it?",
    ]
    assert [r["query"] for r in g.read_questions_file(tmp_path / "q.csv")] == [
        "如何安装？",
        "什么是 Debian？",
    ]
    assert g.read_questions_file(tmp_path / "q.xlsx") == [{"query": "Where are the sources?"}]
    assert g.read_questions_file(tmp_path / "q.jsonl") == [
        {"query": "What is this FAQ?", "pos_ids": ["en-1.1"]}
    ]
    with pytest.raises(g.GoldenError, match="does not exist"):
        g.read_questions_file(tmp_path / "missing.txt")


def test_bm25_ranks_the_rare_term_and_tokenizes_chinese():
    docs = ["the cat sat on the mat", "dpkg installs a package file", "apt fetches packages from the network"]
    bm = g.BM25([g.tokenize(d) for d in docs])
    assert bm.top(g.tokenize("how does dpkg work"), 2)[0][0] == 1
    assert bm.top(g.tokenize("zebra"), 2) == []
    zh = g.tokenize("如何用软件包管理器安装软件？")
    assert "安装" in zh and "软件包" in zh and "？" not in zh


def test_add_candidates_label_edit_remove_export_and_evaluate(faq_ws, tmp_path):
    ws = faq_ws
    _, real = faq_rows("en", 40)
    added, dups = g.add_questions(ws, [r["query"] for r in real[:6]] + [real[0]["query"]], source="typed")
    assert len(added) == 6 and dups == [real[0]["query"]]
    q, cands = g.show_candidates(ws, added[0], k=4)
    # the base model's 4 and BM25's 4, merged without repeats and numbered from 1
    assert [c.number for c in cands] == list(range(1, len(cands) + 1))
    assert 4 <= len(cands) <= 8 and sum(1 for c in cands if c.dense_rank) == 4
    assert any(c.bm25_rank for c in cands)
    assert q.candidates["shown"] == [c.chunk_id for c in cands]
    # label by candidate numbers
    got = g.label_question(ws, added[0], "1 3")
    assert got.status == "labeled" and got.pos_ids == [cands[0].chunk_id, cands[2].chunk_id]
    with pytest.raises(g.GoldenError, match=r"shows 1\.\.\d"):
        g.label_question(ws, added[0], "99")
    with pytest.raises(g.GoldenError, match="no candidates yet"):
        g.label_question(ws, added[1], "2")
    # by the export's own ids (ext_id) and as unanswerable
    right = g.label_question(ws, added[1], real[1]["pos_ids"])
    assert right.status == "labeled" and len(right.pos_ids) == len(real[1]["pos_ids"])
    assert g.label_question(ws, added[2], "none").status == "unanswerable"
    with pytest.raises(g.GoldenError, match="no chunk 'nope'"):
        g.label_question(ws, added[3], "nope")
    c = g.golden_counts(ws)
    assert (c.total, c.labeled, c.unanswerable, c.unlabeled) == (6, 2, 1, 3) and not c.enough
    assert g.next_unlabeled(ws).id == added[3]
    assert g.edit_question(ws, added[3], "How do I reach the Debian FAQ maintainers?").candidates == {}
    with pytest.raises(g.GoldenError, match="already holds"):
        g.edit_question(ws, added[4], real[0]["query"])
    g.remove_question(ws, added[5])
    assert len(g.list_questions(ws)) == 5
    # export: answerable labeled ones with texts and ids; every question in the ids file
    out = g.export_golden(ws, tmp_path / "export")
    rows = [json.loads(x) for x in open(out.jsonl)]
    assert out.questions == 5 and out.answerable == 2 and len(rows) == 2
    assert rows[1]["pos_ids"] == real[1]["pos_ids"] and all(rows[1]["pos"])
    ids = [json.loads(x) for x in open(out.ids)]
    assert [r["status"] for r in ids].count("unanswerable") == 1
    # the exported file scores with the existing `bgetune eval --golden` reader
    from bgetune.tools.evaluation import golden_queryset, load_corpus, read_jsonl

    qs, unmatched = golden_queryset(
        *load_corpus(_corpus_file(ws, tmp_path)), read_jsonl(out.jsonl, "golden"), out.jsonl
    )
    assert len(qs.queries) == 2 and not unmatched
    # evaluation on the workspace set: the base against itself ties exactly
    from bgetune.core.models import bundled_model_path

    ev = g.evaluate_golden_ws(ws, model=bundled_model_path(), base="bundled")
    assert ev.queries == 2 and ev.gain == 0.0 and ev.low == 0.0 and ev.verdict == "no clear difference"
    assert "golden questions" in ev.text("en") and "黄金问题" in ev.text("zh")


def _corpus_file(ws, tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "".join(json.dumps({"id": r["ext_id"], "text": r["text"]}) + "\n" for r in ws.chunks()),
        encoding="utf-8",
    )
    return path


def test_capabilities_walk_a_labelling_session(faq_ws):
    ws = faq_ws
    ctx = Context(ws=ws, settings=Settings(workspace=ws.root))
    _, real = faq_rows("en", 40)
    pasted = "\n".join(f"{i + 1}. {r['query']}" for i, r in enumerate(real[:3]))
    res = g.golden_add(ctx, g.GoldenAddOptions(questions=[pasted]))
    assert res.added == 3 and "3 questions" in res.text("en") and "已添加 3 个问题" in res.text("zh")
    shown = g.golden_candidates(ctx, g.GoldenCandidatesOptions(k=3))
    assert (
        shown.question.query == real[0]["query"] and "[1]" in shown.text("en") and "候选" in shown.text("zh")
    )
    # the user's "1" labels the question shown last
    lab = g.golden_label(ctx, g.GoldenLabelOptions(answer="1"))
    assert lab.question.id == shown.question.id and lab.question.pos_ids == [shown.candidates[0].chunk_id]
    assert lab.next_id == shown.question.id + 1
    # the chat's planner sends picks / none; the next shown question is the one they label
    nxt = g.golden_candidates(ctx, g.GoldenCandidatesOptions(k=3))
    assert nxt.question_id == lab.next_id
    assert g.golden_label(ctx, g.GoldenLabelOptions(picks=[2, 1])).question.pos_ids == [
        nxt.candidates[1].chunk_id,
        nxt.candidates[0].chunk_id,
    ]
    g.golden_candidates(ctx, g.GoldenCandidatesOptions())
    assert g.golden_label(ctx, g.GoldenLabelOptions(none=True)).question.status == "unanswerable"
    assert g.golden_candidates(ctx, g.GoldenCandidatesOptions()).question is None
    lst = g.golden_list(ctx, g.GoldenListOptions())
    assert len(lst.questions) == 3 and "✓" in lst.text("en") and "∅" in lst.text("en")
    with pytest.raises(g.GoldenError, match="no questions given"):
        g.golden_add(ctx, g.GoldenAddOptions())
    from bgetune import capabilities

    table = capabilities.table()
    assert {"golden_add", "golden_candidates", "golden_label", "golden_list", "evaluate_golden"} <= set(table)
    opts = table["golden_label"].make_options({"answer": "1 3"})
    assert opts.answer == "1 3" and opts.none is False


def test_cli_golden_add_label_list(faq_ws, tmp_path):
    from typer.testing import CliRunner

    from bgetune.cli import app  # the golden group is derived from the golden capabilities

    ws = str(faq_ws.root)
    _, real = faq_rows("en", 40)
    qfile = tmp_path / "qs.txt"
    qfile.write_text("\n".join(r["query"] for r in real[:2]) + "\n", encoding="utf-8")
    run = CliRunner().invoke
    r = run(app, ["golden", "add", "--file", str(qfile), "-w", ws, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == 2
    # interactive: candidates are shown, "2" labels the first, "none" the second
    r = run(app, ["golden", "label", "-w", ws, "-k", "3"], input="2\nnone\n")
    assert r.exit_code == 0, r.output
    assert "[1]" in r.output and "unanswerable" in r.output
    # non-interactive by candidate number and by the export's ids
    r = run(app, ["golden", "label", "-w", ws, "--query", "1", "--pos", real[0]["pos_ids"][0]])
    assert r.exit_code == 0, r.output
    r = run(app, ["golden", "list", "-w", ws, "--json"])
    rows = json.loads(r.stdout)["questions"]
    assert [q["status"] for q in rows] == ["labeled", "unanswerable"]
    r = run(app, ["golden", "label", "-w", ws, "--query", "7", "--pos", "1"])
    assert r.exit_code == 2 and "no golden question #7" in r.output  # a user error: exit 2 with the reason
