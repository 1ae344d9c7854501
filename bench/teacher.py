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
    """(name, corpus.jsonl, golden.jsonl) for each real-question set: the suite's (bench/suite/sets, answers +
    distractors), else the Debian FAQ fixture in ../shared."""
    suite = REPO / "bench" / "suite" / "sets"
    out = (
        [
            (d.name, d / "corpus.jsonl", d / "golden.jsonl")
            for d in sorted(suite.iterdir())
            if (d / "corpus.jsonl").exists() and (d / "golden.jsonl").exists()
        ]
        if suite.exists()
        else []
    )
    if not out:
        out = [
            (f"debian-faq-{lang}", DEBIAN / f"corpus.{lang}.jsonl", DEBIAN / f"golden.{lang}.jsonl")
            for lang in ("en", "zh")
        ]
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
    out = {
        "set": name,
        "queries": len(qs),
        "corpus": len(index.ids),
        "base_ndcg@10": round(float(np.mean(base_l)), 4),
        "fusion": [],
    }
    for w in weights:
        full = DenseFusionTeacher(index, weight=w).rank_corpus(qs)
        tl = [ndcg10([index.ids[j] for j in np.argsort(-full[i])[:10]], pos[i]) for i in range(len(qs))]
        ci = paired_bootstrap(base_l, tl, n_resamples=2000, seed=0)
        out["fusion"].append(
            {
                "weight": w,
                "ndcg@10": round(float(np.mean(tl)), 4),
                "gain": round(ci["diff"], 4),
                "low": round(ci["low"], 4),
                "high": round(ci["high"], 4),
            }
        )
    bm = DenseFusionTeacher(index, weight=1.0).rank_corpus(qs)
    bl = [ndcg10([index.ids[j] for j in np.argsort(-bm[i])[:10]], pos[i]) for i in range(len(qs))]
    out["bm25_alone_ndcg@10"] = round(float(np.mean(bl)), 4)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def main() -> None:
    if "--ablation" in sys.argv:
        return ablation_main(sys.argv[1:])
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


# ---------------------------------------------------------------------------------------------- ablation
SUITE = REPO / "bench" / "suite" / "sets"
ABLATION = {  # the variants of bench/quality.py's VARIANTS, as train settings
    "contrastive": {"objective": "contrastive"},
    "distill": {"objective": "distill", "teacher": "fusion", "teacher_false_negatives": False},
    "distill+fn": {"objective": "distill", "teacher": "fusion", "teacher_false_negatives": True},
    "distill+fn+reg": {
        "objective": "distill",
        "teacher": "fusion",
        "teacher_false_negatives": True,
        "base_weight": 0.5,
    },
}
PREP_STAGES = (
    "ingest",
    "generate_pairs",
    "filter_pairs",
    "approve_all_pairs",
    "split_dataset",
    "mine_negatives",
)


def _ctx(ws_dir: Path):
    import bgetune.capabilities as caps
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace

    ws = Workspace(ws_dir)
    ws.set_setting("base_model", "bundled")
    return caps, caps.Context(
        ws=ws, settings=Settings(workspace=ws_dir, base_model="bundled"), files=None, lang="en"
    )


def prepare(name: str, work: Path) -> Path:
    """The set's workspace up to mined negatives (offline generator, every kept pair approved), built once."""
    ws_dir = work / f"{name}.prep"
    if (ws_dir / "PREPARED").exists():
        return ws_dir
    import shutil

    shutil.rmtree(ws_dir, ignore_errors=True)
    ws_dir.mkdir(parents=True)
    caps, ctx = _ctx(ws_dir)
    for stage in PREP_STAGES:
        values = {"paths": [str(SUITE / name / "corpus.jsonl")]} if stage == "ingest" else {}
        print(f"{time.strftime('%H:%M:%S')} {name}: {stage}", flush=True)
        caps.invoke(stage, values, ctx, approved=True)
    ctx.ws.close()
    (ws_dir / "PREPARED").write_text("ok\n")
    return ws_dir


def ablate(name: str, variant: str, work: Path, max_steps: int, candidates: int) -> dict:
    import shutil

    import numpy as np

    sys.path.insert(0, str(REPO / "bench" / "suite"))
    import runner  # type: ignore

    from bgetune.tools.evaluation import paired_bootstrap

    out_path = work / f"{name}.{variant}.s{max_steps}.c{candidates}.json"
    if out_path.exists():
        return json.loads(out_path.read_text())
    prep = prepare(name, work)
    ws_dir = work / f"{name}.{variant}"
    shutil.rmtree(ws_dir, ignore_errors=True)
    shutil.copytree(prep, ws_dir)
    caps, ctx = _ctx(ws_dir)
    values = {"base_model": "bundled", "max_steps": max_steps, "epochs": 1} | ABLATION[variant]
    if variant != "contrastive":
        values["distill_candidates"] = candidates
    t0 = time.time()
    cfg_values = dict(values)
    from bgetune.tools.training import TrainConfig, train

    res = train(ctx.ws, TrainConfig(**cfg_values))
    rows = load_jsonl(SUITE / name / "golden.jsonl")
    base = runner.per_query_ndcg("bundled", SUITE / name / "corpus.jsonl", rows)
    shipped = runner.per_query_ndcg(res["model_dir"], SUITE / name / "corpus.jsonl", rows)
    tuned_dir = res.get("tuned_model_dir") or res["model_dir"]
    tuned = runner.per_query_ndcg(tuned_dir, SUITE / name / "corpus.jsonl", rows)
    d = res.get("decision") or {}
    best = next((c for c in d.get("candidates", []) if c["name"] == d.get("best")), {})
    out = {
        "set": name,
        "variant": variant,
        "max_steps": max_steps,
        "distill_candidates": candidates if variant != "contrastive" else None,
        "queries": len(rows),
        "base": round(float(np.mean(base)), 4),
        "shipped": round(float(np.mean(shipped)), 4),
        "shipped_ci": paired_bootstrap(base, shipped, n_resamples=2000, seed=0),
        "tuned": round(float(np.mean(tuned)), 4),
        "tuned_ci": paired_bootstrap(base, tuned, n_resamples=2000, seed=0),
        "decision": {
            "ship": d.get("ship"),
            "shipped": d.get("shipped"),
            "evidence": d.get("evidence"),
            "best": d.get("best"),
            "synthetic_gain": best.get("gain"),
            "low": best.get("low"),
            "high": best.get("high"),
            "queries": d.get("queries"),
        },
        "teacher": res.get("teacher"),
        "objective": res.get("objective"),
        "false_negatives": (res.get("objective") or {}).get("teacher_false_negatives"),
        "pairs": res.get("pairs"),
        "steps": res.get("steps"),
        "train_seconds": res.get("seconds"),
        "seconds": round(time.time() - t0, 1),
    }
    out_path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    ctx.ws.close()
    shutil.rmtree(ws_dir / "artifacts" / "runs", ignore_errors=True)
    return out


def ablation_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--sets", default="debian-faq-zh,debian-faq-en")
    ap.add_argument("--variants", default="contrastive,distill+fn,distill+fn+reg,distill")
    ap.add_argument("--max-steps", type=int, default=40)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bgetune-teacher-ablation"))
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    for v in args.variants.split(","):  # variant-major: every set gets the most important variants first
        for s in args.sets.split(","):
            r = ablate(s, v, args.work, args.max_steps, args.candidates)
            print(
                json.dumps({k: r[k] for k in ("set", "variant", "base", "shipped", "tuned", "seconds")}),
                flush=True,
            )


if __name__ == "__main__":
    main()
