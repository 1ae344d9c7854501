"""Nearest-neighbour search over chunk embeddings: exact below ``EXACT_MAX`` vectors, an approximate faiss index
(IVF or HNSW) above, on the GPU when faiss sees one.

Exact (flat) search costs ``2 * queries * chunks * dim`` FLOPs: quadratic in the corpus when the queries grow
with it (mining asks a few queries per chunk). IVF probes ``nprobe`` of ``nlist ~ 4 sqrt(n)`` lists, so a query
costs about ``nprobe * n / nlist ~ sqrt(n)`` distance computations; HNSW about ``log n``. Both trade a little
recall, measured against exact search by ``recall_at_k`` (bench/scale.py --index records it at 64k vectors).
Inner product on normalised vectors = cosine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

EXACT_MAX = 50_000  # vectors; past this an approximate index replaces exact search
Kind = Literal["auto", "flat", "ivf", "hnsw"]


@dataclass
class IndexInfo:
    kind: str
    n: int
    dim: int
    nlist: int | None = None
    nprobe: int | None = None
    ef_search: int | None = None
    gpu: bool = False
    build_s: float = 0.0


def _gpu_count(faiss: Any) -> int:
    try:
        return int(faiss.get_num_gpus())
    except AttributeError:  # faiss-cpu
        return 0


def ivf_params(n: int) -> tuple[int, int]:
    """(nlist, nprobe) for ``n`` vectors: nlist ~ 4 sqrt(n) (at least 39 training points per list), nprobe
    1/16 of the lists (at least 8)."""
    nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
    return nlist, max(1, min(nlist, max(8, nlist // 16)))


def build_index(
    emb: np.ndarray,
    *,
    kind: Kind = "auto",
    exact_max: int = EXACT_MAX,
    nprobe: int | None = None,
    ef_search: int = 128,
    use_gpu: bool | None = None,
    seed: int = 13,
) -> tuple[Any, IndexInfo]:
    """A faiss inner-product index over ``emb`` (rows = normalised vectors) and what it is.

    ``auto``: flat up to ``exact_max`` vectors, IVF-flat above (HNSW with ``kind="hnsw"``). ``use_gpu``:
    None = when faiss has a GPU (flat and IVF move there; HNSW stays on the CPU)."""
    import faiss

    x = np.ascontiguousarray(emb, dtype=np.float32)
    n, d = x.shape
    if kind == "auto":
        kind = "flat" if n <= exact_max else "ivf"
    t = time.perf_counter()
    info = IndexInfo(kind, n, d)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = ef_search
        info.ef_search = ef_search
    elif kind == "ivf":
        nlist, default_probe = ivf_params(n)
        quant = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quant, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = x if n <= nlist * 256 else x[rng.choice(n, nlist * 256, replace=False)]
        index.train(sample)
        index.nprobe = nprobe or default_probe
        info.nlist, info.nprobe = nlist, index.nprobe
    else:
        raise ValueError(f"unknown index kind {kind!r}: auto, flat, ivf or hnsw")
    gpus = _gpu_count(faiss)
    if (use_gpu is None and gpus and kind != "hnsw") or (use_gpu and gpus):
        index = faiss.index_cpu_to_all_gpus(index)
        info.gpu = True
    index.add(x)
    info.build_s = round(time.perf_counter() - t, 3)
    return index, info


def search(index: Any, queries: np.ndarray, k: int, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the ``k`` best rows per query, best first; ids -1 where fewer exist."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    k = min(k, index.ntotal)
    scores = np.empty((len(q), k), dtype=np.float32)
    ids = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), batch):
        scores[s : s + batch], ids[s : s + batch] = index.search(q[s : s + batch], k)
    return scores, ids


def recall_at_k(exact_ids: np.ndarray, approx_ids: np.ndarray, k: int) -> float:
    """Mean fraction of the exact top ``k`` that the approximate top ``k`` found."""
    hits = 0
    for e, a in zip(exact_ids[:, :k], approx_ids[:, :k], strict=True):
        hits += len(set(e.tolist()) & set(a.tolist()))
    return hits / (len(exact_ids) * k)


def clustered_vectors(
    n: int, dim: int = 384, clusters: int = 500, spread: float = 0.8, seed: int = 0
) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres (noise of norm ~``spread``; 0.8 puts two vectors of one
    topic at cosine ~0.6, like sentence embeddings of related passages): a stand-in for a corpus's embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)).astype(np.float32) * (spread / math.sqrt(dim))
    x = centres[rng.integers(0, clusters, n)] + noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def queries_near(corpus: np.ndarray, m: int, noise: float = 0.6, seed: int = 1) -> np.ndarray:
    """``m`` query vectors, each a corpus vector moved by noise of norm ~``noise`` (a question near its answer)."""
    rng = np.random.default_rng(seed)
    base = corpus[rng.choice(len(corpus), m, replace=False)]
    q = base + rng.standard_normal(base.shape).astype(np.float32) * (noise / math.sqrt(corpus.shape[1]))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def measure_recall(
    corpus: np.ndarray, queries: np.ndarray, *, k: int = 10, kinds: tuple[str, ...] = ("ivf", "hnsw")
) -> dict[str, Any]:
    """Recall@k of each approximate kind against exact search, with build and search seconds."""
    out: dict[str, Any] = {"n": int(len(corpus)), "queries": int(len(queries)), "k": k}
    flat, _ = build_index(corpus, kind="flat", use_gpu=False)
    t = time.perf_counter()
    _, exact = search(flat, queries, k)
    out["flat"] = {"search_s": round(time.perf_counter() - t, 3)}
    for kind in kinds:
        idx, info = build_index(corpus, kind=kind, use_gpu=False)  # type: ignore[arg-type]
        t = time.perf_counter()
        _, got = search(idx, queries, k)
        out[kind] = {
            "recall@k": round(recall_at_k(exact, got, k), 4),
            "build_s": info.build_s,
            "search_s": round(time.perf_counter() - t, 3),
            "nlist": info.nlist,
            "nprobe": info.nprobe,
            "ef_search": info.ef_search,
        }
    return out
