"""Sample proposed queries for the hand judgement of issue 24 ("at least 85 of 100 a person would type").

Documents: the bench documents per language, ingested with today's chunker: the shipped samples (samples/en,
samples/zh) and the Debian FAQ corpus. Style source: 30 of the Debian FAQ's real questions (the golden half of
bench/quality.py's split_halves, seed 7), as protocol (b) stores them. Queries: the offline generator (styled,
with the query-type mix), then the filters' text and shape checks (length, vague, copies, heading, first line,
mixed language, cut-off, fragment; the round trip with the base model is left out here), i.e. what review would
show as proposed. 100 per language drawn with a fixed seed from all proposed queries.

Writes bench/style/proposed-<lang>.tsv: document, rule, type, query and empty ``ok``/``why`` columns that the
judge fills in (judgements.py). Usage: python bench/style/sample.py [--lang en zh] [-n 100] [--seed 24]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared bench helpers
from _common import DEBIAN, REPO, ingest_sample_docs, write_tsv  # noqa: E402  (the offline preamble)

WORK = Path(os.environ.get("BGETUNE_STYLE_WORK", "/tmp/bgetune-style"))


def chunks_for(lang: str) -> list[dict]:
    return ingest_sample_docs(WORK / f"ws-{lang}", lang).chunks()


def style_questions(lang: str, n: int = 30) -> list[str]:
    from bench.quality import split_halves

    golden_half, _ = split_halves(DEBIAN / f"golden.{lang}.jsonl")
    return [r["query"] for r in golden_half[:n]]


def proposed(lang: str, chunks: list[dict], real: list[str]) -> list[dict]:
    from bgetune.tools import offline_gen
    from bgetune.tools.filtering import shape_reasons, text_reasons

    out = offline_gen.generate_offline(chunks, real_questions=real)
    rows = []
    seen: set[str] = set()
    for c in chunks:
        for g in out[c["id"]]:
            key = g.query.lower().strip()
            rs = text_reasons(g.query, c["text"], kind=g.kind, check_passage_refusal=False)
            rs += shape_reasons(g.query, c["text"], c.get("heading"), c.get("language"))
            if offline_gen.copies_text(g.query, c["text"]) and not g.rule.startswith("frame:"):
                rs.append("copies_passage")
            if rs or key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "document": c["document_name"],
                    "rule": g.rule,
                    "type": offline_gen.MixBalancer.qtype(g),
                    "query": g.query,
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", nargs="+", default=["en", "zh"])
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=24)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    for lang in args.lang:
        chunks = chunks_for(lang)
        rows = proposed(lang, chunks, style_questions(lang))
        picks = random.Random(args.seed).sample(rows, min(args.n, len(rows)))
        path = REPO / "bench" / "style" / f"proposed-{lang}.tsv"
        head = ["document", "rule", "type", "query", "ok", "why"]
        write_tsv(path, [head, *([r["document"], r["rule"], r["type"], r["query"], "", ""] for r in picks)])
        types = Counter(r["type"] for r in rows)
        rules = Counter(r["rule"].split(":")[0] for r in rows)
        stats = {"chunks": len(chunks), "proposed": len(rows), "types": dict(types), "rules": dict(rules)}
        (REPO / "bench" / "style" / f"stats-{lang}.json").write_text(json.dumps(stats, indent=1) + "\n")
        print(lang, stats, "->", path)


if __name__ == "__main__":
    main()
