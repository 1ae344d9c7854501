"""Truncation: the expected chunk is longer than the model's max sequence length (the answer may be cut off)."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, facts, fix
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction

NAME = "truncation"
TITLE = ("answer cut off by the max sequence length", "答案超出最大长度被截断")
CUT = Say(
    "The answer sits past the model's {max_seq_length}-token limit in its chunk ({tokens} tokens), so the model "
    "never sees it (rank {rank}){worse}.",
    "答案位于片段中超过模型 {max_seq_length} 词元上限的部分（片段共 {tokens} 词元），模型根本看不到它（排第 {rank} 位）{worse}。",
)
LONG = Say(
    "Ranked {rank}; its chunk has {tokens} tokens, more than the model's {max_seq_length}-token limit, so the end "
    "of it is cut off{worse}.",
    "排第 {rank} 位；它所在片段有 {tokens} 个词元，超过模型 {max_seq_length} 的上限，后半部分被截断{worse}。",
)
EVIDENCE = Say(
    "chunk {chunk_id}: {tokens} tokens > max_seq_length {max_seq_length}",
    "片段 {chunk_id}：{tokens} 个词元 > 最大长度 {max_seq_length}",
)
RECHUNK = Say(
    "Re-chunk {document} into {ct}-token chunks so the answer fits the model's limit",
    "把 {document} 重新切成 {ct} 词元的片段，让答案落在模型长度之内",
)


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
    return (CUT if x.get("answer_beyond_limit") else LONG)(lang, **facts(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    return [EVIDENCE(lang, **x)]


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    ct = max(64, x["max_seq_length"] // 2)
    return [
        fix(
            "rechunk", {"document": x["document"], "chunk_tokens": ct}, RECHUNK, document=x["document"], ct=ct
        )
    ]
