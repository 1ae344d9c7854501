"""The offline teacher's scoring cost as the corpus grows: its per-query cosine mean and spread from the corpus
moments (bgetune.tools.teacher.CorpusIndex.cosine_moments, O(d^2) a query) against the pass over every chunk it
replaced (O(corpus) a query), on the same random unit vectors (d 384, the bundled model's width), in one run.

  python bench/teacher_scale.py [--sizes 4000 16000 64000] [--queries 500] [--json out.json]

Prints, per corpus size, seconds for the one-off moments, for scoring ``--queries`` queries x 8 candidates both
ways, their ratios (scoring alone, and with the moments), and the largest difference between the two scores (they
must agree).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import log  # the offline preamble (bench/_common.py)

from bgetune.tools.teacher import CorpusIndex, DenseFusionTeacher


class _Index(CorpusIndex):
    """A CorpusIndex over given vectors (no model, no BM25): what the base-only teacher reads."""

    def __init__(self, emb: np.ndarray, q_emb: np.ndarray) -> None:  # no workspace, no encoding
        self.emb, self._q = emb, q_emb
        self.ids = [f"c{i}" for i in range(len(emb))]
        self.pos = {c: i for i, c in enumerate(self.ids)}
        self.fingerprint, self.corpus_digest, self.model = "bench", "bench", None

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        return self._q[: len(queries)]


def reference(
    ix: _Index, q_emb: np.ndarray, items: list[tuple[str, list[tuple[str, str]]]]
) -> list[list[float]]:
    """The earlier way: each query's cosine with every chunk, then its mean and spread."""
    out = []
    for qi, (_, ps) in enumerate(items):
        cos = ix.emb @ q_emb[qi]
        mu, sd = float(cos.mean()), float(cos.std())
        out.append([mu + sd * ((float(cos[ix.pos[k]]) - mu) / sd) for k, _ in ps])
    return out


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32) + 0.3  # a shared direction, as real embeddings have
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", type=int, default=[4000, 16000, 64000])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for n in a.sizes:
        emb, q_emb = unit(rng, n, 384), unit(rng, a.queries, 384)
        ix = _Index(emb, q_emb)
        items = [
            (f"q{i}", [(f"c{j}", "") for j in rng.choice(n, 8, replace=False)]) for i in range(a.queries)
        ]
        teacher = DenseFusionTeacher(ix, weight=0.0)
        t0 = time.perf_counter()
        ix.cosine_moments(q_emb[:1])  # the one-off d x d moments of the corpus
        t1 = time.perf_counter()
        new = teacher.score(items)
        t2 = time.perf_counter()
        old = reference(ix, q_emb, items)
        t3 = time.perf_counter()
        diff = float(np.max(np.abs(np.asarray(new) - np.asarray(old))))
        row = {
            "chunks": n,
            "queries": a.queries,
            "moments_once_s": round(t1 - t0, 3),
            "scoring_s": round(t2 - t1, 3),
            "every_chunk_s": round(t3 - t2, 3),
            "ratio_scoring": round((t3 - t2) / (t2 - t1), 1),
            "ratio_with_moments": round((t3 - t2) / (t2 - t0), 1),
            "max_abs_diff": diff,
        }
        log(str(row))
        rows.append(row)
    if a.json:
        from pathlib import Path

        Path(a.json).write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
