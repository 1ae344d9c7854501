"""Past search queries without answers (a query log: txt or CSV, one query a row) as style and as training data.

Every imported query becomes a style source (``style.real_questions``). With chunks in the workspace, each query is
matched to passages by the best available teacher: candidates from the base model (cosine) and BM25, fused; the
query becomes a ``pseudo`` pair (kind 'pseudo', source 'querylog:<file>', flag 'pseudo', the teacher's score,
margin and provenance in ``scores``) only when the teacher is confident. Pseudo pairs are reviewed like any pair and
never count as evidence for the ship decision (decision.heldout_queryset leaves them out; the golden set never holds
them).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.text import cjk_count, normalize_ws
from bgetune.core.workspace import Workspace, atomic_write_json, now_iso
from bgetune.tools.ingest import decode_text
from bgetune.tools.offline_gen import EN_STOP
from bgetune.tools.style import logged_queries, querylog_path

SOURCE_PREFIX = "querylog:"
KIND = "pseudo"
TEACHER = "fused:cosine+bm25"
# Confidence: the best passage's fused score (z-units over the corpus) must lead the second by MIN_MARGIN.
# Measured with the Debian FAQ's 120 en / 118 zh real questions as an unlabelled log (bundled base model): margin
# >= 1.0 keeps 35 en at 80% precision (all: 52%) and 39 zh at 49% (all: 32%) (bench/RESULTS.md, style section).
MIN_SCORE = 0.0
MIN_MARGIN = 1.0
_QUERY_COLS = ("query", "question", "q", "search", "search term", "keyword", "keywords", "text", "查询", "问题",
               "搜索词", "关键词", "提问")  # fmt: skip
_COUNT_COLS = ("count", "n", "freq", "frequency", "searches", "hits", "次数", "频次", "搜索次数")

Progress = Callable[[int, int, str], None]


class QueryLogError(BgetuneError):
    """A query log that cannot be read."""


def read_queries(path: str | Path) -> list[tuple[str, int]]:
    """(query, count) from a txt (one query a line) or CSV/TSV (a query column by name, else the first column;
    an optional count column). Blank lines and repeats merged (counts summed), order kept."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise QueryLogError(f"cannot read the query log {p}: {exc.strerror}; check the path") from exc
    text = decode_text(raw, p)
    rows: list[tuple[str, int]] = []
    if p.suffix.lower() in (".csv", ".tsv"):
        delim = "\t" if p.suffix.lower() == ".tsv" or text.count("\t") > text.count(",") else ","
        table = list(csv.reader(io.StringIO(text), delimiter=delim))
        if not table:
            return []
        head = [h.strip().lower() for h in table[0]]
        qcol = next((head.index(c) for c in _QUERY_COLS if c in head), None)
        ccol = next((head.index(c) for c in _COUNT_COLS if c in head), None)
        body = table[1:] if qcol is not None else table
        qcol = qcol or 0
        for r in body:
            if len(r) > qcol:
                n = 1
                if ccol is not None and len(r) > ccol:
                    try:
                        n = max(1, int(float(r[ccol])))
                    except ValueError:
                        n = 1
                rows.append((r[qcol], n))
    else:
        rows = [(line, 1) for line in text.splitlines()]
    merged: dict[str, list[Any]] = {}
    for q, n in rows:
        q = normalize_ws(q).strip("\"'")
        if len(q) < 2:
            continue
        key = q.lower()
        if key in merged:
            merged[key][1] += n
        else:
            merged[key] = [q, n]
    return [(q, n) for q, n in merged.values()]


# ---------------------------------------------------------------------------------------------- teacher
def _tokens(text: str) -> list[str]:
    """BM25 tokens: lower-cased Latin words and Chinese character bigrams (and single characters)."""
    out = [w.lower() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9_+./\-]*", text) if w.lower() not in EN_STOP]
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def bm25_scores(
    queries: Sequence[str], corpus: Sequence[str], *, k1: float = 1.5, b: float = 0.75
) -> np.ndarray:
    """BM25 score matrix (queries x corpus): bm25s when installed, else the same formula in numpy."""
    ctoks = [_tokens(t) for t in corpus]
    qtoks = [_tokens(q) for q in queries]
    try:
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(ctoks, show_progress=False)
        return (
            np.stack([np.asarray(retriever.get_scores(q), dtype=np.float32) for q in qtoks])
            if qtoks
            else (np.zeros((0, len(corpus)), dtype=np.float32))
        )
    except ImportError:
        pass
    vocab: dict[str, int] = {}
    for toks in ctoks:
        for t in toks:
            vocab.setdefault(t, len(vocab))
    tf = np.zeros((len(corpus), max(1, len(vocab))), dtype=np.float32)
    for i, toks in enumerate(ctoks):
        for t in toks:
            tf[i, vocab[t]] += 1
    dl = tf.sum(1)
    avg = float(dl.mean()) if len(dl) else 1.0
    df = (tf > 0).sum(0)
    idf = np.log(1 + (len(corpus) - df + 0.5) / (df + 0.5))
    denom = tf + k1 * (1 - b + b * dl[:, None] / max(avg, 1e-9))
    w = tf * (k1 + 1) / np.where(denom == 0, 1, denom) * idf[None, :]
    out = np.zeros((len(queries), len(corpus)), dtype=np.float32)
    for i, toks in enumerate(qtoks):
        cols = [vocab[t] for t in toks if t in vocab]
        if cols:
            out[i] = w[:, cols].sum(1)
    return out


@dataclass
class Match:
    query: str
    chunk_id: str | None
    score: float
    margin: float
    dense: float
    bm25: float
    agree: bool  # the dense and BM25 top passages are the same
    runner_up: str | None = None


def teacher_matches(
    ws: Workspace, queries: Sequence[str], *, model: Any = None, fingerprint: str | None = None
) -> tuple[list[Match], str]:
    """The best passage per query by the best available teacher, with its score and margin; (matches, teacher).

    Candidates: the base model's and BM25's top 20. Scores: tools.teacher's cross-encoder reranker (or LLM judge)
    when it finds one, else the base model's cosine fused with BM25 (z-scores per query; the same evidence as
    tools.teacher's offline fusion)."""
    chunks = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    ids = [c["id"] for c in chunks]
    if not ids or not queries:
        return [Match(q, None, 0.0, 0.0, 0.0, 0.0, False) for q in queries], TEACHER
    from bgetune.core.models import corpus_embeddings, encode

    if model is None:
        from bgetune.tools.filtering import _load_model

        model, fingerprint = _load_model(ws, None, None)
    _, cemb = corpus_embeddings(ws, model, fingerprint=fingerprint, label="query log: chunks encoded")
    qemb = encode(model, list(queries), kind="query")
    dense = qemb @ cemb.T
    bm = bm25_scores(queries, [c["text"] for c in chunks])
    # z-scored per query, then weighted: the base model's cosine counts most where its tokenizer reads the
    # queries (measured on the Debian FAQ's real questions: dense alone 0.53 top-1 vs BM25 0.33 in English), BM25
    # where it does not (Chinese with the bundled English model: dense 0.10, BM25 0.32)
    from bgetune.tools.ingest import unknown_token_rate

    tok = getattr(model, "tokenizer", None)
    unk = unknown_token_rate(tok, list(queries)) if tok is not None else 0.0
    wd = 0.7 if unk < 0.2 else 0.5
    z = lambda m: (m - m.mean(1, keepdims=True)) / (m.std(1, keepdims=True) + 1e-9)  # noqa: E731
    fused_all = wd * z(dense) + (1 - wd) * z(bm)
    out: list[Match] = []
    teacher_name = f"{TEACHER} (cosine weight {wd})"
    ext = _external_teacher(ws, model)
    rerank = ext[0] if ext else None
    for i, q in enumerate(queries):
        cand_l = sorted(set(np.argsort(-dense[i])[:20].tolist()) | set(np.argsort(-bm[i])[:20].tolist()))
        fused = {j: float(fused_all[i, j]) for j in cand_l}
        if rerank is not None:
            try:
                ts = np.asarray(
                    rerank([q] * len(cand_l), [chunks[j]["text"] for j in cand_l]), dtype=np.float32
                )
                ts = (ts - ts.mean()) / (
                    ts.std() + 1e-9
                )  # z over the candidates, so the margin keeps its unit
                fused = {j: float(v) for j, v in zip(cand_l, ts, strict=True)}
                teacher_name = f"teacher {ext[1]}"
            except Exception:  # the external teacher is an improvement, never a requirement
                rerank = None
        order = sorted(fused, key=lambda j: -fused[j])
        best = order[0]
        second = fused[order[1]] if len(order) > 1 else 0.0
        out.append(
            Match(
                q,
                ids[best],
                round(fused[best], 4),
                round(fused[best] - second, 4),
                round(float(dense[i, best]), 4),
                round(float(bm[i, best]), 3),
                int(np.argmax(dense[i])) == int(np.argmax(bm[i])),
                ids[order[1]] if len(order) > 1 else None,
            )
        )
    return out, teacher_name


def _external_teacher(
    ws: Workspace, model: Any
) -> tuple[Callable[[list[str], list[str]], Sequence[float]], str] | None:
    """A stronger teacher than the fusion when tools.teacher finds one on this machine (a cached cross-encoder
    reranker, or the LLM judge when configured and asked for): (score(queries, texts), its name); else None."""
    try:
        from bgetune.tools import teacher as T
    except ImportError:  # pragma: no cover - the teacher module is part of the package
        return None
    try:
        choice = T.pick_teacher(ws, T.base_index(ws, model=model), "auto", check=False)
    except Exception:  # the teacher is an improvement, never a requirement
        return None
    t = choice.teacher
    if t.kind not in ("cross-encoder", "llm"):
        return None  # the fusion: the same evidence as ours (base cosine + BM25), already computed

    def score(queries: list[str], texts: list[str]) -> Sequence[float]:
        return t.score([(queries[0], [(f"p{i}", x) for i, x in enumerate(texts)])])[0]

    return score, t.key


# ---------------------------------------------------------------------------------------------- import
@dataclass
class QueryLogResult:
    """What importing a query log did."""

    file: str = ""
    queries: int = 0
    new_queries: int = 0
    style_sources: int = 0
    pseudo_pairs: int = 0
    below_confidence: int = 0
    teacher: str = TEACHER
    min_score: float = MIN_SCORE
    examples: list[dict[str, Any]] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        if lang == "zh":
            s = (
                f"从 {self.file} 导入 {self.queries} 条搜索记录（新 {self.new_queries} 条），现在共有 "
                f"{self.style_sources} 个真实问题决定生成问题的风格。"
            )
            if self.pseudo_pairs or self.below_confidence:
                s += (
                    f"教师模型（{self.teacher}）为其中 {self.pseudo_pairs} 条找到了有把握的答案段落，作为 pseudo "
                    f"训练对待审（不会用作发布决策的依据）；{self.below_confidence} 条把握不足，只用作风格。"
                )
            return s
        s = (
            f"Imported {self.queries} past queries from {self.file} ({self.new_queries} new); {self.style_sources} "
            "real questions now set the style of generated ones."
        )
        if self.pseudo_pairs or self.below_confidence:
            s += (
                f" The teacher ({self.teacher}) matched {self.pseudo_pairs} of them to a passage with confidence: "
                f"they are 'pseudo' training pairs to review (never evidence for the ship decision); "
                f"{self.below_confidence} were not confident enough and only set the style."
            )
        return s


def import_queries(
    ws: Workspace,
    path: str | Path,
    *,
    pseudo_label: bool = True,
    min_score: float = MIN_SCORE,
    min_margin: float = MIN_MARGIN,
    model: Any = None,
    progress: Progress | None = None,
) -> QueryLogResult:
    """Import a plain list of past search queries: style sources, and (with chunks) confident ``pseudo`` pairs."""
    p = Path(path)
    rows = read_queries(p)
    if not rows:
        raise QueryLogError(f"{p.name} holds no queries: one query a line (txt) or a 'query' column (CSV)")
    have = logged_queries(ws)
    known = {str(r.get("query", "")).lower() for r in have}
    new = [(q, n) for q, n in rows if q.lower() not in known]
    merged = have + [{"query": q, "count": n, "file": p.name} for q, n in new]
    atomic_write_json(querylog_path(ws), merged)
    from bgetune.tools.style import real_questions

    res = QueryLogResult(file=p.name, queries=len(rows), new_queries=len(new), min_score=min_score)
    if pseudo_label and ws.scalar("SELECT count(*) FROM chunks"):
        if progress:
            progress(0, 1, "query log: teacher")
        matches, res.teacher = teacher_matches(ws, [q for q, _ in rows], model=model)
        counts = dict(rows)
        source = f"{SOURCE_PREFIX}{p.name}"
        ts = now_iso()
        with ws.tx() as c:
            for m in matches:
                if m.chunk_id is None or m.score < min_score or m.margin < min_margin:
                    res.below_confidence += 1
                    continue
                text = c.execute("SELECT text FROM chunks WHERE id=?", (m.chunk_id,)).fetchone()[0]
                scores = {
                    "pseudo": True,
                    "teacher": res.teacher,
                    "score": m.score,
                    "margin": m.margin,
                    "dense": m.dense,
                    "bm25": m.bm25,
                    "agree": m.agree,
                    "runner_up": m.runner_up,
                    "provenance": {"file": p.name, "count": counts.get(m.query, 1), "imported_at": ts},
                }
                cur = c.execute(
                    "INSERT OR IGNORE INTO pairs(chunk_id, query, passage, source, kind, language, status, reasons, "
                    "scores, flags, status_by, status_why, link_method, link_score, created_at, updated_at) "
                    "VALUES(?,?,?,?,?,?,'proposed','[]',?,?,'import',?,?,?,?,?)",
                    (
                        m.chunk_id,
                        m.query,
                        text,
                        source,
                        KIND,
                        "zh" if cjk_count(m.query) >= 2 else "en",
                        json.dumps(scores, ensure_ascii=False),
                        json.dumps(["pseudo"]),
                        f"pseudo-labelled by {res.teacher} (score {m.score:.2f}, margin {m.margin:.2f})",
                        "pseudo",
                        m.score,
                        ts,
                        ts,
                    ),
                )
                if cur.rowcount:
                    res.pseudo_pairs += 1
                    c.execute(
                        "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                        (
                            cur.lastrowid,
                            "import",
                            "querylog",
                            f"pseudo label, score {m.score:.2f}",
                            None,
                            "proposed",
                            ts,
                        ),
                    )
                    if len(res.examples) < 3:
                        res.examples.append({"query": m.query, "score": m.score, "chunk_id": m.chunk_id})
        if progress:
            progress(1, 1, "query log: done")
    res.style_sources = len(real_questions(ws))
    return res


def is_pseudo(pair: dict[str, Any]) -> bool:
    """A pair whose positive a teacher guessed (a query-log query): never evidence for shipping."""
    return pair.get("kind") == KIND or (pair.get("source") or "").startswith(SOURCE_PREFIX)
