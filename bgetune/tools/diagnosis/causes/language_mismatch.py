"""Language mismatch: the query and the documents are in different languages and the model is not multilingual."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes import _language
from bgetune.tools.diagnosis.causes._shared import worse
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import lang_name, say

NAME = "language_mismatch"
TITLE = ("query and documents in different languages", "查询与文档语言不同")


def detect(p: Probe) -> dict[str, Any] | None:
    return _language.facts(p, True) if _language.mismatch(p) else None


def verdict(x: dict[str, Any], lang: str) -> str:
    return _language.verdict(NAME, x, lang, worse(x, lang))


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    out = [_language.tokenizer_line(x, lang)] if x.get("tokens") else []
    share, corpus = x.get("corpus_share", 0), lang_name(x["corpus_language"], lang)
    q = lang_name(x["query_language"], lang)
    out.append(
        say(
            lang,
            f"query language {q}; documents {share:.0%} {corpus} ({x.get('chunks', 0)} chunks)",
            f"查询语言：{q}；文档 {share:.0%} 为{corpus}（共 {x.get('chunks', 0)} 个片段）",
        )
    )
    if x.get("recommend"):
        out.append(_language.recommend_line(x["recommend"], lang))
    return out


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return _language.fixes(x)
