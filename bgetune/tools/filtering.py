"""Filters with reasons: every rejected pair says why (pairs.reasons), and a person's decision is never overturned.

Checks: query length, passage length, vague/context-missing queries, LLM refusals and "not mentioned" answers,
round trip with the base model (the pair's own chunk must rank in the top k of the whole corpus or pass a
similarity bar), and exact / near-duplicate queries (rapidfuzz; the better pair is kept).

Real questions (kind 'real', or source 'import:*' / 'history:*') are judged as real: the checks built for
synthetic queries (length, vague wording, round trip, copies-the-passage) only flag them for review
(``pairs.flags``); the same real question imported twice merges into one pair with several positives; a real
question that is in the golden set is kept out of training. Synthetic queries that duplicate or near-duplicate a
real question (a pair or a golden question) are dropped with a reason.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bgetune.core.config import Settings
from bgetune.core.text import cjk_count, corpus_language, normalize_ws
from bgetune.core.workspace import Workspace, now_iso
from bgetune.tools.offline_gen import copies_text, mixes_languages

Progress = Callable[[int, int, str], None]

# the statuses a filter may change; approved / edited / user-rejected pairs are the user's
_FILTER_OWNED = "(status='proposed' OR (status='rejected' AND coalesce(status_by,'filter')='filter'))"

_VAGUE_ZH = re.compile(
    r"^(它|它们|他|她|这|那|该|此|其|本条|本法|本章|本节|上述|前款|以上|下列|这个|那个|这些|那些)"
    r"|本条|本款|本节|本章|前款|上述|上文|文中|该条|该法|这段|这一条|这条规定|此规定|以上内容|这个规定|它的|它们的"
)
_VAGUE_EN = re.compile(
    r"^(it|this|that|they|these|those|he|she|its)\b"
    r"|\b(this|the above|the following|the previous|the preceding|aforementioned|said|that) "
    r"(section|passage|text|document|chapter|article|paragraph|table|figure|clause|page|excerpt|context|rule)\b"
    r"|\b(mentioned (above|here|earlier)|in the (text|passage|excerpt)|according to the (text|passage|document|excerpt))\b",
    re.I,
)
_REFUSAL = re.compile(
    r"not mentioned|no information|not (?:provided|specified|stated|given) in|cannot be answered|can't be answered"
    r"|unable to (?:answer|find)|i (?:cannot|can't|am unable)|as an ai|^n/?a$|^none$|^sorry\b"
    r"|未提及|没有提到|未提到|没有提及|无法回答|文中没有|文中未|原文没有|不知道|无相关信息|抱歉",
    re.I,
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_+./\-]*")

# every rejection reason in plain words: the review screen and the chat say why, not only the code
_REASONS_TABLE = """
round_trip_failed | the base model does not find the passage from this query among its top results: the query is vague or fits other passages as well | 基座模型用这个问题检索不到它的段落（不在前几名）：问题太含糊，或同样适合其他段落
query_too_short | too short to be a question a person types (a bare keyword) | 太短，不像用户会输入的问题（只是关键词）
query_too_long | too long for a search question | 太长，不像检索问题
duplicate_query | the same query was proposed for another passage; one copy is kept | 同样的问题已为另一段落生成，只保留一份
near_duplicate_query | almost the same as another proposed query, which is kept | 与另一个保留的问题几乎相同
copies_passage | copies the passage's words instead of asking about them | 照抄段落原文，而不是提问
copies_first_line | is the passage's own first line or heading | 就是段落自己的第一行或标题
is_heading | a heading, not a question | 是标题，不是问题
cut_off | stops mid-sentence | 句子没有写完
passage_fragment | the passage is a fragment: too little text to answer anything | 段落是残片，内容太少，回答不了问题
passage_too_short | the passage is too short to answer a question | 段落太短，回答不了问题
passage_too_long | the passage is longer than the model reads | 段落超过模型能读的长度
mixed_language | glues words of two languages into one fragment | 把两种语言的词拼成了一个片段
refusal | the generator refused, or said the passage does not answer it | 生成器拒答，或说段落中没有答案
vague_query | points nowhere ('this section', '它') or is too general | 指代不明（“本条”“它”）或太笼统
in_golden_set | is one of your golden questions: kept out of training so the evaluation stays honest | 是你的黄金问题：不参与训练，评估才可信
near_golden_question | too close to a golden question (kept out of training) | 与某个黄金问题太接近（不参与训练）
merged_duplicate | merged into the same real question imported earlier | 已合并到之前导入的同一个真实问题
duplicates_real_question | repeats one of your real questions, which is kept instead | 与你的某个真实问题重复，保留真实问题
near_duplicates_real_question | almost repeats one of your real questions, which is kept instead | 与你的某个真实问题几乎相同，保留真实问题
"""
REASONS: dict[str, tuple[str, str]] = {  # code -> (en, zh)
    code: (en, zh)
    for code, en, zh in (map(str.strip, row.split(" | ")) for row in _REASONS_TABLE.strip().splitlines())
}


def explain_reason(code: str, lang: str = "en") -> str:
    """A rejection reason in plain words; an unknown code as it is."""
    text = REASONS.get(code)
    return (text[1] if lang == "zh" else text[0]) if text else code


def _is_zh(text: str) -> bool:
    return cjk_count(text) >= 2


def _zh_len(text: str) -> int:
    return len(re.sub(r"[\s\W_]+", "", text))


def text_reasons(
    query: str,
    passage: str,
    *,
    kind: str | None = None,
    zh_min: int = 5,
    zh_max: int = 50,
    en_min_words: int = 3,
    en_keyword_min_words: int = 2,
    en_max_words: int = 30,
    passage_min_chars: int = 12,
    passage_max_chars: int = 6000,
    check_passage_refusal: bool = True,
) -> list[str]:
    """Reasons (possibly none) why a (query, positive text) pair is unfit, from the texts alone."""
    reasons = []
    q = normalize_ws(query)
    if _is_zh(q):
        n = _zh_len(q)
        if n < zh_min:
            reasons.append("query_too_short")
        elif n > zh_max:
            reasons.append("query_too_long")
        if _VAGUE_ZH.search(q):
            reasons.append("vague_query")
    else:
        words = _WORD.findall(q)
        low = en_keyword_min_words if kind == "keyword" else en_min_words
        if len(words) < low or len(q) < 6:
            reasons.append("query_too_short")
        elif len(words) > en_max_words:
            reasons.append("query_too_long")
        if _VAGUE_EN.search(q):
            reasons.append("vague_query")
    if _REFUSAL.search(q) or (check_passage_refusal and _REFUSAL.search(passage[:200])):
        reasons.append("refusal")
    p = normalize_ws(passage)
    plen = _zh_len(p) if _is_zh(p) else len(p)
    if (
        plen < (passage_min_chars // 2 if _is_zh(p) else passage_min_chars)
        or len(_WORD.findall(p)) + cjk_count(p) < 3
    ):
        reasons.append("passage_too_short")
    elif len(p) > passage_max_chars:
        reasons.append("passage_too_long")
    return reasons


_HEAD_NUM = re.compile(r"^\s*(?:(?:\d+|[A-Z])(?:\.\d+)*\.?|第[一二三四五六七八九十百\d]+[章节条])\s+")
# a question that ends on one of these stopped mid-clause ('Are the normal propagation delays increased to ensure?')
_EN_DANGLING = {
    "the", "a", "an", "and", "or", "but", "nor", "to", "than", "because", "if", "whether", "which", "that",
    "its", "their", "your", "my", "whose", "ensure", "make", "allow", "provide", "give", "include", "contain",
    "become", "such", "very", "more", "most",
}  # fmt: skip
_EN_TRANSITIVE = {
    "retrieve", "get", "obtain", "find", "make", "use", "set", "create", "build", "install", "remove", "add",
    "keep", "change", "specify", "provide", "produce", "run", "send", "put", "take", "give", "ensure", "see",
}  # fmt: skip


def _plain(s: str) -> str:
    return re.sub(r"[\s?？。.!！:：;；,，]+$", "", normalize_ws(_HEAD_NUM.sub("", s or "")).lower())


def shape_reasons(query: str, positive: str, heading: str | None, language: str | None) -> list[str]:
    """Reasons a generated query or its passage is not something to train on, from their shape (issue 24): the
    query is the passage's heading ('is_heading') or its first line ('copies_first_line'), glues two languages for
    a one-language passage ('mixed_language'), stops mid-clause ('cut_off': 'Are the delays increased to
    ensure?'); the passage is a fragment ('passage_fragment': 'You can use cron-apt ;')."""
    out = []
    q = _plain(query)
    heads = [_plain(h) for h in (heading or "").split(" > ") if h.strip()]
    lines = [ln for ln in positive.strip().splitlines() if ln.strip()]
    first = _plain(lines[0]) if lines else ""
    if q and (q in heads or (first and q == first and len(lines) > 1 and len(first) <= 140)):
        out.append("is_heading")
    elif q and q == first:
        out.append("copies_first_line")
    lang = language if language in ("zh", "en") else None
    if lang and mixes_languages(query, lang):
        out.append("mixed_language")
    if not _is_zh(query):
        words = re.findall(r"[A-Za-z][A-Za-z'\-]*", query)
        low = [w.lower() for w in words]
        if (
            len(low) >= 3
            and (
                low[-1] in _EN_DANGLING
                or (low[-2] == "to" and low[-1] in _EN_TRANSITIVE)  # 'a simple way to retrieve?'
                or (low[-2] == "by" and low[-1].endswith("ing"))  # 'How do I use outer() by writing?'
                or low[-2] in ("most", "least", "more", "less")  # 'Does unstable have the most recent?'
            )
        ) or re.search(r"\w\($", query.strip().rstrip("?")):  # 'How do I use bitmap(?'
            out.append("cut_off")
        if re.search(r"\b(?:this|these|those|such)\s+\w+|\b(?:xyz|foo|bar|baz)\b", query, re.I):
            out.append("vague_query")  # 'Are packages available for this purpose?' names no subject
    p = normalize_ws(positive)
    if re.search(r"\s[;,:]\s*$", p) or (
        not _is_zh(p) and len(_WORD.findall(p)) < 5 and not p.endswith((".", "!", "?"))
    ):
        out.append("passage_fragment")
    return out


def _norm_query(q: str) -> str:
    return re.sub(r"[\s\W_]+", " ", q.lower()).strip()


def _load_model(ws: Workspace, settings: Settings | None, base_model: Any):
    """(model, fingerprint) from a loaded SentenceTransformer, a spec string, or the workspace's choice."""
    from bgetune.core.models import load_model, model_fingerprint, resolve_base_model

    if base_model is not None and not isinstance(base_model, str):
        return base_model, model_fingerprint(base_model)
    spec = base_model or ws.get_setting("base_model") or (settings.base_model if settings else None)
    lang = corpus_language(ws.stats()["chunk_languages"])
    resolved = resolve_base_model(spec, language=lang)
    model = load_model(resolved, device=settings.device if settings else None)
    return model, model_fingerprint(model)


def round_trip(
    ws: Workspace,
    pairs: list[dict[str, Any]],
    model: Any,
    *,
    fingerprint: str | None = None,
    progress: Progress | None = None,
) -> dict[int, tuple[int, float]]:
    """{pair id: (rank of its own chunk among all chunks (1 = best), cosine similarity)} for pairs with a chunk."""
    from bgetune.core.models import corpus_embeddings, encode

    todo = [p for p in pairs if p["chunk_id"]]
    if not todo:
        return {}
    ids, emb = corpus_embeddings(
        ws, model, fingerprint=fingerprint, progress=progress, label="round trip: chunks encoded"
    )
    index = {cid: i for i, cid in enumerate(ids)}
    todo = [p for p in todo if p["chunk_id"] in index]
    qemb = encode(
        model,
        [p["query"] for p in todo],
        kind="query",
        progress=progress,
        label="round trip: queries encoded",
    )
    out: dict[int, tuple[int, float]] = {}
    for start in range(0, len(todo), 512):
        part = todo[start : start + 512]
        sims = qemb[start : start + len(part)] @ emb.T
        for j, p in enumerate(part):
            own = sims[j, index[p["chunk_id"]]]
            rank = int((sims[j] > own).sum()) + 1
            out[p["id"]] = (rank, float(own))
    return out


def is_real(p: dict[str, Any]) -> bool:
    """A user's real question (imported history, or a query-log query a teacher labelled: kind 'pseudo'), as
    opposed to a generated one."""
    return p.get("kind") in ("real", "pseudo") or (p.get("source") or "").startswith(
        ("import:", "history:", "querylog:")
    )


def _better_key(p: dict[str, Any]) -> tuple:
    """Sort key: user-approved first, then real questions, then best round trip, then oldest."""
    user = 0 if p["status"] in ("approved", "edited") else 1
    real = 0 if is_real(p) else 1
    rt = p.get("_rt")
    return (user, real, rt[0] if rt else 10**6, -(rt[1] if rt else 0.0), p["id"])


# near-duplicate queries: every pair of distinct texts is compared up to this many distinct texts (under a second);
# past it, only texts that sort near each other (blocks of NEAR_DUP_BLOCK) in three orders, so the check grows
# n log n, not n^2 (bench/scale.py --near-dups: recall against every pair, and the times)
NEAR_DUP_EXACT_MAX = 5000
NEAR_DUP_BLOCK = 256


def near_duplicates(
    queries: list[str], *, threshold: float = 92.0, exact_max: int | None = None
) -> list[tuple[int, int]]:
    """Index pairs (i < j) of queries that are near-duplicates (rapidfuzz ratio on normalised text >= threshold).

    Equal normalised texts are grouped first (all their pairs are duplicates). Up to ``exact_max`` distinct texts
    (default NEAR_DUP_EXACT_MAX) every pair of them is scored; past it, each distinct text is scored against the
    texts within two blocks after it in three sort orders: as written, reversed (a changed start), and with its words
    sorted (words moved). Near-duplicates differ in a few characters, so they sort close in at least one order;
    the pairs found past the exact size are a subset of every-pair's (measured recall 0.9995 at 16k queries)."""
    from rapidfuzz import fuzz, process

    groups: dict[str, list[int]] = {}
    for i, q in enumerate(queries):
        groups.setdefault(_norm_query(q), []).append(i)
    uniq = list(groups)
    n = len(uniq)
    near: set[tuple[int, int]] = set()

    def scan(rows: list[int], cols: list[int]) -> None:
        m = process.cdist(
            [uniq[i] for i in rows],
            [uniq[j] for j in cols],
            scorer=fuzz.ratio,
            score_cutoff=threshold,
            dtype=np.uint8,
            workers=1,
        )
        for a, b in zip(*np.nonzero(m), strict=True):
            i, j = rows[a], cols[b]
            if i != j:
                near.add((min(i, j), max(i, j)))

    if n <= (NEAR_DUP_EXACT_MAX if exact_max is None else exact_max):
        everyone = list(range(n))
        for s in range(0, n, 1000):
            scan(everyone[s : s + 1000], everyone)
    else:
        blk = NEAR_DUP_BLOCK
        for key in (uniq, [u[::-1] for u in uniq], [" ".join(sorted(u.split())) for u in uniq]):
            order = sorted(range(n), key=key.__getitem__)
            for s in range(0, n, blk):
                scan(order[s : s + blk], order[s : s + 2 * blk])
    out = [(a, b) for idx in groups.values() for k, a in enumerate(idx) for b in idx[k + 1 :]]
    for u, v in near:
        out += [(min(a, b), max(a, b)) for a in groups[uniq[u]] for b in groups[uniq[v]]]
    return sorted(out)


_PAIR_ROWS_SQL = (
    "SELECT p.id, p.chunk_id, p.query, p.passage, p.kind, p.source, p.status, p.status_by, p.scores, p.language, "
    "p.label, c.text AS chunk_text, c.heading AS chunk_heading, c.language AS chunk_language "
    "FROM pairs p LEFT JOIN chunks c ON c.id=p.chunk_id ORDER BY p.id"
)


def _load_rows(ws: Workspace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every pair with its chunk's text, heading and language; the pairs a filter may judge)."""
    rows = [dict(r) for r in ws.query(_PAIR_ROWS_SQL)]
    judged = [
        r
        for r in rows
        if r["status"] == "proposed"
        or (r["status"] == "rejected" and (r["status_by"] or "filter") == "filter")
    ]
    return rows, judged


def _pair_text_reasons(r: dict[str, Any], length_bounds: dict[str, Any]) -> list[str]:
    """One judged pair's reasons from its texts: lengths, vague wording, refusals, copying, shape."""
    positive = r["chunk_text"] or r["passage"]
    reasons = text_reasons(r["query"], positive, kind=r["kind"], check_passage_refusal=False, **length_bounds)
    if "query_too_long" not in reasons and copies_text(r["query"], positive):
        reasons.append("copies_passage")
    if not is_real(r):
        reasons += shape_reasons(r["query"], positive, r.get("chunk_heading"), r.get("chunk_language"))
    if (
        (r["source"] or "").startswith("llm:")
        and _REFUSAL.search(r["passage"][:200])
        and "refusal" not in reasons
    ):
        reasons.append("refusal")
    return reasons


def _query_lang(query: str) -> str:
    return "zh" if _is_zh(query) else "en"


def _unjudgeable_languages(
    judged: list[dict[str, Any]],
    rt_info: dict[str, Any],
    notes: list[str],
    *,
    top_k: int,
    min_similarity: float,
    min_language_pass_rate: float,
) -> set[str]:
    """Languages whose round-trip pass rate is too low for the base model to judge them (noted in ``notes``);
    each language's pass rate goes into ``rt_info``."""
    by_lang: dict[str, list[bool]] = {}
    for r in judged:
        if r["_rt"]:
            by_lang.setdefault(_query_lang(r["query"]), []).append(
                r["_rt"][0] <= top_k or r["_rt"][1] >= min_similarity
            )
    skip = set()
    for lang, oks in by_lang.items():
        rate = sum(oks) / len(oks)
        rt_info[f"pass_rate_{lang}"] = round(rate, 3)
        if len(oks) >= 10 and rate < min_language_pass_rate:
            skip.add(lang)
            notes.append(
                f"round-trip check skipped for {lang} queries: the base model places only {rate:.0%} of their own "
                f"chunks in its top {top_k}, so it cannot judge this language (fine-tuning is what fixes that)"
            )
    return skip


def _round_trip_reasons(
    ws: Workspace,
    rows: list[dict[str, Any]],
    judged: list[dict[str, Any]],
    reasons: dict[int, list[str]],
    rt_info: dict[str, Any],
    notes: list[str],
    *,
    settings: Settings | None,
    base_model: Any,
    progress: Progress | None,
    min_language_pass_rate: float,
) -> None:
    """Round trip with the base model: sets every row's ``_rt`` and adds 'round_trip_failed' to the judged pairs
    whose own chunk ranks below ``top_k`` with a similarity under ``min_similarity``."""
    top_k, min_similarity = rt_info["top_k"], rt_info["min_similarity"]
    model, fp = _load_model(ws, settings, base_model)
    judged_ids = {r["id"] for r in judged}
    rt = round_trip(
        ws,
        [r for r in rows if r["status"] != "rejected" or r["id"] in judged_ids],
        model,
        fingerprint=fp,
        progress=progress,
    )
    for r in rows:
        r["_rt"] = rt.get(r["id"])
    skip = _unjudgeable_languages(
        judged,
        rt_info,
        notes,
        top_k=top_k,
        min_similarity=min_similarity,
        min_language_pass_rate=min_language_pass_rate,
    )
    rt_info["skipped_languages"] = sorted(skip)
    for r in judged:
        if not r["_rt"]:
            continue
        rt_info["checked"] += 1
        rank, sim = r["_rt"]
        if _query_lang(r["query"]) not in skip and rank > top_k and sim < min_similarity:
            reasons[r["id"]].append("round_trip_failed")


def _real_question_flags(judged: list[dict[str, Any]], reasons: dict[int, list[str]]) -> dict[int, list[str]]:
    """Real questions: the synthetic-query checks become review flags, never rejections (their reasons move)."""
    flags: dict[int, list[str]] = {}
    for r in judged:
        if is_real(r):
            flags[r["id"]] = reasons[r["id"]]
            reasons[r["id"]] = []
    return flags


@dataclass
class _Dedup:
    """Duplicates among the surviving candidates and the user's kept pairs; the better one stays. A real question
    imported twice merges into one pair (the second answer becomes an extra positive); a synthetic query that
    repeats a real question (a pair or a golden question) is dropped."""

    pool: list[dict[str, Any]]
    reasons: dict[int, list[str]]
    flags: dict[int, list[str]]
    golden_keys: set[str]
    real_keys: dict[str, int]
    neighbours: dict[int, list[int]]
    kept_ids: set[int] = field(default_factory=set)
    exact_seen: dict[str, int] = field(default_factory=dict)
    merges: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    twins: dict[int, int] = field(default_factory=dict)  # a rejected duplicate -> the pair kept in its place

    @classmethod
    def build(
        cls,
        ws: Workspace,
        rows: list[dict[str, Any]],
        reasons: dict[int, list[str]],
        flags: dict[int, list[str]],
        threshold: float,
    ) -> _Dedup:
        pool = [
            r
            for r in rows
            if r["status"] in ("approved", "edited") or (r["id"] in reasons and not reasons[r["id"]])
        ]
        pool.sort(key=_better_key)
        golden_qs = [g["query"] for g in ws.query("SELECT query FROM golden")]
        neighbours: dict[int, list[int]] = {}
        for i, j in near_duplicates([r["query"] for r in pool] + golden_qs, threshold=threshold):
            neighbours.setdefault(j, []).append(i)
            neighbours.setdefault(i, []).append(j)
        return cls(
            pool=pool,
            reasons=reasons,
            flags=flags,
            golden_keys={_norm_query(q) for q in golden_qs},
            real_keys={_norm_query(r["query"]): r["id"] for r in pool if is_real(r)},
            neighbours=neighbours,
        )

    def run(self) -> None:
        for idx, r in enumerate(self.pool):
            key = _norm_query(r["query"])
            near = self.neighbours.get(idx, [])
            if r["id"] in self.reasons:
                judge = self._judge_real if is_real(r) else self._judge_synthetic
                if not judge(idx, r, key, near):
                    continue
            self.exact_seen.setdefault(key, r["id"])
            self.kept_ids.add(r["id"])

    def _judge_real(self, idx: int, r: dict[str, Any], key: str, near: list[int]) -> bool:
        """Whether a judged real question stays (a kept duplicate is only flagged)."""
        pool, reasons = self.pool, self.reasons
        if key in self.golden_keys:
            reasons[r["id"]].append("in_golden_set")
            return False
        if any(n >= len(pool) for n in near):
            reasons[r["id"]].append("near_golden_question")
            return False
        if key in self.exact_seen:
            winner = self.exact_seen[key]
            if winner in self.kept_ids and is_real(next(p for p in pool if p["id"] == winner)):
                self.merges.append((winner, r))
                reasons[r["id"]].append("merged_duplicate")
                return False
            self.flags[r["id"]].append("duplicate_query")
        elif any(n < idx and pool[n]["id"] in self.kept_ids for n in near):
            self.flags[r["id"]].append("near_duplicate_query")
        return True

    def _judge_synthetic(self, idx: int, r: dict[str, Any], key: str, near: list[int]) -> bool:
        """Whether a judged synthetic query stays (a duplicate is rejected, naming the pair kept in its place)."""
        pool, reasons = self.pool, self.reasons
        if key in self.real_keys or key in self.golden_keys:
            reasons[r["id"]].append("duplicates_real_question")
            return False
        if any(n >= len(pool) or (is_real(pool[n]) and pool[n]["id"] in self.kept_ids) for n in near):
            reasons[r["id"]].append("near_duplicates_real_question")
            return False
        if key in self.exact_seen:
            reasons[r["id"]].append("duplicate_query")
            self.twins[r["id"]] = self.exact_seen[key]
            return False
        near_kept = [pool[n]["id"] for n in near if n < idx and pool[n]["id"] in self.kept_ids]
        if near_kept:
            reasons[r["id"]].append("near_duplicate_query")
            self.twins[r["id"]] = near_kept[0]
            return False
        return True


def _write_merges(c: Any, merges: list[tuple[int, dict[str, Any]]]) -> None:
    """A merged real question's positives become extra positives of the pair it merged into."""
    for winner, loser in merges:
        extra = [(loser["chunk_id"], loser["label"])] if loser["chunk_id"] else []
        extra += [
            (e["chunk_id"], e["label"])
            for e in c.execute("SELECT chunk_id, label FROM pair_positives WHERE pair_id=?", (loser["id"],))
        ]
        own = c.execute("SELECT chunk_id FROM pairs WHERE id=?", (winner,)).fetchone()[0]
        c.executemany(
            "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin, label) VALUES(?,?,'merged',?)",
            [(winner, cid, lab) for cid, lab in extra if cid != own],
        )


def _status_why(
    r: dict[str, Any], rs: list[str], scores: dict[str, Any], dedup: _Dedup, merged_into: dict
) -> str | None:
    """The pair's status_why; a duplicate's twin is also recorded in ``scores``."""
    why = ", ".join(rs) if rs else None
    if r["id"] in dedup.twins:
        # the twin is named, so a reviewer sees which pair stays (and one decision covers both)
        twin = dedup.twins[r["id"]]
        twin_q = next((p["query"] for p in dedup.pool if p["id"] == twin), "")
        scores["twin"] = twin
        why = f"{why}: twin of pair {twin} ({twin_q[:80]!r}), which is kept"
    if "merged_duplicate" in rs:
        why = f"merged into pair {merged_into[r['id']]} as an extra positive"
    return why


def _write_results(
    ws: Workspace, judged: list[dict[str, Any]], dedup: _Dedup
) -> tuple[Counter[str], Counter[str]]:
    """Write status, reasons, scores, flags and events (only for pairs a filter may judge); (by_reason, by_flag)."""
    reasons, flags = dedup.reasons, dedup.flags
    ts = now_iso()
    by_reason: Counter[str] = Counter()
    by_flag: Counter[str] = Counter()
    merged_into = {loser["id"]: winner for winner, loser in dedup.merges}
    with ws.tx() as c:
        _write_merges(c, dedup.merges)
        for r in judged:
            rs = sorted(set(reasons[r["id"]]), key=reasons[r["id"]].index)
            by_reason.update(rs)
            scores = json.loads(r["scores"] or "{}")
            if r.get("_rt"):
                scores["rt_rank"], scores["rt_sim"] = r["_rt"][0], round(r["_rt"][1], 4)
            new_status = "rejected" if rs else "proposed"
            fl = sorted(set(flags.get(r["id"], [])), key=flags.get(r["id"], []).index)
            by_flag.update(fl)
            why = _status_why(r, rs, scores, dedup, merged_into)
            cur = c.execute(
                f"UPDATE pairs SET status=?, reasons=?, scores=?, status_by=?, status_why=?, flags=?, updated_at=? "
                f"WHERE id=? AND {_FILTER_OWNED}",
                (
                    new_status,
                    json.dumps(rs),
                    json.dumps(scores),
                    "filter" if rs else None,
                    why,
                    json.dumps(fl),
                    ts,
                    r["id"],
                ),
            )
            if cur.rowcount and new_status != r["status"]:
                c.execute(
                    "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                    (
                        r["id"],
                        "filter",
                        "filter",
                        ", ".join(rs) or "passes all filters",
                        r["status"],
                        new_status,
                        ts,
                    ),
                )
    return by_reason, by_flag


def filter_pairs(
    ws: Workspace,
    *,
    settings: Settings | None = None,
    base_model: Any = None,
    progress: Progress | None = None,
    top_k: int = 10,
    min_similarity: float = 0.6,
    near_dup_threshold: float = 92.0,
    round_trip_check: bool = True,
    min_language_pass_rate: float = 0.35,
    **length_bounds: Any,
) -> dict:
    """Apply every filter to the pairs a filter may judge (proposed, filter-rejected); record reasons and scores.

    A language whose pairs the base model can barely place (pass rate below ``min_language_pass_rate``) is not
    round-trip filtered: the base model cannot judge it, and those are the pairs fine-tuning should teach."""
    rows, judged = _load_rows(ws)
    total_steps = 3
    if progress:
        progress(0, total_steps, "text checks")
    reasons: dict[int, list[str]] = {r["id"]: _pair_text_reasons(r, length_bounds) for r in judged}

    notes: list[str] = []
    rt_info: dict[str, Any] = {
        "checked": 0,
        "top_k": top_k,
        "min_similarity": min_similarity,
        "skipped_languages": [],
    }
    if round_trip_check and judged:
        if progress:
            progress(1, total_steps, "round trip (base model)")
        _round_trip_reasons(
            ws,
            rows,
            judged,
            reasons,
            rt_info,
            notes,
            settings=settings,
            base_model=base_model,
            progress=progress,
            min_language_pass_rate=min_language_pass_rate,
        )
    if progress:
        progress(2, total_steps, "duplicates")

    flags = _real_question_flags(judged, reasons)
    dedup = _Dedup.build(ws, rows, reasons, flags, near_dup_threshold)
    dedup.run()
    by_reason, by_flag = _write_results(ws, judged, dedup)
    if progress:
        progress(3, total_steps, "done")
    counts = {
        s: ws.scalar("SELECT count(*) FROM pairs WHERE status=?", (s,))
        for s in ("proposed", "approved", "edited", "rejected")
    }
    return {
        "kept": counts["proposed"] + counts["approved"] + counts["edited"],
        "rejected": counts["rejected"],
        "judged": len(judged),
        "by_reason": dict(by_reason.most_common()),
        "flagged": sum(1 for r in judged if flags.get(r["id"])),
        "by_flag": dict(by_flag.most_common()),
        "merged": len(dedup.merges),
        "status": counts,
        "round_trip": rt_info,
        "notes": notes,
    }
