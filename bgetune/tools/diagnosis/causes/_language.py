"""What language mismatch and tokenizer coverage share: the measured facts, the sentences, the model advice."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bgetune.tools.diagnosis.causes._shared import fix, worse
from bgetune.tools.diagnosis.models import CHINESE, MULTILINGUAL, display_name, model_languages, recommend
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import lang_name, sentences

S = sentences("language")
KNOWN = {"en": ("English-only", "只懂英文"), "zh": ("Chinese-only", "只懂中文")}


def mismatch(p: Probe) -> bool:
    """Query and documents in different languages (zh/en), and a base model that is not multilingual."""
    corpus = p.eng.corpus_language
    return (
        p.q_lang in ("zh", "en")
        and corpus in ("zh", "en")
        and p.q_lang != corpus
        and model_languages(p.eng.base_res) != "multi"
    )


def facts(p: Probe, is_mismatch: bool) -> dict[str, Any]:
    eng = p.eng
    advice = MULTILINGUAL if is_mismatch or eng.corpus_language != "zh" else CHINESE
    return {
        "query_language": p.q_lang,
        "corpus_language": eng.corpus_language,
        "corpus_share": round(eng.corpus_share, 3),
        "chunks": eng.n_chunks,
        "model": display_name(eng.base_res.spec),
        "model_languages": model_languages(eng.base_res),
        **{k: v for k, v in asdict(p.tok).items() if k != "model"},
        "recommend": recommend(advice, eng.models[0].model),
    }


def verdict(cause: str, x: dict[str, Any], lang: str) -> str:
    bad = x.get("unknown", 0) + x.get("byte_fallback", 0)
    tok = S.unreadable(lang, bad=bad, tokens=x.get("tokens"), rate=x.get("rate", 0)) if bad else ""
    known = KNOWN.get(x.get("model_languages") or "", ("not multilingual", "不是多语言模型"))
    values = {
        "q": lang_name(x["query_language"], lang),
        "d": lang_name(x["corpus_language"], lang),
        "model": x.get("model", ""),
        "known": known[1] if lang == "zh" else known[0],
        "tok": tok,
        "worse": worse(x, lang),
    }
    return (S.mismatch if cause == "language_mismatch" else S.cannot_read)(lang, **values)


def tokenizer_line(x: dict[str, Any], lang: str) -> str:
    return S.tokenizer(lang, **x | {"pieces": " ".join(x.get("pieces", [])[:12])})


def recommend_line(rec: dict[str, Any], lang: str) -> str:
    return S.recommend(lang, **rec, net="" if rec["cached"] else S.not_cached(lang))


def fixes(x: dict[str, Any]) -> list[FixAction]:
    rec = x.get("recommend")
    return [fix("switch_base_model", {"model": rec["model"]}, S.switch, **rec)] if rec else []
