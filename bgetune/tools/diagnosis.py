"""Why does this query miss? And what to do about it.

``diagnose`` ranks the corpus with the base and the tuned model side by side, finds where the expected answer
ranks (given as text, a chunk id, a document + page, or a pick from the last result list), tests the causes of
a miss (language mismatch, a tokenizer that cannot read the query, a vocabulary gap, truncation, an answer split
across chunks, a missing label, a topic without training pairs, a threshold that is the only problem, or no miss
at all), says one verdict sentence with its evidence in English or Chinese, and offers fix actions.
Each diagnosis is stored in the ``misses`` table; ``apply_fix`` turns a miss into a training pair, a golden
question, an extra positive, a threshold, a re-chunked document or another base model.
``diagnose_golden`` does the same for every golden question and groups the failures by cause.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bgetune.core.errors import BgetuneError
from bgetune.core.workspace import TRAINABLE
from bgetune.tools.calibration import CALIBRATION_FILE, load_calibration, platt_probability
from bgetune.tools.evaluation import EvaluationError

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace


class DiagnosisError(BgetuneError, EvaluationError):
    """A diagnosis or a fix that cannot run as asked, with what to do instead."""


# ---------------------------------------------------------------------------------------------- terms
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*[A-Za-z0-9+]|[A-Za-z0-9]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_STOP = set(
    "a an the of to in on for and or is are was were be been being do does did how what which who whom why when "
    "where can could should would will shall may might must i you he she it we they me my your our their this that "
    "these those with without from by as at into about than then there here not no yes if any some all its also "
    "has have had get got use using used such other more most only very just so".split()
)
PLAUSIBLE_SEMANTIC = 0.9  # passage-passage cosine above which a competitor says the same thing
PLAUSIBLE_LEXICAL = 0.6  # term Jaccard with the expected passage
COVERED_SIMILARITY = 0.7  # a training query this close means the topic was trained on
SPLIT_COVERAGE = 0.9
VOCAB_GAP_COVERAGE = 0.34  # at most this share of the query's terms in the expected passage: a vocabulary gap
TOKENIZER_POOR = (
    0.15  # unknown + byte-fallback share of the query's tokens above which the tokenizer fails it
)
CONTEXT_K = 3  # an expected passage in the top 3 above the threshold reaches a RAG context: not a miss


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


def coverage(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _stems(ts: set[str]) -> set[str]:
    return {stem(t) for t in ts}


def _snippet(text: str, n: int = 160) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _say(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def _lang_of(query: str, lang: str | None) -> str:
    if lang in ("en", "zh"):
        return lang
    from bgetune.core.text import detect_language

    return "zh" if detect_language(query) in ("zh", "mixed") else "en"


LANG_NAMES = {
    "en": ("English", "英文"),
    "zh": ("Chinese", "中文"),
    "mixed": ("mixed Chinese and English", "中英混合"),
    "unknown": ("an unknown language", "未知语言"),
}


def _lang_name(code: str, lang: str) -> str:
    en, zh = LANG_NAMES.get(code, (code, code))
    return zh if lang == "zh" else en


# ---------------------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelAdvice:
    """A base model we may recommend, with what it costs."""

    model: str
    params_m: float  # millions of parameters
    download_gb: float
    dim: int
    languages: str
    languages_zh: str


MULTILINGUAL = ModelAdvice(
    "BAAI/bge-m3", 568, 2.3, 1024, "100+ languages, cross-lingual", "100 多种语言，可跨语言"
)
CHINESE = ModelAdvice(
    "BAAI/bge-small-zh-v1.5", 24, 0.1, 512, "Chinese (and some English)", "中文（兼顾少量英文）"
)
_MODEL_CACHE: dict[tuple[str, str, float], Any] = {}
_CACHE_LOCK = threading.Lock()


def _mtime(path: str) -> float:
    p = Path(path)
    if not p.is_dir():
        return 0.0
    return max((f.stat().st_mtime for f in p.iterdir() if f.is_file()), default=0.0)


def _load(resolved: Any) -> Any:
    """A loaded model, kept in memory across diagnoses (keyed by path, family rules and file times)."""
    from bgetune.core.models import load_model

    key = (resolved.key, resolved.path, _mtime(resolved.path))
    with _CACHE_LOCK:
        if key not in _MODEL_CACHE:
            if len(_MODEL_CACHE) >= 4:
                _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
            _MODEL_CACHE[key] = load_model(resolved)
        return _MODEL_CACHE[key]


def model_languages(resolved: Any) -> str | None:
    """'multi', 'zh', 'en' or None (unknown) for a resolved base model, from its name and family."""
    hint = f"{resolved.spec} {resolved.path} {resolved.family.name}".lower()
    if any(k in hint for k in ("bge-m3", "multilingual", "xlm", "labse", "gte-multi", "e5-m")):
        return "multi"
    if resolved.family.name == "bge-zh" or "-zh" in hint or "chinese" in hint or "text2vec" in hint:
        return "zh"
    if resolved.family.name == "bge-en" or resolved.spec == "bundled" or "minilm" in hint or "-en" in hint:
        return "en"
    return None


def _display_name(spec: str) -> str:
    return "bundled all-MiniLM-L6-v2" if spec == "bundled" else spec


def _cached_offline(model_id: str) -> bool:
    try:
        from bgetune.core.models import _hub_cached_path

        return _hub_cached_path(model_id) is not None
    except Exception:  # pragma: no cover - hub library quirks
        return False


@dataclass
class TokenizerCoverage:
    """How well the base model's tokenizer reads the query: unknown and byte-fallback pieces, measured."""

    model: str
    tokens: int
    unknown: int
    byte_fallback: int
    rate: float  # (unknown + byte_fallback) / tokens
    pieces: list[str]

    @property
    def poor(self) -> bool:
        return self.tokens > 0 and self.rate >= TOKENIZER_POOR


def tokenizer_coverage(model: Any, text: str, model_name: str = "") -> TokenizerCoverage:
    tok = model.tokenizer
    pieces = [str(p) for p in tok.tokenize(text)]
    unk = sum(1 for p in pieces if tok.unk_token is not None and p == tok.unk_token)
    byte = sum(1 for p in pieces if _BYTE_PIECE.match(p))
    n = len(pieces)
    return TokenizerCoverage(model_name, n, unk, byte, round((unk + byte) / n, 3) if n else 0.0, pieces[:24])


# ---------------------------------------------------------------------------------------------- records
@dataclass
class ResultRow:
    """One ranked passage for one model."""

    rank: int
    chunk_id: str
    score: float
    probability: float | None
    passes: bool | None  # at the threshold; None when there is no threshold
    document: str
    page: str | None
    title: str
    text: str
    expected: bool = False

    def where(self) -> str:
        return f"{self.document} p.{self.page}" if self.page else self.document


@dataclass
class ModelRanking:
    """Results of one model, and where the expected answer ranks with it."""

    model: str  # base | tuned
    spec: str
    threshold: float | None
    results: list[ResultRow]
    expected_rank: int | None = None
    expected_score: float | None = None
    expected_probability: float | None = None
    expected_passes: bool | None = None


@dataclass
class ExpectedAnswer:
    """The passage that should come first, as resolved in the workspace."""

    chunk_ids: list[str]  # every chunk counted as the answer (one, two halves, or a page's chunks)
    how: str  # exact | fuzzy | spans | id | page | pick | not found
    chunk_id: str | None = None  # the one a fix uses (best ranked by the main model)
    document: str | None = None
    page: str | None = None
    title: str | None = None
    text: str | None = None
    coverage: float = 1.0
    split_across_chunks: bool = False
    given: str | None = None  # what the user said


@dataclass
class Finding:
    """One tested cause that holds, with the facts behind it (JSON-ready)."""

    cause: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class FixAction:
    """A fix the user can take in one step: ``apply_fix(ws, miss_id, action, **args)``."""

    action: str
    args: dict[str, Any]
    label_en: str
    label_zh: str

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" else self.label_en


CAUSES = (
    "not_a_miss",
    "unconfirmed",
    "nothing_passes",
    "expected_not_found",
    "language_mismatch",
    "tokenizer_coverage",
    "truncation",
    "split_answer",
    "missing_label",
    "threshold_only",
    "vocabulary_gap",
    "no_training_pairs",
    "competitors",
)
CAUSE_NAMES = {
    "not_a_miss": ("does not miss", "没有漏检"),
    "unconfirmed": ("no threshold to judge", "没有阈值可判断"),
    "nothing_passes": ("nothing passes the threshold", "没有结果超过阈值"),
    "expected_not_found": ("expected answer not in the documents", "文档中找不到期望答案"),
    "language_mismatch": ("query and documents in different languages", "查询与文档语言不同"),
    "tokenizer_coverage": ("base model cannot read the query's language", "基础模型读不懂查询的语言"),
    "truncation": ("answer cut off by the max sequence length", "答案超出最大长度被截断"),
    "split_answer": ("answer split across chunks", "答案被切分到相邻片段"),
    "missing_label": ("missing label (another passage says the same)", "缺少标注（其他段落说的是同一件事）"),
    "threshold_only": ("only the threshold is wrong", "只是阈值的问题"),
    "vocabulary_gap": ("vocabulary gap", "用词不一致"),
    "no_training_pairs": ("topic without training pairs", "该主题没有训练样本"),
    "competitors": ("other passages outrank it", "其他段落排在前面"),
}


def cause_name(cause: str, lang: str = "en") -> str:
    en, zh = CAUSE_NAMES.get(cause, (cause, cause))
    return zh if lang == "zh" else en


@dataclass
class Diagnosis:
    """A diagnosis: both models' results, where the expected answer ranks, the verdict, evidence and fixes."""

    query: str
    lang: str
    cause: str
    findings: list[Finding]
    base: ModelRanking
    tuned: ModelRanking | None
    expected: ExpectedAnswer | None
    actions: list[FixAction]
    query_language: str
    corpus_language: str
    tokenizer: TokenizerCoverage | None = None
    miss_id: int | None = None

    @property
    def main(self) -> ModelRanking:
        return self.tuned or self.base

    @property
    def is_miss(self) -> bool:
        return self.cause not in ("not_a_miss",)

    @property
    def finding(self) -> Finding:
        return self.findings[0]

    @property
    def verdict(self) -> str:
        return self.verdict_in(self.lang)

    def verdict_in(self, lang: str) -> str:
        return verdict_sentence(self.finding, lang)

    @property
    def next_step(self) -> str:
        return self.actions[0].label(self.lang) if self.actions else ""

    def evidence(self, lang: str) -> list[str]:
        """One line per finding (the verdict's first), in ``lang``."""
        return [line for f in self.findings for line in evidence_lines(f, lang)]

    def text(self, lang: str | None = None) -> str:
        lang = lang or self.lang
        out = [_say(lang, f"Query: {self.query}", f"查询：{self.query}")]
        out += _results_table(self, lang)
        if self.expected is not None:
            out.append(_expected_line(self, lang))
        out.append(_say(lang, "**Verdict:** ", "**结论：**") + self.verdict_in(lang))
        ev = self.evidence(lang)
        if ev:
            out.append(_say(lang, "Evidence:", "依据："))
            out += [f"- {line}" for line in ev]
        if self.actions:
            out.append(_say(lang, "What you can do:", "可以这样修复："))
            for i, a in enumerate(self.actions, 1):
                out.append(f"{i}. {a.label(lang)}")
        if self.miss_id is not None and self.actions:
            out.append(
                _say(
                    lang,
                    f"(miss #{self.miss_id}: `bgetune fix {self.miss_id} ACTION`; "
                    "name the right passage by its number, e.g. 'the second one', or say 'none of these')",
                    f"（漏检 #{self.miss_id}：`bgetune fix {self.miss_id} 动作`；可用编号指出正确段落，如“第二个”，"
                    "或说“都不是”）",
                )
            )
        return "\n".join(out)

    def data(self) -> dict[str, Any]:
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        d["next_step"] = self.next_step
        d["main"] = "tuned" if self.tuned else "base"
        return d

    # transitional read access for surfaces that still take the old dict result (ui/render, agent/planner)
    def _legacy(self) -> dict[str, Any]:
        d = self.as_dict()
        d["results"] = d[d["main"]]["results"]
        return {"verdict": d["verdict"], "next_step": d["next_step"]} | {
            k: v for k, v in d.items() if k not in ("verdict", "next_step")
        }

    def get(self, key: str, default: Any = None) -> Any:
        return self._legacy().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._legacy()[key]

    def items(self) -> Any:
        return self._legacy().items()


# ---------------------------------------------------------------------------------------------- rendering
def _fmt_prob(p: float | None) -> str:
    return "–" if p is None else f"{p:.2f}"


def _fmt_pass(p: bool | None) -> str:
    return "–" if p is None else "✓" if p else "✗"


def _cell(r: ResultRow, width: int = 46) -> str:
    label = _snippet(r.title or r.text, width)
    star = "★ " if r.expected else ""
    return f"{star}{label} ({r.where()})".replace("|", "/")


def _results_table(d: Diagnosis, lang: str) -> list[str]:
    models = [m for m in (d.base, d.tuned) if m is not None]
    head = ["#"]
    for m in models:
        name = _say(lang, m.model, "基础模型" if m.model == "base" else "微调模型")
        head += [f"{name}: {_say(lang, 'passage', '段落')}", _say(lang, "score", "得分"), "p", "✓"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    n = max(len(m.results) for m in models)
    for i in range(n):
        row = [str(i + 1)]
        for m in models:
            if i < len(m.results):
                r = m.results[i]
                row += [_cell(r), f"{r.score:.3f}", _fmt_prob(r.probability), _fmt_pass(r.passes)]
            else:
                row += ["", "", "", ""]
        lines.append("| " + " | ".join(row) + " |")
    thr = [
        f"{_say(lang, m.model, '基础模型' if m.model == 'base' else '微调模型')} {m.threshold:.3f}"
        for m in models
        if m.threshold is not None
    ]
    lines.append(
        _say(lang, "threshold: ", "阈值：") + ", ".join(thr)
        if thr
        else _say(
            lang,
            "no calibrated threshold yet (`bgetune calibrate` adds one, with probabilities)",
            "尚无校准阈值（运行 `bgetune calibrate` 可得到阈值和概率）",
        )
    )
    if d.tuned is not None:
        lines.append(_say(lang, "numbers refer to the tuned model's list", "编号指微调模型的结果列表"))
    return lines


def _expected_line(d: Diagnosis, lang: str) -> str:
    e = d.expected
    assert e is not None
    if not e.chunk_ids:
        return _say(
            lang,
            f"Expected answer: not found in the workspace (best term coverage {e.coverage:.0%}).",
            f"期望答案：工作区中找不到（最佳词语覆盖率 {e.coverage:.0%}）。",
        )
    where = f"{e.document} p.{e.page}" if e.page else (e.document or "")
    ranks = []
    for m in (d.base, d.tuned):
        if m is None or m.expected_rank is None:
            continue
        name = _say(lang, m.model, "基础模型" if m.model == "base" else "微调模型")
        extra = f", p={m.expected_probability:.2f}" if m.expected_probability is not None else ""
        ranks.append(
            _say(
                lang,
                f"rank {m.expected_rank} with {name} (score {m.expected_score:.3f}{extra})",
                f"{name}排第 {m.expected_rank} 位（得分 {m.expected_score:.3f}{extra}）",
            )
        )
    title = f" “{_snippet(e.title or e.text or '', 60)}”" if (e.title or e.text) else ""
    return (
        _say(lang, "Expected answer: ", "期望答案：")
        + f"{where}{title}: "
        + _say(lang, "; ", "；").join(ranks)
    )


def _terms_list(ts: list[str], n: int = 6) -> str:
    return ", ".join(f"'{t}'" for t in ts[:n])


def verdict_sentence(f: Finding, lang: str) -> str:
    """The one-sentence verdict for a finding, in English or Chinese."""
    x = f.facts
    rank = x.get("rank")
    worse = ""
    if x.get("worse"):
        b, t = x["worse"]
        worse = _say(
            lang,
            f" (the fine-tune made it worse: rank {b} -> {t})",
            f"（微调后更差：第 {b} 位 -> 第 {t} 位）",
        )
    c = f.cause
    if c == "not_a_miss":
        top = x.get("top") or {}
        if x.get("expected_known"):
            where = (
                _say(lang, "first", "第 1 位")
                if rank == 1
                else _say(lang, f"at rank {rank}", f"第 {rank} 位")
            )
            thr = (
                _say(lang, f", above the threshold {x['threshold']:.3f}", f"，高于阈值 {x['threshold']:.3f}")
                if x.get("threshold") is not None
                else ""
            )
            return _say(
                lang,
                f"It does not miss: the expected passage comes {where} (score {x['score']:.3f}{thr}).",
                f"没有漏检：期望的段落排在{where}（得分 {x['score']:.3f}{thr}）。",
            )
        return _say(
            lang,
            f"It does not miss: rank 1 is {top.get('where')} “{top.get('title')}” (probability "
            f"{_fmt_prob(top.get('probability'))}, above the threshold {x['threshold']:.3f}). If that is not the "
            "answer, tell me which result is (its number) or give the expected text.",
            f"没有漏检：第 1 位是 {top.get('where')}“{top.get('title')}”（概率 {_fmt_prob(top.get('probability'))}，"
            f"高于阈值 {x['threshold']:.3f}）。如果它不是答案，请告诉我哪一条是（编号），或给出期望的原文。",
        )
    if c == "unconfirmed":
        top = x.get("top") or {}
        return _say(
            lang,
            f"Rank 1 is {top.get('where')} “{top.get('title')}” (score {top.get('score', 0):.3f}); there is no "
            "calibrated threshold to say whether it passes. If it is the answer, the query does not miss; if not, "
            "pick the right result by its number, give the expected text, or say 'none of these'.",
            f"第 1 位是 {top.get('where')}“{top.get('title')}”（得分 {top.get('score', 0):.3f}）；还没有校准阈值，"
            "无法判断它是否通过。如果它就是答案，则没有漏检；否则请用编号选出正确结果、给出期望原文，或说“都不是”。",
        )
    if c == "nothing_passes":
        top = x.get("top") or {}
        return _say(
            lang,
            f"Nothing passes the threshold {x['threshold']:.3f}: the best result, {top.get('where')} "
            f"“{top.get('title')}”, has probability {_fmt_prob(top.get('probability'))}. Tell me which passage "
            "should answer (its number or its text), or 'none of these' if the documents do not answer it.",
            f"没有结果超过阈值 {x['threshold']:.3f}：最好的结果 {top.get('where')}“{top.get('title')}”概率只有 "
            f"{_fmt_prob(top.get('probability'))}。请告诉我哪段应当是答案（编号或原文）；如果文档里没有答案，请说“都不是”。",
        )
    if c == "expected_not_found":
        return _say(
            lang,
            f"The expected answer is not in the workspace: no chunk holds that text (best term coverage "
            f"{x.get('coverage', 0):.0%}).",
            f"工作区里找不到期望的答案：没有片段包含这段文字（最佳词语覆盖率 {x.get('coverage', 0):.0%}）。",
        )
    if c in ("language_mismatch", "tokenizer_coverage"):
        q = _lang_name(x["query_language"], lang)
        tok = ""
        if x.get("unknown", 0) + x.get("byte_fallback", 0):
            tok = _say(
                lang,
                f": its tokenizer turns {x['unknown'] + x['byte_fallback']} of the query's {x['tokens']} tokens "
                f"into unknown or byte pieces ({x['rate']:.0%})",
                f"：它的分词器把查询的 {x['tokens']} 个词元中的 {x['unknown'] + x['byte_fallback']} 个变成了"
                f"未知或字节碎片（{x['rate']:.0%}）",
            )
        model = x.get("model", "")
        known = {"en": ("English-only", "只懂英文"), "zh": ("Chinese-only", "只懂中文")}.get(
            x.get("model_languages") or "", ("not multilingual", "不是多语言模型")
        )
        if c == "language_mismatch":
            d = _lang_name(x["corpus_language"], lang)
            return _say(
                lang,
                f"The query is in {q} but the documents are in {d}, and the base model {model} is {known[0]}{tok}"
                f"{worse}.",
                f"查询是{q}，但文档是{d}，而基础模型 {model} {known[1]}{tok}{worse}。",
            )
        return _say(
            lang,
            f"The base model {model} cannot read {q} well{tok}{worse}, so the query's meaning is mostly lost.",
            f"基础模型 {model} 读不好{q}{tok}{worse}，查询的意思大多丢失了。",
        )
    if c == "truncation":
        if x.get("answer_beyond_limit"):
            return _say(
                lang,
                f"The answer sits past the model's {x['max_seq_length']}-token limit in its chunk "
                f"({x['tokens']} tokens), so the model never sees it (rank {rank}){worse}.",
                f"答案位于片段中超过模型 {x['max_seq_length']} 词元上限的部分（片段共 {x['tokens']} 词元），"
                f"模型根本看不到它（排第 {rank} 位）{worse}。",
            )
        return _say(
            lang,
            f"Ranked {rank}; its chunk has {x['tokens']} tokens, more than the model's {x['max_seq_length']}-token "
            f"limit, so the end of it is cut off{worse}.",
            f"排第 {rank} 位；它所在片段有 {x['tokens']} 个词元，超过模型 {x['max_seq_length']} 的上限，"
            f"后半部分被截断{worse}。",
        )
    if c == "split_answer":
        return _say(
            lang,
            f"The answer is split across two neighbouring chunks of {x.get('document')}: neither holds it whole, "
            f"the next chunk completes it (rank {rank}){worse}.",
            f"答案被切分到 {x.get('document')} 的两个相邻片段里：任何一个都不完整，下一个片段才补全它"
            f"（排第 {rank} 位）{worse}。",
        )
    if c == "missing_label":
        return _say(
            lang,
            f"Ranked {rank}, but the {x['n']} passage(s) above it say the same thing (similarity "
            f"{x['similarity']:.2f} to the expected one): a missing label, not a model error{worse}.",
            f"排第 {rank} 位，但排在它前面的 {x['n']} 个段落说的是同一件事（与期望段落相似度 {x['similarity']:.2f}）："
            f"这是缺少标注，不是模型错误{worse}。",
        )
    if c == "threshold_only":
        return _say(
            lang,
            f"The right passage comes first, but its score {x['score']:.3f} is below the threshold "
            f"{x['threshold']:.3f}: the threshold is the only problem.",
            f"正确段落排第 1 位，但得分 {x['score']:.3f} 低于阈值 {x['threshold']:.3f}：问题只在阈值。",
        )
    if c == "vocabulary_gap":
        return _say(
            lang,
            f"Ranked {rank}: the query's words {_terms_list(x['missing'])} do not appear in the expected passage, "
            f"which says {_terms_list(x['instead'])} instead{worse}.",
            f"排第 {rank} 位：查询里的 {_terms_list(x['missing'])} 在期望段落中没有出现，"
            f"文档用的是 {_terms_list(x['instead'])}{worse}。",
        )
    if c == "no_training_pairs":
        near = x.get("nearest_similarity")
        if not x.get("train_pairs"):
            return _say(
                lang,
                f"Ranked {rank}: there are no training pairs yet, so nothing taught the model this topic{worse}.",
                f"排第 {rank} 位：还没有任何训练样本，模型没学过这个主题{worse}。",
            )
        held = (
            _say(lang, " (its chunk is held out in the test split)", "（该片段属于测试集，不参与训练）")
            if x.get("held_out")
            else ""
        )
        return _say(
            lang,
            f"Ranked {rank}: no training question is close to this one (nearest similarity {near:.2f}), so the "
            f"fine-tune never learnt this topic{held}{worse}.",
            f"排第 {rank} 位：没有接近这个问题的训练问题（最近相似度 {near:.2f}），微调没有学过这个主题{held}{worse}。",
        )
    # competitors
    return _say(
        lang,
        f"Ranked {rank}, {x.get('gap', 0):.3f} below the top result: {x.get('n', 0)} different passage(s) outrank "
        f"it{worse}.",
        f"排第 {rank} 位，比第 1 名低 {x.get('gap', 0):.3f}：有 {x.get('n', 0)} 个不同的段落排在它前面{worse}。",
    )


def evidence_lines(f: Finding, lang: str) -> list[str]:
    """The measured facts behind a finding, one line each."""
    x, c = f.facts, f.cause
    out: list[str] = []
    if c in ("language_mismatch", "tokenizer_coverage"):
        if x.get("tokens"):
            out.append(
                _say(
                    lang,
                    f"tokenizer of {x.get('model')}: {x['unknown']} unknown + {x['byte_fallback']} byte-fallback of "
                    f"{x['tokens']} tokens ({x['rate']:.0%}): {' '.join(x.get('pieces', [])[:12])}",
                    f"{x.get('model')} 的分词器：{x['tokens']} 个词元中 {x['unknown']} 个未知、{x['byte_fallback']} 个"
                    f"字节碎片（{x['rate']:.0%}）：{' '.join(x.get('pieces', [])[:12])}",
                )
            )
        if c == "language_mismatch":
            out.append(
                _say(
                    lang,
                    f"query language {_lang_name(x['query_language'], lang)}; documents "
                    f"{x.get('corpus_share', 0):.0%} {_lang_name(x['corpus_language'], lang)} "
                    f"({x.get('chunks', 0)} chunks)",
                    f"查询语言：{_lang_name(x['query_language'], lang)}；文档 {x.get('corpus_share', 0):.0%} 为"
                    f"{_lang_name(x['corpus_language'], lang)}（共 {x.get('chunks', 0)} 个片段）",
                )
            )
        rec = x.get("recommend")
        if rec:
            out.append(
                _say(
                    lang,
                    f"a model that reads both: {rec['model']} ({rec['languages']}); cost: {rec['params_m']:.0f}M "
                    f"parameters, about {rec['ratio']:.0f}x the current model's {rec['current_m']:.0f}M, so roughly "
                    f"that much slower to encode and train on a CPU (a GPU is advised), a {rec['download_gb']} GB "
                    f"download{'' if rec['cached'] else ' (not in the local cache: needs the network once)'}, "
                    f"{rec['dim']}-dim vectors",
                    f"可以读懂两种语言的模型：{rec['model']}（{rec['languages_zh']}）；代价：{rec['params_m']:.0f}M 参数，"
                    f"约为当前模型 {rec['current_m']:.0f}M 的 {rec['ratio']:.0f} 倍，CPU 上编码和训练大约慢这么多"
                    f"（建议用 GPU），需下载 {rec['download_gb']} GB"
                    f"{'' if rec['cached'] else '（本地缓存中没有：需要联网一次）'}，向量 {rec['dim']} 维",
                )
            )
    elif c == "vocabulary_gap":
        out.append(
            _say(
                lang,
                f"query terms found in the expected passage: {x['coverage']:.0%}; missing: "
                f"{_terms_list(x['missing'], 10)}; the passage's closest words: {_terms_list(x['instead'], 8)}",
                f"查询词在期望段落中出现的比例：{x['coverage']:.0%}；缺少：{_terms_list(x['missing'], 10)}；"
                f"段落里最接近的词：{_terms_list(x['instead'], 8)}",
            )
        )
    elif c == "missing_label":
        for comp in x.get("competitors", [])[:3]:
            out.append(
                _say(
                    lang,
                    f"{comp['where']} “{comp['title']}”: similarity {comp['similarity']:.2f} to the expected "
                    f"passage, term overlap {comp['overlap']:.0%}",
                    f"{comp['where']}“{comp['title']}”：与期望段落相似度 {comp['similarity']:.2f}，词语重合 "
                    f"{comp['overlap']:.0%}",
                )
            )
    elif c == "split_answer":
        out.append(
            _say(
                lang,
                f"the expected text covers {x.get('single', 0):.0%} of one chunk's terms alone and "
                f"{x.get('pair', 0):.0%} with its neighbour",
                f"期望文字单独在一个片段中覆盖 {x.get('single', 0):.0%}，加上相邻片段覆盖 {x.get('pair', 0):.0%}",
            )
        )
    elif c == "truncation":
        out.append(
            _say(
                lang,
                f"chunk {x['chunk_id']}: {x['tokens']} tokens > max_seq_length {x['max_seq_length']}",
                f"片段 {x['chunk_id']}：{x['tokens']} 个词元 > 最大长度 {x['max_seq_length']}",
            )
        )
    elif c == "no_training_pairs":
        for q in x.get("nearest", [])[:3]:
            out.append(
                _say(
                    lang,
                    f"nearest training question ({q['similarity']:.2f}): {q['query']}",
                    f"最接近的训练问题（{q['similarity']:.2f}）：{q['query']}",
                )
            )
        out.append(
            _say(
                lang,
                f"training pairs on the expected passage: {x.get('on_passage', 0)}",
                f"期望段落上的训练样本：{x.get('on_passage', 0)} 个",
            )
        )
    elif c == "threshold_only":
        out.append(
            _say(
                lang,
                f"probability {_fmt_prob(x.get('probability'))}; a threshold of {x['suggested']:.3f} lets it through",
                f"概率 {_fmt_prob(x.get('probability'))}；阈值设为 {x['suggested']:.3f} 即可通过",
            )
        )
    elif c == "competitors":
        for comp in x.get("competitors", [])[:3]:
            out.append(
                _say(
                    lang,
                    f"{comp['where']} “{comp['title']}” (score {comp['score']:.3f}, similarity to the expected "
                    f"{comp['similarity']:.2f})",
                    f"{comp['where']}“{comp['title']}”（得分 {comp['score']:.3f}，与期望段落相似度 "
                    f"{comp['similarity']:.2f}）",
                )
            )
    return out


# ---------------------------------------------------------------------------------------------- expected answer
def locate_expected(ws: Workspace, *, expected: str | None, expected_id: str | None) -> dict[str, Any]:
    """Chunk ids holding the expected passage, and whether it spans adjacent chunks."""
    from bgetune.core.text import normalize_for_match

    chunks = ws.query("SELECT id, ext_id, document_id, ord, text FROM chunks ORDER BY document_id, ord")
    if expected_id:
        ids = [c["id"] for c in chunks if expected_id in (c["id"], c["ext_id"])]
        if not ids:
            raise DiagnosisError(
                f"no chunk with id {expected_id!r} in {ws.root}; use a chunk id from `bgetune status`/the review "
                "table, a knowledge-base id (ext_id), or pass --expected TEXT"
            )
        return {"chunk_ids": ids, "how": "id", "split_across_chunks": False, "coverage": 1.0}
    assert expected is not None
    norm = normalize_for_match(expected)
    ids = [c["id"] for c in chunks if norm and norm in normalize_for_match(c["text"])]
    if ids:
        return {"chunk_ids": ids, "how": "exact", "split_across_chunks": False, "coverage": 1.0}
    want = terms(expected)
    cov = [coverage(want, terms(c["text"])) for c in chunks]
    if not cov:
        raise DiagnosisError(f"workspace {ws.root} has no chunks; ingest documents first")
    best = int(np.argmax(cov))
    pair_best, pair_cov = None, 0.0
    for i in range(len(chunks) - 1):
        a, b = chunks[i], chunks[i + 1]
        if a["document_id"] != b["document_id"]:
            continue
        c = coverage(want, terms(a["text"]) | terms(b["text"]))
        if c > pair_cov:
            pair_best, pair_cov = i, c
    if (
        pair_best is not None
        and pair_cov >= SPLIT_COVERAGE
        and cov[best] < SPLIT_COVERAGE
        and pair_cov - cov[best] >= 0.15
    ):
        pair = [chunks[pair_best]["id"], chunks[pair_best + 1]["id"]]
        return {
            "chunk_ids": pair,
            "how": "spans",
            "split_across_chunks": True,
            "coverage": round(pair_cov, 3),
            "best_single_coverage": round(cov[best], 3),
        }
    if cov[best] >= 0.6:
        return {
            "chunk_ids": [chunks[best]["id"]],
            "how": "fuzzy",
            "split_across_chunks": False,
            "coverage": round(cov[best], 3),
        }
    return {
        "chunk_ids": [],
        "how": "not found",
        "split_across_chunks": False,
        "coverage": round(cov[best], 3),
    }


_DOC_PAGE = re.compile(
    r"^\s*[\"'“「]?(?P<doc>[^\"'”」]+?\.[A-Za-z0-9]{2,5})[\"'”」]?\s*[,，]?\s*"
    r"(?:(?:p\.?|pp\.?|pg\.?|page)\s*(?P<p1>\d+)|第\s*(?P<p2>\d+)\s*页)\s*$",
    re.I,
)


def parse_doc_page(ws: Workspace, text: str) -> tuple[dict[str, Any], int] | None:
    """('R-FAQ.pdf p. 12' | 'R-FAQ.pdf 第12页') -> (document row, page) when such a document is in the workspace."""
    m = _DOC_PAGE.match(text)
    if not m:
        return None
    name = m.group("doc").strip().lower()
    page = int(m.group("p1") or m.group("p2"))
    for d in ws.documents(status="ok"):
        if d["name"].lower() == name or Path(d["name"]).stem.lower() == Path(name).stem:
            return d, page
    return None


def _last_miss(ws: Workspace) -> dict[str, Any] | None:
    row = ws.conn.execute("SELECT * FROM misses ORDER BY updated_at DESC, id DESC LIMIT 1").fetchone()
    return dict(row) if row else None


# ---------------------------------------------------------------------------------------------- the engine
@dataclass
class _Model:
    name: str
    spec: str
    model: Any
    resolved: Any
    ids: list[str]
    emb: np.ndarray
    block: dict[str, Any] | None
    threshold: float | None


_TRAIN_CACHE: dict[tuple[str, str], np.ndarray] = {}


class _Engine:
    """Models, corpus embeddings, calibration and training queries, loaded once for one or many diagnoses."""

    def __init__(self, ws: Workspace, model_dir: str | None = None) -> None:
        from bgetune.core.models import corpus_embeddings, model_fingerprint
        from bgetune.core.text import corpus_language
        from bgetune.tools.evaluation import latest_tuned_dir, resolve_workspace_base

        if not ws.scalar("SELECT count(*) FROM chunks"):
            raise DiagnosisError(
                f"workspace {ws.root} has no chunks; ingest documents first (`bgetune ingest`)"
            )
        self.ws = ws
        self.rows = {
            r["id"]: dict(r)
            for r in ws.query(
                "SELECT c.id, c.text, c.heading, c.ext_id, c.document_id, c.ord, c.page_start, c.page_end, c.split, "
                "c.language, d.name AS doc, d.path AS doc_path FROM chunks c JOIN documents d ON d.id=c.document_id "
                "ORDER BY c.document_id, c.ord"
            )
        }
        self.order = list(self.rows)
        langs = ws.stats()["chunk_languages"]
        self.corpus_language = corpus_language(langs)
        total = sum(langs.values()) or 1
        self.corpus_share = langs.get(self.corpus_language, 0) / total
        self.n_chunks = total
        tuned_dir = model_dir or latest_tuned_dir(ws)
        base_res = resolve_workspace_base(ws)
        self.base_res = base_res
        cal = load_calibration(ws.artifact_path(CALIBRATION_FILE, mkdir=False))
        if cal is None and tuned_dir:
            cal = load_calibration(tuned_dir)
        blocks: dict[str, Any] = {"base": None, "tuned": None}
        if cal and cal.get("after"):  # top level describes the tuned model, 'before' the base
            blocks = {"base": cal.get("before"), "tuned": cal}
        elif cal:
            blocks["base"] = cal
        user_thr = ws.get_setting("threshold")
        specs: list[tuple[str, str, Any, Any]] = [("base", base_res.spec, _load(base_res), base_res)]
        if tuned_dir:
            from bgetune.core.models import resolve_base_model

            if not Path(tuned_dir).exists():
                raise DiagnosisError(
                    f"model folder {tuned_dir} does not exist; pass --model DIR or train first"
                )
            tres = resolve_base_model(tuned_dir)
            specs.append(("tuned", tuned_dir, _load(tres), tres))
        self.models: list[_Model] = []
        for i, (name, spec, model, res) in enumerate(specs):
            ids, emb = corpus_embeddings(ws, model, fingerprint=model_fingerprint(model, res))
            block = blocks.get(name)
            thr = block.get("threshold_f1", block.get("threshold")) if block else None
            if (
                user_thr is not None and i == len(specs) - 1
            ):  # the user's threshold applies to the model in use
                thr = float(user_thr)
            self.models.append(_Model(name, spec, model, res, ids, emb, block, thr))
        self.main = self.models[-1]
        self.where = {c: i for i, c in enumerate(self.main.ids)}
        self.train = [
            dict(r)
            for r in ws.query(
                f"SELECT id, query, chunk_id FROM pairs WHERE {TRAINABLE} AND "
                "(split='train' OR split IS NULL) ORDER BY id"
            )
        ]
        self._train_emb: np.ndarray | None = None

    # -------------------------------------------------------------- helpers
    def scores(self, queries: list[str]) -> list[np.ndarray]:
        """Per model: (n_queries, n_chunks) cosine scores."""
        from bgetune.core.models import encode

        return [encode(m.model, queries, kind="query") @ m.emb.T for m in self.models]

    def train_emb(self) -> np.ndarray:
        if self._train_emb is None:
            from bgetune.core.models import encode

            key = (str(id(self.main.model)), "\n".join(r["query"] for r in self.train))
            if key not in _TRAIN_CACHE:
                if len(_TRAIN_CACHE) >= 4:
                    _TRAIN_CACHE.pop(next(iter(_TRAIN_CACHE)))
                _TRAIN_CACHE[key] = encode(self.main.model, [r["query"] for r in self.train], kind="query")
            self._train_emb = _TRAIN_CACHE[key]
        return self._train_emb

    def page(self, cid: str) -> str | None:
        r = self.rows[cid]
        a, b = r["page_start"], r["page_end"]
        if a is None:
            return None
        return str(a) if b in (None, a) else f"{a}-{b}"

    def title(self, cid: str) -> str:
        r = self.rows[cid]
        head = (r["heading"] or "").split(" > ")[-1].strip()
        return _snippet(head or r["text"], 70)

    def row(self, m: _Model, scores: np.ndarray, j: int, rank: int, exp: set[str]) -> ResultRow:
        cid = m.ids[j]
        s = float(scores[j])
        r = self.rows[cid]
        return ResultRow(
            rank=rank,
            chunk_id=cid,
            score=round(s, 4),
            probability=round(platt_probability(s, m.block["platt"]), 4) if m.block else None,
            passes=None if m.threshold is None else s >= m.threshold,
            document=r["doc"],
            page=self.page(cid),
            title=self.title(cid),
            text=_snippet(r["text"]),
            expected=cid in exp,
        )

    def token_count(self, text: str) -> int:
        return len(self.main.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    # -------------------------------------------------------------- expected answer
    def resolve_expected(
        self,
        query_scores: np.ndarray,
        *,
        expected: str | None,
        expected_id: str | None,
        pick_chunk: str | None,
        given: str | None,
    ) -> ExpectedAnswer | None:
        if pick_chunk:
            ids, how, cov, split = [pick_chunk], "pick", 1.0, False
        elif expected_id:
            loc = locate_expected(self.ws, expected=None, expected_id=expected_id)
            ids, how, cov, split = loc["chunk_ids"], "id", 1.0, False
        elif expected:
            dp = parse_doc_page(self.ws, expected)
            if dp is not None:
                doc, page = dp
                ids = [
                    c
                    for c, r in self.rows.items()
                    if r["document_id"] == doc["id"]
                    and r["page_start"] is not None
                    and r["page_start"] <= page <= (r["page_end"] or r["page_start"])
                ]
                if not ids:
                    raise DiagnosisError(
                        f"{doc['name']} has no text on page {page} in this workspace "
                        f"(pages 1-{doc['pages'] or '?'}); check the page number or pass --expected TEXT"
                    )
                how, cov, split = "page", 1.0, False
            else:
                loc = locate_expected(self.ws, expected=expected, expected_id=None)
                ids, how, cov, split = (
                    loc["chunk_ids"],
                    loc["how"],
                    loc["coverage"],
                    loc["split_across_chunks"],
                )
        else:
            return None
        if not ids:
            return ExpectedAnswer([], "not found", coverage=cov, given=given)
        main_scores = query_scores
        best = max(ids, key=lambda c: float(main_scores[self.where[c]]) if c in self.where else -9.0)
        if split:  # the half that starts the answer is the one a fix points at
            best = ids[0]
        return ExpectedAnswer(
            chunk_ids=list(ids),
            how=how,
            chunk_id=best,
            document=self.rows[best]["doc"],
            page=self.page(best) if how != "page" else str(self.rows[best]["page_start"]),
            title=self.title(best),
            text=_snippet(self.rows[best]["text"], 240),
            coverage=cov,
            split_across_chunks=split,
            given=given,
        )

    # -------------------------------------------------------------- the diagnosis
    def diagnose(
        self,
        query: str,
        lang: str,
        exp: ExpectedAnswer | None,
        all_scores: list[np.ndarray],
        *,
        top_k: int = 10,
        expected_text: str | None = None,
    ) -> Diagnosis:
        from bgetune.core.text import detect_language

        exp_ids = set(exp.chunk_ids) if exp else set()
        rankings: list[ModelRanking] = []
        orders: list[np.ndarray] = []
        for m, scores in zip(self.models, all_scores, strict=True):
            order = np.argsort(-scores)
            orders.append(order)
            results = [self.row(m, scores, int(j), r + 1, exp_ids) for r, j in enumerate(order[:top_k])]
            mr = ModelRanking(m.name, m.spec, m.threshold, results)
            if exp_ids:
                pos = {m.ids[j]: r + 1 for r, j in enumerate(order)}
                best = min(exp_ids, key=lambda c: pos.get(c, 10**9))
                s = float(scores[m.ids.index(best)])
                mr.expected_rank = pos[best]
                mr.expected_score = round(s, 4)
                mr.expected_probability = (
                    round(platt_probability(s, m.block["platt"]), 4) if m.block else None
                )
                mr.expected_passes = None if m.threshold is None else s >= m.threshold
            rankings.append(mr)
        base = rankings[0]
        tuned = rankings[1] if len(rankings) > 1 else None
        main_r, main_m = rankings[-1], self.main
        main_scores, main_order = all_scores[-1], orders[-1]

        q_lang = detect_language(query)
        tok = tokenizer_coverage(self.models[0].model, query, self.base_res.spec)
        m_langs = model_languages(self.base_res)
        findings: list[Finding] = []
        lang_facts = {
            "query_language": q_lang,
            "corpus_language": self.corpus_language,
            "corpus_share": round(self.corpus_share, 3),
            "chunks": self.n_chunks,
            "model": _display_name(self.base_res.spec),
            "model_languages": m_langs,
            **{k: v for k, v in asdict(tok).items() if k != "model"},
        }
        mismatch = (
            q_lang in ("zh", "en")
            and self.corpus_language in ("zh", "en")
            and q_lang != self.corpus_language
            and m_langs != "multi"
        )
        if mismatch or tok.poor:
            lang_facts["recommend"] = self._recommend(
                MULTILINGUAL if mismatch or self.corpus_language != "zh" else CHINESE
            )
            if mismatch:
                findings.append(Finding("language_mismatch", lang_facts))
            else:
                findings.append(Finding("tokenizer_coverage", lang_facts))

        def top_fact(j: int = 0) -> dict[str, Any]:
            r = main_r.results[j]
            return {"where": r.where(), "title": r.title, "score": r.score, "probability": r.probability}

        if exp is None:
            if not findings:
                if main_m.threshold is None:
                    findings.append(Finding("unconfirmed", {"top": top_fact()}))
                elif main_r.results[0].passes:
                    findings.append(Finding("not_a_miss", {"top": top_fact(), "threshold": main_m.threshold}))
                else:
                    findings.append(
                        Finding("nothing_passes", {"top": top_fact(), "threshold": main_m.threshold})
                    )
            return self._finish(query, lang, findings, base, tuned, exp, q_lang, tok)
        if not exp.chunk_ids:
            findings.insert(0, Finding("expected_not_found", {"coverage": exp.coverage}))
            return self._finish(query, lang, findings, base, tuned, exp, q_lang, tok)

        rank = main_r.expected_rank or 10**9
        score = main_r.expected_score or 0.0
        thr = main_m.threshold
        common: dict[str, Any] = {"rank": rank, "score": score, "threshold": thr}
        if tuned is not None and base.expected_rank and base.expected_rank < rank:
            common["worse"] = [base.expected_rank, rank]
        passes = thr is None or score >= thr
        if (rank == 1 and passes) or (rank <= CONTEXT_K and thr is not None and score >= thr):
            f = Finding("not_a_miss", {**common, "expected_known": True})
            return self._finish(query, lang, [f], base, tuned, exp, q_lang, tok)
        if rank == 1 and thr is not None and score < thr:
            f = Finding(
                "threshold_only",
                {
                    **common,
                    "probability": main_r.expected_probability,
                    "suggested": float(np.floor((score - 0.005) * 1000) / 1000),
                },
            )
            return self._finish(query, lang, [f, *findings], base, tuned, exp, q_lang, tok)
        for f in findings:
            f.facts.update(common)

        where = self.where
        exp_text = " ".join(self.rows[c]["text"] for c in exp.chunk_ids)
        exp_terms, q_terms = terms(exp_text), terms(query)
        # truncation
        max_len = int(main_m.model.max_seq_length or 512)
        trunc: dict[str, Any] | None = None
        for c in exp.chunk_ids:
            n_tok = self.token_count(self.rows[c]["text"])
            if n_tok <= max_len:
                continue
            cut = False
            if expected_text:
                from bgetune.core.text import normalize_for_match

                nt, ne = normalize_for_match(self.rows[c]["text"]), normalize_for_match(expected_text)
                pos = nt.find(ne[:60]) if ne else -1
                cut = pos >= 0 and pos / max(1, len(nt)) * n_tok > max_len * 0.9
            trunc = {
                **common,
                "chunk_id": c,
                "tokens": n_tok,
                "max_seq_length": max_len,
                "answer_beyond_limit": cut,
                "document": self.rows[c]["doc"],
            }
            if cut:
                break
        # an answer split across chunks: given text spans two, or the next/previous chunk completes the query
        split: dict[str, Any] | None = None
        if exp.split_across_chunks:
            split = {**common, "document": exp.document, "single": 0.0, "pair": exp.coverage}
        elif len(exp.chunk_ids) == 1 and len(q_terms) >= 2:
            c = exp.chunk_ids[0]
            i = self.order.index(c)
            qs = _stems(q_terms)
            alone = coverage(qs, _stems(terms(self.rows[c]["text"])))
            for k in (i + 1, i - 1):
                if 0 <= k < len(self.order):
                    nb = self.rows[self.order[k]]
                    if nb["document_id"] != self.rows[c]["document_id"]:
                        continue
                    both = coverage(qs, _stems(terms(self.rows[c]["text"] + " " + nb["text"])))
                    if alone < 0.5 and both >= 0.75 and both - alone >= 0.34:
                        split = {
                            **common,
                            "document": self.rows[c]["doc"],
                            "single": round(alone, 3),
                            "pair": round(both, 3),
                            "neighbour": nb["id"],
                        }
                        break
        # the passages above it: plausible answers (missing label) or real competitors
        comps = []
        for j in main_order[: min(rank - 1, max(top_k, 10))]:
            cid = main_m.ids[j]
            if cid in exp_ids:
                continue
            sem = max(float(main_m.emb[j] @ main_m.emb[where[e]]) for e in exp_ids if e in where)
            lex = jaccard(terms(self.rows[cid]["text"]), exp_terms)
            comps.append(
                {
                    "chunk_id": cid,
                    "where": f"{self.rows[cid]['doc']}" + (f" p.{self.page(cid)}" if self.page(cid) else ""),
                    "title": self.title(cid),
                    "score": round(float(main_scores[j]), 4),
                    "similarity": round(sem, 3),
                    "overlap": round(lex, 3),
                    "plausible": sem >= PLAUSIBLE_SEMANTIC or lex >= PLAUSIBLE_LEXICAL,
                }
            )
        plausible = [c for c in comps if c["plausible"]]
        label: dict[str, Any] | None = None
        if comps and (len(plausible) == len(comps) or comps[0]["plausible"]):
            label = {
                **common,
                "n": len(plausible),
                "similarity": max(c["similarity"] for c in plausible),
                "competitors": plausible,
            }
        # vocabulary gap
        gap: dict[str, Any] | None = None
        qs, es = _stems(q_terms), _stems(exp_terms)
        cov = coverage(qs, es)
        if len(q_terms) >= 2 and cov <= VOCAB_GAP_COVERAGE:
            missing = sorted(t for t in q_terms if stem(t) not in es)
            gap = {
                **common,
                "coverage": round(cov, 3),
                "missing": missing,
                "instead": self._closest_terms(missing, exp_terms - q_terms),
            }
        # training coverage of the topic
        on_chunk = sum(1 for r in self.train if r["chunk_id"] in exp_ids)
        nearest: list[dict[str, Any]] = []
        if self.train:
            from bgetune.core.models import encode

            q_emb = encode(main_m.model, [query], kind="query")[0]
            sims = self.train_emb() @ q_emb
            for j in np.argsort(-sims)[:3]:
                nearest.append(
                    {
                        "query": self.train[j]["query"],
                        "similarity": round(float(sims[j]), 3),
                        "same_passage": self.train[j]["chunk_id"] in exp_ids,
                    }
                )
        covered = on_chunk > 0 or (bool(nearest) and nearest[0]["similarity"] >= COVERED_SIMILARITY)
        held_out = any(self.rows[c]["split"] == "test" for c in exp_ids)
        train_f = None
        if not covered:
            train_f = {
                **common,
                "train_pairs": len(self.train),
                "on_passage": on_chunk,
                "nearest": nearest,
                "nearest_similarity": nearest[0]["similarity"] if nearest else 0.0,
                "held_out": held_out,
            }
        real = [c for c in comps if not c["plausible"]]
        ordered: list[Finding] = list(findings)
        if trunc and trunc["answer_beyond_limit"]:
            ordered.append(Finding("truncation", trunc))
        if split:
            ordered.append(Finding("split_answer", split))
        if label:
            ordered.append(Finding("missing_label", label))
        if gap:
            ordered.append(Finding("vocabulary_gap", gap))
        if trunc and not trunc["answer_beyond_limit"]:
            ordered.append(Finding("truncation", trunc))
        if train_f:
            ordered.append(Finding("no_training_pairs", train_f))
        if not ordered or real:
            gap_top = round(float(main_scores[main_order[0]]) - score, 4)
            comp_f = Finding(
                "competitors", {**common, "gap": gap_top, "n": len(real), "competitors": real[:3]}
            )
            if not ordered:
                ordered.append(comp_f)
            elif not any(f.cause == "missing_label" for f in ordered):
                ordered.append(comp_f)
        return self._finish(query, lang, ordered, base, tuned, exp, q_lang, tok)

    def _closest_terms(self, missing: list[str], candidates: set[str], n: int = 6) -> list[str]:
        """Words of the expected passage closest in meaning to the query's missing words (the model's view)."""
        from bgetune.core.models import encode

        cands = sorted(c for c in candidates if len(c) > 2 and not c.isdigit())[:120]
        if not missing or not cands:
            return cands[:n]
        a = encode(self.main.model, missing, kind="passage")
        b = encode(self.main.model, cands, kind="passage")
        best = (b @ a.T).max(axis=1)
        return [cands[i] for i in np.argsort(-best)[:n]]

    def _recommend(self, advice: ModelAdvice) -> dict[str, Any]:
        current = sum(p.numel() for p in self.models[0].model.parameters()) / 1e6
        return {
            **asdict(advice),
            "current_m": round(current, 1),
            "ratio": round(advice.params_m / max(current, 1e-6), 1),
            "cached": _cached_offline(advice.model),
        }

    def _finish(
        self,
        query: str,
        lang: str,
        findings: list[Finding],
        base: ModelRanking,
        tuned: ModelRanking | None,
        exp: ExpectedAnswer | None,
        q_lang: str,
        tok: TokenizerCoverage,
    ) -> Diagnosis:
        d = Diagnosis(
            query=query,
            lang=lang,
            cause=findings[0].cause,
            findings=findings,
            base=base,
            tuned=tuned,
            expected=exp,
            actions=[],
            query_language=q_lang,
            corpus_language=self.corpus_language,
            tokenizer=tok,
        )
        d.actions = _actions(d, self)
        return d


# ---------------------------------------------------------------------------------------------- actions
ACTIONS = (
    "add_training_pair",
    "add_golden",
    "relabel_competitor",
    "set_threshold",
    "rechunk",
    "switch_base_model",
    "no_answer",
    "dismiss",
)


def _actions(d: Diagnosis, eng: _Engine) -> list[FixAction]:
    out: list[FixAction] = []
    exp = d.expected
    cid = exp.chunk_id if exp and exp.chunk_ids else None
    where = (f"{exp.document} p.{exp.page}" if exp.page else exp.document) if exp and cid else ""
    seen: set[str] = set()

    def add(action: str, args: dict[str, Any], en: str, zh: str) -> None:
        key = action + json.dumps(args, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(FixAction(action, args, en, zh))

    for f in d.findings:
        x = f.facts
        if f.cause in ("language_mismatch", "tokenizer_coverage") and x.get("recommend"):
            rec = x["recommend"]
            add(
                "switch_base_model",
                {"model": rec["model"]},
                f"Switch the base model to {rec['model']} ({rec['languages']}; {rec['params_m']:.0f}M parameters, "
                f"~{rec['ratio']:.0f}x slower than now), then re-ingest and retrain",
                f"把基础模型换成 {rec['model']}（{rec['languages_zh']}；{rec['params_m']:.0f}M 参数，比现在慢约 "
                f"{rec['ratio']:.0f} 倍），然后重新导入并训练",
            )
        elif f.cause == "threshold_only":
            add(
                "set_threshold",
                {"value": x["suggested"]},
                f"Set the threshold to {x['suggested']:.3f} (from {x['threshold']:.3f})",
                f"把阈值从 {x['threshold']:.3f} 调到 {x['suggested']:.3f}",
            )
        elif f.cause == "truncation":
            ct = max(64, x["max_seq_length"] // 2)
            add(
                "rechunk",
                {"document": x["document"], "chunk_tokens": ct},
                f"Re-chunk {x['document']} into {ct}-token chunks so the answer fits the model's limit",
                f"把 {x['document']} 重新切成 {ct} 词元的片段，让答案落在模型长度之内",
            )
        elif f.cause == "split_answer":
            ov = 96
            add(
                "rechunk",
                {"document": x["document"], "chunk_overlap": ov},
                f"Re-chunk {x['document']} with a {ov}-token overlap so one chunk holds the whole answer",
                f"以 {ov} 词元的重叠重新切分 {x['document']}，让一个片段装下完整答案",
            )
        elif f.cause == "missing_label":
            for comp in x["competitors"][:2]:
                add(
                    "relabel_competitor",
                    {"chunk_id": comp["chunk_id"]},
                    f"Mark {comp['where']} “{comp['title']}” as a second right answer to this query",
                    f"把 {comp['where']}“{comp['title']}”也标为这个查询的正确答案",
                )
        elif f.cause in ("not_a_miss", "unconfirmed") and not x.get("expected_known") and d.main.results:
            top = d.main.results[0]
            cond_en, cond_zh = (
                ("If result 1 is right: a", "如果第 1 条是对的：") if f.cause == "unconfirmed" else ("A", "")
            )
            add(
                "add_golden",
                {"chunk_id": top.chunk_id},
                f"{cond_en}dd this query with result 1 ({top.where()}) as its answer to the golden set",
                f"{cond_zh}把这个查询和第 1 条结果（{top.where()}）作为答案加入黄金测试集",
            )
        elif f.cause == "nothing_passes" and d.main.threshold is not None and d.main.results:
            s = d.main.results[0].score
            val = float(np.floor((s - 0.005) * 1000) / 1000)
            add(
                "set_threshold",
                {"value": val},
                f"If result 1 is right: lower the threshold to {val:.3f} (more answers, less precision)",
                f"如果第 1 条是对的：把阈值降到 {val:.3f}（答案更多，精度更低）",
            )
    if cid and d.cause not in ("not_a_miss", "expected_not_found"):
        add(
            "add_training_pair",
            {"chunk_id": cid},
            f"Add this query with {where} as an approved training pair, so the next run learns it",
            f"把这个查询和 {where} 作为已批准的训练样本加入，下次训练就会学到",
        )
    if cid and d.cause != "expected_not_found":
        add(
            "add_golden",
            {"chunk_id": cid},
            f"Add this query with {where} to the golden set, so the ship decision measures it",
            f"把这个查询和 {where} 加入黄金测试集，让发布决策衡量它",
        )
    if d.expected is None and d.cause in ("unconfirmed", "nothing_passes"):
        add(
            "no_answer",
            {},
            "None of these: the documents do not answer it (kept in the golden set as unanswerable)",
            "都不是：文档里没有答案（作为无答案问题保留在黄金测试集中）",
        )
    if d.cause not in ("not_a_miss", "unconfirmed"):
        add("dismiss", {}, "Not a real miss: mark it dismissed", "不算漏检：标记为已忽略")
    return out


# ---------------------------------------------------------------------------------------------- public API
def diagnose(
    ws: Workspace,
    query: str,
    *,
    expected: str | None = None,
    expected_id: str | None = None,
    expected_pick: int | None = None,
    lang: str | None = None,
    model_dir: str | None = None,
    top_k: int = 10,
    record: bool = True,
) -> Diagnosis:
    """Rank ``query`` with the base and tuned models, locate the expected answer (text, chunk id, 'DOC p. N',
    or ``expected_pick``: the n-th result of the last diagnosis), test the causes of a miss and offer fixes.
    The diagnosis is stored in the ``misses`` table (``Diagnosis.miss_id``) unless ``record`` is False."""
    query = (query or "").strip()
    given = expected or expected_id
    pick_chunk = None
    if expected_pick is not None:
        last = _last_miss(ws)
        if last is None:
            raise DiagnosisError("there is no earlier result list to pick from; diagnose a query first")
        detail = json.loads(last["detail"] or "{}")
        results = (detail.get(detail.get("main") or "base") or {}).get("results") or []
        if not 1 <= expected_pick <= len(results):
            raise DiagnosisError(
                f"pick a number from 1 to {len(results)} (the results of miss #{last['id']}: {last['query']!r})"
            )
        pick_chunk = results[expected_pick - 1]["chunk_id"]
        given = f"#{expected_pick}"
        if not query or query == last["query"]:
            query = last["query"]
            lang = lang or detail.get("lang")
        if ws.chunk(pick_chunk) is None:
            raise DiagnosisError(
                f"result {expected_pick} is no longer in the workspace (re-ingested?); diagnose again"
            )
    if not query:
        raise DiagnosisError("the query is empty; give the query that misses")
    if sum(x is not None and x != "" for x in (expected, expected_id, expected_pick)) > 1:
        raise DiagnosisError(
            "give the expected answer one way: text, a chunk id or a pick number, not several"
        )
    eng = _Engine(ws, model_dir)
    all_scores = [s[0] for s in eng.scores([query])]
    exp = eng.resolve_expected(
        all_scores[-1], expected=expected, expected_id=expected_id, pick_chunk=pick_chunk, given=given
    )
    d = eng.diagnose(
        query,
        _lang_of(query, lang),
        exp,
        all_scores,
        top_k=top_k,
        expected_text=expected if exp is not None and exp.how in ("exact", "fuzzy", "spans") else None,
    )
    if record:
        d.miss_id = record_miss(ws, d)
    return d


def record_miss(ws: Workspace, d: Diagnosis) -> int:
    """Store a diagnosis in ``misses``: the latest open row of the same query is updated, else a row is added."""
    from bgetune.core.workspace import now_iso

    status = "not-a-miss" if d.cause == "not_a_miss" else "open"
    detail = json.dumps(d.as_dict(), ensure_ascii=False, default=str)
    exp_id = d.expected.chunk_id if d.expected else None
    now = now_iso()
    with ws.tx() as c:
        row = c.execute(
            "SELECT id FROM misses WHERE query=? AND status IN ('open','not-a-miss') ORDER BY id DESC LIMIT 1",
            (d.query,),
        ).fetchone()
        if row:
            c.execute(
                "UPDATE misses SET expected_chunk_id=coalesce(?, expected_chunk_id), cause=?, verdict=?, detail=?, "
                "status=?, updated_at=? WHERE id=?",
                (exp_id, d.cause, d.verdict, detail, status, now, row["id"]),
            )
            return int(row["id"])
        cur = c.execute(
            "INSERT INTO misses(query, expected_chunk_id, cause, verdict, detail, status, created_at, updated_at) "
            "VALUES(?,?,?,?,?,?,?,?)",
            (d.query, exp_id, d.cause, d.verdict, detail, status, now, now),
        )
        return int(cur.lastrowid)


# ---------------------------------------------------------------------------------------------- misses view
@dataclass
class MissRow:
    id: int
    query: str
    expected_chunk_id: str | None
    cause: str | None
    verdict: str | None
    status: str
    created_at: str
    updated_at: str


@dataclass
class MissList:
    """The queries diagnosed so far, newest first, with what was done about them."""

    rows: list[MissRow]

    def text(self, lang: str = "en") -> str:
        if not self.rows:
            return _say(
                lang,
                'No queries diagnosed yet. Try: bgetune diagnose "your query" --expected "the right passage"',
                '还没有诊断过查询。试试：bgetune diagnose "你的查询" --expected "正确的段落"',
            )
        lines = [
            _say(lang, f"{len(self.rows)} diagnosed queries:", f"已诊断 {len(self.rows)} 个查询："),
            "| # | " + _say(lang, "query | cause | status", "查询 | 原因 | 状态") + " |",
            "|---|---|---|---|",
        ]
        for r in self.rows:
            q = _snippet(r.query, 60).replace("|", "/")
            lines.append(f"| {r.id} | {q} | {cause_name(r.cause or '', lang)} | {r.status} |")
        return "\n".join(lines)


def misses(ws: Workspace, *, status: str | None = None) -> list[MissRow]:
    """Every diagnosed query, newest first (optionally only one status, or a prefix like 'fixed')."""
    sql = "SELECT id, query, expected_chunk_id, cause, verdict, status, created_at, updated_at FROM misses"
    params: tuple[Any, ...] = ()
    if status:
        sql += " WHERE status=? OR status LIKE ?"
        params = (status, status + ":%")
    rows = ws.query(sql + " ORDER BY updated_at DESC, id DESC", params)
    return [MissRow(**dict(r)) for r in rows]


@dataclass
class FixSummary:
    """What the fixes from diagnoses added, for 'retrain with my fixes'."""

    misses: dict[str, int]  # by status
    training_pairs: int  # approved pairs from diagnoses
    training_pairs_since_train: int
    golden: int  # golden questions from diagnoses
    extra_positives: int
    threshold: float | None
    base_model: str | None
    last_train: str | None

    @property
    def needs_retrain(self) -> bool:
        return self.training_pairs_since_train > 0 or self.extra_positives > 0

    def text(self, lang: str = "en") -> str:
        fixed = sum(n for s, n in self.misses.items() if s.startswith("fixed"))
        open_ = self.misses.get("open", 0)
        lines = [
            _say(
                lang,
                f"{fixed} miss(es) fixed, {open_} open. From diagnoses: {self.training_pairs} training pair(s) "
                f"({self.training_pairs_since_train} since the last training), {self.extra_positives} extra "
                f"positive(s), {self.golden} golden question(s).",
                f"已修复 {fixed} 个漏检，{open_} 个待处理。来自诊断：训练样本 {self.training_pairs} 个（上次训练后新增 "
                f"{self.training_pairs_since_train} 个），额外正例 {self.extra_positives} 个，黄金问题 {self.golden} 个。",
            )
        ]
        if self.threshold is not None:
            lines.append(
                _say(lang, f"Threshold set to {self.threshold:.3f}.", f"阈值已设为 {self.threshold:.3f}。")
            )
        if self.base_model:
            lines.append(_say(lang, f"Base model: {self.base_model}.", f"基础模型：{self.base_model}。"))
        lines.append(
            _say(
                lang,
                "Retrain to learn them (`bgetune train`); evaluate on the golden set afterwards."
                if self.needs_retrain
                else "Nothing new to train on.",
                "重新训练即可学到它们（`bgetune train`），之后用黄金测试集评估。"
                if self.needs_retrain
                else "没有新的训练数据。",
            )
        )
        return "\n".join(lines)


def fixed_pairs_summary(ws: Workspace) -> FixSummary:
    by_status = {
        r["status"]: r["n"] for r in ws.query("SELECT status, count(*) n FROM misses GROUP BY status")
    }
    last = ws.last_run("train")
    last_at = (last or {}).get("finished_at") or (last or {}).get("started_at")
    pairs = ws.scalar(f"SELECT count(*) FROM pairs WHERE source='diagnosis' AND {TRAINABLE}")
    since = ws.scalar(
        f"SELECT count(*) FROM pairs WHERE source='diagnosis' AND {TRAINABLE} AND updated_at>?",
        (last_at or "",),
    )
    return FixSummary(
        misses=by_status,
        training_pairs=int(pairs or 0),
        training_pairs_since_train=int(since or 0),
        golden=int(ws.scalar("SELECT count(*) FROM golden WHERE source='diagnosis'") or 0),
        extra_positives=int(ws.scalar("SELECT count(*) FROM pair_positives WHERE origin='diagnosis'") or 0),
        threshold=ws.get_setting("threshold"),
        base_model=ws.get_setting("base_model"),
        last_train=last_at,
    )


# ---------------------------------------------------------------------------------------------- fixes
@dataclass
class FixResult:
    """What one fix changed."""

    miss_id: int
    action: str
    status: str  # the miss's status afterwards
    changed: bool  # False when it was already so
    facts: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        x, a = self.facts, self.action
        if a == "add_training_pair":
            msg = _say(
                lang,
                f"Added an approved training pair #{x['pair_id']}: “{x['query']}” -> {x['where']}."
                if self.changed
                else f"Training pair #{x['pair_id']} was already there; it is approved.",
                f"已加入已批准的训练样本 #{x['pair_id']}：“{x['query']}” -> {x['where']}。"
                if self.changed
                else f"训练样本 #{x['pair_id']} 已存在，状态为已批准。",
            )
            if x.get("split") in ("test", "val"):
                msg += _say(
                    lang,
                    f" Its document is held out ({x['split']} split), so the pair measures rather than trains.",
                    f" 该文档属于留出集（{x['split']}），这个样本用于评估而非训练。",
                )
            return msg + _say(lang, " Retrain to learn it.", " 重新训练即可学到。")
        if a == "add_golden":
            return _say(
                lang,
                f"Golden question #{x['golden_id']}: “{x['query']}” -> {x['where']} (labeled).",
                f"黄金问题 #{x['golden_id']}：“{x['query']}” -> {x['where']}（已标注）。",
            )
        if a == "relabel_competitor":
            target = (
                _say(lang, f"training pair #{x['pair_id']}", f"训练样本 #{x['pair_id']}")
                if x.get("pair_id")
                else _say(lang, f"golden question #{x['golden_id']}", f"黄金问题 #{x['golden_id']}")
            )
            return _say(
                lang,
                f"{x['where']} is now a second right answer of {target}.",
                f"{x['where']} 现在也是{target}的正确答案。",
            )
        if a == "set_threshold":
            return _say(
                lang,
                f"Threshold set to {x['value']:.3f} (workspace setting 'threshold').",
                f"阈值已设为 {x['value']:.3f}（工作区设置 threshold）。",
            )
        if a == "rechunk":
            return _say(
                lang,
                f"Re-chunked {x['document']}: {x['chunks']} chunks of {x['chunk_tokens']} tokens (overlap "
                f"{x['chunk_overlap']}); {x['unlinked_pairs']} pair(s) lost their chunk. Regenerate pairs and retrain.",
                f"已重新切分 {x['document']}：{x['chunks']} 个片段，每段 {x['chunk_tokens']} 词元（重叠 "
                f"{x['chunk_overlap']}）；{x['unlinked_pairs']} 个样本失去了对应片段。请重新生成样本并训练。",
            )
        if a == "switch_base_model":
            return _say(
                lang,
                f"Base model set to {x['model']} (workspace setting 'base_model'). Re-ingest and retrain to use it"
                + (
                    "."
                    if x.get("cached")
                    else "; it is not in the local cache, so the first load needs the network."
                ),
                f"基础模型已设为 {x['model']}（工作区设置 base_model）。重新导入并训练后生效"
                + ("。" if x.get("cached") else "；本地缓存中没有该模型，首次加载需要联网。"),
            )
        if a == "no_answer":
            return _say(
                lang,
                f"Noted: the documents do not answer “{x['query']}”; golden question #{x['golden_id']} is kept as "
                "unanswerable (a good model scores every passage below the threshold for it).",
                f"已记录：文档里没有“{x['query']}”的答案；黄金问题 #{x['golden_id']} 标为无答案"
                "（好的模型对它的所有段落打分都应低于阈值）。",
            )
        return _say(lang, f"Miss #{self.miss_id} dismissed.", f"漏检 #{self.miss_id} 已忽略。")


def _golden_add(ws: Workspace, query: str, chunk_ids: list[str], language: str) -> tuple[int, bool]:
    """Add a labeled golden question (through tools.golden when it is installed), or merge the answers into
    the existing one. Returns (golden id, whether anything changed)."""
    from bgetune.core.workspace import now_iso

    row = ws.conn.execute("SELECT id, pos_ids, status FROM golden WHERE query=?", (query,)).fetchone()
    if row is None:
        try:
            from bgetune.tools.golden import add_questions
        except ImportError:
            add_questions = None  # type: ignore[assignment]
        if add_questions is not None:
            ids, _ = add_questions(ws, [{"query": query, "pos_ids": chunk_ids}], source="diagnosis")
            if ids:
                return ids[0], True
        now = now_iso()
        with ws.tx() as c:
            cur = c.execute(
                "INSERT INTO golden(query, pos_ids, status, source, language, created_at, updated_at) "
                "VALUES(?,?,?,?,?,?,?)",
                (query, json.dumps(chunk_ids), "labeled", "diagnosis", language, now, now),
            )
            return int(cur.lastrowid), True
    pos = list(json.loads(row["pos_ids"] or "[]"))
    new = [x for x in chunk_ids if x not in pos]
    if not new and row["status"] == "labeled":
        return int(row["id"]), False
    with ws.tx() as c:
        c.execute(
            "UPDATE golden SET pos_ids=?, status='labeled', updated_at=? WHERE id=?",
            (json.dumps(pos + new), now_iso(), row["id"]),
        )
    return int(row["id"]), True


def apply_fix(ws: Workspace, miss_id: int, action: str, **args: Any) -> FixResult:
    """Apply one fix to a diagnosed miss: add_training_pair | add_golden | relabel_competitor (chunk_id) |
    set_threshold (value) | rechunk (document, chunk_tokens, chunk_overlap) | switch_base_model (model) |
    no_answer ('none of these': an unanswerable golden question) | dismiss.
    Defaults come from the stored diagnosis (its expected answer, its suggested value)."""
    from bgetune.core.text import detect_language
    from bgetune.core.workspace import now_iso

    row = ws.conn.execute("SELECT * FROM misses WHERE id=?", (int(miss_id),)).fetchone()
    if row is None:
        raise DiagnosisError(f"no miss #{miss_id} in {ws.root}; `bgetune misses` lists them")
    action = action.strip().lower().replace("-", "_")
    detail = json.loads(row["detail"] or "{}")
    if action in ("suggested", "first", "recommended"):  # "apply that fix": the diagnosis's first suggestion
        first = next(iter(detail.get("actions") or []), None)
        if first is None:
            raise DiagnosisError(f"miss #{miss_id} has no suggested fix; name one of {', '.join(ACTIONS)}")
        action = first["action"]
    action = {
        "rechunk_document": "rechunk",
        "relabel": "relabel_competitor",
        "threshold": "set_threshold",
    }.get(action, action)
    if action not in ACTIONS:
        raise DiagnosisError(f"unknown fix {action!r}; choose one of {', '.join(ACTIONS)}")
    suggested = {a["action"]: a["args"] for a in detail.get("actions", [])}
    args = {k: v for k, v in args.items() if v is not None}
    args = {**suggested.get(action, {}), **args}
    query = row["query"]
    qlang = detect_language(query)
    language = qlang if qlang in ("zh", "en") else None
    facts: dict[str, Any] = {"query": query}
    changed = True

    def chunk_arg(what: str) -> dict[str, Any]:
        cid = args.get("chunk_id") or row["expected_chunk_id"]
        if not cid:
            raise DiagnosisError(
                f"miss #{miss_id} has no expected answer to {what}; pass --chunk-id ID, or diagnose again with "
                "--expected TEXT (or pick a result by its number)"
            )
        ch = ws.chunk(str(cid))
        if ch is None:
            raise DiagnosisError(f"chunk {cid} is not in {ws.root} (re-ingested?); diagnose the query again")
        facts["chunk_id"] = ch["id"]
        facts["where"] = ch["document_name"] + (f" p.{ch['page_start']}" if ch.get("page_start") else "")
        return ch

    now = now_iso()
    if action == "add_training_pair":
        ch = chunk_arg("train on")
        why = f"miss #{miss_id}: {row['cause']}"
        with ws.tx() as c:
            old = c.execute(
                "SELECT id, status FROM pairs WHERE chunk_id=? AND query=? AND source='diagnosis'",
                (ch["id"], query),
            ).fetchone()
            if old and old["status"] in ("approved", "edited"):
                pair_id, changed = int(old["id"]), False
            elif old:
                pair_id = int(old["id"])
                c.execute(
                    "UPDATE pairs SET status='approved', status_by='user', status_why=?, updated_at=? WHERE id=?",
                    (why, now, pair_id),
                )
            else:
                cur = c.execute(
                    "INSERT INTO pairs(chunk_id, query, passage, source, kind, language, status, status_by, "
                    "status_why, split, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                    (ch["id"], query, ch["text"], "diagnosis", "real", language, "approved", "user", why,
                     ch.get("split"), now, now),
                )  # fmt: skip
                pair_id = int(cur.lastrowid)
            if changed:
                c.execute(
                    "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                    (
                        pair_id,
                        "diagnosis",
                        "user",
                        why,
                        old["status"] if old else None,
                        json.dumps(
                            {"miss_id": int(miss_id), "cause": row["cause"], "verdict": row["verdict"],
                             "status": "approved"},
                            ensure_ascii=False,
                        ),
                        now,
                    ),
                )  # fmt: skip
        facts.update(pair_id=pair_id, split=ch.get("split"))
        status = "fixed:train"
    elif action == "add_golden":
        ch = chunk_arg("label")
        gid, changed = _golden_add(ws, query, [ch["id"]], language or "")
        facts["golden_id"] = gid
        status = "fixed:golden"
    elif action == "relabel_competitor":
        if not args.get("chunk_id"):
            raise DiagnosisError(
                "relabel_competitor needs --chunk-id: the passage that also answers the query"
            )
        ch = chunk_arg("relabel")
        pair = ws.conn.execute(
            f"SELECT id FROM pairs WHERE query=? AND {TRAINABLE} ORDER BY id LIMIT 1",
            (query,),
        ).fetchone()
        if pair is not None:
            with ws.tx() as c:
                cur = c.execute(
                    "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)",
                    (pair["id"], ch["id"], "diagnosis"),
                )
                changed = cur.rowcount > 0
                if changed:
                    c.execute(
                        "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                        (pair["id"], "relabel", "user", f"miss #{miss_id}", None,
                         json.dumps({"extra_positive": ch["id"], "miss_id": int(miss_id)}), now),
                    )  # fmt: skip
            facts["pair_id"] = int(pair["id"])
        else:
            pos = [x for x in (row["expected_chunk_id"], ch["id"]) if x]
            gid, changed = _golden_add(ws, query, pos, language or "")
            facts["golden_id"] = gid
        status = "fixed:relabel"
    elif action == "set_threshold":
        if args.get("value") is None:
            raise DiagnosisError("set_threshold needs --value, e.g. --value 0.42")
        value = float(args["value"])
        if not -1.0 <= value <= 1.0:
            raise DiagnosisError(f"a cosine threshold lies between -1 and 1, got {value}")
        changed = ws.get_setting("threshold") != value
        ws.set_setting("threshold", value)
        facts["value"] = value
        status = "fixed:threshold"
    elif action == "rechunk":
        from bgetune.core.config import Settings
        from bgetune.tools.ingest import ingest

        name = args.get("document") or (detail.get("expected") or {}).get("document")
        if not name:
            raise DiagnosisError("rechunk needs --document NAME (a document of this workspace)")
        doc = next((d for d in ws.documents(status="ok") if d["name"] == name or d["path"] == name), None)
        if doc is None:
            raise DiagnosisError(f"no document {name!r} in {ws.root}; `bgetune status` lists them")
        if not Path(doc["path"]).exists():
            raise DiagnosisError(
                f"{doc['path']} is gone; put the file back (or ingest it again) to re-chunk it"
            )
        settings = Settings(workspace=ws.root)
        ct = int(args.get("chunk_tokens") or settings.chunk_tokens or 256)
        if args.get("chunk_overlap") is not None:
            ov = int(args["chunk_overlap"])
        else:  # the workspace's overlap, kept below half of a smaller chunk
            ov = min(int(settings.chunk_overlap or 32), max(0, ct // 2 - 1))
        if not 16 <= ct <= 8192 or not 0 <= ov < ct // 2:
            raise DiagnosisError(
                f"chunk_tokens must be 16-8192 and chunk_overlap below half of it (got {ct}, {ov})"
            )
        linked = ws.scalar(
            "SELECT count(*) FROM pairs p JOIN chunks c ON c.id=p.chunk_id WHERE c.document_id=?",
            (doc["id"],),
        )
        with ws.tx() as c:  # a changed fingerprint makes ingest replace the document's chunks
            c.execute("UPDATE documents SET sha256=NULL WHERE id=?", (doc["id"],))
        rep = ingest(
            ws, [doc["path"]], settings=Settings(workspace=ws.root, chunk_tokens=ct, chunk_overlap=ov)
        )
        res = rep.files[-1] if rep.files else None
        if res is None or res.status not in ("added", "replaced"):
            raise DiagnosisError(f"re-chunking {doc['path']} failed: {getattr(res, 'error', 'no result')}")
        facts.update(
            document=doc["name"], chunks=res.chunks, chunk_tokens=ct, chunk_overlap=ov, unlinked_pairs=linked
        )
        status = "fixed:rechunk"
    elif action == "switch_base_model":
        model = args.get("model") or MULTILINGUAL.model
        changed = ws.get_setting("base_model") != model
        ws.set_setting("base_model", model)
        facts.update(
            model=model, cached=Path(str(model)).exists() or model == "bundled" or _cached_offline(model)
        )
        status = "fixed:base-model"
    elif action == "no_answer":
        with ws.tx() as c:
            g = c.execute("SELECT id, status FROM golden WHERE query=?", (query,)).fetchone()
            if g is None:
                cur = c.execute(
                    "INSERT INTO golden(query, pos_ids, status, source, language, created_at, updated_at) "
                    "VALUES(?,?,?,?,?,?,?)",
                    (query, "[]", "unanswerable", "diagnosis", language, now, now),
                )
                facts["golden_id"] = int(cur.lastrowid)
            else:
                changed = g["status"] != "unanswerable"
                c.execute(
                    "UPDATE golden SET status='unanswerable', pos_ids='[]', updated_at=? WHERE id=?",
                    (now, g["id"]),
                )
                facts["golden_id"] = int(g["id"])
        status = "no-answer"
    else:
        status = "dismissed"
    fixes = detail.get("fixes", [])
    fixes.append({"action": action, "args": args, "at": now, "changed": changed})
    detail["fixes"] = fixes
    with ws.tx() as c:
        c.execute(
            "UPDATE misses SET status=?, detail=?, updated_at=? WHERE id=?",
            (status, json.dumps(detail, ensure_ascii=False, default=str), now, int(miss_id)),
        )
    return FixResult(int(miss_id), action, status, changed, facts)


# ---------------------------------------------------------------------------------------------- batch
@dataclass
class BatchItem:
    query: str
    cause: str
    rank: int | None
    expected_chunk_id: str | None
    miss_id: int | None = None


@dataclass
class CauseGroup:
    cause: str
    count: int
    queries: list[str]
    action: str | None  # the usual first fix

    def name(self, lang: str = "en") -> str:
        return cause_name(self.cause, lang)


@dataclass
class BatchDiagnosis:
    """Golden questions that fail, grouped by cause (biggest first)."""

    source: str
    total: int
    passing: int
    failing: int
    unmatched: list[str]
    groups: list[CauseGroup]
    items: list[BatchItem]

    def text(self, lang: str = "en") -> str:
        lines = [
            _say(
                lang,
                f"{self.failing} of {self.total} golden questions still miss ({self.source}); {self.passing} pass.",
                f"{self.total} 个黄金问题中仍有 {self.failing} 个漏检（{self.source}）；{self.passing} 个通过。",
            )
        ]
        for i, g in enumerate(self.groups, 1):
            ex = "; ".join(_snippet(q, 50) for q in g.queries[:3])
            fix = f" -> {g.action}" if g.action else ""
            lines.append(f"{i}. {g.name(lang)}: {g.count}{fix} ({ex})")
        if self.groups:
            lines.append(
                _say(
                    lang,
                    "Fix the biggest cause first; `bgetune misses` lists each question with its miss number.",
                    "先修复数量最多的原因；`bgetune misses` 列出每个问题及其漏检编号。",
                )
            )
        if self.unmatched:
            lines.append(
                _say(
                    lang,
                    f"{len(self.unmatched)} question(s) skipped: their answer is not in the workspace.",
                    f"跳过 {len(self.unmatched)} 个问题：它们的答案不在工作区中。",
                )
            )
        return "\n".join(lines)


def _golden_rows(
    ws: Workspace, golden_file: str | Path | None
) -> tuple[str, list[tuple[str, list[str]]], list[str]]:
    """(source, [(query, chunk ids)], unmatched queries) from a JSONL file or the workspace golden table."""
    from bgetune.tools.evaluation import read_jsonl

    out: list[tuple[str, list[str]]] = []
    unmatched: list[str] = []
    if golden_file:
        try:
            rows = read_jsonl(golden_file, "golden")
        except EvaluationError as exc:
            raise DiagnosisError(
                f'{exc}; pass a JSONL file of {{"query", "pos": [text]}} or {{"query", "pos_ids": [id]}} lines, '
                "or '-' for the workspace golden set"
            ) from exc
        for r in rows:
            q = str(r.get("query") or "").strip()
            if not q:
                continue
            ids: list[str] = []
            for pid in r.get("pos_ids") or []:
                try:
                    ids += locate_expected(ws, expected=None, expected_id=str(pid))["chunk_ids"]
                except EvaluationError:
                    pass
            for text in r.get("pos") or []:
                ids += locate_expected(ws, expected=str(text), expected_id=None)["chunk_ids"]
            (out.append((q, list(dict.fromkeys(ids)))) if ids else unmatched.append(q))
        return str(golden_file), out, unmatched
    known = set(r["id"] for r in ws.query("SELECT id FROM chunks"))
    for r in ws.query("SELECT query, pos_ids FROM golden WHERE status='labeled' ORDER BY id"):
        ids = [i for i in json.loads(r["pos_ids"] or "[]") if i in known]
        (out.append((r["query"], ids)) if ids else unmatched.append(r["query"]))
    return "workspace golden set", out, unmatched


def diagnose_golden(
    ws: Workspace,
    golden_file: str | Path | None = None,
    *,
    model_dir: str | None = None,
    lang: str | None = None,
    record: bool = True,
    progress: Any = None,
) -> BatchDiagnosis:
    """Diagnose every golden question whose answer is not found (not in the top 3 above the threshold, or not
    first without a threshold) and group them by cause, biggest group first."""
    source, rows, unmatched = _golden_rows(ws, golden_file)
    if not rows:
        where = f"{golden_file}" if golden_file else "the workspace golden set"
        raise DiagnosisError(
            f"no golden questions with a findable answer in {where}; add some (the golden set, or a JSONL of "
            '{"query", "pos": [text]} / {"query", "pos_ids": [id]}) first'
        )
    eng = _Engine(ws, model_dir)
    queries = [q for q, _ in rows]
    all_scores = eng.scores(queries)
    items: list[BatchItem] = []
    passing = 0
    for i, (q, ids) in enumerate(rows):
        if progress:
            progress(i, len(rows), q[:40])
        scores = [s[i] for s in all_scores]
        exp = eng.resolve_expected(scores[-1], expected=None, expected_id=None, pick_chunk=ids[0], given=None)
        assert exp is not None
        exp.chunk_ids, exp.how = ids, "golden"
        d = eng.diagnose(q, _lang_of(q, lang), exp, scores, top_k=10)
        if d.cause == "not_a_miss":
            passing += 1
            continue
        mid = record_miss(ws, d) if record else None
        items.append(BatchItem(q, d.cause, d.main.expected_rank, exp.chunk_id, mid))
    if progress:
        progress(len(rows), len(rows), "")
    counts: dict[str, list[BatchItem]] = {}
    for it in items:
        counts.setdefault(it.cause, []).append(it)
    first_fix = {
        "language_mismatch": "switch_base_model",
        "tokenizer_coverage": "switch_base_model",
        "truncation": "rechunk",
        "split_answer": "rechunk",
        "missing_label": "relabel_competitor",
        "threshold_only": "set_threshold",
    }
    groups = [
        CauseGroup(c, len(v), [it.query for it in v], first_fix.get(c, "add_training_pair"))
        for c, v in sorted(counts.items(), key=lambda kv: (-len(kv[1]), CAUSES.index(kv[0])))
    ]
    return BatchDiagnosis(source, len(rows), passing, len(items), unmatched, groups, items)
