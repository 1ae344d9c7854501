"""Language mismatch: the query and the documents are in different languages and the model is not multilingual."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes import _language
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import lang_name, sentences

NAME = "language_mismatch"
TITLE = ("query and documents in different languages", "查询与文档语言不同")
S = sentences("language_mismatch")


def detect(p: Probe) -> dict[str, Any] | None:
    return _language.facts(p, True) if _language.mismatch(p) else None


def verdict(x: dict[str, Any], lang: str) -> str:
    return _language.verdict(NAME, x, lang)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    q, d = lang_name(x["query_language"], lang), lang_name(x["corpus_language"], lang)
    out = [_language.tokenizer_line(x, lang)] if x.get("tokens") else []
    out.append(S.languages(lang, q=q, d=d, corpus_share=x.get("corpus_share", 0), chunks=x.get("chunks", 0)))
    return out + ([_language.recommend_line(x["recommend"], lang)] if x.get("recommend") else [])


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return _language.fixes(x)
