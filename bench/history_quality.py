"""Real question history benchmark (issue 15): do real pairs trained by bgetune beat the recipe people copy?

Debian FAQ (../shared/benchmarks/debian-faq): its real questions are split in half by question cluster (fixed
seeds, several splits). One half is the team's "history" (a CSV of question + answer text, imported with
`import_history` like a user would); the other half is the held-out test set. Arms, each scored on the held-out
half (nDCG@10, paired-bootstrap 95% CI against the base, and bgetune against the stock recipe):

  base       the bundled all-MiniLM-L6-v2, untouched
  stock      the plain sentence-transformers recipe on the history pairs: SentenceTransformerTrainer,
             MultipleNegativesRankingLoss, batch 32, 1 epoch, lr 2e-5, BatchSamplers.NO_DUPLICATES
  hist       bgetune on the history only: import -> filter -> approve -> split (val 0.1, no test: the held-out
             half is the test) -> mine -> train (default TrainConfig: 3 epochs, hard negatives, val selection)
  hist+syn   the same plus the offline generator's synthetic pairs from the corpus

Usage: nice -n 10 python bench/history_quality.py [--lang en zh] [--splits 3] [--arms ...]
       (also: python bench/quality.py --history ...)
Each (lang, split, arm) is cached in bench/history/*.json (delete one to rerun it); the table goes into
bench/RESULTS.md between <!-- history:start --> and <!-- history:end -->.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from _common import DEBIAN, REPO, log, measured_on, replace_section  # the offline preamble (bench/_common.py)

os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
CACHE = REPO / "bench" / "history"
START, END = "<!-- history:start -->", "<!-- history:end -->"
ARMS = ("base", "stock", "hist", "hist+syn")
SEEDS = (1, 2, 3)


# ---------------------------------------------------------------------------------------------- data
def golden(lang: str) -> list[dict]:
    return [json.loads(x) for x in (DEBIAN / f"golden.{lang}.jsonl").read_text().splitlines() if x.strip()]


def half_split(rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """(history, test): half of the question clusters each (near-duplicate questions stay together)."""
    from bgetune.tools.history import question_clusters

    clusters = question_clusters([r["query"] for r in rows])
    members: dict[int, list[int]] = {}
    for i, c in enumerate(clusters):
        members.setdefault(c, []).append(i)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    hist: list[int] = []
    for c in order:
        if len(hist) + len(members[c]) / 2 <= len(rows) / 2:
            hist += members[c]
    test = sorted(set(range(len(rows))) - set(hist))
    return [rows[i] for i in sorted(hist)], [rows[i] for i in test]


def write_history_csv(rows: list[dict], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "answer"])
        for r in rows:
            w.writerow([r["query"], r["pos"][0]])
    return path


def write_golden(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- scoring
_EVAL: dict = {}


def score(model_spec: str, lang: str, test_rows: list[dict]) -> list[float]:
    """Per-query nDCG@10 of a model on the held-out half, in test_rows order."""
    from bgetune.tools.evaluation import golden_queryset, load_corpus, load_eval_model, run_retrieval

    if lang not in _EVAL:
        _EVAL[lang] = load_corpus(DEBIAN / f"corpus.{lang}.jsonl")
    ids, texts = _EVAL[lang]
    qs, unmatched = golden_queryset(ids, texts, test_rows, "test-half")
    assert not unmatched, unmatched
    model, _ = load_eval_model(model_spec)
    _, per = run_retrieval(model, qs)
    return [q["ndcg@10"] for q in per]


# ---------------------------------------------------------------------------------------------- arms
def run_stock(hist_rows: list[dict], out_dir: Path, seed: int) -> dict:
    """The plain recipe a user copies: MNRL, batch 32, 1 epoch, lr 2e-5, NO_DUPLICATES."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    from bgetune.core.models import bundled_model_path

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    ds = Dataset.from_dict(
        {"anchor": [r["query"] for r in hist_rows], "positive": [r["pos"][0] for r in hist_rows]}
    )
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=1,
            per_device_train_batch_size=32,
            learning_rate=2e-5,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            report_to="none",
            seed=seed,
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=ds, loss=MultipleNegativesRankingLoss(model)
        )
        out = trainer.train()
    model.save(str(out_dir))
    return {"model_dir": str(out_dir), "steps": out.global_step, "train_seconds": round(time.time() - t0, 1)}


def run_bgetune(
    hist_csv: Path, lang: str, work: Path, *, synthetic: bool, seed: int, epochs: int | None = None
) -> dict:
    from bgetune.capabilities import Context
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.history import HistoryOptions, import_history
    from bgetune.tools.ingest import ingest
    from bgetune.tools.negatives import mine_negatives
    from bgetune.tools.qa_generation import generate_pairs
    from bgetune.tools.review import approve_all
    from bgetune.tools.split import make_split
    from bgetune.tools.training import TrainConfig, train

    if work.exists():
        shutil.rmtree(work)
    settings = Settings(workspace=work, base_model="bundled")
    ws = Workspace(work)
    ws.set_setting("base_model", "bundled")
    t0 = time.time()
    ingest(ws, [DEBIAN / f"corpus.{lang}.jsonl"], settings=settings)
    out: dict = {}
    if synthetic:
        g = generate_pairs(ws, settings, mode="offline")
        out["synthetic_generated"] = g["pairs_added"]
    t1 = time.time()
    imp = import_history(Context(ws=ws, settings=settings), HistoryOptions(path=str(hist_csv)))
    out["import"] = {
        "seconds": round(time.time() - t1, 1),
        "pairs": imp.pairs,
        "links": imp.links,
        "unlinked": len(imp.unlinked),
    }
    filt = filter_pairs(ws, settings=settings, base_model="bundled")
    out["filter"] = {k: filt[k] for k in ("kept", "rejected", "by_reason", "flagged", "by_flag", "merged")}
    approve_all(ws, actor="bench")
    sp = make_split(ws, val=0.1, test=0.0, seed=13)
    out["split"] = {"pairs": sp["pairs"], "real_questions": sp["real_questions"]}
    out["mine"] = {
        k: v for k, v in mine_negatives(ws, base_model="bundled").items() if not isinstance(v, list)
    }
    cfg = TrainConfig(base_model="bundled", seed=seed, **({"epochs": epochs} if epochs else {}))
    out["epochs"] = cfg.epochs
    if hasattr(cfg, "decide"):
        cfg.decide = False  # the best epoch on val ships: this measures training, not the ship decision
    tr = train(ws, cfg)
    out["train"] = {
        k: tr.get(k)
        for k in ("steps", "best_epoch", "epochs_run", "examples", "seconds", "best_val", "base_val")
    }
    out["model_dir"] = tr["model_dir"]
    out["seconds"] = round(time.time() - t0, 1)
    return out


# ---------------------------------------------------------------------------------------------- driver
def run_one(lang: str, seed: int, arm: str, work: Path, epochs: int | None = None) -> dict:
    path = CACHE / f"{lang}-s{seed}-{arm.replace('+', '_')}.json"
    if path.exists():
        return json.loads(path.read_text())
    rows = golden(lang)
    hist, test = half_split(rows, seed)
    d = work / f"{lang}-s{seed}"
    d.mkdir(parents=True, exist_ok=True)
    log(f"{lang} split {seed} {arm}: {len(hist)} history questions, {len(test)} test questions")
    t0 = time.time()
    res: dict = {"lang": lang, "seed": seed, "arm": arm, "history": len(hist), "test": len(test)}
    if arm == "base":
        spec = "bundled"
    elif arm == "stock":
        res |= run_stock(hist, d / "stock-model", seed)
        spec = res["model_dir"]
    else:
        csv_path = write_history_csv(hist, d / "history.csv")
        res |= run_bgetune(
            csv_path,
            lang,
            d / f"ws-{arm.replace('+', '_')}",
            synthetic=arm == "hist+syn",
            seed=seed,
            epochs=epochs,
        )
        spec = res["model_dir"]
    res["test_queries"] = [r["query"] for r in test]
    res["ndcg"] = score(spec, lang, test)
    res["mean_ndcg"] = sum(res["ndcg"]) / len(res["ndcg"])
    res["seconds_total"] = round(time.time() - t0, 1)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    log(f"  -> nDCG@10 {res['mean_ndcg']:.3f} ({res['seconds_total']:.0f} s)")
    return res


def table(langs: list[str]) -> str:
    from bgetune.tools.evaluation import paired_bootstrap

    def ci_txt(c: dict) -> str:
        return f"{c['diff']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]"

    lines = [
        START,
        "## Real question history: bgetune vs the copied recipe (bench/history_quality.py, issue 15)",
        "",
        f"{measured_on()}shared, nice'd), offline, base = bundled all-MiniLM-L6-v2. Debian FAQ real questions split in half by "
        "question cluster (split seeds 1-3): one half is the history (CSV question + answer text, imported with "
        "`import_history`), the other half the held-out test. stock = SentenceTransformerTrainer + MNRL, batch 32, "
        "1 epoch, lr 2e-5, NO_DUPLICATES on the history pairs; hist = bgetune on the history only (import, filter, "
        "approve, split val 0.1 / no test, mine, default TrainConfig, best val epoch ships); hist+syn = the same "
        "plus the offline generator's pairs. nDCG@10 on the held-out half; gains with paired-bootstrap 95% CI "
        "(1000 resamples; 'pooled' concatenates the per-query differences of every split).",
        "",
        "| set | split | test q | base | stock | hist | hist+syn | stock - base | hist - base | hist+syn - base "
        "| hist - stock | hist+syn - stock |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    pairs_ = (
        ("base", "stock"),
        ("base", "hist"),
        ("base", "hist+syn"),
        ("stock", "hist"),
        ("stock", "hist+syn"),
    )
    for lang in langs:
        pooled: dict[tuple[str, str], tuple[list[float], list[float]]] = {xy: ([], []) for xy in pairs_}
        for seed in SEEDS:
            res = {}
            for arm in ARMS:
                p = CACHE / f"{lang}-s{seed}-{arm.replace('+', '_')}.json"
                if p.exists():
                    res[arm] = json.loads(p.read_text())
            if not res:
                continue
            cells = [f"{res[a]['mean_ndcg']:.3f}" if a in res else "-" for a in ARMS]
            cis = []
            for x, y in pairs_:
                if x in res and y in res:
                    cis.append(ci_txt(paired_bootstrap(res[x]["ndcg"], res[y]["ndcg"])))
                    pooled[(x, y)][0].extend(res[x]["ndcg"])
                    pooled[(x, y)][1].extend(res[y]["ndcg"])
                else:
                    cis.append("-")
            n_test = next(iter(res.values()))["test"]
            lines.append(f"| Debian FAQ {lang} | {seed} | {n_test} | " + " | ".join(cells + cis) + " |")
            for a in ("hist", "hist+syn"):
                if a not in res:
                    continue
                r = res[a]
                notes.append(
                    f"- {lang} split {seed} {a}: imported {r['import']['pairs']} ({r['import']['links']}) in "
                    f"{r['import']['seconds']} s; filter kept {r['filter']['kept']}, flagged {r['filter']['flagged']} "
                    f"real, rejected {r['filter']['by_reason']}; split {r['split']['pairs']} (real "
                    f"{r['split']['real_questions']}); train steps {r['train']['steps']}, best epoch "
                    f"{r['train']['best_epoch']} of {r.get('epochs', 3)}; {r['seconds']:.0f} s"
                )
            if "stock" in res:
                notes.append(
                    f"- {lang} split {seed} stock: {res['stock']['steps']} steps, {res['stock']['train_seconds']} s"
                )
        if any(v[0] for v in pooled.values()):
            cis = [
                ci_txt(paired_bootstrap(pooled[xy][0], pooled[xy][1])) + f" (n={len(pooled[xy][0])})"
                if pooled[xy][0]
                else "-"
                for xy in pairs_
            ]
            lines.append(f"| Debian FAQ {lang} | pooled | | - | - | - | - | " + " | ".join(cis) + " |")
    lines += ["", "Runs:", ""] + notes
    lines += [
        "",
        "Reproduce: `nice -n 10 python bench/quality.py --history` (per-run JSON cached in bench/history/).",
        END,
    ]
    return "\n".join(lines)


def update_results(section: str) -> None:
    replace_section(section, START, END)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", nargs="+", choices=["en", "zh"], default=["en", "zh"])
    ap.add_argument("--splits", type=int, default=3, help="how many of the split seeds 1, 2, 3")
    ap.add_argument("--seeds", type=int, nargs="+", help="run only these split seeds (e.g. one per process)")
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/bgetune-history"))
    ap.add_argument("--epochs", type=int, help="epochs of the bgetune arms (default: TrainConfig's, 3)")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--table-only", action="store_true", help="only rebuild the table from bench/history/")
    args = ap.parse_args(argv)
    # import every module a run uses now, so edits made to the tree while it runs do not mix into it
    import bgetune.tools.evaluation  # noqa: F401
    import bgetune.tools.filtering  # noqa: F401
    import bgetune.tools.history  # noqa: F401
    import bgetune.tools.negatives  # noqa: F401
    import bgetune.tools.qa_generation  # noqa: F401
    import bgetune.tools.split  # noqa: F401
    import bgetune.tools.training  # noqa: F401

    if not args.table_only:
        for lang in args.lang:
            for seed in args.seeds or SEEDS[: args.splits]:
                for arm in args.arms:
                    run_one(lang, seed, arm, args.work, args.epochs)
    section = table(args.lang)
    print(section)
    if not args.no_write:
        update_results(section)


if __name__ == "__main__":
    main()
