"""The offline teacher's own ranking quality on real-question sets (no training): base vs fused base + BM25.

For each set: the bundled base model's nDCG@10 over the whole corpus, and the per-query z-scored fusion of its
cosine with stemmed BM25 (bgetune.tools.teacher.DenseFusionTeacher) at several BM25 weights, with paired-bootstrap
95% CIs of the gain. Sets: the Debian FAQ (en, zh) and, when bench/quality.py lists more, those too.

Usage: HF_HUB_OFFLINE=1 nice -n 5 python bench/teacher.py [--weights 0.1,0.15,0.2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEBIAN = REPO.parent / "shared" / "benchmarks" / "debian-faq"


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def bench_sets() -> list[tuple[str, Path, Path]]:
    """(name, corpus.jsonl, golden.jsonl) for each real-question set found."""
    out = [(f"debian-faq-{lang}", DEBIAN / f"corpus.{lang}.jsonl", DEBIAN / f"golden.{lang}.jsonl")
           for lang in ("en", "zh")]
    try:  # the suite's registry, when it exists
        sys.path.insert(0, str(REPO / "bench"))
        import quality  # type: ignore

        for s in getattr(quality, "SUITE_SETS", []) or []:
            name, corpus, golden = s["name"], Path(s["corpus"]), Path(s["golden"])
            if name not in {n for n, _, _ in out} and corpus.exists() and golden.exists():
                out.append((name, corpus, golden))
    except Exception:
        pass
    return out


def measure(name: str, corpus_path: Path, golden_path: Path, weights: list[float]) -> dict:
    import numpy as np

    from bgetune.core.models import load_model, resolve_base_model
    from bgetune.tools.evaluation import paired_bootstrap
    from bgetune.tools.teacher import CorpusIndex, DenseFusionTeacher, ndcg10

    corpus = load_jsonl(corpus_path)
    golden = load_jsonl(golden_path)
    model = load_model(resolve_base_model("bundled"), device="cpu")
    t0 = time.time()
    index = CorpusIndex.for_texts([str(c["id"]) for c in corpus], [c["text"] for c in corpus], model)
    qs = [g["query"] for g in golden]
    pos = [set(map(str, g.get("pos_ids") or [])) for g in golden]
    keep = [i for i, p in enumerate(pos) if p & set(index.ids)]
    qs, pos = [qs[i] for i in keep], [pos[i] for i in keep]
    base = DenseFusionTeacher(index, weight=0.0).rank_corpus(qs)
    base_l = [ndcg10([index.ids[j] for j in np.argsort(-base[i])[:10]], pos[i]) for i in range(len(qs))]
    out = {"set": name, "queries": len(qs), "corpus": len(index.ids), "base_ndcg@10": round(float(np.mean(base_l)), 4),
           "fusion": []}
    for w in weights:
        full = DenseFusionTeacher(index, weight=w).rank_corpus(qs)
        tl = [ndcg10([index.ids[j] for j in np.argsort(-full[i])[:10]], pos[i]) for i in range(len(qs))]
        ci = paired_bootstrap(base_l, tl, n_resamples=2000, seed=0)
        out["fusion"].append({"weight": w, "ndcg@10": round(float(np.mean(tl)), 4), "gain": round(ci["diff"], 4),
                              "low": round(ci["low"], 4), "high": round(ci["high"], 4)})
    bm = DenseFusionTeacher(index, weight=1.0).rank_corpus(qs)
    bl = [ndcg10([index.ids[j] for j in np.argsort(-bm[i])[:10]], pos[i]) for i in range(len(qs))]
    out["bm25_alone_ndcg@10"] = round(float(np.mean(bl)), 4)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="0.1,0.15,0.2,0.3")
    ap.add_argument("--json", default=str(REPO / "bench" / "teacher-offline.json"))
    ap.add_argument("--only", default=None, help="comma-separated set names")
    args = ap.parse_args()
    weights = [float(x) for x in args.weights.split(",")]
    results = []
    for name, corpus, golden in bench_sets():
        if args.only and name not in args.only.split(","):
            continue
        r = measure(name, corpus, golden, weights)
        print(json.dumps(r), flush=True)
        results.append(r)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
