"""Real question history: column detection, preview without writes, linking by title/id/url/text, click-log
mining, several answers as several positives, graded labels, golden share, filters that flag real questions,
the FlagEmbedding export and the import-pairs CLI confirm flow. Fixtures are built here (CSV, XLSX, JSONL)."""

from __future__ import annotations

import json

import pytest

from bgetune.capabilities import Context
from bgetune.core.config import Settings
from bgetune.tools.history import (
    HistoryError,
    HistoryOptions,
    Linker,
    detect_columns,
    import_history,
    preview_history,
    unlinked_rows,
)


def _ctx(ws):
    return Context(ws=ws, settings=Settings(workspace=ws.root))


def _opts(path, **kw):
    return HistoryOptions(path=str(path), embedding=False, **kw)


def _pairs(ws):
    return [dict(r) for r in ws.query("SELECT * FROM pairs ORDER BY id")]


def _positives(ws, pair_id):
    return [dict(r) for r in ws.query("SELECT * FROM pair_positives WHERE pair_id=?", (pair_id,))]


def _heading_chunk(ws, part):
    return [c["id"] for c in ws.chunks() if c["heading"] and c["heading"].endswith(part)]


def test_detect_columns_zh_and_en():
    zh = detect_columns(
        ["用户问题", "答案标题", "是否点击", "会话ID", "提问时间", "展示位置", "评分"],
        [{"是否点击": "是"}, {"是否点击": "否"}],
    )
    assert zh == {
        "question": "用户问题",
        "title": "答案标题",
        "clicked": "是否点击",
        "session": "会话ID",
        "timestamp": "提问时间",
        "rank": "展示位置",
        "label": "评分",
    }
    en = detect_columns(["Search Query", "Clicked URL", "Position", "session_id", "Doc ID", "Answer"])
    assert en == {
        "question": "Search Query",
        "url": "Clicked URL",
        "rank": "Position",
        "session": "session_id",
        "answer_id": "Doc ID",
        "answer": "Answer",
    }
    # a 'useful' column holding free text is not a click flag
    assert "clicked" not in detect_columns(["question", "answer", "useful"], [{"useful": "see the manual"}])


def test_preview_names_columns_and_writes_nothing(tiny_ws, tmp_path):
    path = tmp_path / "questions.csv"
    path.write_text(
        "用户问题,答案标题,是否点击\nhow do I pin a package,Pinning,是\napt behind a proxy,Proxy settings,否\n",
        encoding="utf-8",
    )
    pv = preview_history(_ctx(tiny_ws), _opts(path))
    assert pv.columns == {"question": "用户问题", "title": "答案标题", "clicked": "是否点击"}
    assert pv.rows == 2 and pv.questions == 2
    assert "答案标题" in pv.text("zh") and "clicked" in pv.text("en")
    assert any("clicked/useful rows become positives" in p for p in pv.plan)
    assert tiny_ws.scalar("SELECT count(*) FROM pairs") == 0
    assert tiny_ws.scalar("SELECT count(*) FROM import_rows") == 0
    with pytest.raises(HistoryError, match="--query-col"):
        bad = tmp_path / "bad.csv"
        bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
        preview_history(_ctx(tiny_ws), _opts(bad))
    with pytest.raises(HistoryError, match="no column 'nope'"):
        preview_history(_ctx(tiny_ws), _opts(path, title_col="nope"))


def test_import_titles_clicks_multi_positive_and_unlinked(tiny_ws, tmp_path):
    ws = tiny_ws
    path = tmp_path / "clicks.csv"
    path.write_text(
        "question,answer title,clicked\n"
        "how do I keep a package at one version,Pinning,yes\n"
        "how do I keep a package at one version,Installing packages,1\n"  # same question, second answer
        "apt through a corporate proxy,Proxy settings,no\n"  # shown, not clicked: not a positive
        "what is the refund policy,Refund policy,yes\n"  # no such heading: unlinked, kept with its reason
        "食品保质期的定义,第一章 标签,是\n",
        encoding="utf-8",
    )
    r = import_history(_ctx(ws), _opts(path))
    # the Chinese title names a section in two chunks: both are positives
    assert r.pairs == 2 and r.multi_positive == 2 and r.not_clicked == 1
    assert r.links == {"title": 3}
    assert [(u.row, u.question) for u in r.unlinked] == [(5, "what is the refund policy")]
    assert "title 'Refund policy' matches no heading" in r.unlinked[0].reason
    pin = next(p for p in _pairs(ws) if p["query"].startswith("how do I keep"))
    assert pin["kind"] == "real" and pin["link_method"] == "title" and pin["weight"] == 2.0
    assert pin["chunk_id"] in _heading_chunk(ws, "Pinning")
    extra = _positives(ws, pin["id"])
    assert [e["chunk_id"] for e in extra] == _heading_chunk(ws, "Installing packages")
    zh = next(p for p in _pairs(ws) if p["query"] == "食品保质期的定义")
    assert {zh["chunk_id"]} | {e["chunk_id"] for e in _positives(ws, zh["id"])} == set(
        _heading_chunk(ws, "第一章 标签")
    )
    rows = unlinked_rows(ws)
    assert len(rows) == 1 and rows[0]["row_no"] == 5 and rows[0]["data"]["title"] == "Refund policy"
    # the same file again: nothing new, the unlinked row is still listed once
    again = import_history(_ctx(ws), _opts(path))
    assert again.pairs == 0 and again.already_imported == 2
    assert ws.scalar("SELECT count(*) FROM import_rows") == 1
    assert "Refund policy" in r.text() and "无法关联" in r.text("zh")


def test_link_by_id_url_exact_and_fuzzy_text(tiny_ws, tmp_path):
    ws = tiny_ws
    linker = Linker(ws, base_model=False)
    proxy = _heading_chunk(ws, "Proxy settings")[0]
    assert linker.by_answer_id(proxy) == [proxy]
    # a typo'd copy of a chunk sentence links fuzzily; a verbatim one exactly; unrelated text not at all
    out = linker.link_texts(
        [
            "You can set pin priorities in the file /etc/apt/preferences",
            "You can sett pin priorites in the fiel /etc/apt/preferences to keep a pakage",
            "The cafeteria opens at nine and closes at three every weekday",
        ]
    )
    pin = _heading_chunk(ws, "Pinning")
    assert out[0][:2] == (pin, "exact")
    assert out[1][0] == pin and out[1][1] == "fuzzy" and 90 <= out[1][2] < 100
    assert out[2][0] == [] and out[2][1] == "none"
    doc_chunks = {c["id"] for c in ws.chunks() if c["document_name"] == "apt-guide.md"}
    assert set(linker.by_answer_url("https://intranet.example.com/kb/apt-guide.md")) == doc_chunks


def test_click_log_mining(tiny_ws, tmp_path):
    ws = tiny_ws
    path = tmp_path / "log.tsv"
    rows = [
        ("session", "query", "clicked title", "clicked", "rank", "time"),
        # s1: an unclicked question reformulated 3 minutes later, then clicked
        ("s1", "apt slow download mirror", "Installing packages", "0", "1", "2026-11-01 10:00:00"),
        ("s1", "change apt mirror", "Proxy settings", "0", "1", "2026-11-01 10:03:00"),
        ("s1", "change apt mirror", "Installing packages", "1", "2", "2026-11-01 10:03:00"),
        # s2: too late for the window
        ("s2", "free disk space apt", "Pinning", "0", "1", "2026-11-01 11:00:00"),
        ("s2", "remove downloaded debs", "Cleaning the cache", "1", "1", "2026-11-01 11:40:00"),
        # co-click: two questions click 'Cleaning the cache', one of them also clicked 'Pinning'
        ("s3", "clear apt archives", "Cleaning the cache", "1", "1", "2026-11-02 09:00:00"),
        ("s3", "clear apt archives", "Pinning", "1", "3", "2026-11-02 09:00:00"),
    ]
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n", encoding="utf-8")
    r = import_history(_ctx(ws), _opts(path, session_window_minutes=10))
    assert r.columns["clicked"] == "clicked" and r.columns["session"] == "session"
    assert r.reformulations == 1 and r.skipped_negatives == 1 and r.coclick >= 1
    pairs = {p["query"]: p for p in _pairs(ws)}
    assert set(pairs) == {"apt slow download mirror", "change apt mirror", "remove downloaded debs",
                          "clear apt archives"}  # fmt: skip
    install = _heading_chunk(ws, "Installing packages")
    reform = pairs["apt slow download mirror"]
    assert reform["chunk_id"] in install and reform["source"] == "history:log.tsv"
    assert json.loads(reform["scores"])["origin"] == "reformulation"
    # shown above the click (rank 1 < 2) and skipped: a candidate negative, never a positive
    change = pairs["change apt mirror"]
    assert json.loads(change["scores"])["skipped_ids"] == _heading_chunk(ws, "Proxy settings")
    # co-click: 'remove downloaded debs' shares 'clear apt archives' click on Pinning
    extra = {(e["chunk_id"], e["origin"]) for e in _positives(ws, pairs["remove downloaded debs"]["id"])}
    assert (_heading_chunk(ws, "Pinning")[0], "co-click") in extra
    assert "free disk space apt" not in pairs  # no click, no reformulation inside the window


def test_jsonl_graded_labels_export_and_repeat(tiny_ws, tmp_path):
    import openpyxl

    from bgetune.tools import review
    from bgetune.tools.pairs_io import export_training_jsonl
    from bgetune.tools.split import make_split
    from bgetune.tools.training import Example, _repeat_by_weight

    ws = tiny_ws
    fe = tmp_path / "graded.jsonl"
    fe.write_text(
        json.dumps(
            {
                "query": "how to pin a package version",
                "pos": [
                    "You can set pin priorities in the file /etc/apt/preferences",
                    "run apt install followed by the package name",
                ],
                "pos_scores": [4, 2],
                "neg": ["The local archive cache lives in /var/cache/apt/archives."],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    r = import_history(_ctx(ws), _opts(fe))
    assert r.pairs == 1 and r.graded == 1 and r.multi_positive == 1
    p = _pairs(ws)[0]
    assert p["label"] == 4 and p["chunk_id"] in _heading_chunk(ws, "Pinning")
    assert [e["label"] for e in _positives(ws, p["id"])] == [2]
    assert json.loads(p["scores"])["skipped_ids"] == _heading_chunk(ws, "Cleaning the cache")
    # XLSX with a 0-4 score column: a 0 is a negative, not a positive
    wb = openpyxl.Workbook()
    sh = wb.active
    sh.append(["问题", "答案", "相关度"])
    sh.append(["食品保质期是什么", "食品保质期，是指食品在标明的贮存条件下保持品质的期限。", 3])
    sh.append(
        [
            "食品保质期是什么",
            "如果您想要查询食品生产许可证编号，可以登录市场监督管理部门网站输入企业名称进行查询。",
            0,
        ]
    )
    wb.save(tmp_path / "graded.xlsx")
    r2 = import_history(_ctx(ws), _opts(tmp_path / "graded.xlsx"))
    assert r2.columns["label"] == "相关度" and r2.pairs == 1 and r2.multi_positive == 0
    zh = next(p for p in _pairs(ws) if p["query"] == "食品保质期是什么")
    assert zh["label"] == 3 and _positives(ws, zh["id"]) == []
    # FlagEmbedding export: graded labels as pos_scores / neg_scores
    review.approve_all(ws)
    make_split(ws, val=0.0, test=0.0)
    out = tmp_path / "train.jsonl"
    rep = export_training_jsonl(ws, out, split="all")
    recs = {x["query"]: x for x in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert rep["with_graded_labels"] == 2
    assert recs["how to pin a package version"]["pos_scores"] == [4.0, 2.0]
    assert len(recs["how to pin a package version"]["neg_scores"]) == len(
        recs["how to pin a package version"]["neg"]
    )
    # training: weight 2 x label/top label -> 4/4 -> 2 copies, 3/4 -> 2 copies (rounded), an unweighted pair once
    ex = [Example(p["id"], [1], 0, [], frozenset({0}), p["query"]) for p in _pairs(ws)]
    ex.append(Example(10_000, [1], 1, [], frozenset({1}), "synthetic"))
    counts = {}
    for e in _repeat_by_weight(ws, ex):
        counts[e.pair_id] = counts.get(e.pair_id, 0) + 1
    assert sorted(counts.values()) == [1, 2, 2]


def test_filters_judge_real_questions_as_real(tiny_ws, tmp_path):
    from bgetune.core.workspace import now_iso
    from bgetune.tools.filtering import filter_pairs

    ws = tiny_ws
    a = tmp_path / "a.csv"
    a.write_text(
        "question,answer\n"
        "apt proxy,add an Acquire::http::Proxy line to a file in /etc/apt/apt.conf.d\n"  # too short for synthetic
        "how do I keep a package at a fixed version,You can set pin priorities in the file /etc/apt/preferences\n",
        encoding="utf-8",
    )
    b = tmp_path / "b.csv"  # the same real question with another accepted answer
    b.write_text(
        "question,answer\nhow do I keep a package at a fixed version?,run apt install followed by the package name\n",
        encoding="utf-8",
    )
    import_history(_ctx(ws), _opts(a))
    import_history(_ctx(ws), _opts(b))
    ts = now_iso()
    cache = _heading_chunk(ws, "Cleaning the cache")[0]
    with ws.tx() as c:  # a synthetic query that repeats a real question, and one that does not
        for q in (
            "How do I keep a package at a fixed version",
            "Where does apt keep downloaded package files",
        ):
            c.execute(
                "INSERT INTO pairs(chunk_id, query, passage, source, kind, status, created_at, updated_at) "
                "VALUES(?,?,?,'offline','question','proposed',?,?)",
                (cache, q, "", ts, ts),
            )
    f = filter_pairs(ws, round_trip_check=False)
    by_q = {(p["query"], p["source"]): p for p in _pairs(ws)}
    short = by_q[("apt proxy", "import:a.csv")]
    assert short["status"] == "proposed" and "query_too_short" in json.loads(short["flags"])
    winner = by_q[("how do I keep a package at a fixed version", "import:a.csv")]
    loser = by_q[("how do I keep a package at a fixed version?", "import:b.csv")]
    assert winner["status"] == "proposed"
    assert loser["status"] == "rejected" and json.loads(loser["reasons"]) == ["merged_duplicate"]
    assert f"merged into pair {winner['id']}" in loser["status_why"]
    merged = {(e["chunk_id"], e["origin"]) for e in _positives(ws, winner["id"])}
    assert (loser["chunk_id"], "merged") in merged
    dup = by_q[("How do I keep a package at a fixed version", "offline")]
    assert dup["status"] == "rejected" and "duplicates_real_question" in json.loads(dup["reasons"])
    assert by_q[("Where does apt keep downloaded package files", "offline")]["status"] != "rejected" or (
        "duplicates_real_question"
        not in by_q[("Where does apt keep downloaded package files", "offline")]["reasons"]
    )
    # round trip: forced to fail (top 1, similarity 0.99): real questions flagged, never rejected for it
    f = filter_pairs(ws, base_model="bundled", top_k=1, min_similarity=0.99)
    assert f["merged"] == 1 and f["flagged"] >= 2
    assert all(
        p["status"] != "rejected" or json.loads(p["reasons"]) == ["merged_duplicate"]
        for p in _pairs(ws)
        if p["kind"] == "real"
    )
    assert any("round_trip_failed" in json.loads(p["flags"]) for p in _pairs(ws) if p["kind"] == "real")


def test_golden_share_by_cluster(tiny_ws, tmp_path):
    ws = tiny_ws
    path = tmp_path / "many.csv"
    answers = {
        "Pinning": [
            "how do I pin a package",
            "how can I pin a package",
            "pin a package version",
            "apt pinning",
        ],
        "Proxy settings": ["apt behind a proxy", "configure apt proxy", "proxy for apt downloads"],
        "Cleaning the cache": ["clear apt cache", "free space used by apt", "where are downloaded debs"],
        "Installing packages": ["install a package", "how to install software", "apt install usage"],
    }
    lines = ["question,title"] + [f"{q},{t}" for t, qs in answers.items() for q in qs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = import_history(_ctx(ws), _opts(path, golden_share=0.3, seed=3))
    golden = {g["query"]: g for g in map(dict, ws.query("SELECT * FROM golden"))}
    assert 2 <= r.golden == len(golden) <= 6 and r.pairs + r.golden == 13 and not r.bad_rows
    assert all(
        g["status"] == "labeled" and g["source"] == "history" and json.loads(g["pos_ids"])
        for g in golden.values()
    )
    # near-duplicates stay together: both in golden or both in training
    assert ("how do I pin a package" in golden) == ("how can I pin a package" in golden)
    assert not set(golden) & {p["query"] for p in _pairs(ws)}


def test_cli_preview_confirm_and_yes(tiny_ws, tmp_path):
    from typer.testing import CliRunner

    from bgetune.cli import app

    path = tmp_path / "q.csv"
    path.write_text("question,answer title\nhow do I pin a package,Pinning\n", encoding="utf-8")
    base = ["import-pairs", str(path), "--workspace", str(tiny_ws.root), "--no-embedding", "--no-filter"]
    pv = CliRunner().invoke(app, base + ["--preview", "--json"])
    assert pv.exit_code == 0, pv.output
    assert json.loads(pv.stdout)["columns"] == {"question": "question", "title": "answer title"}
    no = CliRunner().invoke(app, base)
    assert no.exit_code != 0 and "--yes" in no.output
    assert tiny_ws.scalar("SELECT count(*) FROM pairs") == 0
    yes = CliRunner().invoke(app, base + ["--yes", "--json"])
    assert yes.exit_code == 0, yes.output
    out = json.loads(yes.stdout)
    assert out["pairs"] == 1 and out["links"] == {"title": 1}
