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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEBIAN = REPO.parent / "shared" / "benchmarks" / "debian-faq"
WORK = Path(os.environ.get("BGETUNE_LLMPATH_WORK", "/tmp/bgetune-llmpath"))


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def settings_for(args: argparse.Namespace, ws_dir: Path):  # noqa: ANN201
    from bgetune.config import Settings

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
    from bgetune.tools.ingest import ingest
    from bgetune.workspace import Workspace

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
            if not args.follow or (WORK / lang / "generate.json").exists():
                break
            time.sleep(60)


def cmd_augment(args: argparse.Namespace) -> None:
    import dataclasses

    from bgetune.tools.qa_generation import augment_pairs

    for lang in args.lang:
        ws, settings = gen_workspace(lang, args)
        t0 = time.time()
        res = augment_pairs(
            ws,
            settings,
            chat_model=_chat(args, settings),
            paraphrases=args.paraphrases,
            back_translate=args.back_translate,
        )
        out = dataclasses.asdict(res) | {"seconds": round(time.time() - t0, 1)}
        (WORK / lang / "augment.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
        log(f"{lang}: augment {json.dumps({k: v for k, v in out.items() if k != 'errors'})}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["generate", "judge", "augment"])
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
    args = ap.parse_args()
    {"generate": cmd_generate, "judge": cmd_judge, "augment": cmd_augment}[args.stage](args)


if __name__ == "__main__":
    main()
