"""What language mismatch and tokenizer coverage share: the measured facts, the sentence, the model advice."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bgetune.tools.diagnosis.models import CHINESE, MULTILINGUAL, display_name, model_languages
from bgetune.tools.diagnosis.probe import Probe
from bgetune.tools.diagnosis.records import FixAction
from bgetune.tools.diagnosis.text import lang_name, say


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
    out = {
        "query_language": p.q_lang,
        "corpus_language": eng.corpus_language,
        "corpus_share": round(eng.corpus_share, 3),
        "chunks": eng.n_chunks,
        "model": display_name(eng.base_res.spec),
        "model_languages": model_languages(eng.base_res),
        **{k: v for k, v in asdict(p.tok).items() if k != "model"},
    }
    advice = MULTILINGUAL if is_mismatch or eng.corpus_language != "zh" else CHINESE
    out["recommend"] = eng.recommend(advice)
    return out


def verdict(cause: str, x: dict[str, Any], lang: str, worse: str) -> str:
    q = lang_name(x["query_language"], lang)
    tok = ""
    if x.get("unknown", 0) + x.get("byte_fallback", 0):
        bad = x["unknown"] + x["byte_fallback"]
        tok = say(
            lang,
            f": its tokenizer turns {bad} of the query's {x['tokens']} tokens into unknown or byte pieces "
            f"({x['rate']:.0%})",
            f"：它的分词器把查询的 {x['tokens']} 个词元中的 {bad} 个变成了未知或字节碎片（{x['rate']:.0%}）",
        )
    model = x.get("model", "")
    known = {"en": ("English-only", "只懂英文"), "zh": ("Chinese-only", "只懂中文")}.get(
        x.get("model_languages") or "", ("not multilingual", "不是多语言模型")
    )
    if cause == "language_mismatch":
        d = lang_name(x["corpus_language"], lang)
        return say(
            lang,
            f"The query is in {q} but the documents are in {d}, and the base model {model} is {known[0]}{tok}{worse}.",
            f"查询是{q}，但文档是{d}，而基础模型 {model} {known[1]}{tok}{worse}。",
        )
    return say(
        lang,
        f"The base model {model} cannot read {q} well{tok}{worse}, so the query's meaning is mostly lost.",
        f"基础模型 {model} 读不好{q}{tok}{worse}，查询的意思大多丢失了。",
    )


def tokenizer_line(x: dict[str, Any], lang: str) -> str:
    pieces = " ".join(x.get("pieces", [])[:12])
    return say(
        lang,
        f"tokenizer of {x.get('model')}: {x['unknown']} unknown + {x['byte_fallback']} byte-fallback of "
        f"{x['tokens']} tokens ({x['rate']:.0%}): {pieces}",
        f"{x.get('model')} 的分词器：{x['tokens']} 个词元中 {x['unknown']} 个未知、{x['byte_fallback']} 个"
        f"字节碎片（{x['rate']:.0%}）：{pieces}",
    )


def recommend_line(rec: dict[str, Any], lang: str) -> str:
    net = "" if rec["cached"] else " (not in the local cache: needs the network once)"
    net_zh = "" if rec["cached"] else "（本地缓存中没有：需要联网一次）"
    return say(
        lang,
        f"a model that reads both: {rec['model']} ({rec['languages']}); cost: {rec['params_m']:.0f}M "
        f"parameters, about {rec['ratio']:.0f}x the current model's {rec['current_m']:.0f}M, so roughly "
        f"that much slower to encode and train on a CPU (a GPU is advised), a {rec['download_gb']} GB "
        f"download{net}, {rec['dim']}-dim vectors",
        f"可以读懂两种语言的模型：{rec['model']}（{rec['languages_zh']}）；代价：{rec['params_m']:.0f}M 参数，"
        f"约为当前模型 {rec['current_m']:.0f}M 的 {rec['ratio']:.0f} 倍，CPU 上编码和训练大约慢这么多"
        f"（建议用 GPU），需下载 {rec['download_gb']} GB{net_zh}，向量 {rec['dim']} 维",
    )


def fixes(x: dict[str, Any]) -> list[FixAction]:
    rec = x.get("recommend")
    if not rec:
        return []
    return [
        FixAction(
            "switch_base_model",
            {"model": rec["model"]},
            f"Switch the base model to {rec['model']} ({rec['languages']}; {rec['params_m']:.0f}M parameters, "
            f"~{rec['ratio']:.0f}x slower than now), then re-ingest and retrain",
            f"把基础模型换成 {rec['model']}（{rec['languages_zh']}；{rec['params_m']:.0f}M 参数，比现在慢约 "
            f"{rec['ratio']:.0f} 倍），然后重新导入并训练",
        )
    ]
