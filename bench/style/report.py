"""Style report of issue 24 on the Debian FAQ: offline-generated queries, unstyled vs styled by 30 real questions
(the golden half of bench/quality.py's split, as protocol (b) stores them), compared with the other half of the
real questions (never shown to the generator). Writes bench/style/report-<lang>.json and prints the text.

Usage: python bench/style/report.py [--lang en zh]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared bench helpers
from _common import DEBIAN, REPO  # noqa: E402  (the offline preamble)


def main() -> None:
    from bench.quality import split_halves
    from bgetune.core.text import detect_language
    from bgetune.tools import offline_gen
    from bgetune.tools.style import style_report

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", nargs="+", default=["en", "zh"])
    args = ap.parse_args()
    for lang in args.lang:
        rows = [
            json.loads(x) for x in (DEBIAN / f"corpus.{lang}.jsonl").read_text().splitlines() if x.strip()
        ]
        chunks = [
            {"id": r["id"], "text": r["text"], "heading": None, "language": detect_language(r["text"])}
            for r in rows
        ]
        golden_half, report_half = split_halves(DEBIAN / f"golden.{lang}.jsonl")
        style = [r["query"] for r in golden_half[:30]]
        real = [r["query"] for r in report_half]
        out = {}
        for name, rq in (("unstyled", None), ("styled", style)):
            gen = offline_gen.generate_offline(chunks, real_questions=rq)
            qs = [g.query for v in gen.values() for g in v]
            rep = style_report(qs, real)
            out[name] = {**dataclasses.asdict(rep), "text_en": rep.text("en"), "text_zh": rep.text("zh")}
            print(f"== {lang} {name}: {len(qs)} queries\n{rep.text('en')}\n")
        (REPO / "bench" / "style" / f"report-{lang}.json").write_text(
            json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
