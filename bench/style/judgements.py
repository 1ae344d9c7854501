"""Hand judgements of the proposed queries of issue 24 (bench/style/proposed-<lang>.tsv, drawn by sample.py).

The rule, written before judging: 1 = a query a person could plausibly type into this knowledge base's search box
to find that passage: a grammatical question, or a natural search phrase (keywords, a title, a statement) about a
specific subject, in one language, nothing cut off, no agreement error, and the question makes sense for the kind
of thing it asks about. 0 = otherwise, with the reason: fragment (cut off or garbled), odd (a fill or combination
no one would ask: 'Can I get Linux USENET?', '我应该如何维护证券市场？'), grammar (agreement, a missing article on an
everyday noun: 'What is object name?'), vague (no subject: 'normal output', '使用命令的方法'), placeholder ('RRR'),
person (a person's name asked as 'What is X?'). Judged by the engineer who changed the generator, query by query
next to its document name (not its passage text); one judge who also wrote the generator: read the figures as
indicative, not as an independent rating.

Kept here: English, offline-v3.3 drawn with seed 28; Chinese, offline-v3.5 drawn with seed 33. Each draw was one no
one had looked at before judging, made after the generator version it judges was final (committed): v3.3's rules
(English only) were developed on draws of seeds 24-27, 30 and 31, never 28; v3.4's (Chinese only) on the seed-28
judged zeros and the full proposal list, never on seed 32; v3.5's on seed 32's judged zeros, never on seed 33.
History (git keeps each TSV with its judgements): v3 on seed 24: en 80, zh 79; v3.2 on seed 27: en 80, zh 91; v3.3
on seed 28: en 89, zh 84 (v3.3's Chinese output is v3.2's); v3.4 zh on seed 32: 83; v3.5 zh on seed 33: 88. Between
draws of one version the Chinese figure moved 7 points (84 vs 91 for the same generator): read any single draw's
figure with that spread. Each re-draw replaces the TSV.

Line numbers are the TSV's (line 1 is the header). Usage: python bench/style/judgements.py (fills the ok/why
columns and prints the tally).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/: the shared bench helpers
from _common import fill_judgements  # noqa: E402

# zeros per file: {line: why}; every other line is 1
ZEROS: dict[str, dict[int, str]] = {
    "proposed-en": {
        17: "odd", 23: "odd", 48: "vague", 58: "odd", 65: "odd", 69: "placeholder", 80: "vague", 81: "grammar",
        85: "odd", 91: "vague", 97: "vague",
    },
    "proposed-zh": {
        6: "fragment", 7: "odd", 18: "odd", 24: "vague", 30: "vague", 44: "vague", 53: "fragment", 77: "odd",
        88: "vague", 89: "odd", 92: "odd", 100: "vague",
    },
}  # fmt: skip


def fill(rows: list[list[str]], zeros: dict[int, str]) -> str:
    head, body = rows[0], rows[1:]
    ok_i, why_i, type_i, rule_i = (
        head.index("ok"),
        head.index("why"),
        head.index("type"),
        head.index("rule"),
    )
    for n, r in enumerate(body, start=2):
        r[ok_i], r[why_i] = ("0", zeros[n]) if n in zeros else ("1", "")
    good = sum(r[ok_i] == "1" for r in body)
    by_type = Counter((r[type_i], r[ok_i]) for r in body)
    frames = [r for r in body if r[rule_i].startswith("frame:")]
    return (
        f"{good}/{len(body)} a person would type; by type "
        + ", ".join(
            f"{t} {by_type[(t, '1')]}/{by_type[(t, '1')] + by_type[(t, '0')]}"
            for t in sorted({r[type_i] for r in body})
        )
        + f"; frame questions {sum(r[ok_i] == '1' for r in frames)}/{len(frames)}; zeros "
        + str(dict(Counter(zeros.values())))
    )


def main() -> None:
    fill_judgements(HERE, ZEROS, fill)


if __name__ == "__main__":
    main()
