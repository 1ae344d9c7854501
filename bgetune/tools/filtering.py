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
    return model, model_fingerprint(model, resolved)


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


def near_duplicates(queries: list[str], *, threshold: float = 92.0) -> list[tuple[int, int]]:
    """Index pairs (i < j) of queries that are near-duplicates (rapidfuzz ratio on normalised text >= threshold)."""
    from rapidfuzz import fuzz, process

    norm = [_norm_query(q) for q in queries]
    out = []
    n = len(norm)
    block = 1000
    for s in range(0, n, block):
        m = process.cdist(
            norm[s : s + block], norm, scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.uint8, workers=1
        )
        rows, cols = np.nonzero(m)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = s + r
            if i < c:
                out.append((i, c))
    return out


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
    rows = [
        dict(r)
        for r in ws.query(
            "SELECT p.id, p.chunk_id, p.query, p.passage, p.kind, p.source, p.status, p.status_by, p.scores, p.language, "
            "p.label, c.text AS chunk_text, c.heading AS chunk_heading, c.language AS chunk_language "
            "FROM pairs p LEFT JOIN chunks c ON c.id=p.chunk_id ORDER BY p.id"
        )
    ]
    judged = [
        r
        for r in rows
        if r["status"] == "proposed"
        or (r["status"] == "rejected" and (r["status_by"] or "filter") == "filter")
    ]
    total_steps = 3
    if progress:
        progress(0, total_steps, "text checks")
    reasons: dict[int, list[str]] = {}
    for r in judged:
        positive = r["chunk_text"] or r["passage"]
        reasons[r["id"]] = text_reasons(
            r["query"], positive, kind=r["kind"], check_passage_refusal=False, **length_bounds
        )
        if "query_too_long" not in reasons[r["id"]] and copies_text(r["query"], positive):
            reasons[r["id"]].append("copies_passage")
        if not is_real(r):
            reasons[r["id"]] += shape_reasons(
                r["query"], positive, r.get("chunk_heading"), r.get("chunk_language")
            )
        if (
            (r["source"] or "").startswith("llm:")
            and _REFUSAL.search(r["passage"][:200])
            and "refusal" not in reasons[r["id"]]
        ):
            reasons[r["id"]].append("refusal")

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
        by_lang: dict[str, list[bool]] = {}
        for r in judged:
            if r["_rt"]:
                lang = "zh" if _is_zh(r["query"]) else "en"
                by_lang.setdefault(lang, []).append(r["_rt"][0] <= top_k or r["_rt"][1] >= min_similarity)
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
        rt_info["skipped_languages"] = sorted(skip)
        for r in judged:
            if not r["_rt"]:
                continue
            rt_info["checked"] += 1
            lang = "zh" if _is_zh(r["query"]) else "en"
            rank, sim = r["_rt"]
            if lang not in skip and rank > top_k and sim < min_similarity:
                reasons[r["id"]].append("round_trip_failed")
    if progress:
        progress(2, total_steps, "duplicates")

    # real questions: the synthetic-query checks above become review flags, never rejections
    flags: dict[int, list[str]] = {}
    for r in judged:
        if is_real(r):
            flags[r["id"]] = reasons[r["id"]]
            reasons[r["id"]] = []

    # duplicates among the surviving candidates and the user's kept pairs; the better one stays. A real question
    # imported twice merges into one pair (the second answer becomes an extra positive); a synthetic query that
    # repeats a real question (a pair or a golden question) is dropped.
    pool = [
        r
        for r in rows
        if r["status"] in ("approved", "edited") or (r["id"] in reasons and not reasons[r["id"]])
    ]
    pool.sort(key=_better_key)
    golden_qs = [g["query"] for g in ws.query("SELECT query FROM golden")]
    golden_keys = {_norm_query(q) for q in golden_qs}
    real_keys = {_norm_query(r["query"]): r["id"] for r in pool if is_real(r)}
    kept_ids: set[int] = set()
    exact_seen: dict[str, int] = {}
    dupes = near_duplicates([r["query"] for r in pool] + golden_qs, threshold=near_dup_threshold)
    neighbours: dict[int, list[int]] = {}
    for i, j in dupes:
        neighbours.setdefault(j, []).append(i)
        neighbours.setdefault(i, []).append(j)
    merges: list[tuple[int, dict[str, Any]]] = []
    twins: dict[int, int] = {}  # a rejected duplicate -> the pair kept in its place
    for idx, r in enumerate(pool):
        key = _norm_query(r["query"])
        near = neighbours.get(idx, [])
        if r["id"] in reasons:
            if is_real(r):
                if key in golden_keys:
                    reasons[r["id"]].append("in_golden_set")
                    continue
                if any(n >= len(pool) for n in near):
                    reasons[r["id"]].append("near_golden_question")
                    continue
                if key in exact_seen:
                    winner = exact_seen[key]
                    if winner in kept_ids and is_real(next(p for p in pool if p["id"] == winner)):
                        merges.append((winner, r))
                        reasons[r["id"]].append("merged_duplicate")
                        continue
                    flags[r["id"]].append("duplicate_query")
                elif any(n < idx and pool[n]["id"] in kept_ids for n in near):
                    flags[r["id"]].append("near_duplicate_query")
            else:
                if key in real_keys or key in golden_keys:
                    reasons[r["id"]].append("duplicates_real_question")
                    continue
                if any(n >= len(pool) or (is_real(pool[n]) and pool[n]["id"] in kept_ids) for n in near):
                    reasons[r["id"]].append("near_duplicates_real_question")
                    continue
                if key in exact_seen:
                    reasons[r["id"]].append("duplicate_query")
                    twins[r["id"]] = exact_seen[key]
                    continue
                near_kept = [pool[n]["id"] for n in near if n < idx and pool[n]["id"] in kept_ids]
                if near_kept:
                    reasons[r["id"]].append("near_duplicate_query")
                    twins[r["id"]] = near_kept[0]
                    continue
        exact_seen.setdefault(key, r["id"])
        kept_ids.add(r["id"])

    # write: status, reasons, scores, events (only for pairs a filter may judge)
    ts = now_iso()
    by_reason: Counter[str] = Counter()
    by_flag: Counter[str] = Counter()
    merged_into = {loser["id"]: winner for winner, loser in merges}
    with ws.tx() as c:
        for winner, loser in merges:
            extra = [(loser["chunk_id"], loser["label"])] if loser["chunk_id"] else []
            extra += [
                (e["chunk_id"], e["label"])
                for e in c.execute(
                    "SELECT chunk_id, label FROM pair_positives WHERE pair_id=?", (loser["id"],)
                )
            ]
            own = c.execute("SELECT chunk_id FROM pairs WHERE id=?", (winner,)).fetchone()[0]
            c.executemany(
                "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin, label) VALUES(?,?,'merged',?)",
                [(winner, cid, lab) for cid, lab in extra if cid != own],
            )
        for r in judged:
            rs = sorted(set(reasons[r["id"]]), key=reasons[r["id"]].index)
            by_reason.update(rs)
            scores = json.loads(r["scores"] or "{}")
            if r.get("_rt"):
                scores["rt_rank"], scores["rt_sim"] = r["_rt"][0], round(r["_rt"][1], 4)
            new_status = "rejected" if rs else "proposed"
            fl = sorted(set(flags.get(r["id"], [])), key=flags.get(r["id"], []).index)
            by_flag.update(fl)
            why = ", ".join(rs) if rs else None
            if r["id"] in twins:
                # the twin is named, so a reviewer sees which pair stays (and one decision covers both)
                twin = twins[r["id"]]
                twin_q = next((p["query"] for p in pool if p["id"] == twin), "")
                scores["twin"] = twin
                why = f"{why}: twin of pair {twin} ({twin_q[:80]!r}), which is kept"
            if "merged_duplicate" in rs:
                why = f"merged into pair {merged_into[r['id']]} as an extra positive"
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
        "merged": len(merges),
        "status": counts,
        "round_trip": rt_info,
        "notes": notes,
    }
