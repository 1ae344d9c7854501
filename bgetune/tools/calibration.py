"""Threshold calibration: what cosine score means "relevant" for this model on this corpus.

Held-out positives (val + test pairs) are scored against negatives: the mined hard negatives of those pairs
(negatives table), the base model's top-ranked non-positive chunks when none were mined, and random chunks.
From those scores: the threshold at maximum F1, the lowest threshold reaching a target precision, a Platt
(logistic) score-to-probability mapping and a min-max mapping, for the base model (before) and the tuned
model (after). Saved as artifacts/calibration.json (the exporter copies it beside the model).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.core.workspace import TRAINABLE
from bgetune.tools.evaluation import (
    EvaluationError,
    Progress,
    latest_tuned_dir,
    load_eval_model,
    resolve_workspace_base,
)

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

FIXED_CUT = 0.8  # the folk-wisdom threshold (FlagEmbedding FAQ: "0.8-0.9") we compare against
CALIBRATION_FILE = "calibration.json"


# ---------------------------------------------------------------------------------------------- pure maths
def confusion(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, F1, accuracy and balanced accuracy of ``score >= threshold``."""
    pred = scores >= threshold
    tp = int((pred & (labels == 1)).sum())
    fp = int((pred & (labels == 0)).sum())
    fn = int((~pred & (labels == 1)).sum())
    tn = int((~pred & (labels == 0)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    tpr = r
    tnr = tn / (tn + fp) if tn + fp else 0.0
    return {
        "threshold": round(float(threshold), 4),
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "accuracy": round((tp + tn) / max(1, len(labels)), 4),
        "balanced_accuracy": round((tpr + tnr) / 2, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def _cuts(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, precision, recall) for every distinct cut, highest threshold first."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y == 1)
    fp = np.cumsum(y == 0)
    last = np.r_[s[1:] != s[:-1], True]  # one cut per distinct score (ties go together)
    n_pos = max(1, int((labels == 1).sum()))
    return s[last], tp[last] / (tp[last] + fp[last]), tp[last] / n_pos


def _between(s: np.ndarray, i: int) -> float:
    """A threshold just under cut i: midway to the next lower distinct score."""
    return float((s[i] + s[i + 1]) / 2) if i + 1 < len(s) else float(s[i]) - 1e-4


def threshold_max_f1(scores: np.ndarray, labels: np.ndarray) -> float:
    s, p, r = _cuts(scores, labels)
    f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    return _between(s, int(np.argmax(f1)))


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target: float) -> float | None:
    """The lowest threshold whose precision is still >= target (most recall); None if never reached."""
    s, p, _ = _cuts(scores, labels)
    ok = np.nonzero(p >= target)[0]
    if ok.size == 0:
        return None
    return _between(s, int(ok[-1]))


def fit_platt(
    scores: np.ndarray, labels: np.ndarray, *, l2: float = 1e-3, iters: int = 100
) -> dict[str, float]:
    """Platt scaling: p = 1 / (1 + exp(-(a * score + b))), fitted by Newton's method on class-balanced weights
    (so p reads as "relevant, at even odds", not the calibration set's 1:k ratio) with Platt's smoothed targets
    (so a perfectly separated set still gives finite a, b)."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    sw = np.where(y == 1, len(y) / (2 * max(n_pos, 1)), len(y) / (2 * max(n_neg, 1)))
    a, b = 1.0, 0.0
    X = np.c_[x, np.ones_like(x)]
    for _ in range(iters):
        z = np.clip(a * x + b, -35, 35)
        p = 1 / (1 + np.exp(-z))
        grad = X.T @ (sw * (p - t)) + l2 * np.array([a, 0.0])
        w = sw * p * (1 - p)
        hess = (X * w[:, None]).T @ X + np.diag([l2, 1e-9])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return {"a": round(float(a), 6), "b": round(float(b), 6)}


def platt_probability(score: float, platt: dict[str, float]) -> float:
    z = max(-35.0, min(35.0, platt["a"] * score + platt["b"]))
    return 1.0 / (1.0 + math.exp(-z))


def minmax_score(score: float, mm: dict[str, float]) -> float:
    span = mm["max"] - mm["min"]
    return 0.0 if span <= 0 else max(0.0, min(1.0, (score - mm["min"]) / span))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos = int((labels == 1).sum())
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibrate_scores(
    pos: np.ndarray, neg: np.ndarray, *, hard_mask: np.ndarray | None = None, precision_target: float = 0.9
) -> dict[str, Any]:
    """Everything calibration reports for one model, from positive and negative scores."""
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        raise EvaluationError(
            "calibration needs held-out positives and negatives; approve and split pairs first"
        )
    scores = np.r_[pos, neg]
    labels = np.r_[np.ones(pos.size, dtype=int), np.zeros(neg.size, dtype=int)]
    t_f1 = threshold_max_f1(scores, labels)
    t_p = threshold_for_precision(scores, labels, precision_target)
    out: dict[str, Any] = {
        "positives": int(pos.size),
        "negatives": int(neg.size),
        "threshold_f1": round(t_f1, 4),
        "threshold_precision": None if t_p is None else round(t_p, 4),
        "precision_target": precision_target,
        "platt": fit_platt(scores, labels),
        "minmax": {"min": round(float(scores.min()), 4), "max": round(float(scores.max()), 4)},
        "auc": round(auc(scores, labels), 4),
        "score_mean": {"positives": round(float(pos.mean()), 4), "negatives": round(float(neg.mean()), 4)},
        "at_threshold_f1": confusion(scores, labels, t_f1),
        "at_threshold_precision": None if t_p is None else confusion(scores, labels, t_p),
        "at_fixed_cut": confusion(scores, labels, FIXED_CUT),
    }
    if hard_mask is not None and hard_mask.any():
        hs = np.r_[pos, neg[hard_mask]]
        hl = np.r_[np.ones(pos.size, dtype=int), np.zeros(int(hard_mask.sum()), dtype=int)]
        out["hard_negatives"] = int(hard_mask.sum())
        out["vs_hard_negatives"] = {
            "calibrated": confusion(hs, hl, t_f1),
            "fixed_cut": confusion(hs, hl, FIXED_CUT),
        }
    return out


# ---------------------------------------------------------------------------------------------- workspace
def heldout_examples(
    ws: Workspace, *, random_per_query: int = 3, hard_per_query: int = 3, seed: int = 13
) -> dict[str, Any]:
    """Held-out pairs (val+test; else every trainable pair) with negatives: mined ones first, random ones added.
    Returns {"queries", "pos_chunks", "neg_chunks" (per query: [(chunk_id, method)]), "source"}."""
    rows = ws.query(
        f"SELECT id, query, chunk_id FROM pairs WHERE {TRAINABLE} AND chunk_id IS NOT NULL "
        "AND split IN ('val','test') ORDER BY id"
    )
    source = "val+test"
    if not rows:
        rows = ws.query(
            f"SELECT id, query, chunk_id FROM pairs WHERE {TRAINABLE} AND chunk_id IS NOT NULL ORDER BY id"
        )
        source = "all approved pairs (no held-out split yet)"
    if not rows:
        raise EvaluationError(
            f"no approved pairs in {ws.root}: generate and approve pairs before calibrating"
        )
    extra: dict[int, set[str]] = {}
    for r in ws.query("SELECT pair_id, chunk_id FROM pair_positives"):
        extra.setdefault(r["pair_id"], set()).add(r["chunk_id"])
    mined: dict[int, list[str]] = {}
    for r in ws.query("SELECT pair_id, chunk_id FROM negatives ORDER BY pair_id, rank"):
        mined.setdefault(r["pair_id"], []).append(r["chunk_id"])
    all_ids = [r["id"] for r in ws.query("SELECT id FROM chunks ORDER BY document_id, ord")]
    rng = np.random.default_rng(seed)
    queries, pos, negs = [], [], []
    for r in rows:
        positives = {r["chunk_id"]} | extra.get(r["id"], set())
        neg = [(c, "mined") for c in mined.get(r["id"], [])[:hard_per_query] if c not in positives]
        taken = {c for c, _ in neg} | positives
        pool = [
            c
            for c in rng.choice(
                all_ids, size=min(len(all_ids), random_per_query * 3 + len(taken)), replace=False
            )
            if c not in taken
        ]
        neg += [(c, "random") for c in pool[:random_per_query]]
        queries.append(r["query"])
        pos.append(sorted(positives))
        negs.append(neg)
    return {
        "queries": queries,
        "pos_chunks": pos,
        "neg_chunks": negs,
        "pair_ids": [r["id"] for r in rows],
        "source": source,
    }


def _add_dense_hard(ex: dict[str, Any], ids: list[str], q_emb: np.ndarray, emb: np.ndarray, k: int) -> None:
    """For queries without mined negatives: the base model's top non-positive chunks (fixed for both models)."""
    from bgetune.tools.evaluation import search

    idx, _ = search(q_emb, emb, top_k=k + 10)
    for i, neg in enumerate(ex["neg_chunks"]):
        if any(m == "mined" for _, m in neg):
            continue
        positives = set(ex["pos_chunks"][i])
        have = {c for c, _ in neg}
        hard = [ids[j] for j in idx[i] if ids[j] not in positives and ids[j] not in have][:k]
        neg[:0] = [(c, "dense-top") for c in hard]


def _score(
    ws: Workspace,
    model_res: tuple[Any, Any],
    ex: dict[str, Any],
    *,
    add_hard: int = 0,
    progress: Progress | None = None,
    label: str = "",
) -> dict[str, Any]:
    from bgetune.core.models import corpus_embeddings, encode, model_fingerprint

    model = model_res[0]
    pre = f"{label}: " if label else ""
    ids, emb = corpus_embeddings(
        ws,
        model,
        fingerprint=model_fingerprint(model),
        progress=progress,
        label=f"{pre}chunks encoded",
    )
    where = {c: i for i, c in enumerate(ids)}
    q_emb = encode(model, ex["queries"], kind="query", progress=progress, label=f"{pre}queries encoded")
    if add_hard:
        _add_dense_hard(ex, ids, q_emb, emb, add_hard)
    pos, neg, hard = [], [], []
    for i in range(len(ex["queries"])):
        pos.append(max(float(q_emb[i] @ emb[where[c]]) for c in ex["pos_chunks"][i] if c in where))
        for c, method in ex["neg_chunks"][i]:
            if c in where:
                neg.append(float(q_emb[i] @ emb[where[c]]))
                hard.append(method != "random")
    return {"pos": np.array(pos), "neg": np.array(neg), "hard": np.array(hard, dtype=bool)}


def calibrate(
    ws: Workspace,
    *,
    model_dir: str | None = None,
    precision_target: float = 0.9,
    random_per_query: int = 3,
    hard_per_query: int = 3,
    seed: int = 13,
    plots: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Calibrate base (before) and tuned (after) on held-out pairs; write artifacts/calibration.json (and
    <model_dir>/calibration.json when a folder is given). Top-level keys describe the tuned model when there
    is one, else the base."""
    from bgetune.core.models import load_model
    from bgetune.core.workspace import atomic_write_json, now_iso

    ex = heldout_examples(ws, random_per_query=random_per_query, hard_per_query=hard_per_query, seed=seed)
    tuned = model_dir or latest_tuned_dir(ws)
    base_res = resolve_workspace_base(ws)
    steps = 2 if tuned else 1
    if progress:
        progress(0, steps, "base model")
    before_scores = _score(
        ws,
        (load_model(base_res), base_res),
        ex,
        add_hard=hard_per_query,
        progress=progress,
        label="base model",
    )
    before = calibrate_scores(
        before_scores["pos"],
        before_scores["neg"],
        hard_mask=before_scores["hard"],
        precision_target=precision_target,
    )
    after = after_scores = None
    if tuned:
        if progress:
            progress(1, steps, "tuned model")
        after_scores = _score(ws, load_eval_model(tuned), ex, progress=progress, label="tuned model")
        after = calibrate_scores(
            after_scores["pos"],
            after_scores["neg"],
            hard_mask=after_scores["hard"],
            precision_target=precision_target,
        )
    if progress:
        progress(steps, steps, "done")
    active = after or before
    methods: dict[str, int] = {}
    for neg in ex["neg_chunks"]:
        for _, m in neg:
            methods[m] = methods.get(m, 0) + 1
    result: dict[str, Any] = {
        "model": tuned or base_res.spec,
        "base_model": base_res.spec,
        "threshold": active["threshold_f1"],
        "threshold_f1": active["threshold_f1"],
        "threshold_precision": active["threshold_precision"],
        "precision_target": precision_target,
        "platt": active["platt"],
        "minmax": active["minmax"],
        "before": before,
        "after": after,
        "data": {"pairs": len(ex["queries"]), "source": ex["source"], "negatives_by_method": methods},
        "created_at": now_iso(),
    }
    path = atomic_write_json(ws.artifact_path(CALIBRATION_FILE), result)
    result["path"] = str(path)
    from bgetune.tools.layout import folder_for

    folder = folder_for(ws, tuned)
    if folder is not None:
        result["run_folder"] = str(folder)
    if model_dir and Path(model_dir).is_dir():
        atomic_write_json(
            Path(model_dir) / CALIBRATION_FILE, {k: v for k, v in result.items() if k != "path"}
        )
        result["model_copy"] = str(Path(model_dir) / CALIBRATION_FILE)
    if plots:
        from bgetune.tools import plots as P
        from bgetune.tools.layout import plots_dir

        panels = {
            f"before ({base_res.spec})": {
                "pos": before_scores["pos"].tolist(),
                "neg": before_scores["neg"].tolist(),
                "threshold": before["threshold_f1"],
            }
        }
        if after and after_scores is not None:
            panels["after (tuned)"] = {
                "pos": after_scores["pos"].tolist(),
                "neg": after_scores["neg"].tolist(),
                "threshold": after["threshold_f1"],
            }
        result["plots"] = [
            str(
                P.score_histograms(panels, plots_dir(ws, tuned) / "score_histograms.png", fixed_cut=FIXED_CUT)
            )
        ]
    run_id = ws.start_run("calibrate", {"model": result["model"], "precision_target": precision_target})
    for name, block in (("base", before), ("tuned", after)):
        if block:
            vals = {
                "threshold_f1": block["threshold_f1"],
                "auc": block["auc"],
                "f1": block["at_threshold_f1"]["f1"],
                "f1_fixed_0.8": block["at_fixed_cut"]["f1"],
            }
            ws.record_metrics(run_id, name, "calibration", vals)
    ws.finish_run(
        run_id,
        result={k: v for k, v in result.items() if k not in ("before", "after")},
        artifact_dir=str(path.parent),
    )
    result["run_id"] = run_id
    return result


# ---------------------------------------------------------------------------------------------- scoring
def load_calibration(path: str | Path) -> dict[str, Any] | None:
    p = Path(path)
    if p.is_dir():
        p = p / CALIBRATION_FILE
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise EvaluationError(f"{p} is not valid JSON ({exc}); re-run `bgetune calibrate`") from exc


def calibration_for(cal: dict[str, Any] | None, model_spec: str) -> dict[str, Any] | None:
    """The block of a calibration file that describes ``model_spec`` (the base's 'before' for the base)."""
    if not cal:
        return None
    if cal.get("after") and model_spec == cal.get("base_model"):
        return cal.get("before")
    if model_spec == cal.get("base_model") and cal.get("before"):
        return cal["before"]
    return cal


def interpret(score: float, block: dict[str, Any] | None) -> dict[str, Any]:
    """Probability and decision of a raw score under a calibration block (None when uncalibrated)."""
    if not block:
        return {"probability": None, "decision": None, "threshold": None, "normalized": None}
    t = block.get("threshold_f1", block.get("threshold"))
    return {
        "probability": round(platt_probability(score, block["platt"]), 4),
        "normalized": round(minmax_score(score, block["minmax"]), 4),
        "threshold": t,
        "decision": "relevant" if t is not None and score >= t else "not relevant",
    }


def score_pair(
    model_dir: str, query: str, passage: str, *, calibration: str | Path | dict[str, Any] | None = None
) -> dict[str, Any]:
    """Raw cosine score of (query, passage), its calibrated probability and the decision at the threshold.
    Calibration comes from ``calibration`` or <model_dir>/calibration.json."""
    from bgetune.core.models import encode

    model, _ = load_eval_model(model_dir)
    q = encode(model, [query], kind="query")
    p = encode(model, [passage], kind="passage")
    score = float(q[0] @ p[0])
    cal = (
        calibration
        if isinstance(calibration, dict)
        else load_calibration(calibration or model_dir)
        if (calibration or Path(model_dir).is_dir())
        else None
    )
    block = calibration_for(cal, model_dir)
    out = {"score": round(score, 4), **interpret(score, block), "model": model_dir}
    if block is None:
        out["note"] = (
            "no calibration.json for this model: run `bgetune calibrate` to get a threshold and probability"
        )
    return out
