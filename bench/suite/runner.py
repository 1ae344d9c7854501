"""The real-question bench runner (issue 20), driven by `python bench/quality.py --suite`.

For each built set (bench/suite/sets/<name>/) x variant x protocol x seed it runs the pipeline a user runs, stage
by stage through the capability layer (``invoke`` when the layer has it, else each capability's
``make_options`` + ``run``; stage order from the capability table), with the set's corpus ingested as a
knowledge-base export (JSONL), the offline generator and base = bundled. Then it scores the base and the shipped
model (and the best tuned candidate when the base was kept) on the set's real questions.

Protocols: (a) ``nogold``: no golden set (a new user's offline default), scored on all real questions;
(b) ``gold30``: the real questions split in two halves by the hash of the question; up to 30 of the first half
are stored as the workspace's golden set (tools.golden add/label, as `bgetune golden` stores them) before
generation; the other half is scored.

Cached per (set, variant, protocol, seed, code version of bgetune/{tools,capabilities,core} + stages + pipeline
+ this file): a rerun only runs what changed. Run JSON: bench/suite-results/<variant>/<set>.<protocol>.s<seed>.json
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # bench/: the shared bench helpers
from _common import measured_on, replace_section  # noqa: E402

SETS = HERE / "sets"
# a run from a frozen copy of the tree (e.g. `git archive HEAD`) can keep its cache and results here
CACHE = Path(os.environ.get("SUITE_CACHE_DIR") or HERE / ".cache")
RESULTS = Path(os.environ.get("SUITE_RESULTS_DIR") or REPO / "bench" / "suite-results")
PROTOCOLS = ("nogold", "gold30")
GOLDEN_N = 30
DEFAULT_SEED = 13  # TrainConfig's default seed
# bump when the runner's protocol or scoring changes (the table code is not part of a run's cache key)
RUNNER_VERSION = "2"  # 2: judged candidates and candidates_real in the run JSON
# run order: the development set first, then the Chinese sets, then by size
PRIORITY = ["debian-faq-en", "debian-faq-zh", "ctex-faq", "git-faq", "sqlite-faq", "r-faq", "python-faq"]
PRELOAD = [
    f"bgetune.tools.{m}"
    for m in (
        "ingest",
        "chunking",
        "qa_generation",
        "offline_gen",
        "filtering",
        "review",
        "split",
        "negatives",
        "training",
        "decision",
        "evaluation",
        "calibration",
        "export",
        "golden",
        "merge",
        "encode",
    )
]
SUITE_START, SUITE_END = "<!-- suite:start -->", "<!-- suite:end -->"


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- sets
def read_jsonl(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


def list_sets() -> list[dict]:
    out = []
    for d in sorted(SETS.iterdir()) if SETS.exists() else []:
        if (d / "corpus.jsonl").exists() and (d / "golden.jsonl").exists():
            meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
            out.append(
                {
                    "name": d.name,
                    "language": meta.get("language", "?"),
                    "questions": len(read_jsonl(d / "golden.jsonl")),
                    "passages": len(read_jsonl(d / "corpus.jsonl")),
                }
            )
    return out


def halves(golden: list[dict]) -> tuple[list[dict], list[dict]]:
    """Two disjoint halves by the hash of the question (deterministic, no seed)."""
    order = sorted(golden, key=lambda g: hashlib.sha1(g["query"].encode()).hexdigest())
    h = len(order) // 2
    return order[:h], order[h:]


# ----------------------------------------------------------------------------------------------- cache
def code_version() -> str:
    """Hash of the source of the stages involved (tools, capabilities, core, stages, pipeline) and RUNNER_VERSION."""
    pkg = REPO / "bgetune"
    files = sorted(
        [*(pkg / "tools").rglob("*.py"), *(pkg / "capabilities").rglob("*.py"), *(pkg / "core").rglob("*.py")]
        + [p for p in (pkg / "stages.py", pkg / "pipeline.py", pkg / "capabilities.py") if p.exists()]
    )
    h = hashlib.sha1(RUNNER_VERSION.encode())
    for f in files:
        h.update(str(f.relative_to(REPO)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def set_hash(name: str) -> str:
    h = hashlib.sha1()
    for f in ("corpus.jsonl", "golden.jsonl"):
        h.update((SETS / name / f).read_bytes())
    return h.hexdigest()[:12]


def run_key(name: str, variant: dict, protocol: str, seed: int, code: str) -> str:
    blob = json.dumps([name, set_hash(name), variant, protocol, seed, code], sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------- pipeline
def _data(res: Any) -> Any:
    if hasattr(res, "data") and callable(res.data):
        return res.data()
    if dataclasses.is_dataclass(res) and not isinstance(res, type):
        return dataclasses.asdict(res)
    return res


def _seed_hook(seed: int) -> Callable[[], None]:
    """Training seed: TrainOptions declares no seed, so the train capability's TrainConfig gets it here (the only
    hook outside the capability layer). Returns the undo."""
    import importlib

    undo: list[Callable[[], None]] = []
    for modname in ("bgetune.stages", "bgetune.capabilities.train"):
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        orig = getattr(mod, "train_config", None)
        if orig is None:
            continue

        def patched(ctx: Any, o: Any, _orig: Any = orig) -> Any:
            cfg = _orig(ctx, o)
            cfg.seed = seed
            return cfg

        mod.train_config = patched
        undo.append(lambda m=mod, f=orig: setattr(m, "train_config", f))
    return lambda: [u() for u in undo]


def run_pipeline_caps(
    corpus: Path, ws_dir: Path, lang: str, variant: dict, golden_rows: list[dict], seed: int
) -> dict[str, Any]:
    """Every pipeline stage through the capability layer. ``golden_rows`` (protocol b) are stored as the golden
    set right after ingest."""
    import bgetune.capabilities as caps
    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace

    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    ws_dir.mkdir(parents=True)
    settings = Settings(workspace=ws_dir, base_model="bundled")
    ws = Workspace(ws_dir)
    ws.set_setting("base_model", "bundled")
    ctx = caps.Context(ws=ws, settings=settings, files=None, lang=lang)
    invoke = getattr(caps, "invoke", None)
    stages = [c.name for c in caps.table().values() if c.stage is not None]
    fixed = {"ingest": {"paths": [str(corpus)]}, "train": {"base_model": "bundled"}}
    out: dict[str, Any] = {"stages_run": stages, "via": "invoke" if invoke else "make_options+run"}
    undo = _seed_hook(seed) if seed != DEFAULT_SEED else (lambda: None)
    try:
        for name in stages:
            cap = caps.get(name)
            spec = variant.get(name) or {}
            t0 = time.time()
            for opts in spec if isinstance(spec, list) else [spec]:  # a list: the stage runs once per entry
                values = {**opts, **fixed.get(name, {})}
                log(f"  stage {name} {opts or ''}")
                if invoke is not None:
                    res = invoke(name, values, ctx, approved=True)
                else:
                    res = cap.run(ctx, cap.make_options(values, ws))
                out[name] = _data(res)
                if isinstance(spec, list):
                    out.setdefault(name + "_runs", []).append(out[name])
            out[name + "_seconds"] = round(time.time() - t0, 1)
            if name == "ingest" and golden_rows:
                out["golden_stored"] = store_golden(ws, golden_rows)
    finally:
        undo()
    return out


def store_golden(ws: Any, rows: list[dict]) -> int:
    """The golden questions as `bgetune golden add` / `golden label --query ID --pos IDS` store them."""
    from bgetune.tools.golden import add_questions, label_question, list_questions

    add_questions(ws, [r["query"] for r in rows])
    by_q = {q.query: q.id for q in list_questions(ws)}
    n = 0
    for r in rows:
        qid = by_q.get(r["query"].strip()) or by_q.get(r["query"])
        if qid is None:
            continue
        label_question(ws, qid, list(r["pos_ids"]))
        n += 1
    return n


# ----------------------------------------------------------------------------------------------- scoring
_MODELS: dict[str, Any] = {}


def _queryset(corpus: Path, rows: list[dict]) -> Any:
    """The set's questions ``rows`` over its corpus file, as the evaluation's QuerySet."""
    from bgetune.tools.evaluation import QuerySet

    docs = read_jsonl(corpus)
    return QuerySet(
        queries=[r["query"] for r in rows],
        positives=[set(r["pos_ids"]) for r in rows],
        corpus_ids=[r["id"] for r in docs],
        corpus_texts=[r["text"] for r in docs],
    )


def _ndcgs(model: Any, qs: Any) -> list[float]:
    from bgetune.tools.evaluation import run_retrieval

    _, per = run_retrieval(model, qs)
    return [float(q["ndcg@10"]) for q in per]


def per_query_ndcg(model_spec: str, corpus: Path, rows: list[dict]) -> list[float]:
    from bgetune.tools.evaluation import load_eval_model

    model, _ = load_eval_model(model_spec)
    return _ndcgs(model, _queryset(corpus, rows))


def candidates_on_real(run_dir: Path, dec: dict, corpus: Path, rows: list[dict], base: list[float]) -> dict:
    """Every candidate the decision could still be checked on, scored on the REAL questions: the decision's best
    epoch (``run_dir/model-tuned``) and its WiSE-FT mixes with the base (the same merge the decision made). The
    other epochs' weights are deleted after the decision, so they are missing here. Lets the bench judge a
    decision rule by what each of its possible choices would really have done (issue 25 item 6)."""
    from bgetune.tools.decision import MIX_ALPHAS
    from bgetune.tools.evaluation import load_eval_model
    from bgetune.tools.merge import merge_weights

    tuned_dir = run_dir / "model-tuned"
    mixes = [c for c in dec.get("candidates") or [] if c.get("kind") == "mix"]
    if not tuned_dir.exists() or not mixes:
        return {}
    epoch = mixes[0].get("epoch")
    qs = _queryset(corpus, rows)
    base_m, _ = load_eval_model("bundled")
    tuned_m, _ = load_eval_model(str(tuned_dir))
    out: dict[str, Any] = {}
    for a in (1.0, *MIX_ALPHAS):
        s = _ndcgs(tuned_m if a == 1.0 else merge_weights(base_m, tuned_m, a), qs)
        name = f"epoch {epoch}" if a == 1.0 else f"epoch {epoch} x{a:g}"
        out[name] = {
            "ndcg": float(np.mean(s)),
            "gain": bootstrap(np.asarray(s) - np.asarray(base)),
            "per_query": s,
        }
    return out


def base_scores(name: str, code: str) -> list[float]:
    """The base model's per-query nDCG@10 on all of the set's questions (cached per set and code version)."""
    p = CACHE / "base" / f"{name}-{set_hash(name)}-{code}.json"
    if p.exists():
        return json.loads(p.read_text())
    rows = read_jsonl(SETS / name / "golden.jsonl")
    s = per_query_ndcg("bundled", SETS / name / "corpus.jsonl", rows)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(s))
    return s


def bootstrap(diffs: list[float] | np.ndarray, n: int = 2000, seed: int = 0) -> dict[str, float]:
    from bgetune.tools.evaluation import paired_bootstrap

    d = np.asarray(diffs, dtype=np.float64)
    return paired_bootstrap(np.zeros_like(d), d, n_resamples=n, seed=seed)


def run_one(name: str, variant_name: str, variant: dict, protocol: str, seed: int, code: str) -> dict:
    """One (set, variant, protocol, seed): cached JSON, else the pipeline and the scoring."""
    key = run_key(name, variant, protocol, seed, code)
    cached = CACHE / "runs" / f"{name}.{variant_name}.{protocol}.s{seed}.{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    d = SETS / name
    meta = json.loads((d / "meta.json").read_text())
    golden = read_jsonl(d / "golden.jsonl")
    corpus = d / "corpus.jsonl"
    base_all = base_scores(name, code)
    idx = {g["query"]: i for i, g in enumerate(golden)}
    if protocol == "gold30":
        first, second = halves(golden)
        stored, report = first[:GOLDEN_N], second
    else:
        stored, report = [], golden
    ws_dir = CACHE / "work" / f"{name}.{variant_name}.{protocol}.s{seed}"
    t0 = time.time()
    res = run_pipeline_caps(corpus, ws_dir, meta.get("language", "en"), variant, stored, seed)
    secs = round(time.time() - t0, 1)
    tr = res.get("train") or {}
    dec = tr.get("decision") if isinstance(tr.get("decision"), dict) else {}
    shipped_dir = tr.get("model_dir")
    best_dir = tr.get("best_tuned_dir") or shipped_dir
    shipped = per_query_ndcg(shipped_dir, corpus, report)
    base = [base_all[idx[r["query"]]] for r in report]
    out: dict[str, Any] = {
        "set": name,
        "language": meta.get("language"),
        "variant": variant_name,
        "variant_settings": variant,
        "protocol": protocol,
        "seed": seed,
        "code_version": code,
        "key": key,
        "golden_stored": res.get("golden_stored", 0),
        "report_queries": len(report),
        "base_ndcg": float(np.mean(base)),
        "shipped_ndcg": float(np.mean(shipped)),
        "gain": bootstrap(np.asarray(shipped) - np.asarray(base)),
        "per_query": {"query_index": [idx[r["query"]] for r in report], "base": base, "shipped": shipped},
        "decision": {
            k: dec.get(k)
            for k in (
                "evidence",
                "detail",
                "queries",
                "best",
                "ship",
                "shipped",
                "reason",
                "candidates",
                "judged",
                "judge",
            )
            if k in dec
        },
        "shipped_tuned": bool(dec.get("ship")) if dec else True,
        "pairs": (res.get("filter_pairs") or {}).get("kept")
        or (res.get("filter_pairs") or {}).get("by_reason"),
        "train": {k: tr.get(k) for k in ("steps", "epochs_done", "best_epoch", "seconds", "new_tokens") if k in tr},
        "synthetic": {
            k: (res.get("evaluate") or {}).get(k)
            for k in ("metrics", "ci", "queries")
            if k in (res.get("evaluate") or {})
        },
        "stage_seconds": {k[: -len("_seconds")]: v for k, v in res.items() if k.endswith("_seconds")},
        "via": res.get("via"),
        "seconds": secs,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if best_dir and best_dir != shipped_dir and Path(best_dir).exists():
        bt = per_query_ndcg(best_dir, corpus, report)
        out["per_query"]["best_tuned"] = bt
        out["best_tuned_ndcg"] = float(np.mean(bt))
        out["best_tuned_gain"] = bootstrap(np.asarray(bt) - np.asarray(base))
    if shipped_dir and dec:
        try:
            out["candidates_real"] = candidates_on_real(Path(shipped_dir).parent, dec, corpus, report, base)
        except Exception as exc:  # an extra measurement must not lose the run
            log(f"   candidates on the real questions: {exc!r}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(out, ensure_ascii=False))
    shutil.rmtree(ws_dir, ignore_errors=True)  # models are large; the JSON keeps what the table needs
    return out


# ----------------------------------------------------------------------------------------------- report
def best_candidate(dec: dict) -> dict | None:
    return next((c for c in dec.get("candidates") or [] if c.get("name") == dec.get("best")), None)


def pooled(runs: list[dict]) -> dict[str, Any]:
    """Pooled paired bootstrap over all queries of all sets (per query: shipped - base, mean over seeds)."""
    diffs: list[float] = []
    by_set: dict[str, list[dict]] = {}
    for r in runs:
        by_set.setdefault(r["set"], []).append(r)
    for rs in by_set.values():
        arr = np.mean(
            [np.asarray(r["per_query"]["shipped"]) - np.asarray(r["per_query"]["base"]) for r in rs], 0
        )
        diffs.extend(arr.tolist())
    ci = bootstrap(diffs)
    return {"queries": len(diffs), **ci, "half_width": (ci["high"] - ci["low"]) / 2}


def summarise(runs: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"protocols": {}}
    for proto in PROTOCOLS:
        rs = [r for r in runs if r["protocol"] == proto]
        if not rs:
            continue
        sets = sorted({r["set"] for r in rs})
        per = {}
        for s in sets:
            x = [r for r in rs if r["set"] == s]
            d = np.mean(
                [np.asarray(r["per_query"]["shipped"]) - np.asarray(r["per_query"]["base"]) for r in x], 0
            )
            per[s] = {
                "gain": float(d.mean()),
                "never_below_base": all(r["shipped_ndcg"] >= r["base_ndcg"] - 1e-9 for r in x),
            }
        worst = min(per.items(), key=lambda kv: kv[1]["gain"])
        out["protocols"][proto] = {
            "pooled": pooled(rs),
            "worst_set": {"set": worst[0], "gain": worst[1]["gain"]},
            "never_below_base": {s: v["never_below_base"] for s, v in per.items()},
        }
    return out


def fmt_ci(c: dict | None) -> str:
    if not c:
        return "-"
    return f"{c['diff']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}]"


def chose(r: dict) -> str:
    dec = r.get("decision") or {}
    if not dec:
        return "no decision (tuned shipped)"
    ev = f"{dec.get('evidence')} ({dec.get('queries')})"
    what = f"shipped {dec.get('shipped') or dec.get('best')}" if dec.get("ship") else "kept base"
    return f"{what} on {ev}"


def synthetic_gain(r: dict) -> str:
    """The synthetic validation's own gain: with held-out evidence, the chosen candidate's gain there (what the
    decision saw); otherwise the evaluate stage's held-out gain when a tuned model shipped."""
    dec = r.get("decision") or {}
    if dec.get("evidence") == "held-out":
        b = best_candidate(dec)
        if b and "gain" in b:
            return f"{b['gain']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}]"
    if r.get("shipped_tuned"):
        return fmt_ci((r.get("synthetic") or {}).get("ci"))
    return "-"


def best_real(r: dict) -> str:
    """The best tuned candidate on the real questions (shipping it anyway when the base was kept)."""
    if "best_tuned_gain" in r:
        return fmt_ci(r["best_tuned_gain"])
    return fmt_ci(r["gain"]) if r.get("shipped_tuned") else "-"


def base_figure(name: str) -> str:
    """The set's base nDCG@10 on all questions from the newest cached base scores (any code version)."""
    files = sorted((CACHE / "base").glob(f"{name}-{set_hash(name)}-*.json"), key=lambda f: f.stat().st_mtime)
    if not files:
        return "-"
    return f"{float(np.mean(json.loads(files[-1].read_text()))):.3f}"


# ----------------------------------------------------------------------------------------------- decision rules
def _top(cands: Any) -> dict:
    """The candidate with the highest nDCG@10 (ties: the smaller mix), as the decision picks its best."""
    return max(cands, key=lambda c: (c["ndcg"], -(c.get("alpha") or 0.0)))


def _rule_confirmed(gen: dict, jud: dict) -> str:
    """Issue 25's first rule (until 2026-12-03): the best candidate on the generated held-out queries, if its CI there is above zero and the
    teacher's judgement of it is too."""
    best = _top(gen.values())
    j = jud.get(best["name"])
    return best["name"] if best["low"] > 0 and j is not None and j["low"] > 0 else "base"


def _rule_generated(gen: dict, jud: dict) -> str:
    """Before issue 25: the best candidate on the generated held-out queries if its CI is above zero."""
    best = _top(gen.values())
    return best["name"] if best["low"] > 0 else "base"


def _rule_teacher(gen: dict, jud: dict) -> str:
    """Today's rule (tools/decision.choose without real questions): the best candidate on the teacher's judgement
    if its CI there is above zero."""
    if not jud:
        return "base"
    best = _top(jud.values())
    return best["name"] if best["low"] > 0 else "base"


def _rule_agree(gen: dict, jud: dict) -> str:
    """Among the candidates whose CI is above zero on both the generated queries and the teacher's judgement, the
    one the teacher rates highest."""
    ok = [jud[n] for n, c in gen.items() if c["low"] > 0 and n in jud and jud[n]["low"] > 0]
    return _top(ok)["name"] if ok else "base"


def _rule_either(gen: dict, jud: dict) -> str:
    """The teacher-only pick if there is one, else the generated-only pick (the most permissive rule)."""
    pick = _rule_teacher(gen, jud)
    return pick if pick != "base" else _rule_generated(gen, jud)


DECISION_RULES = {
    "today: teacher only (the teacher's pick)": _rule_teacher,
    "confirmed (best on generated, confirmed by the teacher; until 2026-12-03)": _rule_confirmed,
    "generated only (before issue 25)": _rule_generated,
    "both agree (teacher's pick among candidates above zero on both)": _rule_agree,
    "either (the teacher's pick, else the generated pick)": _rule_either,
}


def rules_md(runs: list[dict]) -> str:
    """What each decision rule would have shipped per set, judged on the real questions (protocol (a) runs with
    the teacher's judgement and ``candidates_real``). A choice whose weights the bench could not score (another
    epoch than the decision's best) counts as unknown."""
    rs = [
        r
        for r in runs
        if r["protocol"] == "nogold" and r.get("candidates_real") and r["decision"].get("judged")
    ]
    if not rs:
        return ""
    rs = sorted(rs, key=lambda r: (r["set"], r.get("seed", DEFAULT_SEED)))
    seeds = sorted({r.get("seed", DEFAULT_SEED) for r in rs})
    multi = len(seeds) > 1
    head = (
        "| rule | "
        + " | ".join(r["set"] + (f" s{r.get('seed', DEFAULT_SEED)}" if multi else "") for r in rs)
        + " | shipped on | real gain < 0 when shipped | pooled gain [95% CI] |"
        + (" per seed | seed mean, pooled [95% CI] |" if multi else "")
    )
    lines = [
        "### Which decision rule? (protocol (a), judged on the real questions)",
        "",
        "Each cell: the candidate the rule ships on that set's evidence (generated held-out queries and the "
        "offline teacher's judgement of them) and its REAL gain over the base; `base` = keeps the base (+0). "
        "Pooled: every query of these sets, paired bootstrap."
        + (
            " With several training seeds: pooled per seed, and the seed mean (each question's gain averaged "
            "over the seeds, then pooled; sets with an unknown pick in any seed left out)."
            if multi
            else ""
        ),
        "",
        head,
        "|" + "---|" * (len(rs) + 4 + (2 if multi else 0)),
    ]
    for label, rule in DECISION_RULES.items():
        cells, diffs, shipped, harmed, unknown = [], [], 0, 0, 0
        by_set: dict[str, dict[int, np.ndarray | None]] = {}
        for r in rs:
            gen = {c["name"]: c for c in r["decision"]["candidates"] if c.get("kind") != "base"}
            jud = {c["name"]: c for c in r["decision"]["judged"] if c.get("kind") != "base"}
            pick = rule(gen, jud)
            n = len(r["per_query"]["base"])
            seed = r.get("seed", DEFAULT_SEED)
            if pick == "base":
                cells.append("base")
                diffs.extend([0.0] * n)
                by_set.setdefault(r["set"], {})[seed] = np.zeros(n)
                continue
            shipped += 1
            real = r["candidates_real"].get(pick)
            if real is None:
                cells.append(f"{pick}: ?")
                unknown += 1
                by_set.setdefault(r["set"], {})[seed] = None
                continue
            d = np.asarray(real["per_query"]) - np.asarray(r["per_query"]["base"])
            diffs.extend(d.tolist())
            by_set.setdefault(r["set"], {})[seed] = d
            harmed += int(d.mean() < 0)
            cells.append(f"{pick}: {fmt_ci(real['gain'])}")
        p = bootstrap(diffs)
        row = (
            f"| {label} | "
            + " | ".join(cells)
            + f" | {shipped} of {len(rs)} | {harmed}"
            + (f" ({unknown} unknown)" if unknown else "")
            + f" | {p['diff']:+.3f} [{p['low']:+.3f}, {p['high']:+.3f}] |"
        )
        if multi:
            per_seed = []
            for sd in seeds:
                ds = [v for sets in by_set.values() if (v := sets.get(sd)) is not None]
                per_seed.append(f"s{sd} {bootstrap(np.concatenate(ds))['diff']:+.3f}" if ds else f"s{sd} -")
            mean = [
                np.mean(np.stack([sets[sd] for sd in seeds]), axis=0)
                for sets in by_set.values()
                if all(sets.get(sd) is not None for sd in seeds)
            ]
            m = bootstrap(np.concatenate(mean)) if mean else None
            row += (
                " "
                + ", ".join(per_seed)
                + " | "
                + (
                    f"{m['diff']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}] ({len(mean)} sets) |"
                    if m
                    else "- |"
                )
            )
        lines.append(row)
    return "\n".join(lines)


def table_md(runs: list[dict], variant: str, summary: dict, wall: float | None) -> str:
    sets = list_sets()
    lang = {s["name"]: s["language"] for s in sets}
    lines = [
        SUITE_START,
        f"## Real-question bench (bench/quality.py --suite), variant `{variant}`",
        "",
        f"{measured_on()}shared with other jobs), torch CPU, offline generator, base = bundled all-MiniLM-L6-v2, every stage "
        "through the capability layer (`invoke`) with the variant's settings. nDCG@10 on each set's REAL "
        "questions (FAQ headings written by their authors, removed from the answers; 2 distractor passages "
        "from the same manuals per answer). Gain = shipped - base, paired-bootstrap 95% CI (2000 resamples over "
        "queries). (a) no golden set, scored on all questions; (b) up to 30 real questions of one half stored "
        "as the golden set (`bgetune golden` add/label), scored on the other half.",
        "",
        "The sets (base = bundled model, no fine-tune, on all questions):",
        "",
        "| set | lang | questions | passages | base nDCG@10 | runs here |",
        "|---|---|---|---|---|---|",
        *[
            f"| {s['name']} | {s['language']} | {s['questions']} | {s['passages']} | {base_figure(s['name'])} | "
            + (
                ", ".join(
                    sorted({"a" if r["protocol"] == "nogold" else "b" for r in runs if r["set"] == s["name"]})
                )
                or "not run yet"
            )
            + " |"
            for s in sets
        ],
        f"| all | {sum(s['language'] == 'en' for s in sets)} en + {sum(s['language'] == 'zh' for s in sets)} zh sets "
        f"| {sum(s['questions'] for s in sets)} ({sum(s['questions'] for s in sets if s['language'] == 'zh')} zh) "
        f"| {sum(s['passages'] for s in sets)} | | |",
        "",
        "| set (protocol) | lang | n | base nDCG@10 | shipped nDCG@10 | gain [95% CI] | decision (evidence, n) | "
        "decision's best candidate on its evidence | best tuned on the real questions | synthetic held-out gain "
        "| never below base | code | min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for proto in PROTOCOLS:
        for r in sorted([r for r in runs if r["protocol"] == proto], key=lambda r: (r["set"], r["seed"])):
            b = best_candidate(r.get("decision") or {})
            bc = (
                f"{b['name']} {b['gain']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}]"
                if b and "gain" in b
                else "-"
            )
            ok = "yes" if r["shipped_ndcg"] >= r["base_ndcg"] - 1e-9 else "**NO**"
            seed = "" if r["seed"] == DEFAULT_SEED else f" s{r['seed']}"
            lines.append(
                f"| {r['set']} ({'a' if proto == 'nogold' else 'b'}{seed}) | {lang.get(r['set'], '?')} | "
                f"{r['report_queries']} | {r['base_ndcg']:.3f} | {r['shipped_ndcg']:.3f} | {fmt_ci(r['gain'])} | "
                f"{chose(r)} | {bc} | {best_real(r)} | {synthetic_gain(r)} | {ok} | {r['code_version'][:7]} | "
                f"{r.get('seconds', 0) / 60:.0f} |"
            )
    lines += ["", "Bottom line:", ""]
    for proto, s in summary["protocols"].items():
        p = s["pooled"]
        bad = [k for k, v in s["never_below_base"].items() if not v]
        lines.append(
            f"- ({'a' if proto == 'nogold' else 'b'}) {proto}: pooled gain {p['diff']:+.3f} [{p['low']:+.3f}, "
            f"{p['high']:+.3f}] over {p['queries']} queries of {len(s['never_below_base'])} sets (half-width "
            f"{p['half_width']:.3f}); worst set {s['worst_set']['set']} {s['worst_set']['gain']:+.3f}; never below "
            "base: " + ("every set" if not bad else "NOT for " + ", ".join(bad))
        )
    rules = rules_md(runs)
    if rules:
        lines += ["", rules]
    secs = sum(r.get("seconds", 0) for r in runs)
    lines += [
        "",
        f"Pipeline time summed over runs: {secs / 60:.0f} min"
        + (f"; this invocation's wall time {wall / 60:.0f} min" if wall else "")
        + ". Reproduce: `python bench/quality.py --suite --variant "
        + variant
        + "` (JSON per run in bench/suite-results/"
        + variant
        + "/; `--report` rebuilds this table from them).",
        SUITE_END,
    ]
    return "\n".join(lines)


def run_suite(
    only: list[str],
    variant_name: str,
    variant: dict,
    seeds: int,
    protocols: list[str],
    write: bool,
    first_seed: int = DEFAULT_SEED,
) -> dict:
    from tqdm import tqdm

    sets = [s for s in list_sets() if not only or s["name"] in only]
    missing = sorted(set(only) - {s["name"] for s in sets})
    if missing:
        raise SystemExit(
            f"unknown set(s): {', '.join(missing)}; built: {', '.join(s['name'] for s in list_sets())}"
        )
    import bgetune.capabilities as caps

    caps.table()  # import every stage now: a later edit of the shared tree cannot break a running suite
    import importlib

    for m in PRELOAD:
        try:
            importlib.import_module(m)
        except ImportError as exc:  # a module another change removed: the stages say so when they need it
            log(f"preload {m}: {exc}")
    code = code_version()
    seed_list = [first_seed + i for i in range(seeds)]

    # protocol (a) for every set first, in PRIORITY order: a suite stopped early has the rows that matter most
    def prio(x: dict) -> tuple[int, int]:
        return (PRIORITY.index(x["name"]) if x["name"] in PRIORITY else len(PRIORITY), x["passages"])

    jobs = [(s, p, sd) for p in protocols for sd in seed_list for s in sorted(sets, key=prio)]
    todo_cost = {}
    for s, p, sd in jobs:
        key = run_key(s["name"], variant, p, sd, code)
        if not (CACHE / "runs" / f"{s['name']}.{variant_name}.{p}.s{sd}.{key}.json").exists():
            todo_cost[(s["name"], p, sd)] = s["passages"]
    log(
        f"code version {code}; {len(jobs)} runs, {len(todo_cost)} to do ({len(jobs) - len(todo_cost)} cached)"
    )
    runs: list[dict] = []
    failed: list[dict] = []
    t0 = time.time()
    bar = tqdm(
        total=sum(todo_cost.values()) or 1, unit="passage", desc=f"suite {variant_name}", file=sys.stderr
    )
    for s, p, sd in jobs:
        log(f"== {s['name']} {p} seed {sd}")
        try:
            r = run_one(s["name"], variant_name, variant, p, sd, code)
        except Exception as exc:  # one failed run (e.g. a half-edited module) must not lose the others
            import traceback

            log(f"   FAILED {s['name']} {p} seed {sd}: {exc!r}\n{traceback.format_exc()}")
            failed.append({"set": s["name"], "protocol": p, "seed": sd, "error": repr(exc)})
            continue
        runs.append(r)
        if (s["name"], p, sd) in todo_cost:
            bar.update(todo_cost[(s["name"], p, sd)])
        out = RESULTS / variant_name / f"{s['name']}.{p}.s{sd}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(r, indent=1, ensure_ascii=False))
        log(
            f"   {s['name']} {p}: base {r['base_ndcg']:.3f} shipped {r['shipped_ndcg']:.3f} gain "
            f"{fmt_ci(r['gain'])}; {chose(r)}; {r.get('seconds', 0):.0f} s"
        )
    bar.close()
    wall = time.time() - t0
    # the table and summary cover every set with a stored run of this variant (this invocation's runs replaced
    # theirs above), so `--only SET` updates its rows without dropping the others
    runs = stored_runs(variant_name) or runs
    summary = summarise(runs) if runs else {"protocols": {}}
    summary.update(
        {
            "failed": failed,
            "variant": variant_name,
            "variant_settings": variant,
            "code_version": code,
            "sets": [s["name"] for s in sets],
            "wall_seconds": round(wall, 1),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
        }
    )
    (RESULTS / variant_name).mkdir(parents=True, exist_ok=True)
    (RESULTS / variant_name / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    publish(runs, variant_name, summary, wall, write)
    return summary


def stored_runs(variant_name: str, only: list[str] | None = None) -> list[dict]:
    built = {s["name"] for s in list_sets()}
    return [
        json.loads(f.read_text())
        for f in sorted((RESULTS / variant_name).glob("*.s*.json"))
        if f.name.split(".")[0] in built and (not only or f.name.split(".")[0] in only)
    ]


def report_only(only: list[str], variant_name: str, write: bool) -> dict:
    """The table and bottom line from the run JSONs already in bench/suite-results/<variant>/ (nothing runs)."""
    runs = stored_runs(variant_name, only)
    if not runs:
        raise SystemExit(f"no run JSON in {RESULTS / variant_name}")
    summary = summarise(runs)
    publish(runs, variant_name, summary, None, write)
    return summary


def publish(runs: list[dict], variant_name: str, summary: dict, wall: float | None, write: bool) -> None:
    """Print the table; with ``write``, put it in bench/RESULTS.md (and, for the default variant, each set's
    base figure in its README)."""
    md = table_md(runs, variant_name, summary, wall)
    print(md)
    if write:
        update_results(md, variant_name)
        if variant_name == "default":
            write_base_figures(runs)


def update_results(section: str, variant: str) -> None:
    start = SUITE_START if variant == "default" else f"<!-- suite-{variant}:start -->"
    end = SUITE_END if variant == "default" else f"<!-- suite-{variant}:end -->"
    replace_section(section.replace(SUITE_START, start).replace(SUITE_END, end), start, end)


def write_base_figures(runs: list[dict]) -> None:
    """Each set's README gets its measured base figure (all questions), when one is cached."""
    import re

    for s in list_sets():
        name = s["name"]
        fig = base_figure(name)
        readme = SETS / name / "README.md"
        if fig == "-" or not readme.exists():
            continue
        block = (
            "<!-- base:start -->\nBase model (bundled all-MiniLM-L6-v2, no fine-tune) nDCG@10 on all "
            f"{s['questions']} questions: {fig} (measured {datetime.now(UTC).strftime('%Y-%m-%d')}, "
            f"`python bench/quality.py --suite --only {name}`; pipeline results in bench/RESULTS.md).\n"
            "<!-- base:end -->"
        )
        text = readme.read_text(encoding="utf-8")
        text = re.sub(r"<!-- base:start -->.*?<!-- base:end -->", block, text, flags=re.S)
        readme.write_text(text, encoding="utf-8")


def compare_variants(a: str, b: str, protocol: str, only: list[str] | None = None) -> dict[str, Any]:
    """Variant ``a`` against ``b`` on the same real questions (same set, protocol and seed), paired per query:
    what each shipped, and each one's trained model before the decision (``best_tuned``, else shipped). Pooled over
    the sets both have; a set's queries averaged over the seeds both have (issue 24 protocol b: styled vs unstyled)."""
    ra = {(r["set"], r["seed"]): r for r in stored_runs(a, only) if r["protocol"] == protocol}
    rb = {(r["set"], r["seed"]): r for r in stored_runs(b, only) if r["protocol"] == protocol}
    keys = sorted(ra.keys() & rb.keys())
    if not keys:
        raise SystemExit(f"no (set, seed) run of protocol {protocol} in both {a} and {b}")
    out: dict[str, Any] = {"a": a, "b": b, "protocol": protocol, "sets": {}, "pooled": {}}
    for what in ("shipped", "tuned"):
        pooled_diffs: list[float] = []
        for s in sorted({k[0] for k in keys}):
            per_seed = []
            for k in [k for k in keys if k[0] == s]:
                qa, qb = ra[k]["per_query"], rb[k]["per_query"]
                if qa["query_index"] != qb["query_index"]:
                    raise SystemExit(f"{s} seed {k[1]}: {a} and {b} were scored on different questions")
                col = "shipped" if what == "shipped" else "best_tuned"
                per_seed.append(
                    np.asarray(qa.get(col, qa["shipped"])) - np.asarray(qb.get(col, qb["shipped"]))
                )
            d = np.mean(per_seed, 0)
            pooled_diffs.extend(d.tolist())
            out["sets"].setdefault(s, {})[what] = {"queries": len(d), "seeds": len(per_seed), **bootstrap(d)}
        out["pooled"][what] = {"queries": len(pooled_diffs), **bootstrap(pooled_diffs)}
    return out


def compare_md(c: dict[str, Any]) -> str:
    a, b = c["a"], c["b"]
    lines = [
        f"| set | questions | seeds | shipped: {a} - {b} [95% CI] | trained model: {a} - {b} [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for s, v in c["sets"].items():
        lines.append(
            f"| {s} | {v['shipped']['queries']} | {v['shipped']['seeds']} | {fmt_ci(v['shipped'])} | "
            f"{fmt_ci(v['tuned'])} |"
        )
    p = c["pooled"]
    lines.append(
        f"| **pooled** | {p['shipped']['queries']} | | **{fmt_ci(p['shipped'])}** | **{fmt_ci(p['tuned'])}** |"
    )
    return "\n".join(lines)
