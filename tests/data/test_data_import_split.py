"""Bring-your-own pairs (CSV with Chinese headers, XLSX, FlagEmbedding JSONL), split, export, and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bgetune.tools import review
from bgetune.tools.pairs_io import ImportError_, export_training_jsonl, import_pairs
from bgetune.tools.split import check_split, make_split


def test_import_csv_chinese_headers_bad_rows(tiny_ws, tmp_path):
    ws = tiny_ws
    csv_path = tmp_path / "history.csv"
    csv_path.write_text(
        "标准问,答案\n"
        "食品保质期是什么意思？,食品保质期，是指食品在标明的贮存条件下保持品质的期限。\n"
        "怎么查询生产许可证编号,\n"
        "食品保质期是什么意思？,食品保质期，是指食品在标明的贮存条件下保持品质的期限。\n"
        "apt 代理怎么设置,add an Acquire::http::Proxy line to a file in /etc/apt/apt.conf.d\n"
        "公司年假有几天,员工每年享有十五天带薪年假，由部门经理审批。\n",
        encoding="utf-8",
    )
    r = import_pairs(ws, csv_path, base_model=False)
    assert r["imported"] == 3 and r["rows"] == 5
    assert {(b["row"], b["reason"]) for b in r["bad_rows"]} == {(3, "empty answer"), (4, "duplicate row")}
    assert r["linked"]["exact"] == 2 and r["own_passage"] == 1
    pairs = review.list_pairs(ws, source="import:")
    assert {p["source"] for p in pairs} == {"import:history.csv"}
    assert all(p["kind"] == "real" and p["status"] == "proposed" for p in pairs)
    own = next(p for p in pairs if p["query"] == "公司年假有几天")
    assert own["chunk_id"] is None and "十五天" in own["passage"]
    linked = next(p for p in pairs if p["query"].startswith("食品保质期"))
    assert "保质期" in ws.chunk(linked["chunk_id"])["text"]
    # importing the same file again adds nothing
    assert import_pairs(ws, csv_path, base_model=False)["imported"] == 0
    with pytest.raises(ImportError_, match="--query-col"):
        bad = tmp_path / "bad.csv"
        bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
        import_pairs(ws, bad, base_model=False)


def test_import_xlsx_and_jsonl(tiny_ws, tmp_path):
    import openpyxl

    ws = tiny_ws
    wb = openpyxl.Workbook()
    sh = wb.active
    sh.append(["Question", "Clicked document"])
    sh.append(["where is the apt cache", "The local archive cache lives in /var/cache/apt/archives."])
    sh.append([None, "orphan answer"])
    wb.save(tmp_path / "clicks.xlsx")
    r = import_pairs(ws, tmp_path / "clicks.xlsx", answer_col="clicked document", base_model=False)
    assert r["imported"] == 1 and r["bad_rows"] == [{"row": 3, "reason": "empty question"}]
    fe = tmp_path / "fe.jsonl"
    fe.write_text(
        json.dumps(
            {
                "query": "how to pin a package version",
                "pos": ["You can set pin priorities in the file /etc/apt/preferences"],
                "neg": [],
            }
        )
        + "\n{broken\n",
        encoding="utf-8",
    )
    r = import_pairs(ws, fe, base_model=False)
    assert r["imported"] == 1 and r["bad_rows"][0]["row"] == 2 and r["linked"]["exact"] == 1


def test_split_export_no_leakage(tiny_ws, tmp_path):
    from bgetune.core.config import Settings
    from bgetune.tools.qa_generation import generate_pairs

    ws = tiny_ws
    generate_pairs(ws, Settings(workspace=ws.root))
    csv_path = tmp_path / "real.csv"
    csv_path.write_text("question,answer\nhow do I clear the apt cache,apt clean\n", encoding="utf-8")
    import_pairs(ws, csv_path, base_model=False)
    rep = make_split(ws, val=0.2, test=0.3, seed=1)
    assert rep["unit"] == "section" and "note" in rep
    assert rep["pairs"]["train"] > 0 and rep["pairs"]["test"] > 0
    assert rep["real_questions"]["test"] == 1  # real questions go to test first
    chk = check_split(ws)
    assert chk == {"chunks_on_two_sides": 0, "near_duplicates_across": 0, "identical_queries_across": 0}
    assert ws.scalar("SELECT count(*) FROM chunks WHERE split IS NULL") == 0
    assert make_split(ws, val=0.2, test=0.3, seed=1)["pairs"] == rep["pairs"]  # deterministic
    review.approve_all(ws)
    out = tmp_path / "train.jsonl"
    r = export_training_jsonl(ws, out, split="train")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == r["pairs"] == rep["pairs"]["train"]
    assert all(set(x) >= {"query", "pos", "neg"} and x["pos"] and x["neg"] for x in rows)
    train_chunks = {c["text"] for c in ws.chunks(split="train")}
    assert all(x["pos"][0] in train_chunks for x in rows)


def test_cli_generate_review_import(tiny_ws, tmp_path):
    from bgetune.cli import app

    ws = tiny_ws
    run = CliRunner()
    res = run.invoke(app, ["generate", "--workspace", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{") :])
    assert out["mode"] == "offline" and out["pairs_added"] > 0 and "filter" in out
    res = run.invoke(app, ["review", "list", "--workspace", str(ws.root), "--json", "--limit", "0"])
    listed = json.loads(res.stdout[res.stdout.index("{") :])
    statuses = {p["status"] for p in listed["pairs"]}
    assert "proposed" in statuses
    rejected = [p for p in listed["pairs"] if p["status"] == "rejected"]
    assert all(p["reasons"] for p in rejected)
    pid = listed["pairs"][0]["id"]
    res = run.invoke(
        app, ["review", "edit", str(pid), "--query", "my edited query about apt", "--workspace", str(ws.root)]
    )
    assert res.exit_code == 0 and "edited" in res.output
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("问题,答案\n年假几天,\n", encoding="utf-8")
    res = run.invoke(app, ["import-pairs", str(csv_path), "--workspace", str(ws.root), "--yes"])
    assert res.exit_code == 0 and "row 2: empty answer" in res.output
    res = run.invoke(app, ["review", "approve", "999999", "--workspace", str(ws.root)])
    assert res.exit_code == 2 and "999999" in res.output  # a user error: exit 2 with the reason
    proposed = sorted(p["id"] for p in listed["pairs"] if p["status"] == "proposed")[:3]
    lo, hi = proposed[0], proposed[-1]  # a range, as the chat and the UI read ids
    res = run.invoke(app, ["review", "reject", f"{lo}-{hi}", "--workspace", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout[res.stdout.index("{") :])["ids"]) >= set(proposed)
