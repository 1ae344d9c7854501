"""The offline teacher's own ranking quality on real-question sets (no training): base vs fused base + BM25.

For each set: the bundled base model's nDCG@10 over the whole corpus, and the per-query z-scored fusion of its
cosine with stemmed BM25 (bgetune.tools.teacher.DenseFusionTeacher) at several BM25 weights, with paired-bootstrap
95% CIs of the gain. Sets: the Debian FAQ (en, zh) and, when bench/quality.py lists more, those too.

Usage: HF_HUB_OFFLINE=1 nice -n 5 python bench/teacher.py [--weights 0.1,0.15,0.2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _common import DEBIAN, REPO, measured_on, replace_section  # the offline preamble (bench/_common.py)


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
    if "--report" in sys.argv:
        work = Path("/tmp/bgetune-teacher-ablation")
        return write_report(report(work, REPO / "bench" / "teacher-offline.json"))
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
    values = {
        "base_model": "bundled",
        "max_steps": max_steps,
        "epochs": 1,
        "max_passage_len": 256,
    } | ABLATION[variant]
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


# ---------------------------------------------------------------------------------------------- report
TSTART, TEND = "<!-- teacher:start -->", "<!-- teacher:end -->"
NOTES = [
    "Findings:",
    "",
    "- The offline teacher (fusion at the default BM25 weight 0.15) ranks above the bundled base on 6 of the 7 "
    "real-question sets, with a CI above zero on 3 (debian-faq-en +0.033, debian-faq-zh +0.125, ctex-faq +0.233); "
    "r-faq +0.037, python-faq +0.008 and sqlite-faq +0.014 are within the noise, and git-faq (20 questions) is "
    "-0.005. Offline headroom exists, small on English sets where the base is strong, large where it is weak.",
    "- On Chinese the bundled (English) base barely reads the text and BM25 alone beats it (0.69 vs 0.25 on "
    "ctex-faq); the fused teacher keeps rising up to weight 0.3 there, while English peaks at 0.15-0.2. One weight "
    "for both leaves most of the Chinese headroom unused; a per-language weight (or one chosen on the golden set) "
    "is the obvious next step, not done here.",
    "- The teacher check before training runs on golden questions when the workspace has >= 20, else on the "
    "held-out documents' generated queries; the offline generator copies words from the passage, so that fallback "
    "flatters BM25 and the check is weaker there (said in the check's reason).",
    "- Ablation: only the runs in the table finished in this session (one training run took 45-55 min on the "
    "shared CPU at load 15-20); distill+fn on debian-faq-zh and every debian-faq-en run were still running at the "
    "deadline. The default objective stays `contrastive` (today's): no distillation variant has a finished run, "
    "and the issue's rule (never below base on any set, best pooled gain) needs them on every set.",
    "- Ship decision without real questions (protocol (a)): on debian-faq-zh contrastive, the generated held-out "
    "queries said +0.239 [+0.174, +0.308]; the new rule also asks the offline teacher's judgement of those "
    "queries, which did not confirm it, so the base was kept, while the real questions show the trained model "
    "+0.095 [+0.049, +0.142] better. The verdict is safe (it kept the base; the issue's rule allows that) but "
    "lost a real gain here: the judged rule is conservative, and needs the bench across sets to tune.",
]


def report(work: Path, offline_json: Path) -> str:
    lines = [
        TSTART,
        "## Teacher-guided training (issue 25; bench/teacher.py)",
        "",
        f"{measured_on()}shared by six agents), bundled all-MiniLM-L6-v2 base, offline generator, nDCG@10 on each set's REAL "
        "questions with paired-bootstrap 95% CIs (2000 resamples).",
        "",
        "### The offline teacher's own ranking (no training)",
        "",
        "Per-query z-scored fusion of the base model's cosine with stemmed BM25 (bm25s + PyStemmer; jieba words "
        "for Chinese), whole corpus ranked, vs the base alone. Gain [95% CI] per BM25 weight.",
        "",
    ]
    if offline_json.exists():
        rows = json.loads(offline_json.read_text())
        ws_ = [f["weight"] for f in rows[0]["fusion"]] if rows else []
        lines += [
            "| set | queries | passages | base | "
            + " | ".join(f"fusion w={w:g}" for w in ws_)
            + " | BM25 alone |",
            "|---|---|---|---|" + "---|" * len(ws_) + "---|",
        ]
        for r in rows:
            cells = [
                f"{f['ndcg@10']:.3f} ({f['gain']:+.3f} [{f['low']:+.3f}, {f['high']:+.3f}])"
                for f in r["fusion"]
            ]
            lines.append(
                f"| {r['set']} | {r['queries']} | {r['corpus']} | {r['base_ndcg@10']:.3f} | "
                + " | ".join(cells)
                + f" | {r['bm25_alone_ndcg@10']:.3f} |"
            )
        lines.append("")
    runs = [json.loads(f.read_text()) for f in sorted(work.glob("*.json"))] if work.exists() else []
    if runs:
        lines += [
            "### Ablation (reduced budget: the same prepared workspace per set, 1 epoch (at most "
            f"{runs[0]['max_steps']} steps) of 32 pairs, passages cut at 256 tokens, 4 distilled candidates per "
            "query, fusion teacher at BM25 weight 0.15)",
            "",
            "`shipped` = what the ship decision shipped (no golden set: protocol (a); evidence = generated "
            "held-out queries, plus the teacher's judgement where the code had it); `tuned` = the trained weights "
            "before the decision. `synthetic` = the decision's gain on the generated held-out queries; the gap "
            "is synthetic minus real (tuned).",
            "",
            "| set | variant | base | tuned (gain [95% CI]) | shipped (gain [95% CI]) | decision | synthetic gain "
            "| synthetic - real gap | train s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            tc, sc, d = r["tuned_ci"], r["shipped_ci"], r["decision"]
            syn = d.get("synthetic_gain")
            gap = f"{syn - tc['diff']:+.3f}" if syn is not None else "-"
            lines.append(
                f"| {r['set']} | {r['variant']} | {r['base']:.3f} | {r['tuned']:.3f} ({tc['diff']:+.3f} "
                f"[{tc['low']:+.3f}, {tc['high']:+.3f}]) | {r['shipped']:.3f} ({sc['diff']:+.3f} "
                f"[{sc['low']:+.3f}, {sc['high']:+.3f}]) | {'ship ' + str(d.get('best')) if d.get('ship') else 'base kept'} "
                f"| {'-' if syn is None else f'{syn:+.3f}'} | {gap} | {r.get('train_seconds')} |"
            )
        lines.append("")
    lines += NOTES + [
        "",
        "Reproduce: `nice -n 5 python bench/teacher.py` (offline teacher, JSON in bench/teacher-offline.json); "
        "`nice -n 5 python bench/teacher.py --ablation [--sets A,B] [--variants ...] [--max-steps N]` "
        "(JSON per run in the --work folder, /tmp/bgetune-teacher-ablation); `python bench/teacher.py --report` "
        "rewrites this section. The same variants run the full pipeline in `python bench/quality.py --suite "
        "--variant contrastive|distill|distill+fn|distill+fn+reg`.",
        TEND,
    ]
    return "\n".join(lines)


def write_report(section: str) -> None:
    replace_section(section, TSTART, TEND)


if __name__ == "__main__":
    main()
