"""Sample offline-generator queries for a hand fluency judgement (issue 14, item 3).

Chunks: the shipped samples (samples/en, samples/zh) and the Debian FAQ corpus (a JSONL knowledge base), ingested
once into WORK and cached as chunks-<lang>.jsonl. Queries: the offline generator at a git revision (``--rev``,
loaded from ``git show REV:bgetune/tools/offline_gen.py``) or the working tree (default), over every chunk; then
100 per language drawn with a fixed seed. The same seed draws the same chunks before and after, so the two
samples are comparable (a chunk that now yields nothing shows as an empty query).

Writes bench/fluency/<label>-<lang>.tsv: chunk id, document, rule, query, and an empty ``ok`` column that the
judge fills in (1 = a question a user would type, 0 = not: ungrammatical, fragment, meaningless, or from a
chunk with nothing to ask), plus a ``why`` column for the 0s.

Usage: python bench/fluency/sample.py --label before --rev HEAD; python bench/fluency/sample.py --label after
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared bench helpers
from _common import REPO, ingest_sample_docs, write_tsv  # noqa: E402  (the offline preamble)

WORK = Path(os.environ.get("BGETUNE_FLUENCY_WORK", "/tmp/bgetune-fluency"))


def chunks_for(lang: str) -> list[dict]:
    cache = WORK / f"chunks-{lang}.jsonl"
    if cache.exists():
        return [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines()]
    ws = ingest_sample_docs(WORK / f"ws-{lang}", lang)
    rows = [
        {k: c.get(k) for k in ("id", "text", "heading", "language", "document_name", "n_tokens", "ordinal")}
        for c in ws.chunks()
    ]
    cache.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def load_generator(rev: str | None):  # noqa: ANN201
    if rev is None:
        from bgetune.tools import offline_gen

        return offline_gen
    src = subprocess.run(
        ["git", "show", f"{rev}:bgetune/tools/offline_gen.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "offline_gen_rev.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("offline_gen_rev", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["offline_gen_rev"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--rev", help="git revision of offline_gen.py (default: the working tree)")
    ap.add_argument("--lang", nargs="+", default=["en", "zh"])
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    gen = load_generator(args.rev)
    for lang in args.lang:
        chunks = chunks_for(lang)
        out = gen.generate_offline(chunks, corpus=chunks)
        # one query per sampled (chunk, slot): draw chunks, then the query at a drawn position
        rng = random.Random(args.seed)
        picks = rng.sample(range(len(chunks)), min(args.n, len(chunks)))
        path = REPO / "bench" / "fluency" / f"{args.label}-{lang}.tsv"
        rows = [["chunk", "document", "rule", "query", "ok", "why"]]
        for i in picks:
            c = chunks[i]
            qs = out[c["id"]]
            slot = rng.randrange(5)
            g = qs[slot % len(qs)] if qs else None
            rows.append(
                [c["id"][:12], c["document_name"], g.rule if g else "-", g.query if g else "", "", ""]
            )
        write_tsv(path, rows)
        total = sum(len(v) for v in out.values())
        empty = sum(1 for v in out.values() if not v)
        print(f"{lang}: {len(chunks)} chunks, {total} queries, {empty} chunks without any; wrote {path}")


if __name__ == "__main__":
    main()
