"""Quality benchmark: the whole pipeline offline, base vs tuned nDCG@10 with a paired-bootstrap 95% CI.

(a) samples: the shipped sample documents per language; pairs are generated offline, split by document, and the
    tuned model is scored on the held-out documents' pairs (synthetic queries on unseen documents).
(b) debian:  the Debian FAQ answer sections are the knowledge base (JSONL export); pairs are generated offline
    from that corpus only, and both models are scored on the FAQ's REAL questions (golden.*.jsonl).

Usage: HF_HUB_OFFLINE=1 python bench/quality.py [--only debian|samples] [--lang en|zh] [--epochs N]
       python bench/quality.py --suite [--only SET ...] [--variant NAME] [--seeds N]   (real-question bench)
       python bench/quality.py --list --json                                           (its built sets)
Writes bench/quality-<setup>-<lang>.json and its section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from _common import DEBIAN, REPO, log, measured_on, replace_section  # the offline preamble (bench/_common.py)

SAMPLES = {
    "en": [REPO / "samples/en/R-FAQ.pdf", REPO / "samples/en/R-data.pdf", REPO / "samples/en/fhs-3.0.pdf"],
    "zh": [
        REPO / "samples/zh/food-safety-law.md",
        REPO / "samples/zh/securities-law.md",
        REPO / "samples/zh/ctex-faq.pdf",
    ],
}
# Variants of the real-question bench (`--suite --variant NAME`, issue 20): a variant is a dict of capability
# settings overrides, {capability name: {setting: value}}, applied through each capability's make_options (so
# only declared settings are accepted). Add yours here, e.g. "teacher": {"train": {...}}, "styled": {...}.
VARIANTS: dict[str, dict[str, dict]] = {
    "default": {},  # today's defaults, what a new user gets
    # issue 24: real questions (the stored golden set, protocol b) set the style of generated queries, or not
    "styled": {"generate_pairs": {"style": True}},
    "unstyled": {"generate_pairs": {"style": False}},
    # the same with an LLM writing the queries (BGETUNE_LLM_BASE_URL: any OpenAI-compatible server; the local
    # llama.cpp server here). On a 2-core CPU: 60 topic-diverse chunks (max_chunks), judge pass off
    "llm-styled": {"generate_pairs": {"mode": "llm", "style": True, "judge": False, "max_chunks": 60}},
    "llm-unstyled": {"generate_pairs": {"mode": "llm", "style": False, "judge": False, "max_chunks": 60}},
    # both together: the offline generator over every chunk, then the LLM over 60 topic-diverse chunks (a list: the
    # stage runs once per entry; each generator keeps its own pairs, and the filter sees them all)
    "both-styled": {
        "generate_pairs": [
            {"mode": "offline", "style": True},
            {"mode": "llm", "style": True, "judge": False, "max_chunks": 60},
        ]
    },
    "both-unstyled": {
        "generate_pairs": [
            {"mode": "offline", "style": False},
            {"mode": "llm", "style": False, "judge": False, "max_chunks": 60},
        ]
    },
    "one-epoch": {"train": {"epochs": 1}},  # a cheap smoke variant
    # new tokens for what the base cannot read (tools/vocab.py): today's default 'auto' vs none (the code before)
    "vocab-auto": {"train": {"extend_vocab": "auto"}},
    "vocab-off": {"train": {"extend_vocab": "off"}},
    "vocab-lr2e-2": {"train": {"extend_vocab": "on", "new_token_lr": 2e-2}},
    # issue 25 ablation: today's contrastive loss / + distillation from the offline teacher (base + BM25 fusion) /
    # + teacher false-negative handling / + a KL-to-base regulariser
    "contrastive": {"train": {"objective": "contrastive"}},
    "distill": {"train": {"objective": "distill", "teacher": "fusion", "teacher_false_negatives": False}},
    "distill+fn": {"train": {"objective": "distill", "teacher": "fusion", "teacher_false_negatives": True}},
    "distill+fn+reg": {
        "train": {
            "objective": "distill",
            "teacher": "fusion",
            "teacher_false_negatives": True,
            "base_weight": 0.5,
        }
    },
}

START, END = "<!-- quality:start -->", "<!-- quality:end -->"
DSTART, DEND = "<!-- decision:start -->", "<!-- decision:end -->"


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


def split_halves(golden: Path, seed: int = 7) -> tuple[list[dict], list[dict]]:
    """The real questions in two disjoint halves (seeded shuffle): the golden set and the report set."""
    import random

    rows = [json.loads(x) for x in golden.read_text().splitlines() if x.strip()]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    half = len(rows) // 2
    return [rows[i] for i in sorted(order[:half])], [rows[i] for i in sorted(order[half:])]


def run_decision(
    lang: str, work: Path, epochs: int | None, seed: int | None = None, reuse: bool = False
) -> dict:
    """Debian FAQ with a golden set built through `bgetune golden add/label` from one half of the real questions;
    the pipeline trains with current defaults and the ship decision picks on that golden set; the other half of
    the real questions scores the base, the shipped model and the best tuned candidate."""
    from typer.testing import CliRunner

    from bgetune.cli import app  # `bgetune golden ...`, derived from the golden capabilities
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.pipeline import run_pipeline
    from bgetune.tools.ingest import ingest
    from bgetune.tools.training import TrainConfig

    ws_dir = work / f"decision-{lang}"
    corpus = DEBIAN / f"corpus.{lang}.jsonl"
    golden_half, report_half = split_halves(DEBIAN / f"golden.{lang}.jsonl")
    if reuse and (ws_dir / "bgetune.sqlite").exists() and Workspace(ws_dir).last_run("train"):
        return _report_decision(lang, ws_dir, corpus, golden_half, report_half, work, time.time(), None)
    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    ws_dir.mkdir(parents=True)
    ws = Workspace(ws_dir)
    ingest(ws, [corpus], settings=Settings(workspace=ws.root))
    # the golden set, built with the CLI a user would type: add the questions, then label each by the FAQ's ids
    cli = CliRunner()
    r = cli.invoke(
        app, ["golden", "add", "-w", str(ws_dir), "--json", "--", *[q["query"] for q in golden_half]]
    )
    assert r.exit_code == 0, r.output
    by_query = {
        q["query"]: q["id"]
        for q in json.loads(cli.invoke(app, ["golden", "list", "-w", str(ws_dir), "--json"]).stdout)[
            "questions"
        ]
    }
    for row in golden_half:
        r = cli.invoke(
            app,
            [
                "golden",
                "label",
                "-w",
                str(ws_dir),
                "--query",
                str(by_query[row["query"].strip()]),
                "--pos",
                ",".join(row["pos_ids"]),
            ],
        )
        assert r.exit_code == 0, r.output
    report_file = work / f"report-half-{lang}.jsonl"
    report_file.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in report_half), encoding="utf-8"
    )
    ws.close()
    cfg = TrainConfig(
        base_model="bundled",
        **({"epochs": epochs} if epochs else {}),
        **({"seed": seed} if seed is not None else {}),
    )
    t0 = time.time()
    res = run_pipeline([corpus], workspace=ws_dir, base_model="bundled", yes=True, train_config=cfg, log=log)
    return _report_decision(lang, ws_dir, corpus, golden_half, report_half, work, t0, res)


def _report_decision(
    lang: str,
    ws_dir: Path,
    corpus: Path,
    golden_half: list[dict],
    report_half: list[dict],
    work: Path,
    t0: float,
    res: dict | None,
) -> dict:
    """The decision's evidence and choice, and base vs shipped on the report half. ``res`` None: a finished
    training run in ``ws_dir`` is reported (a pipeline that died after training, re-run with --reuse)."""
    from bgetune.core.workspace import Workspace
    from bgetune.tools.evaluation import evaluate_golden

    report_file = work / f"report-half-{lang}.jsonl"
    report_file.write_text(
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in report_half), encoding="utf-8"
    )
    if res is None:
        from bgetune.tools.export import export_model

        ws = Workspace(ws_dir)
        tr = ws.last_run("train")["result"]
        kept = ws.scalar("SELECT count(*) FROM pairs WHERE status IN ('proposed','approved','edited')")
        rejected = ws.scalar("SELECT count(*) FROM pairs WHERE status='rejected'")
        res = {
            "pairs": {"kept": kept, "rejected": rejected},
            "stages": {"train": tr, "export": export_model(ws, run_id=tr["run_id"])},
        }
    tr = res["stages"]["train"]
    reused = "run_id" in tr and "train_run" not in res
    dec = tr.get("decision") or {}
    out = {
        "lang": lang,
        "golden_half": len(golden_half),
        "report_half": len(report_half),
        "decision": dec,
        "shipped": tr.get("shipped"),
        "export": {k: v for k, v in res["stages"]["export"].items() if k != "decision"},
        "pairs": res["pairs"],
        "train_steps": tr.get("steps"),
        "train_seconds": tr.get("seconds"),
        "epochs_done": tr.get("epochs_done"),
        "val_best_epoch": tr.get("best_epoch"),
        "train_seed": (tr.get("config") or {}).get("seed"),
        "reused_run": reused,
    }
    log("scoring the other half of the real questions")
    shipped_dir = tr["model_dir"]
    g = evaluate_golden(shipped_dir, corpus, report_file, base="bundled")
    out["report"] = {"queries": g["queries"], "metrics": g["metrics"], "ci": g["ci"]}
    best_dir = tr.get("best_tuned_dir") or tr["model_dir"]
    if best_dir != shipped_dir:  # the base was kept: what shipping the best tuned candidate anyway would give
        g2 = evaluate_golden(best_dir, corpus, report_file, base="bundled")
        out["report_best_tuned"] = {"queries": g2["queries"], "metrics": g2["metrics"], "ci": g2["ci"]}
    # also every candidate the decision saw, scored on the report half, when the run kept their weights
    out["seconds"] = round(time.time() - t0, 1)
    return out


def write_decision_section(results: list[dict]) -> str:
    lines = [
        DSTART,
        "## Ship decision on real questions (bench/quality.py --only decision)",
        "",
        f"{measured_on()}shared). Debian FAQ: the real questions are split in two disjoint halves (seeded); one half becomes the "
        "workspace's golden set through `bgetune golden add` / `bgetune golden label --query ID --pos IDS`, the "
        "pipeline runs with current defaults (offline generator, bundled all-MiniLM-L6-v2), and the ship "
        "decision scores base, each epoch and the WiSE-FT mixes on that golden set (rule: ship only if the "
        "gain's 95% paired-bootstrap CI is above zero). The other half scores base vs the shipped model.",
        "",
        "| lang | evidence (n) | decision | best candidate on golden: gain [95% CI] | other half: n | base "
        "nDCG@10 | shipped nDCG@10 | shipped - base [95% CI] | never below base? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        dec, rep = r["decision"], r["report"]
        best = next((c for c in dec.get("candidates", []) if c["name"] == dec.get("best")), None)
        bc = f"{best['name']}: {best['gain']:+.3f} [{best['low']:+.3f}, {best['high']:+.3f}]" if best else "-"
        ci = rep["ci"]
        b, t = rep["metrics"]["base"]["ndcg@10"], rep["metrics"]["tuned"]["ndcg@10"]
        ok = "yes" if t >= b - 1e-9 else "NO"
        lines.append(
            f"| {r['lang']} | {dec.get('evidence')} ({dec.get('queries')}) | "
            f"{'shipped ' + dec['shipped'] if dec.get('ship') else 'kept the base'} | {bc} | {rep['queries']} | "
            f"{b:.3f} | {t:.3f} | {ci['diff']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}] | {ok} |"
        )
    lines += ["", "Every candidate on the golden half (nDCG@10, gain vs base [95% CI]):", ""]
    for r in results:
        cands = "; ".join(
            f"{c['name']} {c['ndcg']:.3f}"
            + ("" if c["kind"] == "base" else f" ({c['gain']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}])")
            for c in r["decision"].get("candidates", [])
        )
        lines.append(f"- {r['lang']}: {cands}")
        if "report_best_tuned" in r:
            rb = r["report_best_tuned"]
            lines.append(
                f"  - base kept; shipping the best tuned candidate anyway would have scored "
                f"{rb['metrics']['tuned']['ndcg@10']:.3f} on the other half "
                f"({rb['ci']['diff']:+.3f} [{rb['ci']['low']:+.3f}, {rb['ci']['high']:+.3f}])"
            )
        lines.append(
            f"  - pairs kept {r['pairs']['kept']}, train steps {r['train_steps']}, epochs {r['epochs_done']}, "
            f"val picked epoch {r['val_best_epoch']}; "
            + (
                f"training run {tr_secs:.0f} s (reported with --reuse after the pipeline died at calibrate on a "
                "half-committed import in the shared tree)"
                if r.get("reused_run") and (tr_secs := r.get("train_seconds"))
                else f"whole run {r['seconds']:.0f} s"
            )
        )
    lines += [
        "",
        "Reproduce: `nice -n 10 python bench/quality.py --only decision` (JSON in bench/decision-debian-*.json).",
        DEND,
    ]
    return "\n".join(lines)


def golden_overlap(ws_dir: Path, golden: Path) -> dict:
    """Kept generated pairs whose query IS a real question (the corpus quotes some of its own question titles in
    cross-references): by split, so a reader can see none was trained on."""
    import re

    from bgetune.core.workspace import Workspace

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
        f"{measured_on()}shared), torch CPU, offline: base = bundled all-MiniLM-L6-v2 (no BGE weights "
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


def update_results(section: str, start: str = START, end: str = END) -> None:
    replace_section(section, start, end)


def suite_main(argv: list[str]) -> None:
    """`--suite`: the real-question bench (bench/suite/runner.py)."""
    sys.path.insert(0, str(REPO / "bench" / "suite"))
    import runner

    ap = argparse.ArgumentParser(description="real-question bench (issue 20)")
    ap.add_argument("--suite", action="store_true")
    ap.add_argument("--only", action="append", default=[], help="set name (repeatable or comma list)")
    ap.add_argument("--variant", default="default", choices=sorted(VARIANTS))
    ap.add_argument("--seeds", type=int, default=1, help="training seeds 13, 14, ... (default 1)")
    ap.add_argument(
        "--first-seed",
        type=int,
        default=runner.DEFAULT_SEED,
        help="the first training seed (default 13): --first-seed 14 --seeds 1 adds a second seed to stored runs",
    )
    ap.add_argument("--protocol", action="append", default=[], choices=list(runner.PROTOCOLS))
    ap.add_argument("--list", action="store_true", help="list the built sets")
    ap.add_argument("--json", action="store_true", help="with --list: one JSON array")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md or the READMEs")
    ap.add_argument("--report", action="store_true", help="only rebuild the table from the stored run JSONs")
    ap.add_argument(
        "--compare",
        metavar="OTHER",
        help="paired comparison of --variant against OTHER on their stored runs (e.g. --variant styled --compare "
        "unstyled --protocol gold30); prints the table, runs nothing",
    )
    args = ap.parse_args(argv)
    only = [x for a in args.only for x in a.split(",") if x]
    if args.list:
        sets = [s for s in runner.list_sets() if not only or s["name"] in only]
        if args.json:
            print(json.dumps(sets, ensure_ascii=False))
        else:
            for s in sets:
                print(
                    f"{s['name']:16} {s['language']}  {s['questions']:4} questions  {s['passages']:5} passages"
                )
        return
    if args.report:
        runner.report_only(only, args.variant, write=not args.no_write)
        return
    if args.compare:
        for proto in args.protocol or list(runner.PROTOCOLS):
            try:
                c = runner.compare_variants(args.variant, args.compare, proto, only)
            except SystemExit as exc:
                print(exc)
                continue
            print(f"protocol {proto}:\n{runner.compare_md(c)}")
            if args.json:
                print(json.dumps(c, ensure_ascii=False))
        return
    runner.run_suite(
        only,
        args.variant,
        VARIANTS[args.variant],
        max(1, args.seeds),
        args.protocol or list(runner.PROTOCOLS),
        write=not args.no_write,
        first_seed=args.first_seed,
    )


def main() -> None:
    if "--suite" in sys.argv or "--list" in sys.argv:  # the real-question bench (issue 20): bench/suite/
        return suite_main(sys.argv[1:])
    if "--history" in sys.argv:  # real question history protocol (issue 15): bench/history_quality.py
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from history_quality import main as history_main

        return history_main([a for a in sys.argv[1:] if a != "--history"])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["debian", "samples", "decision"])
    ap.add_argument("--lang", choices=["en", "zh"])
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bgetune-quality"))
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="decision: report a finished training run in --work instead of training",
    )
    ap.add_argument(
        "--seed",
        type=int,
        help="training seed (default TrainConfig's); writes bench/seeds/quality-<setup>-<lang>-seed<N>.json only",
    )
    args = ap.parse_args()
    if args.only == "decision":
        done = []
        for lang in [x for x in ("en", "zh") if args.lang in (None, x)]:
            log(f"== decision {lang}")
            r = run_decision(lang, args.work, args.epochs, args.seed, reuse=args.reuse)
            (REPO / "bench" / f"decision-debian-{lang}.json").write_text(
                json.dumps(r, indent=2, ensure_ascii=False)
            )
            done.append(lang)
            log(json.dumps({k: r[k] for k in ("shipped", "report")}, ensure_ascii=False))
        results = [json.loads(f.read_text()) for f in sorted((REPO / "bench").glob("decision-debian-*.json"))]
        section = write_decision_section(results)
        print(section)
        if not args.no_write:
            update_results(section, DSTART, DEND)
        return
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
