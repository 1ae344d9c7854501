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
    if range_min < 0 or range_max <= range_min:
        raise ValueError(f"rank window {range_min}..{range_max} is empty; use e.g. range_min=2 range_max=50")
    if not 0 <= relative_margin < 1:
        raise ValueError(
            f"relative_margin={relative_margin} must be in [0, 1) (0.05 = below 95% of the positive)"
        )
    pairs = trainable_pairs(ws)
    n_chunks = int(ws.scalar("SELECT count(*) FROM chunks") or 0)
    base = {"pairs": len(pairs), "negatives": 0, "dropped_false_negatives": 0, "chunks": n_chunks}
    if not pairs:
        raise ValueError(
            "no trainable pairs in the train/val split: approve pairs (`bgetune review`) and split them first"
        )
    reason = None
    if method == "in-batch":
        reason = "in-batch negatives chosen: every other passage in a batch is a negative; nothing mined"
    elif method != "dense":
        raise ValueError(f"unknown negatives method {method!r}; use 'dense' or 'in-batch'")
    elif n_chunks < range_min + 3:
        reason = (
            f"corpus has only {n_chunks} chunks, too few for the rank window {range_min}..{range_max}: "
            "training with in-batch negatives only"
        )
    if reason:
        with ws.tx() as c:
            c.execute("DELETE FROM negatives")
        return base | {"method": "in-batch", "reason": reason}

    from rapidfuzz import fuzz

    from bgetune.core.models import corpus_embeddings, encode, load_model, model_fingerprint

    run_id = ws.start_run(
        "mine",
        {
            "range_min": range_min,
            "range_max": range_max,
            "num_negatives": num_negatives,
            "relative_margin": relative_margin,
            "reranker": reranker if isinstance(reranker, str) or reranker is None else "function",
            "recover": recover,
        },
    )
    try:
        resolved = resolve_for_workspace(ws, base_model)
        if model is None:
            model = load_model(resolved)
        if progress:
            progress(0, len(pairs), "encoding corpus")
        ids, emb = corpus_embeddings(
            ws,
            model,
            fingerprint=model_fingerprint(model, resolved),
            progress=progress,
            label="chunks encoded",
        )
        pos_of = {cid: i for i, cid in enumerate(ids)}
        texts = {r["id"]: r["text"] for r in ws.query("SELECT id, text FROM chunks")}
        norm_cache: dict[str, str] = {}

        def norm(cid: str) -> str:
            if cid not in norm_cache:
                norm_cache[cid] = _norm_text(texts[cid])
            return norm_cache[cid]

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

        if recover and reranker is None:
            raise ValueError(
                "positive recovery needs a reranker: pass reranker=<cross-encoder folder> (bgetune train "
                "--reranker PATH), or switch recovery off"
            )
        ce = None
        if callable(reranker):
            ce = reranker
        elif reranker:
            from sentence_transformers import CrossEncoder

            try:
                ce = CrossEncoder(reranker, device=str(model.device))
            except OSError as exc:
                raise ValueError(
                    f"could not load the cross-encoder {reranker!r}: {exc}; pass a reranker folder"
                ) from exc

        rows: list[tuple] = []
        recovered: list[tuple] = []
        dropped = 0
        now = now_iso()
        # a re-run with recovery re-checks its own earlier recoveries (they are replaced, not kept blindly)
        prev = (
            {
                (r["pair_id"], r["chunk_id"])
                for r in ws.query("SELECT pair_id, chunk_id FROM pair_positives WHERE origin='recovered'")
            }
            if recover
            else set()
        )
        for qi, pair in enumerate(pairs):
            pos_ids = [c for c in pair["positives"] if c in pos_of and (pair["id"], c) not in prev]
            pos_vecs = [emb[pos_of[c]] for c in pos_ids] or ([own_map[qi]] if qi in own_map else [])
            pos_vecs_arr = np.stack(pos_vecs) if pos_vecs else np.zeros((0, emb.shape[1]), np.float32)
            pos_score = float((pos_vecs_arr @ q_emb[qi]).max()) if len(pos_vecs_arr) else float(scores[qi, 0])
            limit = pos_score - relative_margin * abs(pos_score)
            pos_norms = [norm(c) for c in pos_ids] + [_norm_text(pair["passage"])]
            pos_set = set(pos_ids)
            cands: list[tuple[str, int, float]] = []
            top_others: list[str] = []  # every non-positive candidate in the top range_max, for recovery
            for rank, (score, h) in enumerate(zip(scores[qi], hits[qi], strict=True)):
                if h < 0:
                    continue
                if rank >= range_max:
                    break
                cid = ids[h]
                if cid in pos_set:
                    continue
                top_others.append(cid)
                if rank < range_min:
                    continue
                if score >= limit:
                    dropped += 1
                    continue
                vec = emb[h]
                if len(pos_vecs_arr) and float((pos_vecs_arr @ vec).max()) > DUP_EMB_COSINE:
                    dropped += 1
                    continue
                t = norm(cid)
                if any(t == p or fuzz.ratio(t, p, score_cutoff=DUP_TEXT_RATIO) for p in pos_norms):
                    dropped += 1
                    continue
                cands.append((cid, rank, float(score)))
            if ce is not None and (cands or (recover and top_others)):
                check = top_others if recover else [c[0] for c in cands]
                prob_of = dict(zip(check, _rerank(ce, pair["query"], [texts[c] for c in check]), strict=True))
                if recover:
                    recovered.extend((pair["id"], c, "recovered") for c in check if prob_of[c] >= recover_min)
                kept = []
                for cid, rank, score in cands:
                    if prob_of[cid] >= RERANK_DROP or (recover and prob_of[cid] >= recover_min):
                        dropped += 1
                    else:
                        kept.append((cid, rank, score))
                cands = kept
            tag = "reranker" if ce is not None else "dense-window"
            for cid, rank, score in cands[:num_negatives]:
                rows.append((pair["id"], cid, rank, score, pos_score, tag, now))
            if progress:
                progress(qi + 1, len(pairs), "mining")
        with ws.tx() as c:
            c.execute("DELETE FROM negatives")
            c.executemany(
                "INSERT INTO negatives(pair_id, chunk_id, rank, score, pos_score, method, created_at) "
                "VALUES(?,?,?,?,?,?,?)",
                rows,
            )
            if recover:
                c.execute("DELETE FROM pair_positives WHERE origin='recovered'")
            c.executemany(
                "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)", recovered
            )
        with_neg = len({r[0] for r in rows})
        result = base | {
            "method": "dense",
            "reason": (
                f"mined up to {num_negatives} negatives per pair from ranks {range_min}..{range_max} below "
                f"{(1 - relative_margin):.0%} of the positive's score"
                + (
                    f", checked by the reranker {reranker if isinstance(reranker, str) else 'function'}"
                    if ce is not None
                    else ""
                )
                + (f"; {len(recovered)} top-k candidates recovered as extra positives" if recover else "")
                + (
                    ""
                    if with_neg == len(pairs)
                    else f"; {len(pairs) - with_neg} pairs got none (in-batch only)"
                )
            ),
            "negatives": len(rows),
            "pairs_with_negatives": with_neg,
            "dropped_false_negatives": dropped,
            "recovered_positives": len(recovered),
            "index": type(index).__name__,
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
