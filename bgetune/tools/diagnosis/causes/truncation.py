"""Truncation: the expected chunk is longer than the model's max sequence length (the answer may be cut off)."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import facts, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import sentences

NAME = "truncation"
TITLE = ("answer cut off by the max sequence length", "答案超出最大长度被截断")
S = sentences("truncation")


def _beyond(p: Probe, text: str, n_tok: int, max_len: int) -> bool:
    """The expected text starts past (most of) the limit inside its chunk."""
    if not p.expected_text:
        return False
    from bgetune.core.text import normalize_for_match

    nt, ne = normalize_for_match(text), normalize_for_match(p.expected_text)
    pos = nt.find(ne[:60]) if ne else -1
    return pos >= 0 and pos / max(1, len(nt)) * n_tok > max_len * 0.9


def detect(p: Probe) -> dict[str, Any] | None:
    assert p.exp is not None
    eng = p.eng
    max_len = int(p.model.model.max_seq_length or 512)
    found: dict[str, Any] | None = None
    for c in p.exp.chunk_ids:
        text = eng.rows[c]["text"]
        n_tok = eng.token_count(text)
        if n_tok <= max_len:
            continue
        cut = _beyond(p, text, n_tok, max_len)
        found = {
            **p.common,
            "chunk_id": c,
            "tokens": n_tok,
            "max_seq_length": max_len,
            "answer_beyond_limit": cut,
            "document": eng.rows[c]["doc"],
        }
        if cut:
            break
    return found


def verdict(x: dict[str, Any], lang: str) -> str:
    return (S.cut if x.get("answer_beyond_limit") else S.long)(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [S.evidence(lang, **x)]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    ct = max(64, x["max_seq_length"] // 2)
    return [
        fix(
            "rechunk",
            {"document": x["document"], "chunk_tokens": ct},
            S.rechunk,
            document=x["document"],
            ct=ct,
        )
    ]
