"""Issue 24: real questions set the style, query logs become pseudo pairs, a deliberate mix, a style report; issue 22
item 5: the unknown-token rate at ingest. Real components (bundled model, SQLite, files); the LLM is scripted."""

from __future__ import annotations

import json

import pytest

from bgetune.core.workspace import Workspace
from bgetune.tools import offline_gen, style

TEN_EN = [
    "How much is the monthly fee for a family plan?",
    "Can I cancel my subscription if I move abroad?",
    "What happens to my data if I close my account?",
    "How do I change my billing address?",
    "Is there a discount for students?",
    "Where can I download my invoices?",
    "Can I share my account with my partner?",
    "How much is the late payment charge?",
    "How do I reset my password?",
    "What is a family plan?",
]
PASSAGE_EN = {
    "id": "c1",
    "heading": "Plans",
    "language": "en",
    "text": (
        "The family plan costs 25 dollars per month and covers up to five people.\n\n"
        "If you move to another country, you can keep the family plan for six months. You can switch to the "
        "student plan from the account page. To change the payment card, open the billing page and choose a "
        "new card. The archive of invoices is available for download on the billing page."
    ),
}
TEN_ZH = [
    "家庭套餐多少钱？",
    "账号被锁了怎么办？",
    "如何修改绑定的手机号？",
    "如何注销账号？",
    "发票是什么？",
    "退款要多久？",
    "我可以更换套餐吗？",
    "登录失败怎么办？",
    "如何申请发票？",
    "会员积分是什么？",
]
PASSAGE_ZH = {
    "id": "z1",
    "heading": "套餐",
    "language": "zh",
    "text": (
        "家庭套餐每月收费二十五元，最多五人共用。如果您想要更换套餐，可以在账户页面选择新的套餐。"
        "会员积分是指每次消费后获得的点数，可以兑换优惠券。要申请电子发票，请在账单页面填写抬头。"
    ),
}


def _stats(*chunks):
    return offline_gen.build_stats(list(chunks))


# ---------------------------------------------------------------------------------------------- frames
def test_frames_mined_from_ten_real_questions_shape_generated_questions_en():
    frames = style.mine_frames(TEN_EN)
    patterns = {f.pattern for f in frames}
    assert {"How much is X", "Can I X if Y", "How do I X", "Is there X", "Where can I X"} <= patterns
    gens = offline_gen.generate_for_chunk(PASSAGE_EN, _stats(PASSAGE_EN), frames=frames, max_queries=8)
    framed = [g for g in gens if g.rule.startswith("frame:")]
    assert len(framed) >= 2, [g.query for g in gens]
    for g in framed:  # every frame question has the shape of the real question it came from
        assert any(style.frame_matches(f, g.query) for f in frames), g.query
    # the conditional frame is filled from the passage's own 'If you ..., you can ...' sentence, and the
    # quantity frame only because the passage states an amount
    slots, conds = _slots(PASSAGE_EN)
    qs = [g.query for g in framed] + [
        q for q, _ in style.fill_frames(frames, slots, text=PASSAGE_EN["text"], conditions=conds, limit=10)
    ]
    assert any(
        q.startswith("Can I keep the family plan") and " if I move to another country" in q for q in qs
    ), qs
    assert any(q.startswith("How much is the family plan") for q in qs), qs


def _slots(chunk):
    text = chunk["text"]
    sents = offline_gen._sentences(text)
    top = [t for t, _ in _stats(chunk).salient(offline_gen.chunk_terms(text, chunk["language"]), k=8)]
    return offline_gen.passage_slots(text, sents, top, chunk["language"])


def test_frame_fill_skips_quantity_frames_without_an_amount():
    frames = style.mine_frames(["How much is the premium?", "How much is the yearly fee?"])
    assert [f.pattern for f in frames] == ["How much is X"]
    assert (
        style.fill_frames(frames, {"NP": ["the family plan"]}, text="The family plan covers five people.")
        == []
    )
    filled = style.fill_frames(frames, {"NP": ["the family plan"]}, text="The family plan costs 25 dollars.")
    assert [q for q, _ in filled] == ["How much is the family plan?"]


def test_frames_mined_from_ten_real_questions_shape_generated_questions_zh():
    frames = style.mine_frames(TEN_ZH)
    patterns = {f.pattern for f in frames}
    assert {"X怎么办", "如何X", "X是什么", "我可以X吗"} <= patterns
    gens = offline_gen.generate_for_chunk(PASSAGE_ZH, _stats(PASSAGE_ZH), frames=frames, max_queries=8)
    framed = [g.query for g in gens if g.rule.startswith("frame:")]
    assert framed, [g.query for g in gens]
    assert all(any(style.frame_matches(f, q) for f in frames) for q in framed), framed
    assert "会员积分是什么？" in framed or any(q.startswith("如何") for q in framed), framed
    # '怎么办' needs a problem to ask about; this passage names none, so no '...怎么办？' is made up
    assert not any(q.endswith("怎么办？") for q in framed), framed


# ---------------------------------------------------------------------------------------------- language, headings
def test_mixed_language_query_never_proposed_for_a_one_language_passage():
    chunk = {
        "id": "m1",
        "heading": "软件包",
        "language": "zh",
        "text": (
            "软件包 upgradable 表示软件包可以升级。配置文件 foo 只是示例名字。使用 apt-get 命令可以升级软件包。"
            "Debian 的软件包管理系统会检查依赖关系，upgradable 状态的软件包会在列表中显示。"
        ),
    }
    gens = offline_gen.generate_offline([chunk], real_questions=TEN_ZH)["m1"]
    assert gens
    for g in gens:
        assert not offline_gen.mixes_languages(g.query, "zh"), g.query
        assert "upgradable" not in g.query and "foo" not in g.query, g.query
    assert offline_gen.mixes_languages("软件包 upgradable", "zh")
    assert offline_gen.mixes_languages("配置文件 foo", "zh")
    assert not offline_gen.mixes_languages("apt-get 怎么升级软件包？", "zh")
    assert not offline_gen.mixes_languages("什么是 Debian GNU/Linux？", "zh")
    assert offline_gen.mixes_languages("how to 升级", "en")


def _pair(ws: Workspace, chunk: dict, query: str, *, source: str = "offline", kind: str = "question") -> int:
    with ws.tx() as c:
        cur = c.execute(
            "INSERT INTO pairs(chunk_id, query, passage, source, kind, status, created_at, updated_at) "
            "VALUES(?,?,?,?,?,'proposed','t','t')",
            (chunk["id"], query, chunk["text"], source, kind),
        )
    return int(cur.lastrowid)


def test_query_equal_to_its_passage_heading_is_rejected_with_its_reason(tiny_ws):
    from bgetune.tools.filtering import filter_pairs

    chunk = next(c for c in tiny_ws.chunks() if "Pinning is a mechanism" in c["text"])
    assert chunk["heading"] and chunk["heading"].endswith("Pinning")
    head = _pair(tiny_ws, chunk, "Pinning")
    line = _pair(tiny_ws, chunk, "pinning?")
    mixed = _pair(tiny_ws, chunk, "pin priorities 文件")
    cut = _pair(tiny_ws, chunk, "Are pin priorities set to keep the?")
    good = _pair(tiny_ws, chunk, "How do I hold a package version?")
    filter_pairs(tiny_ws, round_trip_check=False)
    rows = {r["id"]: dict(r) for r in tiny_ws.query("SELECT id, status, reasons, status_why FROM pairs")}
    for pid, reason in (
        (head, "is_heading"),
        (line, "is_heading"),
        (mixed, "mixed_language"),
        (cut, "cut_off"),
    ):
        assert rows[pid]["status"] == "rejected", rows[pid]
        assert reason in json.loads(rows[pid]["reasons"]), rows[pid]
        assert reason in rows[pid]["status_why"]
    assert rows[good]["status"] == "proposed", rows[good]


def test_duplicates_resolved_consistently_the_rejected_twin_names_the_kept_one(tiny_ws):
    from bgetune.tools.filtering import filter_pairs

    chunks = tiny_ws.chunks()
    a = _pair(tiny_ws, chunks[0], "How do I install a package with apt?")
    b = _pair(tiny_ws, chunks[1], "How do I install a package with apt?")
    filter_pairs(tiny_ws, round_trip_check=False)
    rows = {r["id"]: dict(r) for r in tiny_ws.query("SELECT id, status, status_why, scores FROM pairs")}
    assert rows[a]["status"] == "proposed"
    assert rows[b]["status"] == "rejected"
    assert f"twin of pair {a}" in rows[b]["status_why"]
    assert json.loads(rows[b]["scores"])["twin"] == a
    filter_pairs(tiny_ws, round_trip_check=False)  # a re-run decides the same way
    again = {r["id"]: r["status"] for r in tiny_ws.query("SELECT id, status FROM pairs")}
    assert (again[a], again[b]) == ("proposed", "rejected")


def test_generator_never_proposes_the_heading_or_first_line():
    chunk = {
        "id": "h1",
        "heading": "Debian FAQ > 8.4 How does a Debian system boot?",
        "language": "en",
        "text": "8.4 How does a Debian system boot?\nThe system boots with systemd, which starts the services. "
        "You can list the services with systemctl list-units.",
    }
    gens = offline_gen.generate_offline([chunk], real_questions=TEN_EN)["h1"]
    assert gens
    assert all(g.query.rstrip("?").lower() != "how does a debian system boot" for g in gens), gens


# ---------------------------------------------------------------------------------------------- mix, chunks
NOUNS = ["thumbnail", "font", "metadata", "spool", "session", "mirror", "index", "download"]


def test_type_mix_covers_every_type_near_the_target():
    chunks = [
        {
            "id": f"k{i}",
            "heading": None,
            "language": "en",
            "text": f"The tool{i} utility is a program that converts files. If you want to convert a file{i} to PDF, "
            f"you can run tool{i} with the --pdf option. Packages can be upgraded in place by running tool{i} "
            f"upgrade. The archive{i} directory is located in /var/cache/tool{i}. The {NOUNS[i % 8]} cache of "
            f"tool{i} keeps old files, and the {NOUNS[i % 8]} cache grows.",
        }
        for i in range(40)
    ]
    out = offline_gen.generate_offline(chunks)
    kinds = [offline_gen.MixBalancer.qtype(g) for v in out.values() for g in v]
    counts = {t: kinds.count(t) for t in style.QUERY_TYPES}
    assert all(counts[t] > 0 for t in style.QUERY_TYPES), counts
    assert counts["question"] / len(kinds) >= 0.5, counts
    for t in ("keyword", "statement", "title"):
        assert counts[t] / len(kinds) <= style.DEFAULT_MIX[t] + 0.05, counts


def test_classify_query_types():
    assert style.classify_query("How do I reset my password?") == "question"
    assert style.classify_query("apt proxy settings") == "keyword"
    assert style.classify_query("apt-get update fails with a GPG error") == "statement"
    assert style.classify_query("Installing the kernel headers") == "title"
    assert style.classify_query("如何注销账号") == "question"
    assert style.classify_query("登录失败") == "statement"
    assert style.classify_query("软件包 升级") == "keyword"
    assert style.classify_query("安装软件包的方法") == "title"


def test_chunk_label_names_the_section_its_text_belongs_to():
    from transformers import AutoTokenizer

    from bgetune.core.models import bundled_model_path
    from bgetune.tools.chunking import Chunker
    from bgetune.tools.ingest import Block

    tok = AutoTokenizer.from_pretrained(bundled_model_path())
    ch = Chunker(tok, max_tokens=64, overlap=16)
    blocks = [
        Block("8.4 How do I pin a package?", heading=("8", "8.4 Pinning")),
        Block("Use apt-mark hold to keep a package at its version.", heading=("8", "8.4 Pinning")),
        Block("8.5 How does a Debian system boot?", heading=("8", "8.5 Booting")),
        Block("The system boots with systemd. " * 6, heading=("8", "8.5 Booting")),
        Block("It then starts the display manager and the login screen. " * 3, heading=("8", "8.5 Booting")),
    ]
    chunks = ch.chunk_blocks(blocks)
    for c in chunks:
        if c.heading.endswith("8.5 Booting"):
            assert "apt-mark" not in c.text and not c.text.startswith("8.4"), c
        if "apt-mark" in c.text:
            assert c.heading.endswith("8.4 Pinning"), c


# ---------------------------------------------------------------------------------------------- query log
def test_query_log_without_answers_becomes_pseudo_pairs_with_scores(tiny_ws, tmp_path, st_model):
    from bgetune.tools.querylog import import_queries, read_queries

    log = tmp_path / "searches.csv"
    log.write_text(
        "search term,count\n"
        "how to set apt pin priorities in /etc/apt/preferences,12\n"
        "apt clean free disk space /var/cache/apt/archives,3\n"
        "Acquire::http::Proxy apt proxy port,5\n"
        "weather tomorrow,1\n"
        "how to set apt pin priorities in /etc/apt/preferences,2\n",
        encoding="utf-8",
    )
    assert read_queries(log)[0] == ("how to set apt pin priorities in /etc/apt/preferences", 14)
    res = import_queries(tiny_ws, log, model=st_model)
    assert res.queries == 4 and res.new_queries == 4
    rows = [dict(r) for r in tiny_ws.query("SELECT * FROM pairs WHERE kind='pseudo'")]
    assert rows and res.pseudo_pairs == len(rows)
    assert "weather tomorrow" not in {r["query"] for r in rows}  # nothing answers it: not confident
    by_q = {r["query"]: r for r in rows}
    pin = by_q["how to set apt pin priorities in /etc/apt/preferences"]
    chunk_text = tiny_ws.chunk(pin["chunk_id"])["text"]
    assert "/etc/apt/preferences" in chunk_text
    for r in rows:
        s = json.loads(r["scores"])
        assert s["pseudo"] is True and s["margin"] >= 1.0 and "score" in s and s["teacher"]
        assert s["provenance"]["file"] == "searches.csv"
        assert r["status"] == "proposed" and r["source"] == "querylog:searches.csv"
        assert json.loads(r["flags"]) == ["pseudo"]
    assert json.loads(pin["scores"])["provenance"]["count"] == 14
    # every logged query is a style source, answered or not
    origins = dict(style.real_questions(tiny_ws))
    assert origins["weather tomorrow"] == "querylog"
    assert "4" in res.text("en") or "4" in res.text("zh")
    # importing again adds nothing twice
    again = import_queries(tiny_ws, log, model=st_model)
    assert again.new_queries == 0 and again.pseudo_pairs == 0


def test_pseudo_pairs_never_enter_the_ship_decisions_evidence(tiny_ws, tmp_path, st_model):
    from bgetune.tools.decision import evidence_set, heldout_queryset
    from bgetune.tools.querylog import import_queries

    log = tmp_path / "q.txt"
    log.write_text(
        "how to set apt pin priorities in /etc/apt/preferences\napt clean free disk space\n", "utf-8"
    )
    import_queries(tiny_ws, log, model=st_model)
    chunks = tiny_ws.chunks()
    synthetic = _pair(tiny_ws, chunks[2], "How do I use apt behind a proxy?")
    pseudo_ids = [r[0] for r in tiny_ws.query("SELECT id FROM pairs WHERE kind='pseudo'")]
    assert pseudo_ids
    # the worst case: everything approved and in the test split, no chunk in train
    with tiny_ws.tx() as c:
        c.execute("UPDATE pairs SET status='approved', split='test'")
    qs = heldout_queryset(tiny_ws)
    assert qs.query_ids == [synthetic]
    kind, _, ev = evidence_set(tiny_ws)
    assert kind == "held-out" and not set(ev.query_ids or []) & set(pseudo_ids)
    assert not tiny_ws.query("SELECT 1 FROM golden")  # never a golden question either


# ---------------------------------------------------------------------------------------------- style source, report
def test_style_source_asks_for_questions_when_there_are_none(tiny_ws):
    src = style.style_source(tiny_ws)
    assert src.total == 0
    assert "paste about 10 questions" in src.text("en").lower()
    assert "10 个" in src.text("zh")
    with tiny_ws.tx() as c:
        for q in TEN_EN:
            c.execute("INSERT INTO golden(query, created_at, updated_at) VALUES(?,'t','t')", (q,))
    src = style.style_source(tiny_ws)
    assert src.total == 10 and src.by_origin == {"golden": 10} and src.frames >= 5
    assert "10 real questions" in src.text("en")


def test_style_report_tells_longer_conversational_questions_from_keywords():
    real = [
        "what happens to my pension if I change jobs twice in one year?",
        "how much is the fee if I pay my invoice a week late?",
        "can I keep my old phone number when I move to another city?",
        "why was my card declined when I tried to pay online yesterday?",
        "is it possible to pause my membership while I am abroad for work?",
        "what should I do if the app keeps logging me out on my phone?",
        "how long does it take for a refund to show up on my account?",
        "do I need to tell you if I change my home address?",
        "where can I find the receipt for last month's payment?",
        "can my partner use my account if we live together?",
        "how do I stop the automatic renewal of my contract?",
        "what happens if I miss two payments in a row?",
    ]
    proposed = [
        "pension transfer rules", "invoice late fee", "number porting", "card decline", "membership pause",
        "app logout", "refund time", "address change", "payment receipt", "account sharing", "auto renewal",
        "missed payments",
    ]  # fmt: skip
    rep = style.style_report(proposed, real)
    assert "longer" in rep.verdicts and "conversational" in rep.verdicts
    assert "longer" in rep.text("en") and "更长" in rep.text("zh")
    assert rep.classifier_accuracy is not None and rep.classifier_accuracy >= 0.8
    same = style.style_report(real[6:], real[:6] + real[:6])
    assert same.verdicts == [] or "openers" in same.verdicts
    assert "close" not in rep.text("en")


def test_llm_prompt_carries_question_shapes_and_never_a_golden_question(tiny_ws, scripted):
    """Golden questions are the ship decision's evidence: an LLM call gets their shapes ("How do I X?"), never the
    questions, so it cannot copy them; logged (non-golden) questions go in as they are, varied per chunk."""
    import json

    from bgetune.core.config import Settings
    from bgetune.tools.qa_generation import SYSTEM_EN, SYSTEM_ZH, generate_pairs

    golden = TEN_EN + TEN_ZH
    logged = [f"How do I configure option {i} for my router?" for i in range(20)] + ["路由器密码忘了怎么办？"]
    with tiny_ws.tx() as c:
        for q in golden:
            c.execute("INSERT INTO golden(query, created_at, updated_at) VALUES(?,'t','t')", (q,))
    path = style.querylog_path(tiny_ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"query": q, "file": "log.txt", "count": 1} for q in logged]), encoding="utf-8")
    chat = scripted(script=['[{"query": "how do I pin a package version", "kind": "question"}]'])
    res = generate_pairs(tiny_ws, Settings(workspace=tiny_ws.root), mode="llm", chat_model=chat)
    assert res["chunks_done"] >= 2 and res["style"]["real_questions"] == len(golden) + len(logged)
    systems = [p[0] for p in chat.prompts]
    shown = []
    for s in systems:
        assert not any(q in s for q in golden), s[-800:]
        added = s.removeprefix(SYSTEM_EN).removeprefix(SYSTEM_ZH)  # what the style adds to the system prompt
        lines = [ln[2:] for ln in added.splitlines() if ln.startswith("- ")]
        shapes = [ln for ln in lines if "X" in ln]
        assert shapes and all(ln in logged for ln in lines if ln not in shapes), added
        shown.append(tuple(ln for ln in lines if ln in logged))
    en = [s for s in systems if "The shapes of this knowledge base's real user questions" in s]
    zh = [s for s in systems if "用户真实问题的句式" in s]
    assert en and zh
    words = style.typical_length(TEN_EN + logged, "en")
    assert all("- How much is X?" in s and "- How do I X?" in s and f"about {words} words long" in s for s in en)
    assert all("- X怎么办？" in s and "- 如何X？" in s for s in zh)
    assert all(any(q in s for q in logged[:20]) for s in en)  # logged questions as examples, same language first
    assert len(set(shown)) > 1  # varied per call
    # a re-run hits the cache: the style is stable per chunk
    n = len(chat.prompts)
    generate_pairs(tiny_ws, Settings(workspace=tiny_ws.root), mode="llm", chat_model=chat)
    assert len(chat.prompts) == n


def test_question_shapes_follow_the_real_questions_most_frequent_first():
    frames = style.mine_frames(TEN_EN + TEN_ZH)
    shapes = style.sample_shapes(frames, "chunk-a", k=4, language="en")
    assert shapes[:2] == ["How much is X?", "How do I X?"] and len(shapes) == 4
    assert all(s.endswith("?") and "X" in s for s in shapes)
    assert style.sample_shapes(frames, "chunk-a", k=4, language="zh")[0].endswith("？")
    assert style.typical_length(TEN_EN, "en") == 7 and style.typical_length([]) == 0


# ---------------------------------------------------------------------------------------------- issue 22 item 5
def test_ingest_says_at_once_when_the_model_cannot_read_the_language(tmp_path):
    from bgetune.capabilities.data import IngestResult
    from bgetune.core.config import Settings
    from bgetune.tools.ingest import ingest

    zh = tmp_path / "zh.md"
    zh.write_text(
        "# 食品安全\n\n食品生产经营者应当依照法律、法规和食品安全标准从事生产经营活动，保证食品安全。" * 3
    )
    en = tmp_path / "en.md"
    en.write_text("# Packages\n\nTo install a package, run apt install followed by the package name.\n")
    ws = Workspace(tmp_path / "ws")
    rep = ingest(ws, [en], settings=Settings(workspace=ws.root), base_model="bundled")
    assert rep.unknown_token_rate["en"] < 0.05 and rep.reading_warning is None
    rep = ingest(ws, [zh], settings=Settings(workspace=ws.root), base_model="bundled")
    assert rep.unknown_token_rate["zh"] >= 0.2, rep.unknown_token_rate
    assert "bge-small-zh-v1.5" in rep.reading_warning and "bge-m3" in rep.reading_warning
    assert "100 MB" in rep.reading_warning and "2.3 GB" in rep.reading_warning
    out = IngestResult.of(rep.summary())
    assert out.text("en").startswith("! ") and "[UNK]" in out.text("en").splitlines()[0]
    assert "bge-small-zh-v1.5" in out.text("zh").splitlines()[0] and "读不懂" in out.text("zh")


@pytest.mark.parametrize("n", [3, 5])
def test_kmeans_cover_picks_one_chunk_per_cluster(n):
    import numpy as np

    from bgetune.tools.qa_generation import kmeans_cover

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(n, 16))
    pts = np.concatenate([c + 0.05 * rng.normal(size=(30, 16)) for c in centers])
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    picked = kmeans_cover(pts, n)
    assert len(set(picked)) == n
    assert sorted({i // 30 for i in picked}) == list(range(n))  # every cluster covered


def test_import_queries_and_style_report_capabilities(tiny_ws, tmp_path):
    from bgetune.capabilities import Context, invoke
    from bgetune.core.config import Settings

    log = tmp_path / "log.txt"
    log.write_text(
        "how to set apt pin priorities in /etc/apt/preferences\nweather tomorrow\n", encoding="utf-8"
    )
    ctx = Context(ws=tiny_ws, settings=Settings(workspace=tiny_ws.root), files=[str(log)])  # as attached
    res = invoke("import_queries", {"path": str(log)}, ctx, approved=True)
    assert res.queries == 2 and "2 past queries" in res.text("en")
    summary = invoke("style_report", {}, ctx)
    assert "2 real questions" in summary.text("en") and "2 querylog" in summary.text("en")
    assert "搜索记录 2 个" in summary.text("zh")


def test_a_question_shape_copied_with_its_placeholder_is_not_proposed():
    from bgetune.tools.qa_generation import QAItem, _items_to_rows

    items = [QAItem(query=q) for q in ("Can I X?", "如何X？", "What is X if Y?", "How do I pin a package version?")]
    rows = _items_to_rows(items, {"text": "Pinning lets you prefer one package version."})
    assert [r[0] for r in rows] == ["How do I pin a package version?"]
    kept = _items_to_rows(items[:1], {"text": "Start X with startx after login."})  # the passage names an X
    assert [r[0] for r in kept] == ["Can I X?"]
    zh = [QAItem(query=q) for q in ("某某怎么办？", "XX的费用是多少？", "××是什么意思？", "如何配置 X11 转发？", "3×4 的网格怎么排版？")]
    rows = _items_to_rows(zh, {"text": "X11 转发需要在 sshd_config 中开启。网格可以排成 3×4。"})
    assert [r[0] for r in rows] == ["如何配置 X11 转发？", "3×4 的网格怎么排版？"]


def test_the_estimate_keys_the_cache_as_the_run_does_with_or_without_style(tiny_ws, scripted):
    from bgetune.core.config import Settings
    from bgetune.tools.qa_generation import estimate_generation, generate_pairs

    with tiny_ws.tx() as c:
        for q in TEN_EN:
            c.execute("INSERT INTO golden(query, created_at, updated_at) VALUES(?,'t','t')", (q,))
    st = Settings(workspace=tiny_ws.root)
    chat = scripted(script=['[{"query": "how do I pin a package version", "kind": "question"}]'])
    res = generate_pairs(tiny_ws, st, mode="llm", chat_model=chat, use_style=False)
    assert res["chunks_done"] >= 2
    n = tiny_ws.scalar("SELECT count(*) FROM chunks")
    assert estimate_generation(tiny_ws, st, chat_model=chat, use_style=False)["calls"] == 0  # all cached
    assert estimate_generation(tiny_ws, st, chat_model=chat)["calls"] == n  # styled prompts are other calls
