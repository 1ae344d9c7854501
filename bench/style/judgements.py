"""Hand judgements of the proposed queries of issue 24 (bench/style/proposed-<lang>.tsv, drawn by sample.py).

The rule, written before judging: 1 = a query a person could plausibly type into this knowledge base's search box
to find that passage: a grammatical question, or a natural search phrase (keywords, a title, a statement) about a
specific subject, in one language, nothing cut off, no agreement error, and the question makes sense for the kind
of thing it asks about. 0 = otherwise, with the reason: fragment (cut off or garbled), odd (a fill or combination
no one would ask: 'Can I get Linux USENET?', '我应该如何维护证券市场？'), grammar (agreement, a missing article on an
everyday noun: 'What is object name?'), vague (no subject: 'normal output', '使用命令的方法'), placeholder ('RRR'),
person (a person's name asked as 'What is X?'). Judged by the engineer who changed the generator, query by query
next to its document name (not its passage text), on the final code's sample (seed 24; en: git 5880cbf; zh: the
zh-only fixes after it, git of this file); one judge who also wrote the generator: read the figures as indicative,
not as an independent rating. Earlier zh samples judged the same way: 68/100 at 5880cbf, 71/100 after the first
zh-only fix (their judgements are not kept: each re-draw replaces the file).

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
        4: "fragment", 8: "fragment", 9: "grammar", 14: "odd", 15: "vague", 16: "person", 20: "vague",
        31: "odd", 35: "odd", 40: "placeholder", 47: "vague", 50: "vague", 53: "vague", 60: "vague", 63: "vague",
        65: "odd", 79: "fragment", 90: "odd", 95: "odd", 97: "vague",
    },
    "proposed-zh": {
        3: "vague", 6: "vague", 9: "odd", 19: "odd", 23: "vague", 25: "vague", 26: "fragment", 29: "odd",
        37: "odd", 38: "odd", 56: "odd", 68: "odd", 70: "odd", 72: "vague", 76: "odd", 78: "odd",
        80: "placeholder", 83: "odd", 84: "odd", 89: "vague", 101: "fragment",
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
