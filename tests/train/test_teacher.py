"""Teacher-guided training: scores stored and reused, the student moves towards the teacher, and a candidate the
teacher rates at or above the positive is never a negative. Real bundled model, real SQLite."""

from __future__ import annotations

import numpy as np
import pytest

from bgetune.core.models import encode
from bgetune.core.workspace import Workspace
from bgetune.tools.teacher import (
    DenseFusionTeacher,
    FunctionTeacher,
    base_index,
    cached_scores,
    score_teacher,
    teacher_info,
    training_lists,
)
from bgetune.tools.training import TrainConfig, _make_stepper, _prepare, plan_batches, train


class Counting:
    """A deterministic teacher function that counts the (query, passage) pairs it is asked about."""

    def __init__(self, fn, fail_after: int | None = None) -> None:
        self.fn = fn
        self.pairs = 0
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, query: str, passages: list[str]) -> list[float]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.pairs += len(passages)
        return [self.fn(query, p) for p in passages]


def short_first(query: str, passage: str) -> float:
    """Prefers short passages: a preference the base model does not have."""
    return -len(passage) / 100.0


def test_scores_are_stored_with_provenance_and_reused_after_restart_and_kill(mined_ws, st_model):
    root = mined_ws.root
    index = base_index(mined_ws, "bundled", model=st_model)
    lists = training_lists(mined_ws, index)
    total = sum(len(ps) for _, ps in lists)
    assert total > 10 * len(lists)  # positives + dense top-20 + BM25 top-10 per query

    killed = Counting(short_first, fail_after=16)  # one batch of 16 queries, then the process "dies"
    with pytest.raises(KeyboardInterrupt):
        score_teacher(mined_ws, teacher=FunctionTeacher(killed, name="short"), check=False, index=index)
    kept = int(mined_ws.scalar("SELECT count(*) FROM teacher_scores WHERE teacher='short@1'"))
    assert 0 < kept < total
    mined_ws.close()

    ws = Workspace(root)  # a restart: a new process opens the workspace
    again = Counting(short_first)
    run = score_teacher(ws, teacher=FunctionTeacher(again, name="short"), check=False, index=index)
    assert again.pairs == total - kept  # only what the killed run had not stored
    assert run.pairs == total and run.cached == kept
    info = teacher_info(ws, "short@1")
    assert info["name"] == "short" and info["version"] == "1" and info["created_at"]
    assert ws.get_setting("teacher_key") == "short@1"
    ws.close()

    ws = Workspace(root)
    third = Counting(short_first)
    run = score_teacher(ws, teacher=FunctionTeacher(third, name="short"), check=False, index=index)
    assert third.pairs == 0 and run.cached == total
    stored = cached_scores(ws, "short@1")
    q, ps = lists[0]
    assert stored[q][ps[0][0]] == pytest.approx(short_first(q, ps[0][1]))
    # the base model's own scores are stored too (the regulariser's teacher)
    assert int(ws.scalar("SELECT count(*) FROM teacher_scores WHERE teacher=?", (run.base_teacher,))) == total


def test_candidate_the_teacher_rates_above_the_positive_is_never_a_negative(mined_ws, st_model):
    ws = mined_ws
    index = base_index(ws, "bundled", model=st_model)
    negs = {(r["pair_id"], r["chunk_id"]) for r in ws.query("SELECT pair_id, chunk_id FROM negatives")}
    pair_query = {r["id"]: r["query"] for r in ws.query("SELECT id, query FROM pairs")}
    # the teacher rates each pair's first stored negative far above everything, the positive included
    favourite = {}  # each query's best-ranked mined negative (inside its scored candidate list)
    for r in ws.query("SELECT pair_id, chunk_id FROM negatives ORDER BY pair_id, rank"):
        favourite.setdefault(pair_query[r["pair_id"]], r["chunk_id"])
    texts = {r["id"]: r["text"] for r in ws.query("SELECT id, text FROM chunks")}
    fav_text = {q: texts[c] for q, c in favourite.items()}

    def fn(query: str, passages: list[str]) -> list[float]:
        return [10.0 if fav_text.get(query) == p else 0.0 for p in passages]

    run = score_teacher(
        ws, teacher=FunctionTeacher(fn, name="fav"), check=False, index=index, false_negatives="positive"
    )
    assert run.false_negatives["negatives_removed"] >= len(favourite) // 2
    left = {(r["pair_id"], r["chunk_id"]) for r in ws.query("SELECT pair_id, chunk_id FROM negatives")}
    flagged = {
        (r["pair_id"], r["chunk_id"]) for r in ws.query("SELECT * FROM pair_positives WHERE origin='teacher'")
    }
    train_pairs = {
        r["id"] for r in ws.query("SELECT id FROM pairs WHERE split='train' AND status='approved'")
    }
    for pid, cid in negs:
        if favourite.get(pair_query[pid]) == cid and pid in train_pairs:
            assert (pid, cid) not in left
            assert (pid, cid) in flagged  # an extra positive flagged 'teacher', visible in review

    cfg = TrainConfig(
        base_model="bundled",
        epochs=1,
        batch_size=8,
        hard_negatives=3,
        objective="distill",
        device="cpu",
        max_passage_len=64,
        decide=False,
    )
    prep = _prepare(ws, cfg, model=st_model)
    data = prep["data"]
    stepper = _make_stepper(prep, cfg)
    key_of = {}
    for r in ws.query("SELECT id, text FROM chunks"):
        key_of[r["id"]] = r["text"]
    seen_fav = 0
    for epoch in range(3):
        for batch in plan_batches(data, 8, seed=cfg.seed, epoch=epoch):
            negatives = stepper.negatives_of(batch, epoch)
            _, _, pidx = stepper.inputs(batch, epoch)
            for r, i in enumerate(batch):
                e = data.examples[i]
                fav = [j for j, v in e.t_scores.items() if v >= 10.0]
                for j in fav:
                    assert j not in negatives[r], (
                        "a candidate the teacher rates above the positive was a negative"
                    )
                    assert j not in e.negs
                    seen_fav += j in pidx
    assert seen_fav > 0  # the favourites were in the batches (as distilled candidates), masked as negatives


def _kendall(a: list[float], b: list[float]) -> float:
    n, s = len(a), 0.0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return s / (n * (n - 1) / 2)


def _agreement(model, lists) -> float:
    from bgetune.core.models import encode

    taus = []
    for q, ps in lists:
        qe = encode(model, [q], kind="query")[0]
        pe = encode(model, [t for _, t in ps], kind="passage")
        taus.append(_kendall(list(pe @ qe), [short_first(q, t) for _, t in ps]))
    return float(np.mean(taus))


@pytest.mark.slow
def test_student_ranking_moves_towards_the_teacher(mined_ws, st_model):
    from sentence_transformers import SentenceTransformer

    ws = mined_ws
    index = base_index(ws, "bundled", model=st_model)
    score_teacher(ws, teacher=FunctionTeacher(Counting(short_first), name="short"), check=False, index=index)
    lists = [(q, ps[:12]) for q, ps in training_lists(ws, index)][:16]
    before = _agreement(st_model, lists)
    cfg = TrainConfig(
        base_model="bundled",
        epochs=3,
        batch_size=8,
        lr=1e-4,
        objective="distill",
        contrastive_weight=0.0,
        distill_candidates=8,
        max_passage_len=64,
        device="cpu",
        decide=False,
        patience=5,
        hard_negatives=0,
    )
    res = train(ws, cfg)
    assert res["objective"]["kind"] == "distill" and res["teacher"]["teacher"] == "short@1"
    assert res["objective"]["teacher_temperature"] == 1.0  # a function teacher's unit is 'logit'
    after = _agreement(SentenceTransformer(res["model_dir"], device="cpu"), lists)
    assert after > before + 0.05, (before, after)


def test_offline_fusion_teacher_matches_base_at_weight_zero_and_ranks_with_bm25(mined_ws, st_model):
    index = base_index(mined_ws, "bundled", model=st_model)
    q = "what does the law say about food additives"
    items = [(q, [(c, index.texts[index.pos[c]]) for c in index.ids[:5]])]
    base = DenseFusionTeacher(index, weight=0.0).score(items)[0]
    qe = index.encode_queries([q])[0]
    assert np.allclose(base, [float(index.emb[index.pos[c]] @ qe) for c in index.ids[:5]], atol=1e-5)
    fused = DenseFusionTeacher(index, weight=0.5).score(items)[0]
    assert not np.allclose(base, fused)
    lex = index.lexical.scores("food additives")
    assert lex.max() > 0 and "食品" in index.lexical.tokens("食品添加剂的使用")


def test_without_real_questions_the_teachers_judgement_decides():
    from bgetune.tools import decision as d

    def cands(*gains: tuple[float, float, float]) -> list:
        return [d.CandidateScore("base", "base", None, None, 0.5, 0, 0, 0, 1.0)] + [
            d.CandidateScore(f"epoch {i}", "epoch", i, 1.0, 0.5 + g, g, lo, hi, 0.0)
            for i, (g, lo, hi) in enumerate(gains, start=1)
        ]

    synthetic = cands((0.09, 0.07, 0.11))  # the generator's own held-out queries flatter the tuned model
    kw = dict(evidence="held-out", evidence_detail="524 held-out", queries=524, corpus=4000)
    dec = d.choose(synthetic, **kw, judged=cands((-0.02, -0.05, 0.01)), judge="the offline teacher")
    assert not dec.ship and dec.shipped == "base" and "teacher's independent judgement" in dec.reason
    assert "generator that wrote the training queries" in dec.reason
    assert "generator that wrote the training queries" in dec.text("en")
    assert "No real question was used" in dec.text("en") and "没有使用任何真实问题" in dec.text("zh")
    assert any("real questions used: no" in line for line in dec.card_lines())
    agree = d.choose(synthetic, **kw, judged=cands((0.03, 0.01, 0.05)), judge="the offline teacher")
    assert agree.ship and "+0.030" in agree.text("en") and "No real question was used" in agree.text("en")
    # the teacher decides alone: a gain the generated queries cannot separate from the noise still ships, and
    # where they prefer another epoch, the teacher's pick is the one shipped
    two = cands((0.01, -0.01, 0.03), (0.05, 0.02, 0.08))
    picked = d.choose(two, **kw, judged=cands((0.04, 0.02, 0.06), (0.01, -0.02, 0.04)), judge="t")
    assert picked.ship and picked.shipped == picked.best == "epoch 1"
    assert picked.deciding("epoch 1").gain == 0.04 and "gains the most on the teacher" in picked.reason
    gold = d.choose(synthetic, **(kw | {"evidence": "golden"}), judged=cands((-0.02, -0.05, 0.01)))
    assert gold.ship and "No real question" not in gold.text("en")  # real questions decide alone
    assert gold.deciding(gold.best).gain == 0.09
    no_judge = d.choose(two, **kw)  # no judgement at all: the generated queries decide
    assert no_judge.ship and no_judge.shipped == "epoch 2"
    again = d.ShipDecision.from_dict(dec.to_dict())
    assert again.judged[1].gain == -0.02 and not again.ship and again.by_teacher


class ScriptedJudge:
    """A fake chat model answering the judge prompt from a script; records the prompts it was given."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def invoke(self, messages):
        from langchain_core.messages import AIMessage

        self.prompts.append(messages[-1].content)
        return AIMessage(content=self.answers.pop(0))


def test_llm_judge_grades_each_passage_and_its_grades_are_cached(workspace):
    from bgetune.core.config import Settings
    from bgetune.tools.teacher import LLMJudgeTeacher, TeacherError, cached_scores, score_lists

    chat = ScriptedJudge(
        [
            '```json\n[{"i": 1, "grade": 3}, {"i": 2, "grade": 0}, {"i": 3, "grade": 2}, {"i": 4, "grade": 1}]\n```',
            '[{"i": 1, "grade": 7}]',  # out of range: clamped to 3
            "I cannot grade these.",
        ]
    )
    judge = LLMJudgeTeacher(Settings(llm_base_url="http://127.0.0.1:9", llm_model="judge-m"), chat_model=chat)
    assert judge.key == "llm:judge-m@rel-v1" and judge.unit == "grade" and judge.cost == "paid-llm"
    lists = [("how do I upgrade", [(f"c{i}", f"passage {i}") for i in range(5)])]
    score_lists(workspace, judge, lists, show_bar=False)
    assert cached_scores(workspace, judge.key)["how do I upgrade"] == {
        "c0": 3.0,
        "c1": 0.0,
        "c2": 2.0,
        "c3": 1.0,
        "c4": 3.0,
    }
    assert "Query: how do I upgrade" in chat.prompts[0] and "<<<passage 3>>>" in chat.prompts[0]
    score_lists(workspace, judge, lists, show_bar=False)  # cached: no call
    assert len(chat.prompts) == 2
    with pytest.raises(TeacherError, match="no usable grade"):
        score_lists(workspace, judge, [("another", [("c0", "passage 0")])], show_bar=False)


def test_the_judge_leaves_the_base_out_where_the_base_cannot_read_the_evidence(mined_ws, st_model):
    """The decision's offline judge fuses the base's cosine with BM25; on Chinese text the bundled English model
    reads mostly [UNK], so there the judge is BM25 alone (its top passage is BM25's), while on English it stays the
    fusion."""
    from bgetune.tools.decision import teacher_gains
    from bgetune.tools.evaluation import QuerySet

    rows = mined_ws.query("SELECT id, text FROM chunks ORDER BY id")
    zh = [(str(r["id"]), r["text"]) for r in rows if sum("\u4e00" <= ch <= "\u9fff" for ch in r["text"]) > 20]
    en = [(str(r["id"]), r["text"]) for r in rows if not any("\u4e00" <= ch <= "\u9fff" for ch in r["text"])]
    assert len(zh) >= 5 and len(en) >= 5

    def qset(chunks, queries):
        return QuerySet(
            queries=queries,
            positives=[{chunks[0][0]}] * len(queries),
            corpus_ids=[c for c, _ in chunks],
            corpus_texts=[t for _, t in chunks],
        )

    zq = ["食品添加剂的使用有什么规定？", "违反食品安全法会受到什么处罚？"]
    gains, judge = teacher_gains(mined_ws, qset(zh, zq), st_model)
    assert "BM25 alone" in judge, judge
    index = base_index(mined_ws, "bundled", model=st_model)
    allowed = {c for c, _ in zh}
    for q, g in zip(zq, gains, strict=True):
        lex = index.lexical.scores(q)
        top = max((j for j, c in enumerate(index.ids) if c in allowed), key=lambda j: lex[j])
        assert max(g, key=g.get) == index.ids[top]  # the judge's first passage is BM25's first
    _, judge_en = teacher_gains(mined_ws, qset(en, ["How can R packages be installed?"]), st_model)
    assert "fused with stemmed BM25" in judge_en, judge_en


def test_fusion_scores_from_corpus_moments_equal_the_pass_over_every_chunk(mined_ws, st_model):
    """The fusion teacher takes a query's cosine mean and spread from the corpus's moments (O(d^2) a query, not
    O(corpus)); its scores, and the block-wise rank_corpus, must equal the z-scores over every chunk."""
    index = base_index(mined_ws, "bundled", model=st_model)
    queries = [
        "what does the law say about food additives",
        "食品添加剂的标准是什么",
        "how are labels checked",
    ]
    own = "A passage of the pair's own that is not a chunk of the corpus."
    items = [
        (q, [(c, index.texts[index.pos[c]]) for c in index.ids[3:9]] + [("own-1", own)]) for q in queries
    ]
    q_emb = index.encode_queries(queries)
    own_emb = encode(st_model, [own], kind="passage")[0]
    for w in (0.0, 0.3):
        teacher = DenseFusionTeacher(index, weight=w)
        got = teacher.score(items)
        full = teacher.rank_corpus(queries)
        for qi, (q, ps) in enumerate(items):
            cos = index.emb @ q_emb[qi]
            mu, sd = float(cos.mean()), float(cos.std())
            lex = index.lexical.scores(q)
            zl = (lex - lex.mean()) / lex.std() if w > 0 and lex.std() > 1e-9 else np.zeros_like(lex)
            want = []
            for k, _ in ps[:-1]:
                j = index.pos[k]
                want.append(mu + sd * ((1 - w) * (cos[j] - mu) / sd + w * zl[j]))
            want.append(mu + sd * (1 - w) * (float(own_emb @ q_emb[qi]) - mu) / sd)
            assert np.allclose(got[qi], want, atol=1e-4), (w, qi)
            assert np.allclose(full[qi], (1 - w) * (cos - mu) / sd + w * zl, atol=1e-4), (w, qi)
