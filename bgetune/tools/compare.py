"""Compare candidate models on the user's own questions before (or after) tuning.

Candidates: hub ids, folders, ``bundled``, ``tuned`` (the workspace's exported model), or an OpenAI-compatible
embeddings endpoint written ``openai:<base_url>#<model>`` (its key from ``BGETUNE_COMPARE_API_KEY`` or
``OPENAI_API_KEY``), so "does my tuned small model match a hosted large one?" has an answer with a CI.
Evidence: a golden JSONL, else the workspace's golden set, else the held-out test split (said so).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.i18n import say
from bgetune.core.results import Result
from bgetune.tools.export import exported_model_dir

Progress = Callable[[int, int, str], None]


@dataclass
class CompareRow:
    model: str
    ndcg: float
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    error: str | None = None


@dataclass
class CompareResult(Result):
    evidence: str = ""
    queries: int = 0
    rows: list[CompareRow] = field(default_factory=list)
    recommendation: str = ""

    def text(self, lang: str = "en") -> str:
        lines = [
            say(
                lang,
                f"Candidates ranked on {self.evidence} ({self.queries} questions), nDCG@10 with the gain over the "
                "first-listed model and its 95% CI:",
                f"在{self.evidence}（{self.queries} 个问题）上比较候选模型，nDCG@10 及相对第一个模型的提升（95% 置信区间）：",
            )
        ]
        for i, r in enumerate(self.rows, 1):
            if r.error:
                lines.append(f"  {i}. {r.model}: {say(lang, 'failed', '失败')} ({r.error})")
                continue
            ci = "" if r.diff is None else f"  {r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}]"
            lines.append(f"  {i}. {r.model}: {r.ndcg:.3f}{ci}")
        lines.append(self.recommendation)
        return "\n".join(lines)


class EndpointModel:
    """An OpenAI-compatible /v1/embeddings endpoint as an encoder (normalised float vectors)."""

    def __init__(self, spec: str) -> None:
        body = spec.removeprefix("openai:")
        if "#" not in body:
            raise BgetuneError(f"endpoint candidate {spec!r} must look like openai:<base_url>#<model>")
        self.base_url, self.model = body.rsplit("#", 1)
        self.spec = spec

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        from openai import OpenAI

        key = os.environ.get("BGETUNE_COMPARE_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"
        client = OpenAI(base_url=self.base_url, api_key=key, max_retries=2, timeout=120)
        out: list[list[float]] = []
        for start in range(0, len(texts), batch_size):
            res = client.embeddings.create(model=self.model, input=texts[start : start + batch_size])
            out.extend(d.embedding for d in sorted(res.data, key=lambda d: d.index))
        emb = np.asarray(out, dtype=np.float32)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def evidence_queryset(ws: Any, golden: str | None, corpus: str | None) -> tuple[Any, str]:
    """(QuerySet, description) of the evidence to compare on."""
    from bgetune.tools.evaluation import (
        QuerySet,
        golden_queryset,
        load_corpus,
        read_jsonl,
        workspace_queryset,
    )

    if corpus:
        ids, texts = load_corpus(corpus)
    else:
        chunks = ws.query("SELECT id, ext_id, text FROM chunks ORDER BY document_id, ord")
        if not chunks:
            raise BgetuneError(f"workspace {ws.root} has no chunks: ingest documents or pass --corpus FILE")
        ids, texts = [c["id"] for c in chunks], [c["text"] for c in chunks]
        if golden:
            ext = [c["ext_id"] or c["id"] for c in chunks]
            if len(set(ext)) == len(ext):
                ids = ext
    if golden:
        qs, _ = golden_queryset(ids, texts, read_jsonl(golden, "golden"), golden)
        return qs, f"golden questions in {os.path.basename(golden)}"
    import json

    rows = ws.query("SELECT query, pos_ids FROM golden WHERE status='labeled' ORDER BY id")
    if rows:
        id_set = set(ids)
        queries, positives = [], []
        for r in rows:
            pos = {p for p in json.loads(r["pos_ids"] or "[]") if p in id_set}
            if pos:
                queries.append(r["query"])
                positives.append(pos)
        if queries:
            return QuerySet(queries, positives, ids, texts), "your golden questions"
    qs = workspace_queryset(ws, "test")
    if not qs.queries:
        raise BgetuneError(
            "nothing to compare on: add golden questions (`bgetune golden add`), pass --golden FILE, or generate, "
            "approve and split pairs so some documents are held out"
        )
    return qs, "held-out documents' synthetic queries (no golden questions yet)"


def _per_query_ndcg(spec: str, qs: Any, ws: Any) -> tuple[float, list[float]]:
    from bgetune.tools.evaluation import load_eval_model, query_metrics, run_retrieval, search

    if spec.startswith("openai:"):
        model = EndpointModel(spec)
        c = model.encode(qs.corpus_texts)
        q = model.encode(qs.queries)
        idx, _ = search(q, c, 100)
        per = [
            query_metrics([qs.corpus_ids[j] for j in idx[i]], qs.positives[i])["ndcg@10"]
            for i in range(len(qs.queries))
        ]
        return float(np.mean(per)), per
    if spec == "tuned":
        spec = exported_model_dir(ws) or ""
        if not spec:
            raise BgetuneError("no tuned model yet: train first")
    model, _ = load_eval_model(spec)
    m, per = run_retrieval(model, qs)
    return m["ndcg@10"], [p["ndcg@10"] for p in per]


def compare_models(
    ws: Any,
    models: list[str],
    *,
    golden: str | None = None,
    corpus: str | None = None,
    progress: Progress | None = None,
    lang: str = "en",
) -> Any:
    """Score every candidate on the same questions; rank them; CI of each one's gain over the first."""
    from bgetune.tools.evaluation import paired_bootstrap

    models = [m.strip() for m in models if m and m.strip()]
    if not models:
        raise BgetuneError("name at least one model to compare, e.g. --models bundled,BAAI/bge-m3")
    qs, evidence = evidence_queryset(ws, golden, corpus)
    rows: list[CompareRow] = []
    per_query: dict[str, list[float]] = {}
    for i, spec in enumerate(models):
        if progress:
            progress(i, len(models), spec)
        try:
            mean, per = _per_query_ndcg(spec, qs, ws)
        except Exception as exc:  # noqa: BLE001 - one unreachable candidate must not hide the others
            rows.append(CompareRow(spec, float("nan"), error=str(exc)[:200]))
            continue
        per_query[spec] = per
        rows.append(CompareRow(spec, round(mean, 4)))
    if progress:
        progress(len(models), len(models), "done")
    ref = next((r.model for r in rows if r.error is None), None)
    for r in rows:
        if r.error is None and ref is not None and r.model != ref:
            ci = paired_bootstrap(per_query[ref], per_query[r.model])
            r.diff, r.low, r.high = round(ci["diff"], 4), round(ci["low"], 4), round(ci["high"], 4)
    ok = sorted((r for r in rows if r.error is None), key=lambda r: -r.ndcg)
    rows = ok + [r for r in rows if r.error is not None]
    if not ok:
        rec = say(lang, "No candidate could be scored.", "没有一个候选模型能完成评分。")
    else:
        best = ok[0]
        clear = best.model == ref or (best.low is not None and best.low > 0)
        if best.model == ref:
            rec = say(
                lang,
                f"Recommendation: {best.model} (highest nDCG@10 {best.ndcg:.3f}).",
                f"推荐：{best.model}（nDCG@10 最高，{best.ndcg:.3f}）。",
            )
        elif clear:
            rec = say(
                lang,
                f"Recommendation: {best.model}: better than {ref} beyond noise (CI above zero).",
                f"推荐：{best.model}，明显优于 {ref}（置信区间大于零）。",
            )
        else:
            rec = say(
                lang,
                f"{best.model} scores highest, but its gain over {ref} is within noise on {len(qs.queries)} questions: "
                "prefer the smaller/cheaper one, or add more golden questions to decide.",
                f"{best.model} 得分最高，但在 {len(qs.queries)} 个问题上相对 {ref} 的提升在噪声范围内："
                "选更小更便宜的模型，或增加黄金问题再决定。",
            )
    return CompareResult(evidence=evidence, queries=len(qs.queries), rows=rows, recommendation=rec)
