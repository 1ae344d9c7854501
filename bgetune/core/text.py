"""Small text utilities shared by every stage: language detection, CJK-aware joining, normalisation."""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_CJK_IDEO = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
ZH_SENTENCE_END = "。！？；!?;"
_WS = re.compile(r"\s+")


def cjk_count(text: str) -> int:
    return len(_CJK_IDEO.findall(text))


def detect_language(text: str) -> str:
    """'zh', 'en', 'mixed' or 'unknown', from the share of CJK ideographs vs Latin words."""
    zh = cjk_count(text)
    en = sum(len(w) for w in _LATIN_WORD.findall(text))
    total = zh + en
    if total < 4:
        return "unknown"
    share = zh / total
    if share >= 0.6:
        return "zh"
    if share <= 0.1:
        return "en"
    return "mixed"


def corpus_language(counts: dict[str, int]) -> str:
    """Language of a corpus from per-chunk counts {lang: n}: one language at >= 80% of chunks wins."""
    total = sum(n for lang, n in counts.items() if lang in ("zh", "en", "mixed"))
    if not total:
        return "en"
    for lang in ("zh", "en"):
        if counts.get(lang, 0) / total >= 0.8:
            return lang
    return "mixed"


def is_cjk_char(ch: str) -> bool:
    return bool(ch) and bool(_CJK.match(ch))


def join_lines(a: str, b: str) -> str:
    """Join two wrapped lines: no space between CJK characters, de-hyphenate English, else one space."""
    if not a:
        return b
    if not b:
        return a
    if a.endswith("\ufffe") or a.endswith("\u00ad"):
        return a[:-1] + b
    if a.endswith("-") and len(a) > 1 and a[-2].isalpha() and b[:1].islower():
        return a[:-1] + b
    if is_cjk_char(a[-1]) or is_cjk_char(b[0]):
        return a + b
    return a + " " + b


def normalize_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def clean_text(text: str) -> str:
    """NFC, no control characters (but newlines and tabs), no PDF hyphenation markers."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\ufffe", "").replace("\u00ad", "").replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def normalize_for_match(text: str) -> str:
    """Aggressive normalisation for matching a quoted answer to a chunk: NFKC, lower case, no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


_IDS = re.compile(
    r"(?<![A-Za-z0-9_.])#?(\d{1,7})(?:\s*(?:-|–|~|～|到|至|\bto\b|\bthrough\b)\s*#?(\d{1,7}))?(?![A-Za-z0-9_.])",
    re.I,
)
MAX_ID_RANGE = 1000


def parse_ids(text: str | None) -> list[int]:
    """Ids named in text, in order, once each: '3, 5 7', '#12', '1-20', '3 to 9', '5到8' (a range is every id in
    it, up to MAX_ID_RANGE). The chat's review requests and the UI's id box read ids the same way."""
    out: list[int] = []
    for m in _IDS.finditer(text or ""):
        a, b = int(m.group(1)), int(m.group(2)) if m.group(2) else None
        out += (
            list(range(a, b + 1))
            if b is not None and a <= b <= a + MAX_ID_RANGE
            else [a] + ([b] if b is not None else [])
        )
    return list(dict.fromkeys(out))
