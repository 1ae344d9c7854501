"""The LLM path measured for real (issue 14, item 5): the Debian FAQ corpus is the knowledge base, the local
OpenAI-compatible server (../shared/tools/local-llm, Qwen2.5-0.5B on the CPU) writes the questions with prompt v3,
the judge pass and the augmentation run over the cached generations, and each variant is trained and scored on the
FAQ's REAL questions (nDCG@10 with a paired-bootstrap CI), next to the offline generator.

Stages (each cached in the workspace's llm_cache, so a re-run makes no new calls):
  generate  ingest corpus.<lang>.jsonl into WORK/<lang>/ws and generate with the LLM (prompt v3)
  judge     score every generated pair 1-10 (stored on the pair; nothing is rejected here)
  augment   paraphrase / back-translate the judged-kept queries
  eval      train and score: offline, v3, v3+judge, v3+judge+augmentation

Usage: nice -n 10 python bench/llm_path.py generate --lang en --base-url http://127.0.0.1:8088/v1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _common import DEBIAN, REPO, log  # the offline preamble (bench/_common.py)

WORK = Path(os.environ.get("BGETUNE_LLMPATH_WORK", "/tmp/bgetune-llmpath"))


def settings_for(args: argparse.Namespace, ws_dir: Path):  # noqa: ANN201
    from bgetune.core.config import Settings

    return Settings(
        workspace=ws_dir,
        base_model="bundled",
        llm_base_url=args.base_url,
        llm_model=args.model,
        llm_concurrency=args.concurrency,
        llm_timeout_s=args.timeout,
        llm_max_retries=1,
    )


def gen_workspace(lang: str, args: argparse.Namespace):  # noqa: ANN201
    from bgetune.core.workspace import Workspace
    from bgetune.tools.ingest import ingest

    ws_dir = WORK / lang / "ws"
    ws = Workspace(ws_dir)
    ws.set_setting("base_model", "bundled")
    if not ws.chunks():
        ingest(
            ws, [DEBIAN / f"corpus.{lang}.jsonl"], settings=settings_for(args, ws_dir), base_model="bundled"
        )
    return ws, settings_for(args, ws_dir)


def cmd_generate(args: argparse.Namespace) -> None:
    from bgetune.tools.qa_generation import generate_pairs

    for lang in args.lang:
        ws, settings = gen_workspace(lang, args)
        chunks = ws.chunks()
        log(f"{lang}: {len(chunks)} chunks; generating with {args.base_url}")
        t0 = time.time()

        def prog(i: int, n: int, what: str, lang: str = lang, t0: float = t0) -> None:
            if i % 5 == 0 or i == n:
                log(f"{lang}: {i}/{n} {what[:40]} ({time.time() - t0:.0f} s)")

        res = generate_pairs(ws, settings, mode="llm", progress=prog)
        res["seconds"] = round(time.time() - t0, 1)
        (WORK / lang / "generate.json").write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str))
        log(
            f"{lang}: done {json.dumps({k: res[k] for k in ('chunks_done', 'chunks_cached', 'chunks_failed', 'pairs_added', 'calls')})}"
        )


def _chat(args: argparse.Namespace, settings):  # noqa: ANN001, ANN202
    from bgetune.tools.llm import make_chat_model

    return make_chat_model(settings, max_tokens=args.max_tokens)


def cmd_judge(args: argparse.Namespace) -> None:
    """Judge the generated pairs; with --follow, again every minute until generation has finished (the server
    batches parallel requests, so judging alongside generation costs little extra wall time)."""
    import dataclasses

    from bgetune.tools.qa_generation import judge_pairs

    for lang in args.lang:
        ws, settings = gen_workspace(lang, args)
        while True:
            t0 = time.time()
            res = judge_pairs(ws, settings, chat_model=_chat(args, settings), min_score=args.judge_min)
            log(
                f"{lang}: judge {json.dumps({k: v for k, v in dataclasses.asdict(res).items() if k != 'errors'})}"
            )
            out = dataclasses.asdict(res) | {"seconds": round(time.time() - t0, 1)}
            (WORK / lang / "judge.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
            if not args.follow or (WORK / lang / "judge.done").exists():
                break
            if (WORK / lang / "generate.json").exists():
                (WORK / lang / "judge.done").touch()  # one more pass covers the last chunks
            time.sleep(60)


def cmd_augment(args: argparse.Namespace) -> None:
    import dataclasses

    from bgetune.tools.qa_generation import augment_pairs

    for lang in args.lang:
        ws, settings = gen_workspace(lang, args)
        t0 = time.time()
        while True:
            # only chunks the judge has finished with (every generated pair scored), so the kept set is final
            rows = ws.query(
                "SELECT chunk_id, min(CASE WHEN scores LIKE '%\"judge\"%' THEN 1 ELSE 0 END) AS judged "
                "FROM pairs WHERE source LIKE 'llm:%' GROUP BY chunk_id"
            )
            ready = [r["chunk_id"] for r in rows if r["judged"]]
            res = augment_pairs(
                ws,
                settings,
                chat_model=_chat(args, settings),
                paraphrases=args.paraphrases,
                back_translate=args.back_translate,
                chunk_ids=ready,
            )
            out = dataclasses.asdict(res) | {
                "seconds": round(time.time() - t0, 1),
                "chunks_ready": len(ready),
            }
            (WORK / lang / "augment.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
            log(f"{lang}: augment {json.dumps({k: v for k, v in out.items() if k != 'errors'})}")
            if not args.follow or (WORK / lang / "judge.done").exists():
                break
            time.sleep(60)


VARIANTS = ("offline-v1", "offline-v2", "offline-v2-llmchunks", "llm-v3", "llm-v3-judge", "llm-v3-judge-aug")


def _copy_db(src: Path, dst: Path) -> None:
    """A consistent copy of a live workspace database (sqlite backup API)."""
    import sqlite3

    dst.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src / "bgetune.sqlite") as a, sqlite3.connect(dst / "bgetune.sqlite") as b:
        a.backup(b)


def build_variant(variant: str, lang: str, args: argparse.Namespace):  # noqa: ANN201
    """A fresh workspace holding exactly the variant's proposed pairs."""
    import shutil

    from bgetune.core.config import Settings
    from bgetune.core.workspace import Workspace
    from bgetune.tools import qa_generation
    from bgetune.tools.ingest import ingest

    ws_dir = WORK / lang / f"eval-{variant}"
    if ws_dir.exists():
        shutil.rmtree(ws_dir)
    if variant.startswith("offline"):
        ws = Workspace(ws_dir)
        ws.set_setting("base_model", "bundled")
        settings = Settings(workspace=ws_dir, base_model="bundled")
        ingest(ws, [DEBIAN / f"corpus.{lang}.jsonl"], settings=settings, base_model="bundled")
        if variant == "offline-v1":  # the generator before issue 14, from git
            sys.path.insert(0, str(REPO / "bench" / "fluency"))
            from sample import load_generator  # type: ignore[import-not-found]

            saved = qa_generation.offline_gen
            old = load_generator(args.before_rev)
            old.page_kind = getattr(old, "page_kind", lambda *_a: None)  # not in the old generator
            qa_generation.offline_gen = old
            try:
                qa_generation.generate_pairs(ws, settings, mode="offline")
            finally:
                qa_generation.offline_gen = saved
        else:
            qa_generation.generate_pairs(ws, settings, mode="offline")
        if variant == "offline-v2-llmchunks":  # the offline generator on the chunks the LLM run covered
            import sqlite3

            with sqlite3.connect(WORK / lang / "ws" / "bgetune.sqlite") as src:
                covered = [
                    r[0]
                    for r in src.execute("SELECT DISTINCT key FROM llm_cache WHERE prompt_version='qa-v3'")
                ]
            texts = {qa_generation.cache_key(c["text"], args.model): c["id"] for c in ws.chunks()}
            keep = {texts[k] for k in covered if k in texts}
            with ws.tx() as c:
                for r in c.execute("SELECT id, chunk_id FROM pairs").fetchall():
                    if r[1] not in keep:
                        c.execute("DELETE FROM pairs WHERE id=?", (r[0],))
        return ws
    _copy_db(WORK / lang / "ws", ws_dir)
    ws = Workspace(ws_dir)
    examples = qa_generation._example_queries()
    from bgetune.core.text import normalize_for_match

    with ws.tx() as c:
        for r in c.execute("SELECT id, query FROM pairs").fetchall():
            if normalize_for_match(r[1]) in examples:
                c.execute("DELETE FROM pairs WHERE id=?", (r[0],))
        if variant != "llm-v3-judge-aug":
            c.execute("DELETE FROM pairs WHERE source LIKE 'augment:%'")
        if variant == "llm-v3":
            c.execute(
                "UPDATE pairs SET status='proposed', status_by=NULL, status_why=NULL, reasons='[]' "
                "WHERE status_by='judge'"
            )
        c.execute("DELETE FROM pairs WHERE source='offline'")
    return ws


def cmd_eval(args: argparse.Namespace) -> None:
    """Train and score each variant on the real questions (same split, mining and TrainConfig for all)."""
    import dataclasses

    sys.path.insert(0, str(REPO / "bench"))
    from quality import golden_overlap  # type: ignore[import-not-found]

    from bgetune.core.config import Settings
    from bgetune.tools.evaluation import evaluate_golden
    from bgetune.tools.filtering import filter_pairs
    from bgetune.tools.negatives import mine_negatives
    from bgetune.tools.review import approve_all
    from bgetune.tools.split import make_split
    from bgetune.tools.training import TrainConfig, train

    for lang in args.lang:
        for variant in args.variants:
            t0 = time.time()
            log(f"== {lang} {variant}")
            ws = build_variant(variant, lang, args)
            settings = Settings(workspace=ws.root, base_model="bundled")
            filt = filter_pairs(ws, settings=settings, base_model="bundled")
            approve_all(ws, actor="bench")
            split = make_split(ws)
            mine = mine_negatives(ws, base_model="bundled")
            cfg = TrainConfig(base_model="bundled")
            tr = train(ws, cfg)
            # the generator's effect is the trained model's: when the ship decision keeps the base, score the best
            # tuned candidate it set aside (model-best-tuned), and record the decision next to it
            scored_dir = tr.get("best_tuned_dir") or tr["model_dir"]
            g = evaluate_golden(
                scored_dir,
                DEBIAN / f"corpus.{lang}.jsonl",
                DEBIAN / f"golden.{lang}.jsonl",
                base="bundled",
            )
            by_source = {
                r["source"].split(":")[0]
                + (":" + r["source"].split(":")[1] if r["source"].startswith("augment") else ""): r["n"]
                for r in ws.query(
                    "SELECT source, count(*) AS n FROM pairs WHERE status IN ('approved','edited') GROUP BY source"
                )
            }
            out = {
                "variant": variant,
                "lang": lang,
                "pairs_kept": int(
                    ws.scalar("SELECT count(*) FROM pairs WHERE status IN ('approved','edited')")
                ),
                "pairs_by_source": by_source,
                "filter": {k: filt.get(k) for k in ("by_reason",)},
                "split": split,
                "mine": {k: mine.get(k) for k in ("negatives", "pairs")},
                "train": {k: tr.get(k) for k in ("steps", "epochs", "best_epoch", "model_dir", "shipped")},
                "scored_model": scored_dir,
                "train_config": dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else None,
                "real_questions": {
                    "queries": g["queries"],
                    "metrics": g["metrics"],
                    "ci": g["ci"],
                    "leaked": golden_overlap(ws.root, DEBIAN / f"golden.{lang}.jsonl"),
                },
                "seconds": round(time.time() - t0, 1),
            }
            (WORK / lang / f"result-{variant}.json").write_text(
                json.dumps(out, indent=2, ensure_ascii=False, default=str)
            )
            ci = g["ci"]
            log(
                f"{lang} {variant}: kept {out['pairs_kept']}; nDCG@10 base {g['metrics']['base']['ndcg@10']:.3f} "
                f"tuned {g['metrics']['tuned']['ndcg@10']:.3f} gain {ci['diff']:+.3f} [{ci['low']:+.3f}, "
                f"{ci['high']:+.3f}]; leaked in train {out['real_questions']['leaked']['in_train']}"
            )


START, END = "<!-- llm-path:start -->", "<!-- llm-path:end -->"
LABELS = {
    "offline-v1": "offline generator before issue 14 (offline-v1, git d4be7d9)",
    "offline-v2": "offline generator now (offline-v2)",
    "offline-v2-llmchunks": "offline-v2, only the chunks the LLM run covered",
    "llm-v3": "local LLM, prompt v3",
    "llm-v3-judge": "local LLM, prompt v3 + judge (keep >= 7)",
    "llm-v3-judge-aug": "local LLM, prompt v3 + judge + paraphrases",
}


def cmd_rescore(args: argparse.Namespace) -> None:
    """Score the best tuned candidate of finished eval runs whose ship decision kept the base (older results)."""
    from bgetune.tools.evaluation import evaluate_golden

    for lang in args.lang:
        for v in args.variants:
            f = WORK / lang / f"result-{v}.json"
            if not f.exists():
                continue
            r = json.loads(f.read_text())
            best = Path(r["train"]["model_dir"]).parent / "model-best-tuned"
            if r.get("scored_model") or not best.exists():
                continue
            g = evaluate_golden(
                best, DEBIAN / f"corpus.{lang}.jsonl", DEBIAN / f"golden.{lang}.jsonl", base="bundled"
            )
            r["shipped_model_real_questions"] = {k: r["real_questions"][k] for k in ("metrics", "ci")}
            r["real_questions"].update({"queries": g["queries"], "metrics": g["metrics"], "ci": g["ci"]})
            r["scored_model"] = str(best)
            f.write_text(json.dumps(r, indent=2, ensure_ascii=False, default=str))
            ci = g["ci"]
            log(f"{lang} {v} best tuned: gain {ci['diff']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]")


def cmd_report(args: argparse.Namespace) -> None:
    """The table of every result-*.json, into bench/RESULTS.md between the llm-path markers."""
    lines = [
        "| lang | training pairs from | pairs kept | base nDCG@10 | tuned nDCG@10 | gain [95% CI] | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang in ("en", "zh"):
        for v in VARIANTS:
            f = WORK / lang / f"result-{v}.json"
            if not f.exists():
                continue
            r = json.loads(f.read_text())
            rq = r["real_questions"]
            m, ci = rq["metrics"], rq["ci"]
            verdict = "better" if ci["low"] > 0 else "worse" if ci["high"] < 0 else "no significant change"
            lines.append(
                f"| {lang} | {LABELS[v]} | {r['pairs_kept']} | {m['base']['ndcg@10']:.3f} | "
                f"{m['tuned']['ndcg@10']:.3f} | {ci['diff']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}] | {verdict} |"
            )
    table = "\n".join(lines)
    print(table)
    path = REPO / "bench" / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        body, tail = rest.split(END, 1)
        marker = "<!-- llm-path:table -->"
        if marker in body:
            pre, post = body.split(marker, 1)
            post = post.split("\n\n", 1)[1] if "\n\n" in post else ""
            body = f"{pre}{marker}\n{table}\n\n{post}"
            path.write_text(head + START + body + END + tail, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["generate", "judge", "augment", "eval", "rescore", "report"])
    ap.add_argument("--lang", nargs="+", default=["en"], choices=["en", "zh"])
    ap.add_argument("--base-url", default="http://127.0.0.1:8088/v1")
    ap.add_argument("--model", default="qwen2.5-0.5b-instruct")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=240.0)
    ap.add_argument("--max-tokens", type=int, default=600)
    ap.add_argument("--judge-min", type=int, default=7)
    ap.add_argument("--follow", action="store_true", help="judge: repeat until generation has finished")
    ap.add_argument("--paraphrases", type=int, default=1)
    ap.add_argument("--back-translate", action="store_true")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--before-rev", default="d4be7d9", help="git revision of the offline generator before")
    args = ap.parse_args()
    {
        "rescore": cmd_rescore,
        "report": cmd_report,
        "eval": cmd_eval,
        "generate": cmd_generate,
        "judge": cmd_judge,
        "augment": cmd_augment,
    }[args.stage](args)


if __name__ == "__main__":
    main()
