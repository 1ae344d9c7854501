"""What language mismatch and tokenizer coverage share: the measured facts, the sentences, the model advice."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bgetune.tools.diagnosis.causes._shared import Say, fix, worse
from bgetune.tools.diagnosis.models import CHINESE, MULTILINGUAL, display_name, model_languages, recommend
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import lang_name

UNREADABLE = Say(
    ": its tokenizer turns {bad} of the query's {tokens} tokens into unknown or byte pieces ({rate:.0%})",
    "：它的分词器把查询的 {tokens} 个词元中的 {bad} 个变成了未知或字节碎片（{rate:.0%}）",
)
MISMATCH = Say(
    "The query is in {q} but the documents are in {d}, and the base model {model} is {known}{tok}{worse}.",
    "查询是{q}，但文档是{d}，而基础模型 {model} {known}{tok}{worse}。",
)
CANNOT_READ = Say(
    "The base model {model} cannot read {q} well{tok}{worse}, so the query's meaning is mostly lost.",
    "基础模型 {model} 读不好{q}{tok}{worse}，查询的意思大多丢失了。",
)
KNOWN = {"en": ("English-only", "只懂英文"), "zh": ("Chinese-only", "只懂中文")}
TOKENIZER = Say(
    "tokenizer of {model}: {unknown} unknown + {byte_fallback} byte-fallback of {tokens} tokens ({rate:.0%}): "
    "{pieces}",
    "{model} 的分词器：{tokens} 个词元中 {unknown} 个未知、{byte_fallback} 个字节碎片（{rate:.0%}）：{pieces}",
)
RECOMMEND = Say(
    "a model that reads both: {model} ({languages}); cost: {params_m:.0f}M parameters, about {ratio:.0f}x the "
    "current model's {current_m:.0f}M, so roughly that much slower to encode and train on a CPU (a GPU is advised), "
    "a {download_gb} GB download{net}, {dim}-dim vectors",
    "可以读懂两种语言的模型：{model}（{languages_zh}）；代价：{params_m:.0f}M 参数，约为当前模型 {current_m:.0f}M 的 "
    "{ratio:.0f} 倍，CPU 上编码和训练大约慢这么多（建议用 GPU），需下载 {download_gb} GB{net}，向量 {dim} 维",
)
NOT_CACHED = Say(" (not in the local cache: needs the network once)", "（本地缓存中没有：需要联网一次）")
SWITCH = Say(
    "Switch the base model to {model} ({languages}; {params_m:.0f}M parameters, ~{ratio:.0f}x slower than now), "
    "then re-ingest and retrain",
    "把基础模型换成 {model}（{languages_zh}；{params_m:.0f}M 参数，比现在慢约 {ratio:.0f} 倍），然后重新导入并训练",
)


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
    tok = UNREADABLE(lang, bad=bad, tokens=x.get("tokens"), rate=x.get("rate", 0)) if bad else ""
    known = KNOWN.get(x.get("model_languages") or "", ("not multilingual", "不是多语言模型"))
    values = {
        "q": lang_name(x["query_language"], lang),
        "d": lang_name(x["corpus_language"], lang),
        "model": x.get("model", ""),
        "known": known[1] if lang == "zh" else known[0],
        "tok": tok,
        "worse": worse(x, lang),
    }
    return (MISMATCH if cause == "language_mismatch" else CANNOT_READ)(lang, **values)


def tokenizer_line(x: dict[str, Any], lang: str) -> str:
    return TOKENIZER(lang, **x | {"pieces": " ".join(x.get("pieces", [])[:12])})


def recommend_line(rec: dict[str, Any], lang: str) -> str:
    return RECOMMEND(lang, **rec, net="" if rec["cached"] else NOT_CACHED(lang))


def fixes(x: dict[str, Any]) -> list[FixAction]:
    rec = x.get("recommend")
    return [fix("switch_base_model", {"model": rec["model"]}, SWITCH, **rec)] if rec else []
