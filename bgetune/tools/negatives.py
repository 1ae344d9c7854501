"""Hard-negative mining on faiss with a rank window AND a positive-aware score margin.

For every trainable pair of the train/val split: rank all chunks with the base model, skip the top
``range_min`` ranks (likely unlabelled positives, as FlagEmbedding does), keep candidates up to ``range_max``
whose score is below ``pos_score * (1 - relative_margin)`` (NV-Retriever's positive-aware rule), and never a
positive of the same query or a near-duplicate of one (same normalised text, rapidfuzz ratio >= 90, or
embedding cosine > 0.98). An optional cross-encoder drops candidates it judges relevant; with ``recover`` on
(default off), a top-k candidate it scores as an answer becomes an extra positive instead
(``pair_positives.origin='recovered'``), wherever it ranks (also above ``range_min`` and above the margin), and
never a negative. Every negative keeps its provenance (rank, score, pos_score, method).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bgetune.core.workspace import TRAINABLE, Workspace, now_iso

if TYPE_CHECKING:
    from bgetune.core.models import ResolvedModel

Progress = Callable[[int, int, str], None]

ANN_THRESHOLD = 50_000  # chunks; past this an IVF index replaces the exact flat one (tools/index.py)
DUP_EMB_COSINE = 0.98
DUP_TEXT_RATIO = 90.0
RERANK_DROP = 0.5  # cross-encoder probability above which a candidate is not a negative
RERANK_RECOVER = 0.9  # ... and above which it is offered back as an extra positive


def resolve_for_workspace(ws: Workspace, spec: str | ResolvedModel | None = None) -> ResolvedModel:
    """The base model for this workspace: the explicit spec, else the workspace's choice, else by language."""
    from bgetune.core.models import ResolvedModel, resolve_base_model
    from bgetune.core.text import corpus_language

    if isinstance(spec, ResolvedModel):
        return spec
    spec = spec or ws.get_setting("base_model")
    family = ws.get_setting("base_family")
    language = None if spec else corpus_language(ws.stats()["chunk_languages"])
    return resolve_base_model(spec, language=language, family=family)


def trainable_pairs(ws: Workspace, splits: tuple[str, ...] = ("train", "val")) -> list[dict[str, Any]]:
    """Trainable pairs of the given splits with their positive chunk ids (own chunk + pair_positives)."""
    marks = ",".join("?" * len(splits))
    rows = ws.query(
        f"SELECT id, chunk_id, query, passage, split FROM pairs WHERE {TRAINABLE} "
        f"AND split IN ({marks}) ORDER BY id",
        splits,
    )
    extra: dict[int, list[str]] = {}
    for r in ws.query("SELECT pair_id, chunk_id FROM pair_positives"):
        extra.setdefault(r["pair_id"], []).append(r["chunk_id"])
    out = []
    for r in rows:
        d = dict(r)
        pos = [d["chunk_id"]] if d["chunk_id"] else []
        d["positives"] = list(dict.fromkeys(pos + extra.get(d["id"], [])))
        out.append(d)
    return out


def build_index(emb: np.ndarray, *, threshold: int = ANN_THRESHOLD) -> Any:
    """Exact inner-product index for small corpora, IVF past ``threshold`` vectors (tools/index.py: recall@10
    0.995 against exact search at 64k, bench/RESULTS.md), on the GPU when faiss has one."""
    from bgetune.tools.index import build_index as _build

    return _build(emb, exact_max=threshold)[0]


def _norm_text(text: str) -> str:
    from bgetune.core.text import normalize_for_match

    return normalize_for_match(text)


def _check_window(range_min: int, range_max: int, relative_margin: float) -> None:
    if range_min < 0 or range_max <= range_min:
        raise ValueError(f"rank window {range_min}..{range_max} is empty; use e.g. range_min=2 range_max=50")
    if not 0 <= relative_margin < 1:
        raise ValueError(
            f"relative_margin={relative_margin} must be in [0, 1) (0.05 = below 95% of the positive)"
        )


def _no_mining_reason(method: str, n_chunks: int, range_min: int, range_max: int) -> str | None:
    """Why nothing is mined (in-batch negatives chosen, or a corpus too small for the rank window), or None."""
    if method == "in-batch":
        return "in-batch negatives chosen: every other passage in a batch is a negative; nothing mined"
    if method != "dense":
        raise ValueError(f"unknown negatives method {method!r}; use 'dense' or 'in-batch'")
    if n_chunks < range_min + 3:
        return (
            f"corpus has only {n_chunks} chunks, too few for the rank window {range_min}..{range_max}: "
            "training with in-batch negatives only"
        )
    return None


def _reranker_label(reranker: Any) -> str | None:
    return reranker if isinstance(reranker, str) or reranker is None else "function"


@dataclass
class _Ranked:
    """The encoded corpus and queries of one mining run, and each query's top hits."""

    ids: list[str]
    emb: np.ndarray
    texts: dict[str, str]
    q_emb: np.ndarray
    own_map: dict[int, np.ndarray]  # pair index -> its own passage's vector (pairs without a chunk)
    index: Any
    scores: np.ndarray
    hits: np.ndarray
    pos_of: dict[str, int] = field(init=False)
    _norms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pos_of = {cid: i for i, cid in enumerate(self.ids)}

    def norm(self, cid: str) -> str:
        if cid not in self._norms:
            self._norms[cid] = _norm_text(self.texts[cid])
        return self._norms[cid]


def _rank_corpus(
    ws: Workspace,
    pairs: list[dict[str, Any]],
    model: Any,
    range_max: int,
    progress: Progress | None,
) -> _Ranked:
    """Encode the corpus and the queries, index the corpus and search each query's top hits."""
    from bgetune.core.models import corpus_embeddings, encode, model_fingerprint

    if progress:
        progress(0, len(pairs), "encoding corpus")
    ids, emb = corpus_embeddings(
        ws,
        model,
        fingerprint=model_fingerprint(model),
        progress=progress,
        label="chunks encoded",
    )
    texts = {r["id"]: r["text"] for r in ws.query("SELECT id, text FROM chunks")}
    q_emb = encode(
        model, [p["query"] for p in pairs], kind="query", progress=progress, label="queries encoded"
    )
    # positives without a chunk (own passage) are encoded from their passage text
    own = [i for i, p in enumerate(pairs) if not p["positives"]]
    own_emb = encode(model, [pairs[i]["passage"] for i in own], kind="passage") if own else None
    own_map = {i: own_emb[k] for k, i in enumerate(own)} if own_emb is not None else {}

    index = build_index(emb)
    k = min(len(ids), range_max + len(max(pairs, key=lambda p: len(p["positives"]))["positives"]) + 1)
    scores, hits = index.search(np.ascontiguousarray(q_emb, dtype=np.float32), k)
    return _Ranked(ids, emb, texts, q_emb, own_map, index, scores, hits)


def _load_reranker(reranker: str | Callable | None, recover: bool, model: Any) -> Any:
    """The cross-encoder (or judge function) to check candidates with, or None."""
    if recover and reranker is None:
        raise ValueError(
            "positive recovery needs a reranker: pass reranker=<cross-encoder folder> (bgetune train "
            "--reranker PATH), or switch recovery off"
        )
    if callable(reranker):
        return reranker
    if reranker:
        from sentence_transformers import CrossEncoder

        try:
            return CrossEncoder(reranker, device=str(model.device))
        except OSError as exc:
            raise ValueError(
                f"could not load the cross-encoder {reranker!r}: {exc}; pass a reranker folder"
            ) from exc
    return None


@dataclass
class _Miner:
    """One dense mining run: the rules, and what it found (negative rows, recovered positives, drops)."""

    ranked: _Ranked
    range_min: int
    range_max: int
    num_negatives: int
    relative_margin: float
    ce: Any
    recover: bool
    recover_min: float
    prev: set[tuple[int, str]]  # earlier recoveries, re-checked rather than kept blindly
    now: str
    rows: list[tuple] = field(default_factory=list)
    recovered: list[tuple] = field(default_factory=list)
    dropped: int = 0

    def mine_all(self, pairs: list[dict[str, Any]], progress: Progress | None) -> None:
        for qi, pair in enumerate(pairs):
            self.mine(qi, pair)
            if progress:
                progress(qi + 1, len(pairs), "mining")

    def mine(self, qi: int, pair: dict[str, Any]) -> None:
        """Mine one pair's negatives (and, with recovery, its recovered positives)."""
        pos_ids, pos_vecs_arr, pos_score = self._positive(qi, pair)
        cands, top_others = self._candidates(qi, pair, pos_ids, pos_vecs_arr, pos_score)
        if self.ce is not None and (cands or (self.recover and top_others)):
            cands = self._rerank_check(pair, cands, top_others)
        tag = "reranker" if self.ce is not None else "dense-window"
        for cid, rank, score in cands[: self.num_negatives]:
            self.rows.append((pair["id"], cid, rank, score, pos_score, tag, self.now))

    def _positive(self, qi: int, pair: dict[str, Any]) -> tuple[list[str], np.ndarray, float]:
        """(the pair's positive chunk ids, their vectors, the query's best score against them)."""
        rk = self.ranked
        pos_ids = [c for c in pair["positives"] if c in rk.pos_of and (pair["id"], c) not in self.prev]
        pos_vecs = [rk.emb[rk.pos_of[c]] for c in pos_ids] or ([rk.own_map[qi]] if qi in rk.own_map else [])
        pos_vecs_arr = np.stack(pos_vecs) if pos_vecs else np.zeros((0, rk.emb.shape[1]), np.float32)
        pos_score = (
            float((pos_vecs_arr @ rk.q_emb[qi]).max()) if len(pos_vecs_arr) else float(rk.scores[qi, 0])
        )
        return pos_ids, pos_vecs_arr, pos_score

    def _candidates(
        self,
        qi: int,
        pair: dict[str, Any],
        pos_ids: list[str],
        pos_vecs_arr: np.ndarray,
        pos_score: float,
    ) -> tuple[list[tuple[str, int, float]], list[str]]:
        """(candidates in the rank window below the margin that are no near-duplicate of a positive, every
        non-positive in the top range_max, for recovery)."""
        rk = self.ranked
        limit = pos_score - self.relative_margin * abs(pos_score)
        pos_norms = [rk.norm(c) for c in pos_ids] + [_norm_text(pair["passage"])]
        pos_set = set(pos_ids)
        cands: list[tuple[str, int, float]] = []
        top_others: list[str] = []
        for rank, (score, h) in enumerate(zip(rk.scores[qi], rk.hits[qi], strict=True)):
            if h < 0:
                continue
            if rank >= self.range_max:
                break
            cid = rk.ids[h]
            if cid in pos_set:
                continue
            top_others.append(cid)
            if rank < self.range_min:
                continue
            if score >= limit or self._near_positive(h, cid, pos_vecs_arr, pos_norms):
                self.dropped += 1
                continue
            cands.append((cid, rank, float(score)))
        return cands, top_others

    def _near_positive(self, h: int, cid: str, pos_vecs_arr: np.ndarray, pos_norms: list[str]) -> bool:
        """Whether a candidate is a positive in disguise: embedding cosine or normalised text too close."""
        from rapidfuzz import fuzz

        if len(pos_vecs_arr) and float((pos_vecs_arr @ self.ranked.emb[h]).max()) > DUP_EMB_COSINE:
            return True
        t = self.ranked.norm(cid)
        return any(t == p or fuzz.ratio(t, p, score_cutoff=DUP_TEXT_RATIO) for p in pos_norms)

    def _rerank_check(
        self, pair: dict[str, Any], cands: list[tuple[str, int, float]], top_others: list[str]
    ) -> list[tuple[str, int, float]]:
        """The candidates the reranker does not judge relevant; with recovery, records the recovered positives."""
        check = top_others if self.recover else [c[0] for c in cands]
        texts = self.ranked.texts
        prob_of = dict(zip(check, _rerank(self.ce, pair["query"], [texts[c] for c in check]), strict=True))
        if self.recover:
            self.recovered.extend(
                (pair["id"], c, "recovered") for c in check if prob_of[c] >= self.recover_min
            )
        kept = []
        for cid, rank, score in cands:
            if prob_of[cid] >= RERANK_DROP or (self.recover and prob_of[cid] >= self.recover_min):
                self.dropped += 1
            else:
                kept.append((cid, rank, score))
        return kept


def _recovered_before(ws: Workspace, recover: bool) -> set[tuple[int, str]]:
    if not recover:
        return set()
    return {
        (r["pair_id"], r["chunk_id"])
        for r in ws.query("SELECT pair_id, chunk_id FROM pair_positives WHERE origin='recovered'")
    }


def _store_mined(ws: Workspace, miner: _Miner) -> None:
    """Replace the stored negatives (and, with recovery, the earlier recovered positives)."""
    with ws.tx() as c:
        c.execute("DELETE FROM negatives")
        c.executemany(
            "INSERT INTO negatives(pair_id, chunk_id, rank, score, pos_score, method, created_at) "
            "VALUES(?,?,?,?,?,?,?)",
            miner.rows,
        )
        if miner.recover:
            c.execute("DELETE FROM pair_positives WHERE origin='recovered'")
        c.executemany(
            "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)", miner.recovered
        )


def _mined_reason(miner: _Miner, reranker: Any, n_pairs: int, with_neg: int) -> str:
    return (
        f"mined up to {miner.num_negatives} negatives per pair from ranks {miner.range_min}..{miner.range_max} "
        f"below {(1 - miner.relative_margin):.0%} of the positive's score"
        + (
            f", checked by the reranker {reranker if isinstance(reranker, str) else 'function'}"
            if miner.ce is not None
            else ""
        )
        + (f"; {len(miner.recovered)} top-k candidates recovered as extra positives" if miner.recover else "")
        + ("" if with_neg == n_pairs else f"; {n_pairs - with_neg} pairs got none (in-batch only)")
    )


def mine_negatives(
    ws: Workspace,
    *,
    base_model: str | ResolvedModel | None = None,
    method: Literal["dense", "in-batch"] = "dense",
    range_min: int = 2,
    range_max: int = 50,
    num_negatives: int = 7,
    relative_margin: float = 0.05,
    reranker: str | Callable[[str, list[str]], list[float]] | None = None,
    recover: bool = False,
    recover_min: float = 0.9,
    progress: Progress | None = None,
    model: Any = None,
) -> dict[str, Any]:
    """Mine hard negatives for the trainable train/val pairs and store them with provenance.

    Returns {method, reason, pairs, negatives, dropped_false_negatives, ...}. ``method='in-batch'`` mines
    nothing, clears stored negatives and says why; so does a corpus too small for the rank window.

    ``reranker``: a cross-encoder folder, or a function (query, passages) -> probabilities that each passage
    answers the query (e.g. an LLM judge). ``recover``: reranker positive recovery (seed practice): every
    candidate in the query's top ``range_max`` scoring at least ``recover_min`` becomes an extra positive with
    origin 'recovered'. Earlier recovered positives are replaced on each run (others are kept)."""
    _check_window(range_min, range_max, relative_margin)
    pairs = trainable_pairs(ws)
    n_chunks = int(ws.scalar("SELECT count(*) FROM chunks") or 0)
    base = {"pairs": len(pairs), "negatives": 0, "dropped_false_negatives": 0, "chunks": n_chunks}
    if not pairs:
        raise ValueError(
            "no trainable pairs in the train/val split: approve pairs (`bgetune review`) and split them first"
        )
    reason = _no_mining_reason(method, n_chunks, range_min, range_max)
    if reason:
        with ws.tx() as c:
            c.execute("DELETE FROM negatives")
        return base | {"method": "in-batch", "reason": reason}

    from bgetune.core.models import load_model

    run_id = ws.start_run(
        "mine",
        {
            "range_min": range_min,
            "range_max": range_max,
            "num_negatives": num_negatives,
            "relative_margin": relative_margin,
            "reranker": _reranker_label(reranker),
            "recover": recover,
        },
    )
    try:
        resolved = resolve_for_workspace(ws, base_model)
        if model is None:
            model = load_model(resolved)
        ranked = _rank_corpus(ws, pairs, model, range_max, progress)
        miner = _Miner(
            ranked,
            range_min=range_min,
            range_max=range_max,
            num_negatives=num_negatives,
            relative_margin=relative_margin,
            ce=_load_reranker(reranker, recover, model),
            recover=recover,
            recover_min=recover_min,
            prev=_recovered_before(ws, recover),
            now=now_iso(),
        )
        miner.mine_all(pairs, progress)
        _store_mined(ws, miner)
        with_neg = len({r[0] for r in miner.rows})
        result = base | {
            "method": "dense",
            "reason": _mined_reason(miner, reranker, len(pairs), with_neg),
            "negatives": len(miner.rows),
            "pairs_with_negatives": with_neg,
            "dropped_false_negatives": miner.dropped,
            "recovered_positives": len(miner.recovered),
            "index": type(ranked.index).__name__,
            "base_model": resolved.spec,
            "run_id": run_id,
        }
        ws.finish_run(run_id, result=result)
        return result
    except BaseException as exc:
        ws.finish_run(run_id, status="failed", error=str(exc))
        raise


def _rerank(ce: Any, query: str, passages: list[str]) -> list[float]:
    """Cross-encoder relevance as probabilities (sigmoid of logits when the model returns raw scores); a plain
    function (query, passages) -> probabilities is called as is."""
    if not passages:
        return []
    if callable(ce) and not hasattr(ce, "predict"):
        return [float(x) for x in ce(query, passages)]
    raw = np.asarray(ce.predict([(query, p) for p in passages], show_progress_bar=False), dtype=np.float64)
    if raw.ndim > 1:
        raw = raw[:, -1]
    if raw.min() < 0 or raw.max() > 1:
        raw = 1.0 / (1.0 + np.exp(-raw))
    return [float(x) if math.isfinite(x) else 0.0 for x in raw]


# ---------------------------------------------------------------------------------------------- teacher labels
def teacher_false_negatives(
    ws: Workspace, teacher_key: str, *, splits: tuple[str, ...] = ("train", "val")
) -> dict[int, set[str]]:
    """{pair id: candidate chunk ids the teacher scores at or above the pair's positive}: never negatives.

    The positive's score is the best over the pair's own passage and its extra positives (the 'teacher' ones
    excluded, so a rerun re-decides them)."""
    from bgetune.tools.teacher_store import cached_scores, passage_key

    pairs = trainable_pairs(ws, splits)
    if not pairs:
        return {}
    mine = {
        (r["pair_id"], r["chunk_id"])
        for r in ws.query("SELECT pair_id, chunk_id FROM pair_positives WHERE origin='teacher'")
    }
    scores = cached_scores(ws, teacher_key, [p["query"] for p in pairs])
    out: dict[int, set[str]] = {}
    for p in pairs:
        s = scores.get(p["query"])
        if not s:
            continue
        own = [passage_key(p["chunk_id"], p["passage"])] + [
            c for c in p["positives"] if (p["id"], c) not in mine
        ]
        pos = [s[k] for k in own if k in s]
        if not pos:
            continue
        top = max(pos)
        own_set = set(own)
        fn = {k for k, v in s.items() if v >= top and k not in own_set and not k.startswith("sha1:")}
        if fn:
            out[p["id"]] = fn
    return out


def apply_teacher_labels(
    ws: Workspace, teacher_key: str, *, mode: Literal["drop", "positive"] = "drop"
) -> dict[str, Any]:
    """Keep every candidate the teacher scores at or above the positive out of the stored negatives; with
    ``mode='positive'`` also record it as an extra positive (``pair_positives.origin='teacher'``, shown in
    review). Earlier 'teacher' positives are replaced. Returns counts."""
    if mode not in ("drop", "positive"):
        raise ValueError(f"false-negative mode {mode!r}: use 'drop' or 'positive'")
    fn = teacher_false_negatives(ws, teacher_key)
    rows = [(pid, cid) for pid, cids in fn.items() for cid in sorted(cids)]
    with ws.tx() as c:
        before = c.total_changes
        c.executemany("DELETE FROM negatives WHERE pair_id=? AND chunk_id=?", rows)
        removed = c.total_changes - before
        c.execute("DELETE FROM pair_positives WHERE origin='teacher'")
        if mode == "positive":
            c.executemany(
                "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,'teacher')", rows
            )
    return {
        "mode": mode,
        "pairs_with_false_negatives": len(fn),
        "candidates": len(rows),
        "negatives_removed": removed,
        "positives_added": len(rows) if mode == "positive" else 0,
    }
