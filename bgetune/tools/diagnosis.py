"""Why does this query miss? Rank and score gap of the expected passage with the base and the tuned model,
the passages that beat it (plausible true answers vs real competitors), truncation, answers split across
chunks, training coverage of the topic, term overlap; then a one-sentence verdict and a concrete next step."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.tools.calibration import CALIBRATION_FILE, interpret, load_calibration
from bgetune.tools.evaluation import (
    EvaluationError,
    latest_tuned_dir,
    load_eval_model,
    resolve_workspace_base,
)

if TYPE_CHECKING:
    from bgetune.workspace import Workspace

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*[A-Za-z0-9+]|[A-Za-z0-9]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_STOP = set(
    "a an the of to in on for and or is are was were be been being do does did how what which who whom why when "
    "where can could should would will shall may might must i you he she it we they me my your our their this that "
    "these those with without from by as at into about than then there here not no yes if any some all".split()
)
PLAUSIBLE_SEMANTIC = 0.9  # passage-passage cosine above which a competitor says the same thing
PLAUSIBLE_LEXICAL = 0.6  # term Jaccard with the expected passage
COVERED_SIMILARITY = 0.7  # a training query this close means the topic was trained on
SPLIT_COVERAGE = 0.9


def terms(text: str) -> set[str]:
    """Content terms: lower-cased Latin words without stop words, plus CJK character bigrams."""
    out = {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 1}
    for run in _CJK_RUN.findall(text):
        out.update(run[i : i + 2] for i in range(len(run) - 1)) if len(run) > 1 else out.add(run)
    return out


def coverage(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _snippet(text: str, n: int = 160) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def locate_expected(ws: Workspace, *, expected: str | None, expected_id: str | None) -> dict[str, Any]:
    """Chunk ids holding the expected passage, and whether it spans adjacent chunks."""
    from bgetune.text import normalize_for_match

    chunks = ws.query("SELECT id, ext_id, document_id, ord, text FROM chunks ORDER BY document_id, ord")
    if expected_id:
        ids = [c["id"] for c in chunks if expected_id in (c["id"], c["ext_id"])]
        if not ids:
            raise EvaluationError(
                f"no chunk with id {expected_id!r} in {ws.root}; use a chunk id from `bgetune status`/the review "
                "table, a knowledge-base id (ext_id), or pass --expected TEXT"
            )
        return {"chunk_ids": ids, "how": "id", "split_across_chunks": False, "coverage": 1.0}
    assert expected is not None
    norm = normalize_for_match(expected)
    ids = [c["id"] for c in chunks if norm and norm in normalize_for_match(c["text"])]
    if ids:
        return {"chunk_ids": ids, "how": "exact", "split_across_chunks": False, "coverage": 1.0}
    want = terms(expected)
    cov = [coverage(want, terms(c["text"])) for c in chunks]
    if not cov:
        raise EvaluationError(f"workspace {ws.root} has no chunks; ingest documents first")
    best = int(np.argmax(cov))
    pair_best, pair_cov = None, 0.0
    for i in range(len(chunks) - 1):
        a, b = chunks[i], chunks[i + 1]
        if a["document_id"] != b["document_id"]:
            continue
        c = coverage(want, terms(a["text"]) | terms(b["text"]))
        if c > pair_cov:
            pair_best, pair_cov = i, c
    if (
        pair_best is not None
        and pair_cov >= SPLIT_COVERAGE
        and cov[best] < SPLIT_COVERAGE
        and pair_cov - cov[best] >= 0.15
    ):
        pair = [chunks[pair_best]["id"], chunks[pair_best + 1]["id"]]
        return {
            "chunk_ids": pair,
            "how": "spans",
            "split_across_chunks": True,
            "coverage": round(pair_cov, 3),
            "best_single_coverage": round(cov[best], 3),
        }
    if cov[best] >= 0.6:
        return {
            "chunk_ids": [chunks[best]["id"]],
            "how": "fuzzy",
            "split_across_chunks": False,
            "coverage": round(cov[best], 3),
        }
    return {
        "chunk_ids": [],
        "how": "not found",
        "split_across_chunks": False,
        "coverage": round(cov[best], 3),
    }


def _load_calibration(ws: Workspace, model_dir: str | None) -> dict[str, Any] | None:
    cal = load_calibration(ws.artifact_path(CALIBRATION_FILE, mkdir=False))
    if cal is None and model_dir:
        cal = load_calibration(model_dir)
    return cal


def _ranking(
    ws: Workspace, model_res: tuple[Any, Any], query: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    from bgetune.models import corpus_embeddings, encode, model_fingerprint

    model, resolved = model_res
    ids, emb = corpus_embeddings(ws, model, fingerprint=model_fingerprint(model, resolved))
    q = encode(model, [query], kind="query")[0]
    return ids, emb, emb @ q


def _token_count(model: Any, text: str) -> int:
    return len(model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


def diagnose(
    ws: Workspace,
    query: str,
    *,
    expected: str | None = None,
    expected_id: str | None = None,
    model_dir: str | None = None,
    top_k: int = 5,
) -> dict[str, Any]:
    """Explain where ``query`` ranks its expected passage (text or chunk/KB id) and what to do about a miss.
    Without an expected passage: the top results with calibrated probabilities and the threshold verdict."""
    from bgetune.models import load_model

    if not query.strip():
        raise EvaluationError("the query is empty")
    if not ws.scalar("SELECT count(*) FROM chunks"):
        raise EvaluationError(f"workspace {ws.root} has no chunks; ingest documents first (`bgetune ingest`)")
    tuned_dir = model_dir or latest_tuned_dir(ws)
    base_res = resolve_workspace_base(ws)
    cal = _load_calibration(ws, tuned_dir)
    models: dict[str, tuple[Any, Any]] = {"base": (load_model(base_res), base_res)}
    if tuned_dir:
        models["tuned"] = load_eval_model(tuned_dir)
    main = "tuned" if tuned_dir else "base"
    blocks: dict[str, Any] = {"base": None, "tuned": None}
    if cal and cal.get("after"):  # top level describes the tuned model, 'before' the base
        blocks = {"base": cal.get("before"), "tuned": cal}
    elif cal:  # a base-only calibration
        blocks["base"] = cal
    chunk_rows = {
        r["id"]: r
        for r in ws.query(
            "SELECT c.id, c.text, c.heading, c.ext_id, d.name AS doc FROM chunks c JOIN documents d ON d.id=c.document_id"
        )
    }
    rankings = {name: _ranking(ws, m, query) for name, m in models.items()}
    out: dict[str, Any] = {
        "query": query,
        "base_model": base_res.spec,
        "tuned_model": tuned_dir,
        "calibrated": cal is not None,
    }

    if not expected and not expected_id:
        ids, _, scores = rankings[main]
        order = np.argsort(-scores)[:top_k]
        block = blocks[main]
        top = []
        for j in order:
            row = chunk_rows[ids[j]]
            top.append(
                {
                    "chunk_id": ids[j],
                    "document": row["doc"],
                    "heading": row["heading"],
                    "score": round(float(scores[j]), 4),
                    **interpret(float(scores[j]), block),
                    "text": _snippet(row["text"]),
                }
            )
        passing = [t for t in top if t["decision"] == "relevant"]
        out["results"] = top
        if block is None:
            out["verdict"] = (
                f"Best match scores {top[0]['score']:.3f}, but there is no calibrated threshold to judge it."
            )
            out["next_step"] = "Run `bgetune calibrate` so scores come with a threshold and a probability."
        elif passing:
            out["verdict"] = (
                f"{len(passing)} of the top {len(top)} results pass the threshold "
                f"{block['threshold_f1']:.3f} (best probability {top[0]['probability']:.2f})."
            )
            out["next_step"] = (
                "If the first result is not the answer, rerun with --expected TEXT (or --expected-id) "
                "to see why the right passage ranks lower."
            )
        else:
            out["verdict"] = (
                f"No result passes the threshold {block['threshold_f1']:.3f}: the best scores "
                f"{top[0]['score']:.3f} (probability {top[0]['probability']:.2f})."
            )
            out["next_step"] = (
                "Check that the documents answer this; if they do, add pairs on this topic and "
                "retrain, or lower the threshold towards the target-precision value."
            )
        return out

    loc = locate_expected(ws, expected=expected, expected_id=expected_id)
    out["expected"] = loc
    if not loc["chunk_ids"]:
        out["verdict"] = "The expected passage is not in the workspace (no chunk holds its text)."
        out["next_step"] = (
            "Check the text for typos or ingest the document that contains it, then retry; "
            "--expected-id takes a chunk id directly."
        )
        return out
    exp_ids = set(loc["chunk_ids"])
    per_model: dict[str, dict[str, Any]] = {}
    for name, (ids, emb, scores) in rankings.items():
        order = np.argsort(-scores)
        ranks = {ids[j]: r + 1 for r, j in enumerate(order)}
        best_exp = min(exp_ids, key=lambda c: ranks.get(c, 10**9))
        exp_score = float(scores[ids.index(best_exp)])
        win = ids[order[0]]
        block = blocks.get(name)
        per_model[name] = {
            "rank": ranks[best_exp],
            "score": round(exp_score, 4),
            "winner": win,
            "winner_score": round(float(scores[order[0]]), 4),
            "gap_to_winner": round(float(scores[order[0]]) - exp_score, 4),
            **interpret(exp_score, block),
            "gap_to_threshold": None if not block else round(exp_score - block["threshold_f1"], 4),
            "_order": order,
            "_ids": ids,
            "_emb": emb,
            "_scores": scores,
        }
    m = per_model[main]
    ids, emb, scores, order = m["_ids"], m["_emb"], m["_scores"], m["_order"]
    where = {c: i for i, c in enumerate(ids)}
    exp_text = " ".join(chunk_rows[c]["text"] for c in loc["chunk_ids"])
    exp_terms, q_terms = terms(exp_text), terms(query)
    competitors = []
    for j in order[: min(m["rank"] - 1, top_k)]:
        cid = ids[j]
        if cid in exp_ids:
            continue
        row = chunk_rows[cid]
        c_terms = terms(row["text"])
        sem = max(float(emb[j] @ emb[where[e]]) for e in exp_ids if e in where)
        lex = jaccard(c_terms, exp_terms)
        qcov = coverage(q_terms, c_terms)
        plausible = (
            sem >= PLAUSIBLE_SEMANTIC or lex >= PLAUSIBLE_LEXICAL or (qcov >= 1.0 and len(q_terms) >= 2)
        )
        why = (
            "near-identical meaning to the expected passage"
            if sem >= PLAUSIBLE_SEMANTIC
            else "shares most terms with the expected passage"
            if lex >= PLAUSIBLE_LEXICAL
            else "contains every query term"
            if plausible
            else "a different passage that looks similar to the model"
        )
        competitors.append(
            {
                "chunk_id": cid,
                "document": row["doc"],
                "heading": row["heading"],
                "score": round(float(scores[j]), 4),
                "similarity_to_expected": round(sem, 3),
                "term_overlap_with_expected": round(lex, 3),
                "query_terms_covered": round(qcov, 3),
                "plausible_answer": plausible,
                "why": why,
                "text": _snippet(row["text"]),
            }
        )
    model_main = models[main][0]
    max_len = int(model_main.max_seq_length or 512)
    trunc = []
    for c in loc["chunk_ids"]:
        n_tok = _token_count(model_main, chunk_rows[c]["text"])
        answer_cut = False
        if n_tok > max_len and expected:
            from bgetune.text import normalize_for_match

            nt, ne = normalize_for_match(chunk_rows[c]["text"]), normalize_for_match(expected)
            pos = nt.find(ne[:60]) if ne else -1
            answer_cut = pos >= 0 and pos / max(1, len(nt)) * n_tok > max_len * 0.9
        trunc.append(
            {
                "chunk_id": c,
                "tokens": n_tok,
                "max_seq_length": max_len,
                "truncated": n_tok > max_len,
                "answer_beyond_limit": answer_cut,
            }
        )
    truncated = any(t["truncated"] for t in trunc)
    answer_cut = any(t["answer_beyond_limit"] for t in trunc)
    # training coverage of the topic
    train = ws.query(
        "SELECT id, query, chunk_id FROM pairs WHERE status IN ('approved','edited') AND "
        "(split='train' OR split IS NULL) ORDER BY id"
    )
    nearest: list[dict[str, Any]] = []
    on_chunk = sum(1 for r in train if r["chunk_id"] in exp_ids)
    if train:
        from bgetune.models import encode

        q_emb = encode(model_main, [query], kind="query")[0]
        t_emb = encode(model_main, [r["query"] for r in train], kind="query")
        sims = t_emb @ q_emb
        for j in np.argsort(-sims)[:3]:
            nearest.append(
                {
                    "query": train[j]["query"],
                    "similarity": round(float(sims[j]), 3),
                    "same_passage": train[j]["chunk_id"] in exp_ids,
                }
            )
    covered = on_chunk > 0 or (bool(nearest) and nearest[0]["similarity"] >= COVERED_SIMILARITY)
    overlap = {
        "query_terms": sorted(q_terms),
        "in_expected": sorted(q_terms & exp_terms),
        "missing_from_expected": sorted(q_terms - exp_terms),
        "coverage": round(coverage(q_terms, exp_terms), 3),
    }
    for pm in per_model.values():
        for k in ("_order", "_ids", "_emb", "_scores"):
            pm.pop(k)
    out.update(
        {
            "ranks": per_model,
            "competitors": competitors,
            "truncation": trunc,
            "split_across_chunks": loc["split_across_chunks"],
            "training_coverage": {
                "pairs_on_expected_passage": on_chunk,
                "nearest_training_queries": nearest,
                "covered": covered,
            },
            "term_overlap": overlap,
        }
    )
    splits = {
        r["split"]
        for r in ws.query(
            f"SELECT split FROM chunks WHERE id IN ({','.join('?' * len(exp_ids))})", list(exp_ids)
        )
    }
    held_out = "test" in splits
    out["training_coverage"]["expected_split"] = sorted(s for s in splits if s)
    out["verdict"], out["next_step"] = _verdict(
        main,
        per_model,
        competitors,
        truncated,
        answer_cut,
        loc,
        covered,
        on_chunk,
        overlap,
        max_len,
        held_out,
    )
    return out


def _verdict(
    main: str,
    pm: dict[str, dict[str, Any]],
    competitors: list[dict[str, Any]],
    truncated: bool,
    answer_cut: bool,
    loc: dict[str, Any],
    covered: bool,
    on_chunk: int,
    overlap: dict[str, Any],
    max_len: int,
    held_out: bool = False,
) -> tuple[str, str]:
    m = pm[main]
    rank, thr = m["rank"], m.get("threshold")
    worse = ""
    if main == "tuned" and pm["base"]["rank"] < rank:
        worse = f" (the fine-tune made it worse: base rank {pm['base']['rank']} -> tuned {rank})"
    if rank == 1:
        if thr is not None and m["score"] < thr:
            return (
                f"Ranked first but its score {m['score']:.3f} is below the threshold {thr:.3f}, so a RAG "
                "filter at that threshold would drop it.",
                f"Lower the threshold (try the max-F1 value or below {m['score']:.3f}) if such answers matter "
                "more than precision, or add pairs on this topic to raise its score.",
            )
        return (f"Retrieved correctly at rank 1 (score {m['score']:.3f}).", "Nothing to fix for this query.")
    if answer_cut:
        return (
            f"The answer sits past the model's {max_len}-token limit in its chunk, so the model never sees it"
            f"{worse}.",
            f"Re-chunk with smaller chunks (`bgetune ingest --chunk-tokens {max(64, max_len // 2)}`), then "
            "regenerate pairs and retrain.",
        )
    if loc.get("split_across_chunks"):
        return (
            f"The answer is split across two adjacent chunks, so neither holds it whole (rank {rank}){worse}.",
            "Re-chunk with larger chunks or more overlap (`bgetune ingest --chunk-tokens/--chunk-overlap`).",
        )
    plausible = [c for c in competitors if c["plausible_answer"]]
    if competitors and len(plausible) == len(competitors):
        return (
            f"Ranked {rank}, but the {len(plausible)} passage(s) above it plausibly answer the query too: "
            f"a missing label, not a model error{worse}.",
            "Relabel: add those passages as extra positives of this query (or merge the duplicate chunks).",
        )
    if truncated:
        return (
            f"Ranked {rank}; its chunk is longer than the model's {max_len}-token limit and gets truncated"
            f"{worse}.",
            f"Re-chunk with smaller chunks (`bgetune ingest --chunk-tokens {max(64, max_len // 2)}`).",
        )
    if thr is not None and rank <= 3 and m["score"] >= thr:
        return (
            f"Ranked {rank} and above the threshold {thr:.3f}: it is retrieved in a top-{max(3, rank)} "
            f"context, just not first{worse}.",
            "Add pairs on this topic with the winning passage as a hard negative to sharpen the ranking.",
        )
    if not covered:
        held = (
            " (its chunk is held out in the test split, so none of its pairs were trained on)"
            if held_out
            else ""
        )
        return (
            f"Ranked {rank}: no training query is close to this one, so the topic was not trained on{held}{worse}.",
            "Add pairs on this topic (generate more from its document or import real questions), then retrain.",
        )
    real = [c for c in competitors if not c["plausible_answer"]]
    lex = "; the query shares few terms with it" if overlap["coverage"] < 0.3 else ""
    return (
        f"Ranked {rank}, {m['gap_to_winner']:.3f} below the winner: {len(real)} real competitor(s) outrank it"
        f"{lex}{worse}.",
        "Add pairs on this topic phrased like this query, mine the competitors as hard negatives, and retrain.",
    )
