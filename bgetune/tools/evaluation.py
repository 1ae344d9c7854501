"""Retrieval evaluation: base vs tuned on the held-out split, and any model on a user's golden questions.

Metrics follow sentence-transformers' InformationRetrievalEvaluator (binary relevance): hit@k (accuracy@k),
MRR@10, nDCG@10, recall@10/100, MAP@100. The nDCG@10 difference between two models gets a paired bootstrap
confidence interval (same queries resampled for both), because held-out sets are small.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.workspace import TRAINABLE

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from bgetune.core.models import ResolvedModel
    from bgetune.core.workspace import Workspace

Progress = Callable[[int, int, str], None]

METRIC_NAMES = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@10", "recall@100", "map@100")
HEADLINE = ("ndcg@10", "mrr@10", "recall@10", "hit@1")


class EvaluationError(BgetuneError, RuntimeError):
    """An evaluation input the user must fix (file, format, empty split), with what to do."""


# ---------------------------------------------------------------------------------------------- metrics
def query_metrics(ranked: Sequence[str], positives: set[str]) -> dict[str, float]:
    """All metrics of one query from its ranked ids (best first, at least 100 when the corpus has them)."""
    if not positives:
        raise ValueError("a query needs at least one positive")
    hits = [1 if cid in positives else 0 for cid in ranked[:100]]
    first = next((i for i, h in enumerate(hits) if h), None)
    out: dict[str, float] = {}
    for k in (1, 5, 10):
        out[f"hit@{k}"] = float(first is not None and first < k)
    out["mrr@10"] = 1.0 / (first + 1) if first is not None and first < 10 else 0.0
    dcg = sum(h / np.log2(i + 2) for i, h in enumerate(hits[:10]))
    idcg = sum(1.0 / np.log2(i + 2) for i in range(min(len(positives), 10)))
    out["ndcg@10"] = float(dcg / idcg)
    out["recall@10"] = sum(hits[:10]) / len(positives)
    out["recall@100"] = sum(hits[:100]) / len(positives)
    found, precisions = 0, 0.0
    for i, h in enumerate(hits[:100]):
        if h:
            found += 1
            precisions += found / (i + 1)
    out["map@100"] = precisions / min(len(positives), 100)
    return out


def aggregate(per_query: Sequence[dict[str, float]]) -> dict[str, float]:
    if not per_query:
        return {name: 0.0 for name in METRIC_NAMES}
    return {name: float(np.mean([q[name] for q in per_query])) for name in METRIC_NAMES}


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """CI of mean(b - a) with queries resampled jointly. ``p_not_better``: share of resamples with b <= a."""
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if diff.size == 0:
        return {
            "diff": 0.0,
            "low": 0.0,
            "high": 0.0,
            "confidence": confidence,
            "resamples": 0,
            "p_not_better": 1.0,
        }
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(n_resamples, diff.size))
    means = diff[idx].mean(axis=1)
    tail = (1 - confidence) / 2
    return {
        "diff": float(diff.mean()),
        "low": float(np.quantile(means, tail)),
        "high": float(np.quantile(means, 1 - tail)),
        "confidence": confidence,
        "resamples": n_resamples,
        "p_not_better": float((means <= 0).mean()),
    }


def search(query_emb: np.ndarray, corpus_emb: np.ndarray, top_k: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores) of the top_k corpus rows per query by cosine (embeddings are normalised)."""
    k = min(top_k, corpus_emb.shape[0])
    all_idx = np.zeros((query_emb.shape[0], k), dtype=np.int64)
    all_sc = np.zeros((query_emb.shape[0], k), dtype=np.float32)
    for start in range(0, query_emb.shape[0], 256):
        sims = query_emb[start : start + 256] @ corpus_emb.T
        if k < sims.shape[1]:
            part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(sims.shape[1]), (sims.shape[0], 1))
        psc = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-psc, axis=1, kind="stable")
        all_idx[start : start + 256] = np.take_along_axis(part, order, axis=1)
        all_sc[start : start + 256] = np.take_along_axis(psc, order, axis=1)
    return all_idx, all_sc


@dataclass
class QuerySet:
    """Queries with their positive corpus ids, over a corpus of (id, text)."""

    queries: list[str]
    positives: list[set[str]]
    corpus_ids: list[str]
    corpus_texts: list[str]
    query_ids: list[Any] | None = None


def run_retrieval(
    model: SentenceTransformer,
    qs: QuerySet,
    *,
    corpus_emb: np.ndarray | None = None,
    top_k: int = 100,
    progress: Progress | None = None,
    label: str = "",
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Encode and rank; returns (aggregate metrics, per-query records with rank of the first positive).
    ``progress`` gets per-batch counts of chunks and queries encoded (labels prefixed with ``label``)."""
    from bgetune.core.models import encode

    pre = f"{label}: " if label else ""
    if corpus_emb is None:
        corpus_emb = encode(
            model, qs.corpus_texts, kind="passage", progress=progress, label=f"{pre}chunks encoded"
        )
    q_emb = encode(model, qs.queries, kind="query", progress=progress, label=f"{pre}queries encoded")
    idx, sc = search(q_emb, corpus_emb, top_k)
    per_query: list[dict[str, Any]] = []
    for i, q in enumerate(qs.queries):
        ranked = [qs.corpus_ids[j] for j in idx[i]]
        m = query_metrics(ranked, qs.positives[i])
        rank = next((r + 1 for r, cid in enumerate(ranked) if cid in qs.positives[i]), None)
        per_query.append(
            {
                "id": qs.query_ids[i] if qs.query_ids else i,
                "query": q,
                "positives": sorted(qs.positives[i]),
                "rank": rank,
                "top": [[ranked[r], round(float(sc[i, r]), 4)] for r in range(min(5, len(ranked)))],
                **{k: round(v, 6) for k, v in m.items()},
            }
        )
    return aggregate(per_query), per_query


# ---------------------------------------------------------------------------------------------- models
def load_eval_model(spec: str, *, device: str | None = None) -> tuple[SentenceTransformer, ResolvedModel]:
    """Load a model folder, hub id or 'bundled' with its family rules (a tuned export keeps its query prompt)."""
    from bgetune.core.models import load_model, resolve_base_model

    resolved = resolve_base_model(spec)
    return load_model(resolved, device=device), resolved


def workspace_base_spec(ws: Workspace) -> str | None:
    """The base model the workspace trained from: the last train run's, else the user's setting, else None."""
    run = ws.last_run("train")
    if run:
        for src in (run.get("result") or {}, run.get("params") or {}):
            spec = src.get("base_model")
            if isinstance(spec, dict):
                spec = spec.get("spec") or spec.get("path")
            if spec:
                return str(spec)
    return ws.get_setting("base_model")


def resolve_workspace_base(ws: Workspace) -> ResolvedModel:
    from bgetune.core.models import resolve_base_model
    from bgetune.core.text import corpus_language

    return resolve_base_model(
        workspace_base_spec(ws), language=corpus_language(ws.stats()["chunk_languages"])
    )


def latest_tuned_dir(ws: Workspace) -> str | None:
    """The newest exported model folder, else the newest trained one, else None."""
    candidates = []
    for kind in ("export", "train"):
        run = ws.last_run(kind)
        if run and (run.get("result") or {}).get("model_dir"):
            candidates.append((run["finished_at"] or run["started_at"], run["result"]["model_dir"]))
    for _, path in sorted(candidates, reverse=True):
        if Path(path).exists():
            return str(path)
    return None


# ---------------------------------------------------------------------------------------------- workspace
def workspace_queryset(ws: Workspace, split: str = "test") -> QuerySet:
    """Held-out pairs of ``split`` (approved or edited) against every chunk in the workspace."""
    rows = ws.query(
        f"SELECT id, query, chunk_id FROM pairs WHERE split=? AND {TRAINABLE} "
        "AND chunk_id IS NOT NULL ORDER BY id",
        (split,),
    )
    extra: dict[int, set[str]] = {}
    for r in ws.query("SELECT pair_id, chunk_id FROM pair_positives"):
        extra.setdefault(r["pair_id"], set()).add(r["chunk_id"])
    chunks = ws.query("SELECT id, text FROM chunks ORDER BY document_id, ord")
    return QuerySet(
        queries=[r["query"] for r in rows],
        positives=[{r["chunk_id"]} | extra.get(r["id"], set()) for r in rows],
        corpus_ids=[c["id"] for c in chunks],
        corpus_texts=[c["text"] for c in chunks],
        query_ids=[r["id"] for r in rows],
    )


def _workspace_retrieval(
    ws: Workspace, spec_or_model: Any, qs: QuerySet, *, progress: Progress | None = None, label: str = ""
) -> tuple[dict, list[dict]]:
    from bgetune.core.models import corpus_embeddings, model_fingerprint

    model, resolved = spec_or_model
    ids, emb = corpus_embeddings(
        ws,
        model,
        fingerprint=model_fingerprint(model),
        progress=progress,
        label=f"{label}: chunks encoded" if label else "chunks encoded",
    )
    if ids != qs.corpus_ids:  # the corpus changed between reads; encode what we hold
        emb = None
    return run_retrieval(model, qs, corpus_emb=emb, progress=progress, label=label)


def evaluate_workspace(
    ws: Workspace,
    *,
    tuned_dir: str | None = None,
    split: str = "test",
    base_model: str | None = None,
    n_resamples: int = 1000,
    plots: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Base vs tuned on the held-out ``split``: metrics, paired-bootstrap CI of the nDCG@10 gain, per-query
    results (artifacts/runs/<train run>/eval/<run_id>/per_query.json; artifacts/eval/<run_id>/ for a model no
    training run here produced), metrics table rows, plots."""
    from bgetune.core.models import resolve_base_model

    qs = workspace_queryset(ws, split)
    if not qs.queries:
        raise EvaluationError(
            f"no approved pairs in the {split!r} split of {ws.root}: generate and approve pairs, then run the split "
            "(`bgetune split`) so some documents are held out for testing"
        )
    tuned_dir = tuned_dir or latest_tuned_dir(ws)
    base_res = resolve_base_model(base_model) if base_model else resolve_workspace_base(ws)
    run_id = ws.start_run("eval", {"split": split, "tuned_dir": tuned_dir, "base_model": base_res.spec})
    try:
        from bgetune.core.models import load_model

        steps = 2 if tuned_dir else 1
        if progress:
            progress(0, steps, "base model")
        base = (load_model(base_res), base_res)
        metrics: dict[str, dict[str, float]] = {}
        per: dict[str, list[dict]] = {}
        metrics["base"], per["base"] = _workspace_retrieval(
            ws, base, qs, progress=progress, label="base model"
        )
        del base
        if tuned_dir:
            if progress:
                progress(1, steps, "tuned model")
            metrics["tuned"], per["tuned"] = _workspace_retrieval(
                ws, load_eval_model(tuned_dir), qs, progress=progress, label="tuned model"
            )
        if progress:
            progress(steps, steps, "done")
        ci = None
        if "tuned" in per:
            ci = paired_bootstrap(
                [q["ndcg@10"] for q in per["base"]],
                [q["ndcg@10"] for q in per["tuned"]],
                n_resamples=n_resamples,
            )
        from bgetune.tools.layout import eval_dir, folder_for

        out_dir = eval_dir(ws, run_id, tuned_dir)  # the tuned model's run folder (artifacts/runs/<id>/eval/)
        records = []
        for i, q in enumerate(per["base"]):
            rec = {"pair_id": q["id"], "query": q["query"], "positives": q["positives"], "base": _slim(q)}
            if "tuned" in per:
                rec["tuned"] = _slim(per["tuned"][i])
            records.append(rec)
        from bgetune.core.workspace import atomic_write_json

        atomic_write_json(out_dir / "per_query.json", records)
        for name, vals in metrics.items():
            ws.record_metrics(run_id, name, split, vals)
        if ci:
            ws.record_metrics(
                run_id,
                "tuned-vs-base",
                split,
                {"ndcg@10_diff": ci["diff"], "ndcg@10_diff_low": ci["low"], "ndcg@10_diff_high": ci["high"]},
            )
        plot_paths: list[str] = []
        if plots:
            plot_paths = _eval_plots(ws, metrics, out_dir, per_query=per, gain_ci=ci)
        result = {
            "run_id": run_id,
            "split": split,
            "queries": len(qs.queries),
            "corpus": len(qs.corpus_ids),
            "base_model": base_res.spec,
            "tuned_dir": tuned_dir,
            "metrics": {k: _round(v) for k, v in metrics.items()},
            "ci": ci,
            "per_query": str(out_dir / "per_query.json"),
            "plots": plot_paths,
            "note": base_res.note,
            "run_folder": str(folder_for(ws, tuned_dir) or out_dir),
        }
        ws.finish_run(run_id, result=result, artifact_dir=str(out_dir))
        return result
    except BaseException as exc:
        ws.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _slim(q: dict[str, Any]) -> dict[str, Any]:
    return {k: q[k] for k in ("rank", "top", *METRIC_NAMES)}


def _round(m: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in m.items()}


def _eval_plots(
    ws: Workspace,
    metrics: dict[str, dict[str, float]],
    out_dir: Path,
    *,
    per_query: dict[str, list[dict]] | None = None,
    gain_ci: dict[str, Any] | None = None,
) -> list[str]:
    from bgetune.tools import plots

    paths = [str(plots.metrics_bar(metrics, out_dir / "metrics.png", per_query=per_query, gain_ci=gain_ci))]
    train = ws.last_run("train")
    curve = (train or {}).get("result", {}).get("loss_curve") if train else None
    if curve:
        paths.append(str(plots.loss_curve(curve, out_dir / "loss.png")))
    return paths


# ---------------------------------------------------------------------------------------------- golden files
def read_jsonl(path: str | Path, what: str) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.exists():
        raise EvaluationError(f"{what} file {path} does not exist")
    rows = []
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise EvaluationError(
                    f"{path}:{n}: not valid JSON ({exc.msg}); each line must be one JSON object"
                ) from exc
            if not isinstance(obj, dict):
                raise EvaluationError(f"{path}:{n}: expected a JSON object per line")
            rows.append(obj)
    if not rows:
        raise EvaluationError(f"{what} file {path} is empty")
    return rows


def load_corpus(path: str | Path) -> tuple[list[str], list[str]]:
    """(ids, texts) of a corpus JSONL {"id","text"} (also accepts "_id" / "content" / "title"+"text")."""
    ids, texts = [], []
    for n, obj in enumerate(read_jsonl(path, "corpus"), 1):
        text = obj.get("text") or obj.get("content") or obj.get("passage")
        if obj.get("title") and text:
            text = f"{obj['title']}\n{text}"
        cid = obj.get("id", obj.get("_id"))
        if not text or cid is None:
            raise EvaluationError(
                f"{path}: line {n} lacks 'id' or 'text'; the corpus format is {{\"id\": str, \"text\": str}}"
            )
        ids.append(str(cid))
        texts.append(str(text))
    if len(set(ids)) != len(ids):
        raise EvaluationError(f"{path}: corpus ids are not unique")
    return ids, texts


def match_positive(text: str, norm_corpus: list[str], *, fuzzy_cutoff: float = 90.0) -> list[int]:
    """Corpus rows holding ``text`` (normalised containment either way; a fuzzy fallback for small edits)."""
    from bgetune.core.text import normalize_for_match

    t = normalize_for_match(text)
    if not t:
        return []
    hits = [i for i, c in enumerate(norm_corpus) if t in c]
    if hits:
        return hits
    # an answer longer than one chunk: every chunk that lies inside it (ignore tiny chunks)
    hits = [i for i, c in enumerate(norm_corpus) if len(c) >= 20 and c in t]
    if hits:
        return hits
    from rapidfuzz import fuzz, process

    probe = t[:400]
    res = process.extract(probe, norm_corpus, scorer=fuzz.partial_ratio, score_cutoff=fuzzy_cutoff, limit=3)
    return [i for _, _, i in res]


def golden_queryset(
    corpus_ids: list[str], corpus_texts: list[str], golden_rows: list[dict[str, Any]], path: str = ""
) -> tuple[QuerySet, list[dict[str, Any]]]:
    """Resolve golden rows ({"query","pos"} or {"query","pos_ids"}) to positive ids; returns unmatched ones."""
    from bgetune.core.text import normalize_for_match

    id_set = set(corpus_ids)
    norm = None
    queries, positives, unmatched, qids = [], [], [], []
    for n, row in enumerate(golden_rows, 1):
        q = row.get("query")
        if not isinstance(q, str) or not q.strip():
            raise EvaluationError(
                f'{path}: line {n} has no \'query\'; the golden format is {{"query", "pos": [text]}}'
            )
        pos: set[str] = set()
        missing: list[str] = []
        if row.get("pos_ids"):
            for pid in row["pos_ids"]:
                (pos.add(str(pid)) if str(pid) in id_set else missing.append(str(pid)))
        elif row.get("pos"):
            if norm is None:
                norm = [normalize_for_match(t) for t in corpus_texts]
            texts = row["pos"] if isinstance(row["pos"], list) else [row["pos"]]
            for t in texts:
                found = match_positive(str(t), norm)
                if found:
                    pos.update(corpus_ids[i] for i in found)
                else:
                    missing.append(str(t)[:120])
        else:
            raise EvaluationError(f"{path}: line {n} has neither 'pos' nor 'pos_ids'")
        if missing:
            unmatched.append({"line": n, "query": q, "missing": missing})
        if pos:
            queries.append(q)
            positives.append(pos)
            qids.append(n)
    qs = QuerySet(queries, positives, corpus_ids, corpus_texts, qids)
    return qs, unmatched


def evaluate_golden(
    model: str,
    corpus_file: str | Path | None,
    golden_file: str | Path,
    *,
    base: str | None = None,
    ws: Workspace | None = None,
    n_resamples: int = 1000,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score ``model`` (folder, hub id or 'bundled') on a golden JSONL against a corpus JSONL (or, with no corpus
    file, the workspace's chunks). With ``base``: both side by side plus the bootstrap CI of the nDCG@10 gain."""
    if corpus_file:
        ids, texts = load_corpus(corpus_file)
    elif ws is not None:
        chunks = ws.query("SELECT id, ext_id, text FROM chunks ORDER BY document_id, ord")
        if not chunks:
            raise EvaluationError(
                f"workspace {ws.root} has no chunks; ingest documents or pass --corpus FILE"
            )
        ids = [c["ext_id"] or c["id"] for c in chunks]
        texts = [c["text"] for c in chunks]
        if len(set(ids)) != len(ids):
            ids = [c["id"] for c in chunks]
    else:
        raise EvaluationError('pass a corpus JSONL ({"id","text"}) or a workspace')
    qs, unmatched = golden_queryset(ids, texts, read_jsonl(golden_file, "golden"), str(golden_file))
    if not qs.queries:
        raise EvaluationError(
            f"{golden_file}: no golden question matched the corpus ({len(unmatched)} unmatched); check that the "
            "'pos' texts are quoted from the corpus or that 'pos_ids' use the corpus ids"
        )
    specs = [("tuned", model)] + ([("base", base)] if base else [])
    metrics: dict[str, dict[str, float]] = {}
    per: dict[str, list[dict]] = {}
    for i, (name, spec) in enumerate(specs):
        if progress:
            progress(i, len(specs), name)
        m, _ = load_eval_model(spec)
        metrics[name], per[name] = run_retrieval(m, qs, progress=progress, label=f"{name} model")
    if progress:
        progress(len(specs), len(specs), "done")
    out: dict[str, Any] = {
        "model": model,
        "corpus": str(corpus_file) if corpus_file else str(ws.root if ws else ""),
        "golden": str(golden_file),
        "queries": len(qs.queries),
        "unmatched": unmatched,
    }
    if base:
        out["base_model"] = base
        out["metrics"] = {"base": _round(metrics["base"]), "tuned": _round(metrics["tuned"])}
        out["ci"] = paired_bootstrap(
            [q["ndcg@10"] for q in per["base"]], [q["ndcg@10"] for q in per["tuned"]], n_resamples=n_resamples
        )
    else:
        out["metrics"] = _round(metrics["tuned"])
    out["per_query"] = [
        {"query": q["query"], "rank": q["rank"], "ndcg@10": q["ndcg@10"]}
        | ({"base_rank": per["base"][i]["rank"]} if base else {})
        for i, q in enumerate(per["tuned"])
    ]
    if ws is not None:
        run_id = ws.start_run("eval-golden", {"model": model, "base": base, "golden": str(golden_file)})
        dataset = f"golden:{Path(golden_file).name}"
        for name, vals in metrics.items():
            ws.record_metrics(run_id, name, dataset, vals)
        from bgetune.core.workspace import atomic_write_json

        path = ws.artifact_path("eval", run_id, "golden.json")
        atomic_write_json(path, out)
        ws.finish_run(
            run_id, result={k: v for k, v in out.items() if k != "per_query"}, artifact_dir=str(path.parent)
        )
        out["run_id"] = run_id
    return out
