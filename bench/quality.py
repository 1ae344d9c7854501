"""Quality benchmark: the whole pipeline offline, base vs tuned nDCG@10 with a paired-bootstrap 95% CI.

(a) samples: the shipped sample documents per language; pairs are generated offline, split by document, and the
    tuned model is scored on the held-out documents' pairs (synthetic queries on unseen documents).
(b) debian:  the Debian FAQ answer sections are the knowledge base (JSONL export); pairs are generated offline
    from that corpus only, and both models are scored on the FAQ's REAL questions (golden.*.jsonl).

Usage: HF_HUB_OFFLINE=1 python bench/quality.py [--only debian|samples] [--lang en|zh] [--epochs N]
Writes bench/quality-<setup>-<lang>.json and its section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEBIAN = REPO.parent / "shared" / "benchmarks" / "debian-faq"
SAMPLES = {
    "en": [REPO / "samples/en/R-FAQ.pdf", REPO / "samples/en/R-data.pdf", REPO / "samples/en/fhs-3.0.pdf"],
    "zh": [
        REPO / "samples/zh/food-safety-law.md",
        REPO / "samples/zh/securities-law.md",
        REPO / "samples/zh/ctex-faq.pdf",
    ],
}
START, END = "<!-- quality:start -->", "<!-- quality:end -->"


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def run_setup(setup: str, lang: str, work: Path, epochs: int | None, seed: int | None = None) -> dict:
    from bgetune.pipeline import run_pipeline
    from bgetune.tools.evaluation import evaluate_golden
    from bgetune.tools.training import TrainConfig

    ws_dir = work / f"{setup}-{lang}"
    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    docs = [DEBIAN / f"corpus.{lang}.jsonl"] if setup == "debian" else SAMPLES[lang]
    cfg = TrainConfig(
        base_model="bundled",
        **({"epochs": epochs} if epochs else {}),
        **({"seed": seed} if seed is not None else {}),
    )
    t0 = time.time()
    res = run_pipeline(docs, workspace=ws_dir, base_model="bundled", yes=True, train_config=cfg, log=log)
    out = {
        "setup": setup,
        "lang": lang,
        "documents": [d.name for d in docs],
        "generation_mode": res.get("generation_mode"),
        "pairs": res["pairs"],
        "split": res["stages"].get("split"),
        "mine": res["stages"].get("mine"),
        "train": res["stages"].get("train"),
        "heldout": {"queries": res["eval_queries"], "metrics": res["metrics"], "ci": res["ci"]},
        "threshold": res["threshold"],
        "calibration": res["stages"].get("calibrate"),
        "model_dir": res["model_dir"],
        "pipeline_seconds": round(time.time() - t0, 1),
        "train_seed": cfg.seed,
    }
    if setup == "debian":
        log("scoring the real questions")
        g = evaluate_golden(
            res["model_dir"], DEBIAN / f"corpus.{lang}.jsonl", DEBIAN / f"golden.{lang}.jsonl", base="bundled"
        )
        out["real_questions"] = {
            "queries": g["queries"],
            "metrics": g["metrics"],
            "ci": g["ci"],
            "unmatched": len(g["unmatched"]),
            "leaked": golden_overlap(ws_dir, DEBIAN / f"golden.{lang}.jsonl"),
        }
    out["seconds"] = round(time.time() - t0, 1)
    return out


def golden_overlap(ws_dir: Path, golden: Path) -> dict:
    """Kept generated pairs whose query IS a real question (the corpus quotes some of its own question titles in
    cross-references): by split, so a reader can see none was trained on."""
    import re

    from bgetune.workspace import Workspace

    def norm(s: str) -> str:
        return re.sub(r"[\W_]+", "", s.lower())

    real = {norm(json.loads(line)["query"]) for line in golden.read_text().splitlines() if line.strip()}
    rows = Workspace(ws_dir).query("SELECT query, split FROM pairs WHERE status IN ('approved', 'edited')")
    hits = [{"query": r["query"], "split": r["split"]} for r in rows if norm(r["query"]) in real]
    return {"pairs_equal_to_a_real_question": hits, "in_train": sum(1 for h in hits if h["split"] == "train")}


def fmt_row(name: str, n: int, m: dict, ci: dict | None) -> str:
    b, t = m["base"]["ndcg@10"], m["tuned"]["ndcg@10"]
    c = f"{ci['diff']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else "-"
    verdict = (
        "better" if ci and ci["low"] > 0 else "worse" if ci and ci["high"] < 0 else "no significant change"
    )
    return (
        f"| {name} | {n} | {b:.3f} | {t:.3f} | {c} | {m['base']['hit@1']:.3f} -> {m['tuned']['hit@1']:.3f} "
        f"| {m['base']['recall@10']:.3f} -> {m['tuned']['recall@10']:.3f} | {verdict} |"
    )


def write_section(results: list[dict]) -> str:
    lines = [
        START,
        "## Retrieval quality (bench/quality.py)",
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d')} on {platform.machine()} CPU "
        f"({os.cpu_count()} cores, shared), torch CPU, offline: base = bundled all-MiniLM-L6-v2 (no BGE weights "
        "reachable here), pairs from the offline generator, every kept pair approved, default TrainConfig unless "
        "noted. nDCG@10 gain with its paired-bootstrap 95% CI (1000 resamples over queries).",
        "",
        "| set | queries | base nDCG@10 | tuned nDCG@10 | gain [95% CI] | hit@1 | recall@10 | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["setup"] == "debian":
            rq = r["real_questions"]
            lines.append(
                fmt_row(f"Debian FAQ {r['lang']}, REAL questions", rq["queries"], rq["metrics"], rq["ci"])
            )
        h = r["heldout"]
        label = "Debian FAQ" if r["setup"] == "debian" else "samples"
        lines.append(
            fmt_row(
                f"{label} {r['lang']}, held-out docs (synthetic queries)", h["queries"], h["metrics"], h["ci"]
            )
        )
    lines += ["", "Runs:", ""]
    for r in results:
        tr = r.get("train") or {}
        lines.append(
            f"- {r['setup']} {r['lang']}: {', '.join(r['documents'])}; pairs kept {r['pairs']['kept']}, rejected "
            f"{r['pairs']['rejected']}; train steps {tr.get('steps')}; threshold {r['threshold']:.3f}; "
            f"whole run {r['seconds']:.0f} s"
        )
    lines += [
        "",
        "Reproduce: `HF_HUB_OFFLINE=1 python bench/quality.py` (JSON per run in bench/quality-*.json).",
        END,
    ]
    return "\n".join(lines)


def update_results(section: str) -> None:
    path = REPO / "bench" / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    if "--history" in sys.argv:  # real question history protocol (issue 15): bench/history_quality.py
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from history_quality import main as history_main

        return history_main([a for a in sys.argv[1:] if a != "--history"])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["debian", "samples"])
    ap.add_argument("--lang", choices=["en", "zh"])
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bgetune-quality"))
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument(
        "--seed",
        type=int,
        help="training seed (default TrainConfig's); writes bench/seeds/quality-<setup>-<lang>-seed<N>.json only",
    )
    args = ap.parse_args()
    setups = [s for s in ("debian", "samples") if args.only in (None, s)]
    langs = [x for x in ("en", "zh") if args.lang in (None, x)]
    results = []
    for setup in setups:
        for lang in langs:
            log(f"== {setup} {lang}")
            r = run_setup(setup, lang, args.work, args.epochs, args.seed)
            out = REPO / "bench" / f"quality-{setup}-{lang}.json"
            if args.seed is not None:
                out = REPO / "bench" / "seeds" / f"quality-{setup}-{lang}-seed{args.seed}.json"
                out.parent.mkdir(exist_ok=True)
            out.write_text(json.dumps(r, indent=2, ensure_ascii=False))
            results.append(r)
            log(json.dumps({k: r[k] for k in ("heldout", "real_questions") if k in r}, ensure_ascii=False))
    if args.seed is not None:
        return  # a robustness run: its JSON only
    # keep earlier runs of the other setups in the table
    have = {(r["setup"], r["lang"]) for r in results}
    for f in sorted((REPO / "bench").glob("quality-*.json")):
        r = json.loads(f.read_text())
        if (r["setup"], r["lang"]) not in have:
            results.append(r)
    results.sort(key=lambda r: (r["setup"], r["lang"]))
    section = write_section(results)
    print(section)
    if not args.no_write:
        update_results(section)


if __name__ == "__main__":
    main()
