"""The hand judgements of the sampled queries (issue 14), written into the ``ok``/``why`` columns of the TSVs.

Judged by the engineer who changed the generator, by reading each query next to its document: 1 = a query a user
could type to find that passage (a grammatical question, or two-three search words that name the topic); 0 = not
(why: fragment / odd-combo (search words that do not belong together) / cut-claim / agreement / number /
boilerplate / vague / name / code). An empty query (the chunk yields nothing) is not judged.
Line numbers are the TSV's (line 1 is the header). Usage: python bench/fluency/judgements.py (rewrites the TSVs
and prints the tally).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/: the shared bench helpers
from _common import fill_judgements  # noqa: E402

# zeros per file: {line: why}; every other judged line is 1
ZEROS: dict[str, dict[int, str]] = {
    "before-en": {
        3: "code", 10: "fragment", 14: "fragment", 23: "odd-combo", 24: "cut-claim", 27: "odd-combo",
        28: "odd-combo", 30: "odd-combo", 32: "fragment", 33: "odd-combo", 36: "cut-claim", 40: "fragment",
        42: "fragment", 45: "code", 49: "fragment", 50: "number", 51: "number", 53: "odd-combo", 54: "odd-combo",
        58: "odd-combo", 61: "odd-combo", 62: "number", 67: "code", 69: "odd-combo", 71: "code",
        73: "boilerplate", 74: "odd-combo", 77: "fragment", 80: "odd-combo", 81: "odd-combo", 84: "cut-claim",
        85: "code", 86: "fragment", 87: "fragment", 88: "odd-combo", 90: "odd-combo", 93: "odd-combo",
        100: "odd-combo",
    },
    "after-en": {
        2: "odd-combo", 4: "fragment", 9: "odd-combo", 11: "fragment", 15: "odd-combo", 20: "fragment",
        22: "odd-combo", 25: "cut-claim", 28: "odd-combo", 29: "odd-combo", 32: "fragment", 33: "odd-combo",
        34: "odd-combo", 48: "odd-combo", 54: "code", 55: "odd-combo", 56: "fragment", 59: "odd-combo",
        60: "odd-combo", 61: "odd-combo", 62: "odd-combo", 66: "code", 68: "code", 74: "name", 75: "odd-combo",
        78: "code", 86: "code", 87: "odd-combo", 89: "odd-combo", 91: "odd-combo", 94: "odd-combo",
        96: "fragment", 101: "odd-combo",
    },
    "before-zh": {
        3: "fragment", 5: "number", 9: "number", 10: "fragment", 15: "number", 16: "fragment", 17: "fragment",
        19: "fragment", 21: "odd-combo", 25: "odd-combo", 26: "fragment", 30: "fragment", 32: "code",
        35: "fragment", 36: "odd-combo", 37: "number", 41: "fragment", 46: "odd-combo", 47: "fragment",
        49: "fragment", 50: "vague", 56: "fragment", 60: "fragment", 65: "fragment", 70: "number",
        73: "fragment", 74: "number", 77: "vague", 80: "vague", 86: "fragment", 89: "odd-combo", 94: "vague",
        95: "fragment", 96: "number", 98: "fragment", 99: "fragment", 100: "odd-combo", 101: "odd-combo",
    },
    "after-zh": {
        5: "odd-combo", 9: "odd-combo", 15: "vague", 16: "odd-combo", 17: "odd-combo", 25: "odd-combo",
        26: "fragment", 30: "fragment", 31: "fragment", 32: "odd-combo", 33: "odd-combo", 35: "odd-combo",
        36: "fragment", 37: "fragment", 43: "odd-combo", 46: "odd-combo", 47: "odd-combo", 49: "fragment",
        57: "odd-combo", 59: "odd-combo", 64: "odd-combo", 65: "odd-combo", 70: "odd-combo", 74: "odd-combo",
        77: "vague", 80: "vague", 86: "odd-combo", 89: "odd-combo", 90: "odd-combo", 94: "vague",
        95: "odd-combo", 96: "odd-combo", 98: "fragment", 100: "odd-combo", 101: "odd-combo",
    },
}  # fmt: skip


def fill(rows: list[list[str]], zeros: dict[int, str]) -> str:
    judged = ok = 0
    for line, row in enumerate(rows[1:], start=2):
        row[4:] = ["", ""]
        if not row[3]:
            continue
        judged += 1
        if line in zeros:
            row[4], row[5] = "0", zeros[line]
        else:
            row[4] = "1"
            ok += 1
    empty = len(rows) - 1 - judged
    return f"{ok}/{judged} fluent ({ok / judged:.0%}); {empty} sampled chunks yield no query"


def main() -> None:
    fill_judgements(HERE, ZEROS, fill)


if __name__ == "__main__":
    main()
