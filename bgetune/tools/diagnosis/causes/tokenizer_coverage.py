"""Tokenizer coverage: the base model's tokenizer turns much of the query into unknown or byte pieces."""

from __future__ import annotations

from typing import Any

from bgetune.tools.diagnosis.causes import _language
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction

NAME = "tokenizer_coverage"
TITLE = ("base model cannot read the query's language", "基础模型读不懂查询的语言")


def detect(p: Probe) -> dict[str, Any] | None:
    return _language.facts(p, False) if p.tok.poor and not _language.mismatch(p) else None


def verdict(x: dict[str, Any], lang: str) -> str:
    return _language.verdict(NAME, x, lang)


def evidence(x: dict[str, Any], lang: str) -> list[str]:
    out = [_language.tokenizer_line(x, lang)] if x.get("tokens") else []
    return out + ([_language.recommend_line(x["recommend"], lang)] if x.get("recommend") else [])


def fixes(x: dict[str, Any], d: Any) -> list[FixAction]:
    return _language.fixes(x)
