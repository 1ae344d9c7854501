"""Terms, stems and the few language helpers the diagnosis's sentences use."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bgetune.core.i18n import say  # the diagnosis modules import it from here

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*[A-Za-z0-9+]|[A-Za-z0-9]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_STOP = set(
    "a an the of to in on for and or is are was were be been being do does did how what which who whom why when "
    "where can could should would will shall may might must i you he she it we they me my your our their this that "
    "these those with without from by as at into about than then there here not no yes if any some all its also "
    "has have had get got use using used such other more most only very just so".split()
)
LANG_NAMES = {
    "en": ("English", "英文"),
    "zh": ("Chinese", "中文"),
    "mixed": ("mixed Chinese and English", "中英混合"),
    "unknown": ("an unknown language", "未知语言"),
}


def terms(text: str) -> set[str]:
    """Content terms: lower-cased Latin words without stop words, plus CJK character bigrams."""
    out = {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 1}
    for run in _CJK_RUN.findall(text):
        out.update(run[i : i + 2] for i in range(len(run) - 1)) if len(run) > 1 else out.add(run)
    return out


def stem(term: str) -> str:
    """A crude English stem so 'packages'/'package' and 'installed'/'install' match; CJK unchanged."""
    if not term.isascii() or len(term) <= 4:
        return term
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ed", "ly"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            return term[: -len(suffix)] + ("y" if suffix == "ies" else "")
    if term.endswith(("sses", "xes", "zes", "ches", "shes")):
        return term[:-2]
    if term.endswith("s") and not term.endswith("ss"):
        return term[:-1]
    return term


def stems(ts: set[str]) -> set[str]:
    return {stem(t) for t in ts}


def coverage(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def snippet(text: str, n: int = 160) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def lang_of(query: str, lang: str | None) -> str:
    """The reply language: the one asked for, else the query's."""
    if lang in ("en", "zh"):
        return lang
    from bgetune.core.text import detect_language

    return "zh" if detect_language(query) in ("zh", "mixed") else "en"


def lang_name(code: str, lang: str) -> str:
    en, zh = LANG_NAMES.get(code, (code, code))
    return zh if lang == "zh" else en


def terms_list(ts: list[str], n: int = 6) -> str:
    return ", ".join(f"'{t}'" for t in ts[:n])


def fmt_prob(p: float | None) -> str:
    return "–" if p is None else f"{p:.2f}"


def model_name(model: str, lang: str) -> str:
    """'base' / 'tuned' in the reply's language."""
    return say(lang, model, "基础模型" if model == "base" else "微调模型")


@dataclass(frozen=True)
class Say:
    """One sentence in English and Chinese, filled with ``str.format`` from the facts (``{score:.3f}``)."""

    en: str
    zh: str

    def __call__(self, lang: str, **values: Any) -> str:
        return (self.zh if lang == "zh" else self.en).format(**values)


CATALOG = Path(__file__).resolve().parents[2] / "data" / "diagnosis_sentences.json"


@cache
def _catalog() -> dict[str, dict[str, list[str]]]:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


class Sentences(dict[str, Say]):
    """The sentences of one catalog group, by name: ``S.verdict(lang, **facts)``."""

    def __getattr__(self, name: str) -> Say:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def sentences(group: str) -> Sentences:
    """Every sentence of a catalog group (a cause, the fixes, the offers, the batch summary): the catalog,
    ``bgetune/data/diagnosis_sentences.json``, holds every verdict, evidence line and fix label in English and
    Chinese, one place to read or translate them."""
    return Sentences({name: Say(en, zh) for name, (en, zh) in _catalog()[group].items()})
