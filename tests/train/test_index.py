"""Approximate nearest-neighbour search past the exact size (tools/index.py), checked against exact search."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faiss")

from bgetune.tools.index import (  # noqa: E402
    build_index,
    clustered_vectors,
    ivf_params,
    measure_recall,
    queries_near,
    recall_at_k,
    search,
)


def test_auto_is_exact_up_to_the_limit_and_ivf_past_it():
    x = clustered_vectors(3000, dim=64, clusters=60, seed=3)
    _, small = build_index(x, exact_max=5000)
    _, big = build_index(x, exact_max=1000)
    assert small.kind == "flat" and big.kind == "ivf"
    assert big.nlist == ivf_params(3000)[0] and 1 <= big.nprobe <= big.nlist


def test_exact_index_finds_each_vector_first():
    x = clustered_vectors(500, dim=32, clusters=20, seed=4)
    idx, _ = build_index(x, kind="flat")
    scores, ids = search(idx, x[:50], 5)
    assert ids[:, 0].tolist() == list(range(50))
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_against_exact(kind):
    x = clustered_vectors(6000, dim=64, clusters=120, seed=5)
    q = queries_near(x, 200, seed=6)
    res = measure_recall(x, q, k=10, kinds=(kind,))
    assert res[kind]["recall@k"] >= 0.9


def test_recall_counts_overlap():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approx = np.array([[3, 2, 9], [4, 5, 6]])
    assert recall_at_k(exact, approx, 3) == pytest.approx(5 / 6)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown index kind"):
        build_index(np.eye(4, dtype=np.float32), kind="lsh")  # type: ignore[arg-type]
