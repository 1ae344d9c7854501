"""Offline query generator: deterministic, no network, Chinese and English.

Produces what users type, not copies of sentences: questions built from definitions ("X is a Y" -> "What is X?",
"X是指Y" -> "什么是X？"), instructions ("To do X, ..." -> "How do I do X?", "如果您希望X" -> "如何X？"), law articles
("标签应当标明下列事项" -> "标签应当标明哪些事项？", "...的，由...处罚款" -> "...会受到什么处罚？"), question
headings, and keyword queries from the chunk's salient terms (TF-IDF of the chunk against the whole corpus).
Every query must contain a term specific to its chunk, and must not copy a long run of the chunk.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgetune.core.text import cjk_count, detect_language, normalize_ws
from bgetune.tools.chunking import split_sentences

SOURCE = "offline"
GENERATOR_VERSION = "offline-v3.5"  # v3: style frames, type mix, no heading copies (issue 24); .1: heading
# line apart; .2: no deictic, placeholder or glued queries, specific objects and keyword names; .3 (English only):
# 'what is X' only of a term the passage is about, no everyday word as a name, no path tails or page headers, task
# verbs only, no anaphora, hedges or cut brackets, articles kept with names; v3.4 (Chinese only): 'X是什么' only of
# a Latin name the prose uses (not code labels, file names, one-off commands, identifiers, typos, half a person's
# name), 'use/run X' only of a named tool, no organisation as an object, no name cut at a hyphen; .5 (Chinese):
# the same prose check for every 'X是什么', no English inflected word as a name, no 'your', no glued placeholder

Progress = Callable[[int, int, str], None]


@dataclass
class GenQuery:
    """One generated query with its supporting span (an exact substring of the chunk)."""

    query: str
    kind: str  # question | keyword | long-tail
    passage: str
    rule: str = ""


EN_STOP = set(
    """a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each either else etc even ever every few for from further
    get gets got had has have having he her here hers him his how however i if in into is it its itself just least
    less let like make makes many may me might more most much must my no nor not now of off on once one only or other
    our out over own per please rather really same see shall she should since so some such than that the their them
    then there these they this those through thus to too under until up upon us use used uses using very via was we
    well were what when where whether which while who whom whose why will with within without would yet you your
    yours able new way ways case cases example examples e.g i.e section chapter following given note see also
    usually often always sometimes several various another first second number part point means called
    http https www com org net html htm pdf ftp contains contain containing
    """.split()
)
_EN_PRONOUN_SUBJ = {
    "it",
    "this",
    "that",
    "they",
    "these",
    "those",
    "there",
    "he",
    "she",
    "which",
    "what",
    "here",
    "we",
    "you",
    "i",
}
ZH_STOP = set(
    """的 了 和 与 或 及 以及 在 是 等 对 由 应 应当 其 并 为 以 于 将 被 把 从 向 上 下 中 时 后 前 可以 可 不 没有 有 有关 相关
    规定 本法 依照 按照 依法 进行 一个 这个 那个 这些 那些 我们 您 你 他们 它 它们 如果 但是 因为 所以 可能 需要 使用 通过
    其他 以上 以下 之一 情形 情况 下列 所 该 此 同时 已经 还 也 都 就 而 则 即 并且 或者 以及 包括 方面 要求 之间 一些 这种
    什么 如何 怎么 哪些 注意 例如 比如 这样 那么 目前 现在 当前 任何 每个 各 各自 自己 非常 更 最 很
    """.split()
)
_ZH_PRONOUN = re.compile(r"^(它|它们|这|那|该|此|其|本|上述|前款|本条|以下|下列)")
_LATIN_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_+./\-]*[A-Za-z0-9+]|[A-Za-z]")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_+'\-./]*[A-Za-z0-9+]|[A-Za-z]")
_ARTICLE = re.compile(r"第[一二三四五六七八九十百千零〇两\d]+条")
_CN_NUM_ITEM = re.compile(r"^[（(][一二三四五六七八九十\d]+[)）]")
_HEADING_NUM = re.compile(r"^\s*(?:[\dA-Z]+(?:\.\d+)*\.?|第[一二三四五六七八九十百\d]+[章节条])\s*")


# ---------------------------------------------------------------------------------------------- terms
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.ERROR)
    return jieba


def zh_words(text: str) -> list[str]:
    """Content words of a Chinese text (jieba), plus Latin technical terms."""
    out = []
    for w in _jieba().lcut(text):
        w = w.strip()
        if not w:
            continue
        if _LATIN_TERM.fullmatch(w):
            if len(w) >= 2 and w.lower() not in EN_STOP:
                out.append(w)
            continue
        if len(w) < 2 or w in ZH_STOP or not re.search(r"[\u4e00-\u9fff]", w):
            continue
        if re.fullmatch(r"[第\d一二三四五六七八九十百千零〇两条款项章节]+", w):
            continue
        out.append(w)
    return out


def en_terms(text: str) -> list[str]:
    """Lower-cased content words and two/three-word phrases (runs of non-stopwords inside one sentence)."""
    out: list[str] = []
    for sent in re.split(r"[.,;:!?()\[\]{}\"“”]+\s|\n\n", text):
        words = [w.strip(".-/'") for w in _EN_WORD.findall(sent)]
        run: list[str] = []
        for w in [*words, ""]:
            lw = w.lower()
            if lw and lw not in EN_STOP and len(lw) > 1 and not lw.isdigit():
                run.append(lw)
                out.append(lw)
                continue
            for n in (2, 3):
                for i in range(len(run) - n + 1):
                    out.append(" ".join(run[i : i + n]))
            run = []
    return out


def chunk_terms(text: str, language: str) -> list[str]:
    return zh_words(text) if language in ("zh", "mixed") else en_terms(text)


@functools.lru_cache(maxsize=1)
def _en_ranks() -> dict[str, int]:
    """Word -> rank in the bundled model's WordPiece vocabulary (roughly frequency order): common words rank low."""
    try:
        from bgetune.core.models import bundled_model_path

        words = (Path(bundled_model_path()) / "vocab.txt").read_text(encoding="utf-8").split("\n")
    except Exception:  # the weight is only a refinement
        return {}
    return {w: i for i, w in enumerate(words) if i >= 1996}


@functools.lru_cache(maxsize=1)
def _zh_idf() -> tuple[dict[str, float], float]:
    try:
        import jieba.analyse

        _jieba()
        t = jieba.analyse.default_tfidf
        return t.idf_freq, t.median_idf
    except Exception:
        return {}, 1.0


def general_weight(term: str) -> float:
    """How specific a term is in the language at large (1 = rare/technical, ~0.3 = everyday word)."""
    if re.search(r"[\u4e00-\u9fff]", term):
        idf, median = _zh_idf()
        v = idf.get(term)
        return 1.0 if v is None else max(0.25, min(1.0, v / median) ** 1.5)
    ranks = _en_ranks()
    ws = []
    for w in term.lower().split():
        r = ranks.get(w)
        ws.append(1.0 if r is None else 0.3 if r < 5000 else 0.55 if r < 9000 else 0.8 if r < 15000 else 1.0)
    return max(ws) if len(ws) > 1 else ws[0] if ws else 1.0


class CorpusStats:
    """Document frequencies of terms over the chunks, for TF-IDF salience."""

    def __init__(self, chunk_terms_list: Iterable[list[str]]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for terms in chunk_terms_list:
            self.n += 1
            self.df.update(set(terms))

    def idf(self, term: str) -> float:
        return math.log((1 + self.n) / (1 + self.df.get(term, 0))) + 1.0

    def salient(self, terms: list[str], k: int = 6) -> list[tuple[str, float]]:
        """Top-k terms of one chunk by tf-idf; phrases beat their own words; near-ubiquitous terms dropped."""
        tf = Counter(terms)
        scored = []
        for t, c in tf.items():
            if self.n >= 5 and self.df.get(t, 0) > 0.3 * self.n:
                continue
            n_words = t.count(" ") + 1
            if n_words > 1 and c < 2 and self.df.get(t, 0) < 2 and self.n > 20:
                continue  # a one-off phrase is usually an accident of the text, not a term
            bonus = 1.0 + 0.35 * (n_words - 1) + (0.15 if len(t) >= 4 else 0.0)
            scored.append((t, (1 + math.log(c)) * self.idf(t) * bonus * general_weight(t)))
        scored.sort(key=lambda x: (-x[1], x[0]))
        picked: list[tuple[str, float]] = []
        for t, s in scored:
            tl = t.lower()
            if any(tl in p.lower() or p.lower() in tl for p, _ in picked):
                continue
            picked.append((t, s))
            if len(picked) >= k:
                break
        return picked


# ---------------------------------------------------------------------------------------------- helpers
def _sentences(text: str) -> list[str]:
    """Exact substrings of text: sentences, and the lines of list-like blocks."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        for s in split_sentences(para):
            s = s.strip()
            if s:
                out.append(s)
    return out


def _clean_en(s: str) -> str:
    return normalize_ws(s).strip(" ,;:-")


def _you_to_i(s: str) -> str:
    s = re.sub(r"\byourself\b", "myself", s)
    s = re.sub(r"\byour\b", "my", s)
    s = re.sub(r"\byou\b", "I", s)
    return s


def copies_text(query: str, text: str, *, max_run: int = 6) -> bool:
    """True when the query repeats a run of more than max_run words (en) or 16 characters (zh) of the text."""
    q = normalize_ws(query).lower().rstrip("?？。.!")
    t = normalize_ws(text).lower()
    if re.search(r"[\u4e00-\u9fff]", q):
        qz = re.sub(r"\s+", "", q)
        tz = re.sub(r"\s+", "", t)
        return len(qz) >= 17 and any(qz[i : i + 17] in tz for i in range(0, len(qz) - 16))
    words = q.split()
    if len(words) <= max_run:
        return False
    return any(" ".join(words[i : i + max_run + 1]) in t for i in range(len(words) - max_run))


# ---------------------------------------------------------------------------------------------- English rules
_DEF_EN = re.compile(
    r"^(?:The |An? )?(?P<x>[A-Za-z][\w+./\-]*(?: [\w+./\-]+){0,4}?)(?: \([^)]{1,30}\))? (?P<v>is|are|means|refers to) "
    r"(?:a|an|the|one|any|used|called|defined|simply|basically|essentially|short for)\b"
)
_TO_EN = re.compile(r"^(?:In order )?[Tt]o (?P<x>[a-z]+ [^,;:]{3,70}), ")
_IFYOU_EN = re.compile(
    r"\b(?:[Ii]f|[Ww]hen) you (?:want|need|wish|would like|have) to (?P<x>[a-z]+ [^,;:.]{3,60}(?![\w'’\-]))"
)
_YOUCAN_EN = re.compile(
    r"\b[Yy]ou (?:can|could|should|must|may|need to)(?: also| then| simply| just)? (?P<x>(?:use|run|install|set|add|change|get|find|check|create|remove|edit|type|call|put|configure|specify|build|make|read|write|load|save|select|enable|disable|upgrade|update|download|obtain|try|report|send|subscribe|compile|convert|mount|access) [^,;:.]{3,60}(?![\w'’\-]))"
)
_USE_TO_EN = re.compile(r"\b[Uu]se (?P<tool>[^,;:.]{2,40}?) to (?P<x>[a-z]+ [^,;:.]{3,50}(?![\w'’\-]))")
_EN_BAD_X = re.compile(r"\b(this|that|these|those|it|them|above|below|following|former|latter)\b", re.I)


def _en_complete(x: str) -> bool:
    """False for a phrase that stops mid-claim ('display the default target to', 'partly based')."""
    last = x.split()[-1].lower().strip("'\"()") if x.split() else ""
    return (
        bool(last) and last not in EN_STOP and last not in _EN_NEEDS_COMPLEMENT and not last.endswith("-like")
    )


# verbs that send the reader to something (the passage's pointer, not a task a user asks how to do: 'How could I
# visit a Debian archive site?', 'Can I look at coplot?')
_EN_REFER_VERBS = {"look", "see", "read", "visit", "consult", "refer", "peruse", "browse", "note", "notice"}
# what happens to one ('you may find incompatibilities'), not what one sets out to do
_EN_EXPERIENCE_VERBS = {"find", "see", "notice", "encounter", "experience", "get", "run", "end", "lose"}


def _en_task_verb(x: str, before: str = "") -> bool:
    """Whether the verb phrase ``x`` names a task a user asks how to do: not led by an adverb ('actually use the
    package' -> 'Actuallying use ...'), not a pointer verb ('visit a site', 'look at'), not an experience after
    'may'/'might' ('you may find incompatibilities'), no notation, 'any' or comparison in it."""
    w0 = x.split()[0].lower() if x.split() else ""
    if not w0 or _adverb(w0) or w0 in _EN_REFER_VERBS:
        return False
    if re.search(r"->|[=$#<>{}|]|\bany\b|\bthe \d|\bthe (?:more|less) \w", x):
        # notation ('go from stable --> testing'), any thing at all ('subscribe to any list X'), an example's
        # number ('adjust the value of the 0.25 offset'), a comparison ('switch to the more modern unstable')
        return False
    return not (w0 in _EN_EXPERIENCE_VERBS and re.search(r"\b(?:may|might)\s+(?:\w+ly\s+)?$", before))


def _en_rules(sent: str) -> list[tuple[str, str, str]]:
    """(query, kind, rule) candidates from one English sentence."""
    s = _clean_en(sent)
    out: list[tuple[str, str, str]] = []
    m = _DEF_EN.match(s)
    if m:
        x = m.group("x").strip()
        first = x.split()[0].lower()
        if first not in _EN_PRONOUN_SUBJ and first not in EN_STOP and len(x) >= 3 and not _EN_BAD_X.search(x):
            verb = "are" if m.group("v") == "are" else "is"
            # the sentence's article stays with a name or a phrase ('What is the Fedora R RPM?', not 'What is
            # Fedora R RPM?')
            the = "the " if s.startswith("The ") and re.match(r"[A-Z/]", x) else ""
            out.append((f"What {verb} {the}{x}?", "question", "definition"))
    for rx, template, rule in (
        (_TO_EN, "How do I {x}?", "purpose"),
        (_IFYOU_EN, "How can I {x}?", "if-you"),
        (_YOUCAN_EN, "How do I {x}?", "you-can"),
    ):
        m = rx.search(s)
        if m:
            x = _you_to_i(m.group("x").strip().rstrip(".)"))
            x = (
                re.sub(
                    r"\s+(?:by|with|using|from|via|in order|which|that|so|and|as|when|if|while|because|unless"
                    r"|since|before|after)\b.*$",
                    "",
                    x,
                )
                if len(x.split()) > 7
                else x
            )
            # a capped match that ended before a clause's first word leaves it dangling: '... line when'
            x = re.sub(r"\s+(?:when|if|while|because|unless|since|before|after|and|or|as|so)$", "", x)
            if (
                2 <= len(x.split()) <= 10
                and not _EN_BAD_X.search(x)
                and _en_complete(x)
                and _en_task_verb(x, s[: m.start("x")])
            ):
                out.append((template.format(x=x), "question", rule))
    out.extend(_en_question_forms(sent))
    m = _USE_TO_EN.search(s)
    if m:
        x = _you_to_i(m.group("x").strip())
        if 2 <= len(x.split()) <= 8 and not _EN_BAD_X.search(x) and _en_complete(x):
            out.append((f"how to {x}", "long-tail", "use-to"))
    return out


# Declarative sentence -> the question it answers (subject-auxiliary inversion, do-support, "there are",
# "available at", "because"), the forms real users' questions take ("Can packages be upgraded in place?",
# "Does Debian include ...?", "What mailing lists are there?", "Where can I get ...?", "Why ...?").
_EN_AUX = {"is", "are", "can", "could", "will", "should", "must", "may", "was", "were", "has", "have"}
_EN_VERBS = set(
    """include provide support use run contain offer require need allow make come work follow adhere ship maintain
    communicate release distribute install keep depend build consist create produce handle manage store send receive
    accept check update upgrade remove replace show display print list describe explain give let help cover apply
    belong refer differ mean know want prefer recommend expect allow enable start stop begin try look get take put
    become remain appear happen change move copy reach reply publish announce consider host sponsor develop
    cost charge last take""".split()
)
_EN_MODAL = {"can", "could", "should", "must", "may", "will"}
_EN_MEANS = re.compile(r"\b(?:by|using|with the help of|via|through) ")
_EN_YOU_MODAL = re.compile(
    r"^(?:[Yy]ou|[Uu]sers|[Oo]ne) (?P<m>can|may|could) (?:also |then |simply |just |easily )?(?P<x>[a-z]+ .+)$"
)
_EN_NOT_SUBJ = _EN_PRONOUN_SUBJ | {
    "nobody",
    "everybody",
    "everyone",
    "someone",
    "somebody",
    "one",
    "all",
    "each",
}
_EN_LEAD = re.compile(
    r"^(?:[A-Z][a-z]+(?: [a-z]+){0,3}, |(?:Also|However|Usually|Currently|Normally|Now|So|Then|Thus) )"
)
_EN_SUBJ_WORD = r"[A-Za-z0-9][\w'./+\-]*"
_EN_REST_CUT = re.compile(
    r"\s*(?:[,;:(\[]|\s-\s|\b(?:because|since|so that|that|which|who|but|if|when|while|where|whether|although|though|unless|whereas|e\.g|i\.e|etc)\b).*$"
)
_EN_THERE = re.compile(
    r"^There (?P<v>is|are) (?:(?:a lot of|lots of|many|several|a number of|a variety of|a few|plenty of|various|some"
    r"|two|three|four|five|a couple of|also) )*(?P<np>[\w'./+\-]+(?: [\w'./+\-]+){0,4}?)"
    r"(?= (?:that|which|who|for|in|on|at|to|available|you|with|about|of)\b|\s*[,.:;(]|$)"
)
_EN_WHERE = re.compile(
    r"^(?P<x>(?:The )?[\w'./+\-]+(?: [\w'./+\-]+){0,5}?) (?:is|are|can be) (?:also |now )?"
    r"(?P<how>available|found|downloaded|obtained|fetched|viewed|read) (?:for download )?(?:from|at|on|in|via)\b"
)
_EN_WHERE_IS = re.compile(
    r"^(?P<x>(?:The )?[\w'./+\-]+(?: [\w'./+\-]+){0,5}?) (?P<v>is|are) (?:usually |normally |also )?"
    r"(?:located|stored|kept|installed|placed|put|found) (?:in|at|on|under)\b"
)
_EN_PURPOSE = re.compile(
    r"^The (?P<w>purpose|goal|aim|reason|point|idea|advantage|benefit|difference) (?P<p>of|for|behind|between) "
    r"(?P<x>[^,;:.]{3,60}?) (?:is|are|was)\b"
)


def _en_subject(s: str) -> str:
    """Lower-case an ordinary sentence-initial word ('Packages' -> 'packages'); keep names and acronyms."""
    first, _, rest = s.partition(" ")
    if first in ("The", "A", "An"):
        first = first.lower()
    elif (
        not rest[:1].isupper()
        and first[:1].isupper()
        and first[1:].islower()
        and any(w in _en_ranks() or w in EN_STOP for w in (first.lower(), first.lower().split("-")[0]))
    ):
        first = first.lower()
    return f"{first} {rest}".strip()


def _en_verb_base(v: str) -> str | None:
    """'includes' -> 'include', 'applies' -> 'apply'; None when v is not a known verb form."""
    for base in (v, v[:-1] if v.endswith("s") else "", v[:-2] if v.endswith("es") else ""):
        if base in _EN_VERBS:
            return base
    if v.endswith("ies") and v[:-3] + "y" in _EN_VERBS:
        return v[:-3] + "y"
    return None


# words that need a complement: a claim cut right after one is not a claim ('Is the name partly based?')
_EN_NEEDS_COMPLEMENT = set(
    """based located derived related intended designed similar due able responsible subject equivalent called
    named known referred composed consisting made used meant supposed likely unlikely going according specific
    aware capable consists depends relies refers belongs applies prior part instead more less""".split()
)
# a cut before one of these leaves a complete clause ('Can packages be upgraded' | 'in place')
_EN_BOUNDARY = set(
    """in on at for with by from into onto than as when if because so via during after before until since using
    without within through while where unless whether and or but""".split()
)
_EN_LIST_AFTER = re.compile(r"^,\s*[\w'./+\-]+(?:\s+[\w'./+\-]+){0,3}\s*(?:,|\b(?:and|or)\b)")


def _en_trim_rest(rest: str, max_words: int, *, strict: bool = False) -> str:
    """The first words of a clause's rest, cut at a clause boundary. ``strict``: '' when the cut leaves an
    incomplete claim (a dangling preposition or article, a word that needs a complement, a list or a noun
    phrase cut in the middle), so a yes/no question keeps a complete claim."""
    rest = rest.strip().rstrip(".")
    cut = _EN_REST_CUT.search(rest)
    head = rest[: cut.start()] if cut else rest
    if strict and cut and _EN_LIST_AFTER.match(rest[cut.start() :]):
        return ""  # 'developed for the Unix-like, Windows and Mac families' cut at the comma
    all_words = head.split()
    words = all_words[:max_words]
    while (
        len(words) < min(len(all_words), max_words + 3)
        and all_words[len(words)][:1].isupper()
        and (words and words[-1][:1].isupper())
    ):
        words.append(all_words[len(words)])  # do not cut a name ('the Linux Filesystem Hierarchy Standard')
    truncated = len(words) < len(all_words)
    popped = False
    while words and (words[-1].lower() in EN_STOP or not re.search(r"\w", words[-1])):
        words.pop()
        popped = True
    if strict and words:
        last = words[-1].lower().strip("'\"")
        nxt = all_words[len(words)].lower() if len(words) < len(all_words) else ""
        if (
            last in _EN_NEEDS_COMPLEMENT
            or last.endswith("-like")
            or (popped and nxt not in _EN_BOUNDARY)
            or (truncated and not popped and nxt not in _EN_BOUNDARY)
            or (truncated and last.endswith("ing"))
        ):
            return ""
    return " ".join(words)


def _en_invert(clause: str) -> str | None:
    """The yes/no question 'S aux/verb rest' answers, or None; the subject is the shortest prefix (at most five
    words, no stop words after an optional determiner) followed by an auxiliary or a known verb."""
    words = clause.split()
    det = (
        1
        if words and words[0] in ("The", "A", "An", "Most", "Many", "Some", "Several", "Every", "Each")
        else 0
    )
    if re.search(r"->|[=$#<>{}|]", clause):
        return None  # a command line or code, not prose
    span = range(det + 1, min(det + 5, len(words) - 2) + 1)
    # the verb: the first auxiliary after the subject ('Debian mailing lists are'), else the first known verb
    tries = [next((n for n in span if words[n] in _EN_AUX), None)]
    tries.append(next((n for n in span if _en_verb_base(words[n]) is not None), None))
    for at in tries:
        q = _en_invert_at(words, det, at) if at is not None else None
        if q:
            return q
    return None


# frequency adverbs a claim hedges with and a question leaves out
_EN_HEDGE = re.compile(r"\b(?:usually|sometimes|often|normally|generally|typically|occasionally|frequently) ")


def _en_invert_at(words: list[str], det: int, at: int) -> str | None:
    subj_words, v, rest = words[:at], words[at], " ".join(words[at + 1 :])
    low = [re.sub(r"'(?:ll|re|ve|s|d)$", "", w.lower()) for w in subj_words[det:]]
    if any(w in EN_STOP for w in low) or not all(re.fullmatch(_EN_SUBJ_WORD, w) for w in subj_words):
        return None
    if (
        low[0] in _EN_NOT_SUBJ
        or low[0][:1].isdigit()
        or _EN_BAD_X.search(" ".join(subj_words))
        or rest.startswith(("not ", "no ", "never "))
    ):
        return None
    subj = _en_subject(" ".join(subj_words))
    plural = low[-1].endswith("s") and not low[-1].endswith("ss")
    if v in ("may", "might"):
        return None  # 'May programs have a subdirectory of /run?': a permission read as a question
    rest = _EN_HEDGE.sub("", rest)  # 'Is code sometimes hidden ...' -> 'Is code hidden ...'
    if v in _EN_MODAL and re.match(r"\w+ly\s", rest) and _adverb(rest.split()[0]):
        rest = rest.split(" ", 1)[1]  # 'Must users separately download ...' -> 'Must users download ...'
    if v in ("has", "have") and re.match(r"\w+ly\s", rest):
        return None  # 'Doug Bates has kindly provided ...' is not 'Does Doug Bates have kindly provided ...?'
    if v in _EN_AUX and not (v in ("has", "have") and not re.match(r"\w+(?:ed|en)\b|been\b", rest)):
        means = _EN_MEANS.search(rest)
        if v in _EN_MODAL and means and means.start() > 0:
            # 'Packages can be upgraded by running apt' answers 'How can packages be upgraded?'
            r = _en_trim_rest(rest[: means.start()], 6, strict=True)
            if r:
                return f"How {v} {subj} {r}?"
        r = _en_trim_rest(rest, 6, strict=True)
        return f"{v.capitalize()} {subj} {r}?" if len(r.split()) >= 2 else None
    base = "have" if v in ("has", "have") else _en_verb_base(v)
    if base is None:
        return None
    singular_verb = v != base
    if not singular_verb and not plural and v not in ("has", "have"):
        return None  # 'apt install foo' is a command, not a sentence: a base-form verb needs a plural subject
    do = "Does" if singular_verb or (not plural and v == "has") else "Do"
    # with 'Do' the subject and verb stay one run of the text: keep that run short (copies_text)
    r = _en_trim_rest(rest, 6 if singular_verb else max(1, 5 - at), strict=True)
    return f"{do} {subj} {base} {r}?" if r else None


# a quantity, not a thing: 'Many OSes have conventions', 'Where is some local variable data for xdm?'
_EN_QUANTIFIERS = {
    "many",
    "most",
    "some",
    "several",
    "all",
    "each",
    "every",
    "few",
    "various",
    "both",
    "other",
    "any",
}


def _en_place_ok(x: str) -> bool:
    """Whether ``x`` can be what a where-question asks for: no bad words, not led by a pronoun or a digit."""
    first = x.split()[0].lower()
    return (
        not _EN_BAD_X.search(x)
        and first not in _EN_NOT_SUBJ
        and first not in _EN_QUANTIFIERS  # not 'some local variable data'
        and not x[:1].isdigit()
    )


def _en_question_forms(sent: str) -> list[tuple[str, str, str]]:
    """Questions a declarative English sentence answers; at most one per rule, kept short."""
    s = _EN_LEAD.sub("", _clean_en(sent).rstrip("."))
    out: list[tuple[str, str, str]] = []
    m = _EN_THERE.match(s)
    if m:
        np = m.group("np")
        if not _EN_BAD_X.search(np) and np.split()[0].lower() not in EN_STOP:
            if m.group("v") == "are" and np.split()[-1].endswith("s") and general_weight(np) >= 0.8:
                # (not of an everyday plural: 'What lists are there?')
                out.append((f"What {np} are there?", "question", "there-are"))
            elif m.group("v") == "is":
                out.append((f"Is there a {np}?", "question", "there-is"))
        return out
    m = _EN_WHERE.match(s)
    if m and _en_place_ok(m.group("x")):
        verb = "find" if m.group("how") in ("found", "viewed", "read") else "get"
        out.append((f"Where can I {verb} {_en_subject(m.group('x'))}?", "question", "where"))
    m = _EN_PURPOSE.match(s)
    if m and not _EN_BAD_X.search(m.group("x")):
        out.append((f"What is the {m.group('w')} {m.group('p')} {m.group('x')}?", "question", "purpose"))
    m = _EN_YOU_MODAL.match(s)
    if m:
        x = _you_to_i(m.group("x"))
        if not _en_task_verb(x, s[: m.start("x")]) or x.split()[0] in (
            "want",
            "need",
            "wish",
            "like",
            "have",
            "be",
            "not",
            "find",
            "see",
            "notice",
        ):
            return out
        means = _EN_MEANS.search(x)
        how = bool(means and means.start() > 0)
        x = _en_trim_rest(x[: means.start()] if how else x, 7, strict=True)
        if len(x.split()) >= 2 and not _EN_BAD_X.search(x):
            q = f"How {m.group('m')} I {x}?" if how else f"{m.group('m').capitalize()} I {x}?"
            out.append((q, "question", "how-can-i" if how else "can-i"))
        return out
    m = _EN_WHERE_IS.match(s)
    if m and _en_place_ok(m.group("x")):
        be = "are" if m.group("v") == "are" else "is"
        out.append((f"Where {be} {_en_subject(m.group('x'))}?", "question", "where-is"))
    main, because, _why = s.partition(" because ")
    q = _en_invert(main)
    if q:
        if because and not q.startswith("How "):
            out.append((f"Why {q[0].lower()}{q[1:]}", "question", "why"))
        elif not because and not (re.search(r"[\"“”]", q) and not q.startswith("How ")):
            # (not a yes/no question around the author's scare quotes: 'Does the Debian package system have a
            # range of package "dependencies"?')
            out.append((q, "question", "how" if q.startswith("How ") else "yes-no"))
    return out


def _en_heading_questions(chunk: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Question lines and heading paths of the chunk ('7.39 How do I create a plot?') as user questions."""
    out = []
    text = chunk["text"]
    pos = 0
    for raw in text.splitlines(keepends=True):
        line, start = raw.strip(), pos
        pos += len(raw)
        if start > 0.6 * len(text):  # a question near the end is answered by the next chunk
            break
        if 12 <= len(line) <= 140 and line.endswith("?") and _HEADING_NUM.match(line):
            q = _HEADING_NUM.sub("", line).strip()
            if len(q.split()) >= 3:
                out.append((q, "question", "heading-question"))
    return out


# ---------------------------------------------------------------------------------------------- Chinese rules
_ZH_DEF = re.compile(
    r"^(?:本法所称|所谓)?(?P<x>[^，。；：、\s（(]{2,14})(?:，)?(?:是指|指的是|是一种|是一个|是一套|是用于)"
)
_ZH_IFYOU = re.compile(
    r"(?:如果|若|假如)(?:您|你|用户)?(?:想要|希望|需要|打算|想|要)(?P<x>[^，。；：]{3,28})"
)
_ZH_TO = re.compile(
    r"(?:^|[。；\n])(?:要|为了|若要|如需)(?P<x>[^，。；：]{3,24})，(?:请|您|你|可以|只需|应|需要|必须|就)"
)
_ZH_USE = re.compile(
    r"(?:使用|用|运行|执行|安装)\s*(?P<tool>[A-Za-z][\w\-./]*)\s*(?:命令|工具|程序)?\s*(?:来|以|可以)(?P<x>[^，。；：]{2,20})"
)
_ZH_LIST = re.compile(r"(?P<pre>[^，。；：\n]{2,30}?)下列(?P<what>[^，。；：\n]{1,12})[：:]")
_ZH_PENALTY = re.compile(r"(?:^|[。；：\n]|，)(?P<x>[^，。；：\n]{4,40}?)的，(?:由|处|依照|责令|没收|对)")
_ZH_DUTY = re.compile(r"(?:^|[。；\n]|，)(?P<s>[^，。；：\n]{2,26}?)应当(?P<v>[^，。；：\n]{4,36})")
_ZH_FORBID = re.compile(r"(?:^|[。；\n]|，)(?P<s>[^，。；：\n]{2,20}?)不得(?P<v>[^，。；：\n]{3,28})")
_ZH_AUTHORITY = re.compile(r"(部门|政府|机构|委员会|院|局|协会|机关|组织)$")


_ZH_FRAGMENT = re.compile(r"^(?:尚不|尚未|未|不|已|均|仍|即|并且|或者)")


_ZH_QUANT = re.compile(r"^(?:全部|所有|本|该|其|此|各|有关|相关|相应|上述|其他|其它|一切|任何)")


_ZH_HOWTO = set(
    """安装 卸载 删除 移除 升级 更新 配置 设置 使用 下载 编译 运行 启动 停止 创建 添加 查看 查找 检查 备份 恢复 挂载 订阅
    申请 注册 打开 关闭 生成 编辑 导入 导出 插入 输入 输出 清除 保存 加载 退订 刻录 排版 更改 修改""".split()
)
_ZH_USE_VERBS = ("使用", "运行", "利用")
_ZH_GLUED_PLACEHOLDER = re.compile(r"[A-Za-z0-9]-[\u4e00-\u9fff]")
_ZH_ORG = re.compile(r"(?:机关|机构|部门|法院|政府|委员会|协会|公司|银行|交易所)$")
_ZH_GENERIC_OBJ = set(
    "命令 文档 文件 方法 问题 内容 信息 数据 系统 程序 工具 措施 报告 资料 情况 农药 产品 食品".split()
)
_ZH_VERBISH = set(
    "采取 预防 加强 实施 建立 保障 维护 促进 推进 落实 履行 承担 依照 按照 根据 符合 负有 给予".split()
)


def _zh_latin_name(term: str) -> bool:
    """A Latin token a Chinese question may name: a command, package or acronym ('dlocate', 'ISO'), not an English
    word ('Maintainers', 'distros') or a placeholder ('XYZ')."""
    low = term.lower()
    if len(term) < 3 or low in _PLACEHOLDER or len(set(low)) == 1:
        return False
    ranks = _en_ranks()
    # an English word or its inflection ('Maintainers', 'Dependencies'): a Chinese user asks '维护者', not this
    stems = {low, low[:-1] if low.endswith("s") else low, re.sub(r"(?:ers|er|es|ed|ing)$", "", low)}
    stems.add(re.sub(r"ies$", "y", low))
    if re.fullmatch(r"[A-Za-z]+", term) and not term.isupper() and stems & ranks.keys():
        return False
    if re.fullmatch(r"[A-Z][a-z]+[A-Z][a-z]+", term):
        return False  # 'MailingLists', 'myArrow'-like glued words
    return _en_technical(term) or term[:1].isupper() or term.isupper()


_CODE_BEFORE = set("\\{:@-./=_$#*[<")
_CODE_AFTER = set("{}.:=@_(/[>")


def _zh_prose_name(term: str, text: str) -> bool:
    """A Latin name the Chinese text uses as a name in its prose ('用 dvips 转换'), so 'X是什么？' asks about
    something a reader meets: not only code (a label or argument '\\label{eq:origprime}', a file name 'temp.dvi',
    a command used once '\\bibliographysec'), not a camelCase identifier ('myArrow'), an example of a numbered
    series ('paper1, paper2'), a typo with two letters swapped ('landscpae' beside 'landscape'), or a surname after
    a first name ('Leslie Lamport'): half of a two-word name."""
    if re.fullmatch(r"[a-z]+[A-Z][a-z]\w*", term):
        return False
    t = re.escape(term)
    occ = list(re.finditer(rf"(?<![A-Za-z0-9]){t}(?![A-Za-z0-9])", text))
    prose = [
        m
        for m in occ
        if text[m.start() - 1 : m.start()] not in _CODE_BEFORE
        and text[m.end() : m.end() + 1] not in _CODE_AFTER
    ]
    commands = [m for m in occ if text[m.start() - 1 : m.start()] == "\\"]
    if not prose and len(commands) < 2:
        return False
    series = re.fullmatch(r"([A-Za-z]+)(\d+)", term)
    if series and re.search(rf"(?<![A-Za-z]){series.group(1)}(?!{series.group(2)}(?!\d))\d+", text):
        return False
    low = term.lower()
    if len(low) >= 5 and low.isalpha():
        swaps = {low[:i] + low[i + 1] + low[i] + low[i + 2 :] for i in range(len(low) - 1)} - {low}
        if swaps & _en_ranks().keys() or swaps & {w.lower() for w in re.findall(r"[A-Za-z]{5,}", text)}:
            return False
    name = r"(?<![A-Za-z])[A-Z][a-z]+ "
    if re.fullmatch(r"[A-Z][a-z]+", term) and re.search(
        rf"{name}{t}(?![A-Za-z])|(?<![A-Za-z]){t} [A-Z][a-z]+\b", text
    ):
        return False  # half of a two-word name: 'Leslie Lamport', 'Linus Torvalds'
    return True


def _zh_asked_term(term: str, text: str) -> bool:
    """A Chinese term the text explains or names (defined with 是指/是, quoted, or a Latin name): 'X是什么？' fits."""
    if _LATIN_TERM.fullmatch(term):
        return _zh_latin_name(term) and _zh_prose_name(term, text)
    flat = re.sub(r"\s+", "", text)
    t = re.escape(term)
    return bool(re.search(rf"[“「《\"']{t}[”」》\"']|{t}(?:是指|指的是|是一种|是一个|，即|即是)", flat))


def zh_thing(term: str) -> bool:
    """A thing one asks about ('投入品', '证券包销', 'graphicx'), not a verb phrase ('取消资格', '符合规定'), a
    quantified phrase ('全部内容', '本行政区域'), an adjective-like '-性' word or a placeholder ('NNN')."""
    if _LATIN_TERM.fullmatch(term):
        return len(term) >= 3 and len(set(term.lower())) > 1
    if _ZH_QUANT.match(term) or (term.endswith("性") and len(term) <= 3):
        return False
    import jieba.posseg

    _jieba()
    parts = [t for t in jieba.posseg.lcut(term, HMM=False) if t.word.strip()]
    if len(parts) > 1 and any(t.flag[:1] in ("v", "a", "d", "p") for t in parts):
        return False
    return not (len(parts) == 1 and parts[0].flag[:1] in ("v", "a", "d", "l", "i"))


def _zh_subject_first(clause: str) -> bool:
    """The clause opens with a noun subject of two or more characters ('证券公司应当...')."""
    import jieba.posseg

    _jieba()
    toks = [t for t in jieba.posseg.lcut(clause) if t.word.strip()]
    return bool(toks) and len(toks[0].word) >= 2 and toks[0].flag[:1] == "n" and not _ZH_PRONOUN.match(clause)


def _zh_starts_with_verb(phrase: str) -> bool:
    """'签署书面确认意见' yes; '真实、公正' (adjectives: '需要真实' is not a question) no."""
    import jieba.posseg

    _jieba()
    toks = [t for t in jieba.posseg.lcut(phrase) if t.word.strip()]
    return bool(toks) and toks[0].flag.startswith(("v", "p"))


def _zh_strip(x: str) -> str:
    x = re.sub(
        r"^(违反本法规定|依照本法规定|除本法另有规定外|有下列情形之一|对于|关于|对|在|但|并|而|且|同时)[，,]?",
        "",
        x.strip(),
    )
    return x.strip(" ，、：")


def _zh_rules(sent: str, *, law: bool) -> list[tuple[str, str, str]]:
    s = re.sub(r"\s+", "", sent)
    s = _ARTICLE.sub("", s).lstrip("　 ")
    out: list[tuple[str, str, str]] = []
    m = _ZH_DEF.match(s)
    x = m.group("x").strip("*“”\"'‘’「」《》") if m else ""
    if len(x) >= 2 and not _ZH_PRONOUN.match(x):
        out.append((f"什么是{x}？", "question", "zh-definition"))
    m = _ZH_IFYOU.search(s)
    # an action ('如何修改缺省规则'), not a name or a noun phrase ('如何Debian', '如何一本详细的手册')
    if m and cjk_count(m.group("x")) >= 2 and _zh_starts_with_verb(m.group("x")):
        out.append((f"如何{m.group('x')}？", "question", "zh-if-you"))
    m = _ZH_TO.search(s)
    if m and not _ZH_PRONOUN.match(m.group("x")):
        out.append((f"怎么{m.group('x')}？", "question", "zh-purpose"))
    m = _ZH_USE.search(s)
    if m and len(m.group("x")) <= 10 and not re.search(r"时候|问题|就|会|参见", m.group("x")):
        out.append((f"怎样用{m.group('tool')}{m.group('x')}？", "question", "zh-use"))
    m = _ZH_LIST.search(s)
    if m:
        pre = _zh_strip(m.group("pre"))
        if (
            len(pre) >= 2
            and not _ZH_PRONOUN.match(pre)
            and not re.match(r"第|本法|附则", pre)
            and not _zh_starts_with_verb(pre)  # '载明哪些事项？' names no subject
        ):
            what = m.group("what")
            what = "情形" if what.startswith("情形") else what
            out.append((f"{pre}哪些{what}？", "question", "zh-list"))
    if law:
        m = _ZH_PENALTY.search(s)
        if m:
            x = _zh_strip(m.group("x"))
            # a condition fragment ('尚不构成犯罪') or a bare list of acts ('合并、分立、停业、解散') names no act
            if (
                5 <= len(x) <= 30
                and not _ZH_PRONOUN.match(x)
                and not _ZH_DEICTIC.search(x)
                and not _ZH_FRAGMENT.match(x)
                and not x.startswith("有")  # '有...终止上市情形' is a condition, not an act
                and x.count("、") < 2
            ):
                out.append((f"{x}会受到什么处罚？", "question", "zh-penalty"))
        m = _ZH_DUTY.search(s)
        if m:
            subj, verb = _zh_strip(m.group("s")), m.group("v")
            if (
                2 <= len(subj)
                and not _ZH_PRONOUN.match(subj)
                and "下列" not in verb
                and _zh_subject_first(subj)
                and not subj.startswith("依法")
            ):
                if _ZH_AUTHORITY.search(subj):
                    verb = re.sub(r"^(?:立即|及时|依法|负责)", "", verb)
                    if not re.match(r"(?:会同|责令|按照|依照|根据|对|向|将|在)", verb):
                        out.append((f"谁负责{verb}？", "question", "zh-who"))
                elif len(verb) <= 14 and _zh_starts_with_verb(verb) and "规定" not in verb:
                    out.append((f"{subj}需要{verb}吗？", "question", "zh-duty"))
        m = _ZH_FORBID.search(s)
        if m:
            subj = _zh_strip(m.group("s"))
            if len(subj) >= 2 and not _ZH_PRONOUN.match(subj) and _zh_subject_first(subj) and subj != "依法":
                out.append((f"{subj}可以{m.group('v')}吗？", "question", "zh-forbid"))
    # a user names the thing, not 'your' thing ('如何共享您的Debian软件包'), and never a placeholder glued to a name
    # ('怎么订阅debian-列表主题？')
    out = [(re.sub(r"[您你]的", "", q), k, r) for q, k, r in out]
    return [(q, k, r) for q, k, r in out if not _ZH_GLUED_PLACEHOLDER.search(q)]


# ---------------------------------------------------------------------------------------------- well-formedness
_EN_NUMBER_WORDS = set(
    "one two three four five six seven eight nine ten hundred thousand million first".split()
)
_EN_NOUN_ED = {"speed", "seed", "feed", "need", "bed", "shed", "embed", "red", "hundred", "thread", "bread"}
_EN_NOMINAL_BEFORE = re.compile(
    r"\b(?:the|a|an|this|these|those|its|their|your|our|my|his|her|of|for|in|on|with|by|from|about|each|every|"
    r"any|some|no|called|named|use|using|via)\s+$",
    re.I,
)


def _en_plural(np: str) -> bool:
    last = np.split()[-1].lower()
    return last.endswith("s") and not last.endswith(("ss", "us", "is", "ics")) and "/" not in last


# adjectives that make a noun phrase generic, not a thing one asks about ('appropriate subdirectory')
_EN_GENERIC_ADJ = set(
    """appropriate different specific particular various certain such other same own main special typical usual
    common standard general simple basic additional separate similar several respective corresponding given
    following previous next new old important relevant necessary possible available useful""".split()
)


# comparative and superlative adjectives: a phrase led by one compares, it names nothing
_EN_COMPARATIVES = set(
    """smaller larger bigger newer older better worse faster slower higher lower greater earlier later longer
    shorter smallest largest biggest newest oldest latest best worst fastest slowest highest lowest greatest
    earliest longest shortest""".split()
)


def _adverb(word: str) -> bool:
    """'appropriately', 'dynamically' (not 'family', 'supply')."""
    return word.endswith("ly") and (
        word[:-2] in _en_ranks() or word.endswith(("ally", "ately", "ively", "ously"))
    )


def _en_plural_of_everyday(word: str) -> bool:
    """'users', 'systems' as the text writes them (lower case): the plural of an everyday noun."""
    ranks = _en_ranks()
    return (
        word.islower()
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ics", "ous"))
        and (word[:-1] in ranks or (word.endswith("ies") and word[:-3] + "y" in ranks))
    )


def en_noun_phrase(term: str, text: str) -> str | None:
    """``term`` as the X of 'what is X' when the chunk uses it as a noun phrase, else None.

    A noun phrase here: no stop word, number or contraction in it, no last word that is a verb form ('-ed'), at least
    one word of three letters, and in the chunk at least once after a determiner or preposition ('the kernel
    headers', 'of cached data'), which a verb ('to cross-tabulate') or a participle phrase is not. A path keeps its
    leading slash ('/usr/share/dict')."""
    words = term.split()
    low = [w.lower() for w in words]
    if not words or any(w in EN_STOP or "'" in w or "’" in w for w in low):
        return None
    if low[0][:1].isdigit() or low[0] in _EN_NUMBER_WORDS or low[0] in _EN_GENERIC_ADJ or _adverb(low[0]):
        return None
    if low[0] in _EN_COMPARATIVES and len(words) > 1:
        return None  # a comparison, not a thing: 'smaller partitions', 'the latest packages'
    if len(words) == 1 and "-" in low[0] and all(p in _en_ranks() for p in low[0].split("-") if p):
        return None  # 'fixed-format', 'application-package': hyphenated everyday words
    if not any(re.fullmatch(r"[a-z]{3,}", re.sub(r"[^a-z]", "", w)) for w in low):
        return None
    last = re.sub(r"[^a-z]", "", low[-1].split("/")[-1].split("-")[-1])
    if last.endswith("ed") and len(last) >= 4 and last not in _EN_NOUN_ED:
        return None
    if last.endswith("ly") or last in _EN_VERBS:
        return None
    hay = normalize_ws(text)
    for m in re.finditer(
        r"(?<![\w/])(/?)" + r"\s+".join(re.escape(w) for w in words) + r"(?![\w])", hay, re.I
    ):
        before = hay[max(0, m.start() - 30) : m.start()]
        found = m.group(0).lstrip("/").split()
        after = hay[m.end() : m.end() + 2].strip()
        if m.group(1) and before and not before[-1].isspace() and before[-1] not in "\"'“‘`([":
            continue  # the tail of a longer path ('<locale>/cat3/XtClass.3x'), not a path of its own
        if any(_en_plural_of_everyday(w) for w in found[:-1]):
            continue  # a plural inside is not a compound's modifier: 'Windows users odbcConnectDbase'
        if "/" in m.group(0) and any(w.istitle() and w.lower() in _en_ranks() for w in found):
            continue  # a page header glued into the text: 'The /usr Hierarchy', '/usr/share Directory'
        if all(w[:1].isupper() for w in found) and (
            after[:1].isupper() or (len(found) > 1 and not re.search(r"\bthe\s+$", before, re.I))
        ):
            continue  # a name ('Ross Ihaka') or part of a longer one ('Debian Security | Team')
        if m.group(1) or _EN_NOMINAL_BEFORE.search(before):
            return (m.group(1) or "") + term
    return None


@functools.lru_cache(maxsize=20000)
def _zh_pos(term: str) -> str:
    """jieba's part-of-speech flag for a term that is one word to jieba, else ''."""
    import jieba.posseg

    _jieba()
    toks = [t for t in jieba.posseg.lcut(term) if t.word.strip()]
    return toks[0].flag if len(toks) == 1 else ""


_ZH_NOUN_FLAGS = ("n", "vn", "nz", "nr", "ns", "nt", "nw", "l", "i", "j", "eng")


def _zh_is_noun(term: str) -> bool:
    if _LATIN_TERM.fullmatch(term):
        return bool(re.search(r"[A-Za-z]{3,}", term))
    flag = _zh_pos(term)
    return bool(flag) and flag.startswith(_ZH_NOUN_FLAGS) and not flag.startswith("m")


def _en_technical(term: str) -> bool:
    """A token users search for as is: a name with digits, dots, slashes, underscores, or a word the general
    vocabulary does not know ('rodbc', 'hdf5', 'sys.frame')."""
    if re.search(r"[\d_./]", term) and re.search(r"[a-z]{2,}", term):
        return True
    ranks = _en_ranks()
    return bool(ranks) and all(
        w not in ranks and len(w) >= 4 and not w.endswith(_EN_WORD_SUFFIXES) for w in term.split()
    )


# endings of ordinary English words the WordPiece vocabulary lacks whole ('flexibly', 'blurring', 'deficiencies')
_EN_WORD_SUFFIXES = (
    "ly",
    "ing",
    "ed",
    "ies",
    "ness",
    "tion",
    "ment",
    "able",
    "ible",
    "ous",
    "ive",
    "er",
    "es",
)


_ZH_LEGAL_FILLER = {"前款", "本条", "按规定", "依法", "有关", "相应", "规定", "本款", "上款"}


def _keyword_terms(terms: list[str], lang: str, text: str | None = None) -> list[str]:
    """The salient terms that read as search words, without repeating a word. English: a technical token or a
    noun phrase as the text uses it ('readline editing', 'hdf5'), not an adjective or a participle ('usual',
    'appended', 'enumerated') or a person's name."""
    out: list[str] = []
    seen: set[str] = set()
    for t in terms:
        if lang == "zh":
            if not _zh_is_noun(t) or t.lower() in seen or t in _ZH_LEGAL_FILLER:
                continue
            seen.add(t.lower())
            out.append(t)
            continue
        words = t.lower().split()
        if any(len(re.sub(r"[^a-z]", "", w)) < 3 for w in words) or any(w in seen for w in words):
            continue
        if len(set(words)) < len(words):
            continue
        if text is not None and not (
            _en_technical(t) or (en_noun_phrase(t, text) and (len(words) > 1 or general_weight(t) >= 0.8))
        ):
            continue  # a single everyday word ('usual', 'separate') is not a search term
        seen.update(words)
        out.append(t)
    return out


# what a user never asks about: pages about the document rather than its subject
_TOC_MARK = re.compile(r"\btable of contents\b|^\s*(?:contents|目\s*录)\s*$", re.I | re.M)
_LEADER = re.compile(r"(?:\.\s?){4,}\s*\d+\s*$|…{2,}\s*\d+\s*$|\s\d{1,4}\s*$")
_NUMBERED = re.compile(r"^\s*(?:(?:\d+|[A-Z])(?:\.\d+)*\.?|第[一二三四五六七八九十百\d]+[章节条])\s+\S")
_INDEX_LINE = re.compile(r"^[^\d\s].{0,60}?[,，]?\s+\d{1,4}(?:\s*[,，–-]\s*\d{1,4})*\s*$")
_REF_LINE = re.compile(
    r"^\s*(?:\[\d+\]|\d+\.\s+[A-Z][a-z]+,)|\bet al\.|\bpp\.\s*\d|\bdoi:|\bISBN\b|\bProceedings\b|\bJournal of\b"
    r"|\(\s*(?:19|20)\d\d[a-z]?\s*\)|^\s*[A-Z][a-z]+, [A-Z]\.",
)
_TITLE_MARK = re.compile(
    r"\b(?:version|edition|copyright|©|isbn|published by|all rights reserved|draft|release)\b|\d{4}-\d\d-\d\d",
    re.I,
)
_HEADING_REFS = re.compile(
    r"\b(?:references|bibliography|works cited|further reading)\b|参考文献|索引|\bindex\b", re.I
)


def _prose_sentences(text: str) -> int:
    """Sentences that read as prose: eight or more words (or 15 Chinese characters) ending in . ! ? 。！？ (lines of a
    paragraph are joined first, numbered heading lines left out)."""
    n = 0
    for para in re.split(r"\n\s*\n", text):
        body = " ".join(
            ln.strip()
            for ln in para.split("\n")
            if ln.strip() and not (_NUMBERED.match(ln) and not re.search(r"[.!?。！？]\s*$", ln))
        )
        for sent in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", body):
            sent = sent.strip()
            if not re.search(r"[.!?。！？:：]$", sent):
                continue
            if len(re.findall(r"[\u4e00-\u9fff]", sent)) >= 15 or len(re.findall(r"[A-Za-z]{2,}", sent)) >= 8:
                n += 1
    return n


def page_kind(text: str, heading: str | None = None) -> str | None:
    """'toc' | 'title' | 'index' | 'references' when the chunk is a table of contents, a title page, an index or
    a reference list (nothing a user would ask about), else None."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    prose = _prose_sentences(text)
    n = len(lines)
    toc_lines = sum(
        1 for ln in lines if _LEADER.search(ln) and len(ln) < 100 and not re.search(r"[,，]\s*\d+\s*$", ln)
    )
    index_lines = sum(1 for ln in lines if _INDEX_LINE.match(ln))
    ref_lines = sum(1 for ln in lines if _REF_LINE.search(ln))
    head = heading or ""
    if n >= 4 and ref_lines >= 0.5 * n and (prose <= ref_lines or _HEADING_REFS.search(head)):
        return "references"
    if _HEADING_REFS.search(head.split(">")[-1]) and ref_lines >= 0.3 * n:
        return "references"
    if n >= 4 and toc_lines >= 0.5 * n and prose <= 1:
        return "toc"  # entries ending in page numbers (with or without dot leaders)
    if n >= 5 and index_lines >= 0.6 * n and prose <= 1:
        return "index"
    if prose == 0 and len(re.findall(r"[,，]\s*\d{1,4}\b", text)) >= 10:
        return "index"  # an index whose lines the PDF merged: 'abstract, 17 amsmath, 6, 18-21 array, 23, 24'
    if prose == 0 and _TOC_MARK.search(text):
        return "toc"
    words = len(re.findall(r"[A-Za-z]+|[\u4e00-\u9fff]", text))
    if prose == 0 and words < 80 and _TITLE_MARK.search(text):
        return "title"
    return None


_BOILERPLATE = re.compile(
    r"copyright|©|\(c\) \d{4}|all rights reserved|without any warranty|merchantability|fitness for a particular"
    r"|general public license|permission is granted|free software foundation|you can redistribute it",
    re.I,
)


def strip_boilerplate(text: str, heading: str | None = None) -> str:
    """The chunk without licence/copyright boilerplate sentences and without stray table-of-contents lines
    (numbered headings that are not this chunk's own, cut off mid-title), which only add salient noise."""
    own = set(re.findall(r"\b\d+(?:\.\d+)+\b|\b\d+\b", heading or ""))
    kept: list[str] = []
    for line in text.split("\n"):
        m = _NUMBERED.match(line)
        if m and own and not re.search(r"[.!?:。！？：]\s*$", line.strip()):
            num = re.match(r"\s*(\S+)", line).group(1).rstrip(".")  # type: ignore[union-attr]
            if re.fullmatch(r"\d+(?:\.\d+)*", num) and num not in own:
                continue
        if _BOILERPLATE.search(line):
            sents = split_sentences(line)
            line = "\n".join(x for x in sents if not _BOILERPLATE.search(x))
        kept.append(line)
    return "\n".join(kept)


# ---------------------------------------------------------------------------------------------- generator
def _keyword_query(terms: list[str], language: str) -> str:
    return " ".join(terms)


def _has_salient(query: str, salient: list[str]) -> bool:
    ql = query.lower()
    return any(t.lower() in ql for t in salient)


def _support(text: str, sentences: list[str], needles: list[str]) -> str:
    """The sentence holding most of the needles (exact substring of the chunk), else the chunk's first sentence."""
    best, best_n = None, 0
    for s in sentences:
        sl = s.lower()
        n = sum(1 for t in needles if t and t.lower() in sl)
        if n > best_n:
            best, best_n = s, n
    return best or (sentences[0] if sentences else text)


def _en_search_phrase(t: str, text: str) -> bool:
    """An English keyword query a person would type: one noun phrase as the text uses it ('root filesystem',
    'dynamically loaded code'), not two or three unrelated salient terms glued together ('fargs fbody'), that names
    something ('debian gnu/linux systems') or what the passage is about (it says the phrase more than once: 'font
    cache'), not a phrase in passing ('summary information', 'long time')."""
    np_ = en_noun_phrase(t, text) if len(t.split()) >= 2 else None
    return bool(
        np_
        and _en_verb_base(t.split()[-1].lower()) is None  # not 'debian supports'
        and not _always_continues(t, text)
        and not _en_relational(t, text)
        and not (len(t.split()) == 2 and t.split()[-1].lower() in _EN_GENERIC_HEAD)
        and (
            _en_technical(t)
            or _named(np_, text)
            or _has_name(t, text)
            or (len(re.findall(r"\b" + re.escape(t) + r"\b", text, re.I)) >= 2 and general_weight(t) >= 0.8)
        )
        and not re.search(r"https?:|www\.|@|\.\w+/", t)
    )


def _keyword_pick(top_kw: list[str], lang: str, text: str) -> list[str]:
    """The one keyword query's terms: English, the first search phrase; Chinese, one term the text is about
    ('自由软件'), not two glued together ('软件包 有时候', '重大损失 履行职责')."""
    if lang == "en":
        return next(([t] for t in top_kw if _en_search_phrase(t, text)), [])
    return [t for t in top_kw if zh_thing(t) and len(t) >= 3][:1]


def generate_for_chunk(
    chunk: dict[str, Any],
    stats: CorpusStats,
    *,
    max_queries: int = 5,
    frames: list[Any] | None = None,
    frame_start: int = 0,
    extra_types: bool = False,
) -> list[GenQuery]:
    """Queries for one chunk, best first; deterministic. ``frames`` (style.mine_frames of the user's real
    questions): questions in those shapes come first, filled from the chunk's key phrases, starting at frame
    ``frame_start`` (rotated per chunk). ``extra_types``: statement and title-like queries are candidates too (the
    mix balancer picks among them)."""
    lang = chunk.get("language") or detect_language(chunk["text"])
    lang = "zh" if lang in ("zh", "mixed") else "en"
    if page_kind(chunk["text"], chunk.get("heading")):
        return []  # a table of contents, title page, index or reference list: nothing a user asks
    text = unwrap(chunk["text"]) if lang == "zh" else chunk["text"]
    text = strip_boilerplate(text, chunk.get("heading"))
    if not text.strip():
        return []
    own = (chunk.get("heading") or "").split(" > ")[-1].strip()
    if own and text.startswith(own + "\n") and not text.startswith(own + "\n\n"):
        # the chunk's own heading line is not the start of its first sentence ("Deployments Deployments happen")
        text = own + "\n\n" + text[len(own) + 1 :]
    terms = chunk_terms(text, lang)
    top = [t for t, _ in stats.salient(terms, k=8)]
    if not top:
        return []
    sentences = _sentences(text)
    law = lang == "zh" and bool(_ARTICLE.search(text) or "法" in (chunk.get("heading") or ""))
    specific = top[:8]
    cands: list[GenQuery] = []

    rule_hits: list[tuple[int, GenQuery]] = []
    # the chunk's own question headings are not proposed: a query that is its passage's heading teaches nothing
    # (issue 24); the filter rejects one with the reason 'is_heading'
    slots, conds = passage_slots(text, sentences, top, lang)
    if frames:
        from bgetune.tools.style import fill_frames

        fr = [f for f in frames if f.lang == lang]
        start = frame_start % max(1, len(fr))
        for q, f in fill_frames(fr, slots, text=text, conditions=conds, start=start, limit=3):
            if lang == "en" and f.slot == "NP" and not f.cond:
                q = _en_frame_article(q, f.prefix, slots.get("NP", []), text)
            rule_hits.append(
                (-1, GenQuery(q, "question", _support(text, sentences, [q]), f"frame:{f.pattern}"))
            )
    for i, s in enumerate(sentences):
        found = _zh_rules(s, law=law) if lang == "zh" else _en_rules(s)
        for q, kind, rule in found:
            # prefer rules whose query holds a salient term, then earlier sentences
            score = (0 if _has_salient(q, specific) else 2) + min(i, 20) / 100
            rule_hits.append((int(score * 100), GenQuery(q, kind, s, rule)))
    rule_hits.sort(key=lambda x: x[0])
    # a yes/no question turned from a sentence is often stilted or cut ('Is a third option to start ...?'): one
    # only where the chunk gives no other question
    others = [g for _, g in rule_hits if g.rule != "yes-no" and g.kind == "question"]
    for _, g in rule_hits:
        if g.rule == "yes-no" and others:
            continue
        if g.rule.startswith("frame:") and not (_has_salient(g.query, specific) or _named_in(g.query, slots)):
            continue  # 'Can I use text?', 'Can I strip the space?': the frame must name the chunk's subject
        cands.append(g)

    # keyword queries from the salient terms (2-3 terms) that read as search words: no numbers or function-word
    # fragments ('货值 仍为 二十倍', 'devel 上要'), no repeated or one/two-letter words ('cc cc cc', 'file zz close zz')
    kw = _keyword_pick(_keyword_terms(top, lang, text if lang == "en" else None), lang, text)
    # keyword-style queries are a minority of what users type (~30%), and a keyword-heavy training set teaches
    # term matching the base model already has (measured on the Debian FAQ's real questions): add one only when
    # the chunk yields fewer than two natural questions, a second only when it yields none
    n_questions = sum(1 for g in _keep(cands, text, specific) if g.kind == "question")
    # English: the sentence rules find questions in most chunks, and every keyword pair we added cost real-question
    # quality (bench/RESULTS.md), so a keyword query only where a chunk yields no question at all
    if kw and n_questions < (1 if lang == "en" else 2):
        cands.append(GenQuery(_keyword_query(kw, lang), "keyword", _support(text, sentences, kw), "keywords"))
    # (no second keyword query glued from the first and fourth terms: those read as two unrelated words)
    # a question around the most salient term, only when the term is a noun phrase ('what is priced based',
    # 'what is two large vectors' and two-term fragments like 'evaluated differentiated' are not questions)
    t0 = top[0]
    q0 = ""
    if lang == "zh":
        if _zh_is_noun(t0) and zh_thing(t0) and t0[:2] not in _ZH_VERBISH:  # not '科学合理', '采取相应'
            # (no '...有哪些规定' of a law's salient term: judged vague or odd more often than not, '销售者有哪些规定？',
            # '涉嫌犯罪有哪些规定？'; the law rules ask of its duties, bans and penalties instead)
            if not law and _zh_asked_term(t0, text):
                q0 = f"{t0}是什么？"
    elif (" " in t0 and len(t0.split()) <= 3) or any(c in t0 for c in "-_./+"):
        np = en_noun_phrase(t0, text)
        # not an adjective ('what is posix compatible') nor a phrase the text always continues ('cran task' of
        # 'CRAN task view')
        if (
            np
            and not np.lower().endswith(("able", "ible"))
            and not _always_continues(np, text)
            and not _en_verb_use(np, text)  # not 'user wants'
            and _en_asked_phrase(np, text)
        ):
            q0 = f"what {'are' if _en_plural(np) else 'is'} {np}"
    if q0:
        cands.append(
            GenQuery(
                q0,
                "long-tail" if lang == "en" else "question",
                _support(text, sentences, [t0]),
                "salient-question",
            )
        )
    cands.extend(_typed_queries(text, sentences, slots, lang, law=law))
    if kw and not any(g.kind == "keyword" for g in cands):
        cands.append(
            GenQuery(_keyword_query(kw, lang), "keyword", _support(text, sentences, kw), "keywords-mix")
        )
    first_line = normalize_ws(chunk["text"].strip().split("\n", 1)[0]).lower().rstrip("?？.。:：")
    heads = {normalize_ws(_HEADING_NUM.sub("", h)).lower().rstrip("?？") for h in _heading_lines(chunk)}
    kept = [
        g
        for g in _keep(cands, text, specific)
        if not mixes_languages(g.query, lang)
        and not (lang == "zh" and not cjk_count(g.query) and not _LATIN_TERM.fullmatch(g.query.strip()))
        and normalize_ws(g.query).lower().rstrip("?？.。") not in heads | {first_line}
        and not reads_oddly(g.query, lang, text)
    ][: max_queries + 3]  # three spare: the type filter below drops some
    if extra_types:
        return kept
    questions = [g for g in kept if g.kind not in ("statement", "title") and g.rule != "keywords-mix"]
    return questions[:max_queries]


# ---------------------------------------------------------------------------------------------- style (issue 24)
# the general_weight an object of a Chinese how-to needs: everyday ones fall below ('字体' 0.59, '脚本' 0.45),
# things users ask about do not ('计数器' 0.76, '软件包' 0.88)
_ZH_OBJ_WEIGHT = 0.6
# words that point into the passage ('the following adaptations', 'our archive site', '安装它', '违反本法'): a
# searcher has no passage to point into
_EN_DEICTIC = re.compile(r"\b(?:the following|the above|our|ours|we|us)\b", re.I)
_ZH_DEICTIC = re.compile(
    r"它|我们|他们|上述|本法|本条|前款|下列|以下|如下|这个|这些|那些|(?<!应)该(?=[\u4e00-\u9fff])|(?<![尤极])其(?![他它中余实次])"
)
# a function word capitalised inside a query is a sentence start glued into a fill ('Where can I get If SAS?')
_EN_GLUED_START = re.compile(r"(?<=\s)(?:If|When|And|Or|But|Then|Because|While|Although|Unless|However)\b")


def _always_continues(phrase: str, text: str) -> bool:
    """The text never ends the phrase where it does: every use is followed by the same word ('CRAN task view'),
    across a line wrap too, singular or plural ('Debian mailing | lists', 'Debian mailing | list')."""
    nxt = [
        re.sub(r"(?<=[a-z]{3})s$", "", (m.group(1) or "").strip().lower())
        for m in re.finditer(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])(\s+[A-Za-z]\w*)?", text, re.I)
    ]
    return bool(nxt) and nxt[0] != "" and len(set(nxt)) == 1 and nxt[0] not in EN_STOP | _EN_BOUNDARY


def _en_relational(phrase: str, text: str) -> bool:
    """The text only says the phrase with an of-complement: 'the proper functioning of the system', 'a typeset
    version of': asked alone it names nothing."""
    nxt = [
        m.group(1).lower()
        for m in re.finditer(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])\s*(\S*)", text, re.I)
    ]
    return bool(nxt) and all(w == "of" for w in nxt)


# head nouns too general to name a thing with one modifier: 'Debian system', 'networked systems', 'genomic data'
_EN_GENERIC_HEAD = set(
    """system systems machine machines computer computers thing things way ways part parts kind kinds type types
    user users people issue issues problem problems place places functioning version versions data information
    stuff""".split()
)


def _en_verb_use(phrase: str, text: str) -> bool:
    """The phrase ends in a verb where the text uses it: 'the user wants the ...' (not 'word lists are ...')."""
    if _en_verb_base(phrase.split()[-1].lower()) is None:
        return False
    nxt = [
        m.group(1).lower()
        for m in re.finditer(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])\s*(\w*)", text, re.I)
    ]
    objects = {
        "the",
        "a",
        "an",
        "to",
        "it",
        "this",
        "that",
        "its",
        "their",
        "them",
        "you",
        "me",
        "us",
        "his",
        "her",
    }
    return bool(nxt) and all(w in objects for w in nxt)


def _en_asked_phrase(np_: str, text: str) -> bool:
    """Whether 'what is <np_>' asks about a term of the passage: a name or technical token, or a phrase the passage
    says more than once, that is not relational ('proper functioning' of ...) and not an everyday head with one
    modifier ('debian system', 'networked systems'). A phrase said once in passing ('executable commands', 'the
    file command-line tool') is not what the passage is about."""
    words = np_.lstrip("/").split()
    if _en_technical(np_) or _named(np_, text):
        return True
    if _en_relational(np_, text):
        return False
    if len(words) == 2 and words[-1].lower() in _EN_GENERIC_HEAD:
        return False
    if _has_name(np_, text):
        return True  # 'debian archive site'
    pat = r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in words) + r"(?![\w-])"
    return len(re.findall(pat, text, re.I)) >= 2


def _capitalised_mid_sentence(word: str, text: str) -> bool:
    """The text writes ``word`` (as given) after a lowercase word or a comma: a name, not a sentence start."""
    return bool(re.search(r"[a-z,]\s+" + re.escape(word) + r"\b", text))


def _has_name(phrase: str, text: str) -> bool:
    """A word of the phrase the text writes capitalised mid-sentence ('debian website' -> 'Debian')."""
    return any(_capitalised_mid_sentence(w[:1].upper() + w[1:], text) for w in phrase.split() if len(w) > 2)


def reads_oddly(query: str, language: str, text: str) -> str | None:
    """Why a generated query is not something a person would type, or None: it points into the passage ('the
    following', 'our', '它', '本法'), holds a placeholder ('RRR component', 'blurf是什么'), glues a sentence start
    into a fill ('get If SAS'), puts a capitalised common noun before a code token ('What is Function
    read.fortran?'), asks 'What is' of a person ('What is Ihaka?' where the text says 'Ross Ihaka'), or (Chinese)
    ends on a stray particle ('...符号了？')."""
    words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9_]*", query)}
    if words & _PLACEHOLDER or any("foo" in w or re.fullmatch(r"([a-z])\1{2,}", w) for w in words):
        return "placeholder"  # 'RRR component', 'libfooX', 'What is VVV?'
    if any(sum(p.lower() in _EN_PATH_WORDS for p in w.split("/")) >= 2 for w in query.split() if "/" in w):
        return "placeholder"  # a path spelled in words: '/where/you/want/R/to/go', '/path/to/R'
    if any(
        len(p.strip("?.,")) >= 4 and p.isupper() and general_weight(p.strip("?.,").lower()) <= 0.55
        for w in query.split()
        if "/" in w
        for p in w.split("/")
    ):
        return "placeholder"  # '/usr/share/doc/PACKAGE'
    if re.search(r"\b(?:my|your)_\w", query, re.I):
        return "placeholder"  # an example name: 'my_packages'
    if language == "zh":
        if _ZH_DEICTIC.search(query):
            return "points_into_passage"
        if re.search(r"[了的][？?]$|的吗[？?]$|[*#]|^[“”\"'‘’]", query):
            return "fragment"  # '...符号了？', '...的人员的吗？', '*“覆盖文件”是什么？'
        return None
    if _EN_DEICTIC.search(query) or re.search(r"\b(?:it|them|this|these|those)\W*$", query, re.I):
        return "points_into_passage"  # '... our archive site?', 'How do I install it?'
    if _EN_GLUED_START.search(query):
        return "fragment"
    q, ranks = query.strip(), _en_ranks()
    if any(q.count(a) != q.count(b) for a, b in ("()", "[]", "“”", "‘’")):
        return "fragment"  # a bracket or quote cut: 'How do I rotate axis labels (using base graphics?'
    if _EN_ANAPHORA.search(q):
        return (
            "points_into_passage"  # 'Are argument names also ...?', 'Do the attributes have the same names?'
        )
    if re.search(r"^How (?:can|could|should|must|may)\b.*\b(?:also|\w+ly) (?:be|been)\b|^How must\b", q):
        return "fragment"  # 'How can performance substantially be improved?', 'How must the file consist of ...?'
    # a sentence start inside: 'What are Two main open protocols?', 'filesystem The proc'
    if any(
        w[:1].isupper() and w[1:].islower() and w.lower() in EN_STOP | _EN_NUMBER_WORDS for w in q.split()[1:]
    ):
        return "fragment"
    m = re.fullmatch(r"(?i:what|where) (?:is|are) (\S+?)\??", q)
    if m and re.fullmatch(r"[a-z0-9_.-]+(?:/[a-z0-9_.-]+)+/?", m.group(1)):
        return "odd"  # a relative path out of context: 'What is bin/windows?'
    if m and m.group(1).startswith("/") and re.search(r"\." + re.escape(m.group(1)) + r"\b", text):
        return "fragment"  # './configure' asked as 'What is /configure?'
    m = re.fullmatch(r"(?i:what|where) (?:is|are) (\S+) (\S+?)\??", q)
    if m and m.group(1).istitle() and m.group(1).lower() in ranks and re.search(r"[._/]", m.group(2)):
        return "fragment"  # a capitalised word glued to a code token: 'What is Function read.fortran?'
    if m and any(a.startswith("/") and b.istitle() for a, b in (m.groups(), m.groups()[::-1])):
        return "fragment"  # a heading word glued to a path: 'What is Rationale /var/yp?', 'What is /usr Hierarchy?'
    everyday = bool(m) and all(p in ranks for p in m.group(1).split("-") if p)  # type: ignore[union-attr]
    if m and m.group(1).islower() and everyday and (m.group(2)[:1].isupper() or _en_technical(m.group(2))):
        return "odd"  # a common word before a name: 'what is package apt', 'What is default Debian?'
    m = re.fullmatch(r"(?:What|Where) is ([a-z][\w-]*(?: [a-z][\w-]*)+)\?", q)
    if m and not m.group(1).endswith("s") and m.group(1).split()[-1] in ranks:
        return "grammar"  # a capitalised question drops the article of an everyday noun: 'Where is debian package?'
    m = re.fullmatch(r"What (is|are) (.+?)\?", q)
    x = m.group(2) if m else ""
    xw = x.split()
    if m and m.group(1) == "are" and len(xw) == 1 and not re.fullmatch(r"[A-Z0-9]+s|[a-z]+s", x):
        return "grammar"  # 'What are Emacs?', 'What are macOS?'
    if (
        m
        and xw
        and all(w.istitle() and w.lower() in ranks for w in xw)
        and not (len(xw) == 1 and _capitalised_mid_sentence(x, text))
    ):
        return "odd"  # everyday words capitalised as a heading: 'What is Printer?', 'What is Bug Tracker?'
    if m and len(xw) >= 3 and xw[0].islower() and xw[0] in ranks and xw[1] == "of":
        return "grammar"  # 'What is core of R?'
    if m and len(xw) == 2 and xw[0].isupper() and xw[1].islower() and xw[1] in ranks and m.group(1) == "is":
        return "grammar"  # 'What is FHS document?'
    if re.search(r"\b(?:get|use|install|about) [A-Z][a-z]+ing\?$|^How (?:can|do) I \w+ .* \w+ed\?$", q) or (
        re.fullmatch(r"How \w+ .* [a-z]+s (\w+ed)\?", q)
        and not re.search(r"\b(?:be|been|being|get|got)\b", q)
    ):
        # a heading's gerund as a thing, 'How can I get Choosing?'; a participle left over, 'How can I build the
        # Linux kernels distributed?'
        return "fragment"
    if re.match(
        r"(?:(?:How )?(?:[Cc]ould|[Cc]an|do|should) I) (?:look|see|read|visit|consult|refer|peruse|browse)\b",
        q,
    ):
        return "odd"  # 'Could I look at coplot?', 'How could I visit a Debian archive site?'
    m = re.fullmatch(r"(?:How (?:do|can|could|should) I|Can I|Where can I) (\w+) ([a-z][a-z-]*)\?", q)
    if m and _en_everyday(m.group(2)) and not _named(m.group(2), text) and not _quoted(m.group(2), text):
        return "vague"  # a bare everyday object: 'How do I find incompatibilities?', 'How do I accomodate software?'
    if re.search(r"\b(?:actually|really|basically)\b", q) or re.fullmatch(
        r"How (?:do|can|should) I \w+ the (\w+)\?", q
    ):
        return "vague"  # 'How do I actually use the package?': no subject but the passage's
    m = re.fullmatch(r"(?i:what) (?:is|are) (\S+?)\??", q)
    if m and re.search(r"\bthis\s+" + re.escape(m.group(1)) + r"\b", text):
        return "points_into_passage"  # the document itself: 'What is FAQ?' of 'this FAQ'
    m = re.fullmatch(r"(?i:what|who) (?:is|are) ([A-Z][a-z]{2,})\??", q)
    if m:
        name = re.escape(m.group(1))
        # a citation ('Ihaka & Gentleman (1996)') or a first name before it, mid-sentence ('by Ross Ihaka')
        if re.search(name + r"\s*(?:&|and)\s+[A-Z][a-z]+,?\s*\(?(?:19|20)\d\d", text):
            return "person"
        for prev in re.findall(r"(?<=[a-z,;:] )([A-Z][a-z]+)\s+" + name + r"\b", text):
            if prev.lower() not in EN_STOP:
                return "person"
        if re.search(r"\b(?:by|from)\s+" + name + r"\s+(?:and|&)\s+[A-Z][a-z]+", text):
            return "person"  # authors: 'taken from Abelson and Sussman'
        before = [w.lower() for w in re.findall(r"(\w+)\s+" + name + r"\b", text)]
        if (
            before
            and len(before) == len(re.findall(r"\b" + name + r"\b", text))
            and set(before) <= {"by", "at"}
        ):
            return "odd"  # only the maker or place of something in passing: 'movies by Pixar', 'working at Pixar'
    return None


# words of a path spelled out as an example: '/path/to/R', '/where/you/want/R/to/go'
_EN_PATH_WORDS = EN_STOP | {"path", "dir", "somewhere", "name", "username", "filename", "yourname"}
# words that refer back to what the passage said before: a searcher has no 'before'
# ('another' only in a yes/no claim: 'Are text connections another source of input?'; 'if I move to another
# country' is fine)
_EN_ANAPHORA = re.compile(
    r"\b(?:also|again|as well|likewise|otherwise|the same)\b|^(?:Is|Are|Do|Does|Has|Have)\b.*\banother\b",
    re.I,
)


def _quoted(word: str, text: str) -> bool:
    """The text quotes the word as a name: 'unstable', `testing'."""
    return bool(re.search(r"[`'‘\"“]" + re.escape(word) + r"[`'’\"”]", text))


def _en_everyday(word: str) -> bool:
    """An ordinary English word (or its plural), not a technical token: 'software', 'incompatibilities'."""
    low = word.lower()
    if _en_technical(low) and not low.endswith(_EN_WORD_SUFFIXES):
        return False
    ranks = _en_ranks()
    return low in ranks or (low.endswith("s") and low[:-1] in ranks) or low.endswith(("ies", "ities", "ness"))


_PLACEHOLDER = {
    "foo",
    "bar",
    "baz",
    "qux",
    "quux",
    "xxx",
    "yyy",
    "xyz",
    "rrr",
    "nnn",
    # the Jargon File's metasyntactic variables
    "corge",
    "grault",
    "garply",
    "waldo",
    "plugh",
    "xyzzy",
    "thud",
    "blurf",
    "blurfl",
    "example",
    "something",
    "stuff",
}


def mixes_languages(query: str, language: str) -> bool:
    """True when a query glues two languages for a one-language passage: Chinese characters in a query for an
    English passage, or an ordinary English word (not a name, command or technical token) or a placeholder
    ('软件包 upgradable', '配置文件 foo') in a query for a Chinese one. 'Debian 的最新版本', 'apt-get 怎么用' are
    fine: users type names and commands as they are."""
    if language == "en":
        return bool(re.search(r"[\u4e00-\u9fff]", query))
    if language != "zh" or not re.search(r"[\u4e00-\u9fff]", query):
        return False  # a query wholly in English for a Chinese passage is cross-lingual, not glued
    for w in re.findall(r"[A-Za-z][A-Za-z0-9_+./\-]*", query):
        low = w.lower()
        if low in _PLACEHOLDER:
            return True
        if w[:1].isupper() or re.search(r"[\d_./+\-]", w) or len(w) <= 3:
            continue  # a name (Debian, GNU), a command or path (apt-get, /etc), an acronym-like short token
        ranks = _en_ranks()
        singular = low[:-1] if low.endswith("s") else low
        if low.endswith(_EN_WORD_SUFFIXES) or low in ranks or singular in ranks or low in EN_STOP:
            return True  # an ordinary English word inside a Chinese query
    return False


def _heading_lines(chunk: dict[str, Any]) -> list[str]:
    """The chunk's heading path parts and its own heading-like first lines (numbered titles, question lines)."""
    out = [h.strip() for h in (chunk.get("heading") or "").split(" > ") if h.strip()]
    for line in chunk["text"].splitlines()[:3]:
        line = line.strip()
        if not line or len(line) > 140:
            continue
        if line.endswith(("?", "？")) or (_NUMBERED.match(line) and not re.search(r"[.!。！]\s*$", line)):
            out.append(line)
    return out


_EN_COND = re.compile(
    r"^(?:If|When) you (?P<c>[a-z][^,;:]{3,50}), (?:you|one) (?:can|could|should|may|need to|must|will need to) "
    r"(?:also |simply |just |then )?(?P<a>[a-z]+ [^,;:.]{3,60}(?![\w'’\-]))"
)


def _vp(x: str, before: str = "") -> str:
    """A verb phrase a frame may ask about ('install the kernel headers'), '' when none; ``before``: the text
    before it in its sentence ('you may ')."""
    x = _you_to_i(x.strip().rstrip(".)"))
    x = _en_trim_rest(x, 7, strict=True)
    w = x.split()
    if (
        2 <= len(w) <= 8
        and not _EN_BAD_X.search(x)
        and _en_complete(x)
        and len(w[-1].strip("'\"()")) >= 2  # 'use x'
        and not re.fullmatch(
            r"(?:the|a) (?:command|file|program|tool|option|package|thing|one)", " ".join(w[1:])
        )
        and w[0] not in ("look", "do", "see", "be", "have", "try", "accomodate", "accommodate")
        and _en_task_verb(x, before)
    ):
        return x
    return ""


def passage_slots(
    text: str, sentences: list[str], top: list[str], lang: str
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The key phrases that fill question frames: {"NP": named things, "NP+": everyday noun phrases, "VP":
    actions} (most salient first), and
    (action, condition) pairs from 'If you C, you can A' sentences."""
    nps: list[str] = []
    plain: list[
        str
    ] = []  # everyday noun phrases ('the family plan'): only for frames whose cue the text states
    vps: list[str] = []
    conds: list[tuple[str, str]] = []
    if lang == "zh":
        for s in sentences:
            z = re.sub(r"\s+", "", s)
            for rx in (_ZH_IFYOU, _ZH_TO):
                m = rx.search(z)
                x = m.group("x") if m else ""
                if (
                    x
                    and not _ZH_PRONOUN.match(x)
                    and 3 <= len(x) <= 16
                    and x[:2] in _ZH_ACTIONS
                    and not re.search(r"[该其此这那]", x)
                ):
                    vps.append(x)
            m = _ZH_DEF.match(_ARTICLE.sub("", z))
            if m and not _ZH_PRONOUN.match(m.group("x")):
                nps.append(m.group("x").rstrip("就也都还才则即"))  # 'TEX就是一种...': the thing is 'TEX'
        for t in _keyword_terms(top, "zh"):
            t = t.strip("*“”\"'‘’《》「」()（）")
            latin = bool(_LATIN_TERM.fullmatch(t))
            # a name or technical term, or a rare Chinese term the text repeats ('会员积分'); not an everyday
            # phrase ('具体办法', '不良后果')
            if (latin or (len(t) >= 2 and zh_thing(t))) and _zh_asked_term(t, text):
                nps.append(t)
        vps += _zh_verb_objects(text, top)
        flat = re.sub(r"\s+", "", text)
        # a how-to frame or title asks for an everyday action on a thing ('安装软件包'), not '维护证券市场'
        # and the thing acted on is specific: '使用字体', '安装脚本', '启动应急' ask nothing a reader could search for
        vps = [
            v
            for v in vps
            if v[:2] in _ZH_HOWTO
            and v[2:] not in _ZH_GENERIC_OBJ
            and general_weight(v[2:]) >= _ZH_OBJ_WEIGHT
            and v[-1]
            not in "慢快多少大小高低好坏"  # a verb and a state ('编译速度慢'), not an action on a thing
            # 'how do I use/run X' asks about a named tool ('使用dvips'); with an everyday object it reads oddly
            # ('使用保健食品', '运行开始菜单', '使用最新的软件包进行工作')
            and not (v[:2] in _ZH_USE_VERBS and not _LATIN_TERM.fullmatch(v[2:]))
            # an organisation, place or person is contacted, not acted on: '申请司法机关'
            and (v[:2] == "联系" or not (_zh_pos(v[2:]) in ("nt", "ns", "nr") or _ZH_ORG.search(v[2:])))
            and not _ZH_GLUED_PLACEHOLDER.search(v)  # a placeholder: 'debian-列表主题'
            and not re.search(re.escape(v) + r"[-_]", flat)  # a name cut short: '订阅debian' of 'debian-xxx'
        ]
    else:
        for s in sentences:
            c = _clean_en(s)
            for rx in (_IFYOU_EN, _YOUCAN_EN, _TO_EN):
                m = rx.search(c)
                if m:
                    x = _vp(m.group("x"), c[: m.start("x")])
                    if x:
                        vps.append(x)
            lead = _EN_LEAD.sub("", c.rstrip("."))
            m = _EN_YOU_MODAL.match(lead)
            if m:
                x = _vp(m.group("x"), lead[: m.start("x")])
                if x and x.split()[0] not in ("want", "need", "wish", "like", "have", "be", "not", "see"):
                    vps.append(x)
            m = _EN_COND.match(c)
            if m:
                a, cond = _vp(m.group("a"), c[: m.start("a")]), _you_to_i(m.group("c").strip())
                cond = _en_trim_rest(cond, 7, strict=True)
                if a and cond and not _EN_BAD_X.search(cond) and len(cond.split()) >= 2:
                    conds.append((a, f"I {cond}"))
        # a thing a frame may ask about: what the passage defines, or a name or technical term it uses as a noun
        # ('What is swfdec?'); an everyday phrase ('the functionality', 'web browser') reads oddly in a frame
        for s in sentences:
            m = _DEF_EN.match(_clean_en(s))
            x = m.group("x").strip() if m else ""
            w0 = x.split()[0].lower() if x else ""
            if (
                x
                and not _EN_BAD_X.search(x)
                and w0 not in EN_STOP | _EN_NUMBER_WORDS | _EN_GENERIC_ADJ
                and not (" " in x and "/" in x)
                and _named(x, text)
            ):
                nps.append(x)
        for t in _keyword_terms(top, "en", text):
            np_ = en_noun_phrase(t, text)
            if np_ and _named(np_, text):
                nps.append(_orig_case(np_, text))
            elif np_ and len(np_.split()) > 1:
                w = np_.split()
                if _en_verb_base(w[-1].lower()) is not None:  # 'family plan costs': the verb is not the thing
                    np_ = en_noun_phrase(" ".join(w[:-1]), text) if len(w) > 2 else None
                if np_:
                    plain.append(_with_article(np_, text))
    dedup = lambda xs: list(dict.fromkeys(x for x in xs if x))  # noqa: E731
    return {"NP": dedup(nps), "NP+": dedup(plain), "VP": dedup(vps)}, conds


def _orig_case(term: str, text: str) -> str:
    """The term as the text most often writes it ('debian policy manual' -> 'Debian Policy Manual')."""
    found = Counter(
        m.group(0) for m in re.finditer(r"(?<![\w/])" + re.escape(term) + r"(?![\w])", text, re.I)
    )
    return found.most_common(1)[0][0] if found else term


def _named(np_: str, text: str) -> bool:
    """A name or technical term a frame may ask about ('groff', '/var/yp', 'Debian Policy Manual'), not an
    everyday word or a hyphenated adjective ('in-place', 'de-facto', 'system-wide')."""
    orig = _orig_case(np_, text)
    if " " not in orig and re.search(r"[\d_./]", orig) and re.search(r"[a-z]{2,}", orig.lower()):
        return not re.search(r"https?:|www\.|@", orig)
    ranks = _en_ranks()
    parts = [p for w in orig.lower().split() for p in w.split("-")]
    if "-" in orig and all(p in ranks or p in EN_STOP for p in parts):
        return False
    if _EN_HYPHEN_ADJ.search(orig):
        return False  # 'Fortran-style', 'GNU-based': an adjective, not a thing
    words = orig.split()
    head = words[-1]
    if len(words) == 1 and head[:1].isupper() and not head.isupper():
        low1 = head.lower()
        if low1 in ranks or low1.endswith(_EN_WORD_SUFFIXES):
            # 'Exporting' at the start of a sentence is not a name: a name is capitalised mid-sentence too
            return _title_word_is_name(head, text)
    if any(w[:1].isupper() for w in words):
        # a name: its head word is a name or a technical token too ('Debian Wiki', 'SPSS Data Entry'), not a
        # common noun after a name ('Unix programmers', 'layout TeX files', 'Linux system')
        return head[:1].isupper() or bool(re.search(r"[\d_./]", head)) or len(words) == 1
    low = head.lower()
    stem = low[:-1] if low.endswith("s") else low
    if stem.endswith((*_EN_WORD_SUFFIXES, "or")) or stem in ranks:
        return False  # an everyday word ('customizations', 'subdirectory', 'library', 'implementors')
    if re.fullmatch(r"[a-z]+", low) and any(
        low[:i] in ranks and low[i:] in ranks for i in range(3, len(low) - 2)
    ):
        return False  # an everyday compound the vocabulary splits ('spreadsheet', 'workspace', 'filesystem')
    if len(words) != 1 or len(np_) < 3:
        return False
    if re.search(r"[a-z][A-Z]", orig):
        return True  # camelCase: a function or a package ('rJava', 'odbcDriverConnect')
    w = re.escape(low)
    # a lowercase word is a name when the text uses it as code: quoted, called, or next to what it is
    return bool(
        re.search(
            rf"[`‘'\"]{w}\b|\b{w}\(|\b(?:package|command|function|program|library|utility|tool|daemon|option)s?\s+"
            rf"{w}\b|\b{w}\s+(?:package|command|function|program|library|utility|tool|daemon|option)",
            text,
            re.I,
        )
    )


_EN_HYPHEN_ADJ = re.compile(
    r"-(?:style|like|based|wide|specific|related|compatible|aware|friendly|oriented|independent|dependent|only"
    r"|safe|enabled|capable|ready|free)$",
    re.I,
)


def _title_word_is_name(word: str, text: str) -> bool:
    """A capitalised everyday word ('Python', 'Excel') the text uses as a name: capitalised mid-sentence, never
    written in lower case ('Printer' of 'printer drivers', 'Endeavor' of 'field of endeavor'), not an everyday
    plural ('Preferences'), and not only as the first word of a longer title or label ('Appendix G', 'Journal of
    Computational and Graphical Statistics')."""
    low = word.lower()
    if re.search(r"[a-z,]\s+" + re.escape(low) + r"(?![\w-])", text):
        return False  # (a command in a table, 'python The Python interpreted language', is not this)
    if _en_plural_of_everyday(low):
        return False
    for m in re.finditer(r"([a-z,])\s+" + re.escape(word) + r"\b", text):
        after = text[m.end() : m.end() + 40]
        # ('Perl, Python and Tcl' is a list, not a title)
        if not re.match(r"\s+(?:of\s+)?[A-Z\d]", after) and not (
            m.group(1) != "," and re.match(r"\s+(?:and|&)\s+[A-Z]", after)
        ):
            return True
    return False


def _en_frame_article(q: str, prefix: str, names: list[str], text: str) -> str:
    """A frame question with the article the text gives a name whose head is a word ('What is the R Foundation?',
    'Can I get the Debian Installer?', not 'What is R Foundation?'), and 'What are' of a plural ('What are
    dependencies?')."""
    k = len(prefix.split())
    words = q.split()
    if re.search(r"\bthere$", prefix, re.I) or len(words) <= k:
        return q
    rest = " ".join(words[k:])
    if words[:2] == ["What", "is"] and _en_plural_of_everyday(rest.rstrip("?")):
        return f"What are {rest}"  # a quoted plural ('"dependencies"') is still many
    for n in names:
        nw = n.split()
        if (
            len(nw) < 2
            or not (rest == n + "?" or rest.startswith(n + " "))
            or not (nw[-1].istitle() or nw[-1].isupper())
        ):
            continue
        pat = r"(?<![\w/])" + r"\s+".join(re.escape(w) for w in nw) + r"(?![\w])"
        with_the = len(re.findall(r"\bthe\s+" + pat, text, re.I))
        if with_the and with_the >= len(re.findall(pat, text)) - with_the:
            return " ".join([*words[:k], "the", rest])
    return q


def _named_in(query: str, slots: dict[str, list[str]]) -> bool:
    q = query.lower()
    return any(x.lower() in q for x in slots.get("NP", []) + slots.get("NP+", []))


def _with_article(np_: str, text: str) -> str:
    """'the pool directory' when the text says 'the pool directory' more often than the bare phrase; names and
    technical tokens stay bare."""
    if _en_technical(np_) or np_[:1].isupper() or np_.startswith("/"):
        return np_
    pat = re.escape(np_)
    with_the = len(re.findall(r"\bthe\s+" + pat + r"\b", text, re.I))
    bare = len(re.findall(r"\b" + pat + r"\b", text, re.I)) - with_the
    return f"the {np_}" if with_the and with_the >= bare else np_


# actions users ask how to do (a verb + a salient noun of the text makes a 'how do I' slot: '安装软件包')
_ZH_ACTIONS = set(
    """安装 卸载 删除 移除 升级 更新 配置 设置 使用 获取 下载 编译 运行 启动 停止 修改 创建 添加 查看 查找 检查 备份 恢复
    挂载 订阅 报告 提交 打包 构建 生成 选择 替换 禁用 启用 重启 登录 连接 导入 导出 编辑 安装好 清除 保存 打开 关闭 加载
    申请 注册 退订 翻译 引导 制作 刻录 调试 测试 发布 维护 上传 学习 联系 改变 设定 输入 输出 排版 插入""".split()
)


def _zh_verb_objects(text: str, top: list[str]) -> list[str]:
    """Verb + salient noun runs of the text ('安装软件包', '升级系统')."""
    import jieba.posseg

    _jieba()
    salient = set(top)
    toks = [t for t in jieba.posseg.lcut(re.sub(r"\s+", "", text)) if t.word.strip()]
    out = []
    for a, b in zip(toks, toks[1:], strict=False):
        if a.word in _ZH_ACTIONS and b.word in salient and _zh_is_noun(b.word) and _zh_pos(b.word) != "nr":
            out.append(a.word + b.word)
    return out


_EN_DOUBLE = {
    "run",
    "set",
    "get",
    "put",
    "stop",
    "plan",
    "drop",
    "shut",
    "cut",
    "begin",
    "submit",
    "map",
    "log",
    # stressed on the last syllable: 'debugging', 'committing' (not 'editing', 'visiting')
    "debug",
    "commit",
    "omit",
    "permit",
    "admit",
    "transmit",
    "control",
    "refer",
    "prefer",
    "occur",
}


def _gerund(verb: str) -> str:
    v = verb.lower()
    if v in _EN_DOUBLE or re.fullmatch(r"[^aeiou]*[aeiou][b-df-hj-np-tvz]", v):
        return v + v[-1] + "ing"  # one syllable ending consonant-vowel-consonant: 'plotting', 'debugging'
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        return v[:-1] + "ing"
    return v + "ing"


def _typed_queries(
    text: str, sentences: list[str], slots: dict[str, list[str]], lang: str, *, law: bool = False
) -> list[GenQuery]:
    """Statement (a short claim of the text) and title-like ('Installing the kernel headers', '安装软件包的方法')
    candidates, for the query-type mix. No '...的方法' title from a law: '停止违法行为的方法', '检查会员的方法' are
    not how anyone searches a statute."""
    out: list[GenQuery] = []
    vps = slots.get("VP", [])
    if lang == "en":
        for x in [v for v in vps if v.split()[0] not in ("look", "see", "use", "try", "be", "get")][:1]:
            w = x.split()
            out.append(
                GenQuery(
                    " ".join([_gerund(w[0]).capitalize(), *w[1:]]),
                    "title",
                    _support(text, sentences, [x]),
                    "title",
                )
            )
        for s in sentences:
            main = _EN_LEAD.sub("", _clean_en(s).rstrip(".")).partition(" because ")[0]
            q = _en_invert(main)
            if not q or q.startswith("How "):
                continue
            r = q.rstrip("?").split()[-1]
            end = main.find(" " + r)
            words = main[: end + len(r) + 1].split() if end >= 0 else []
            last = words[-1].lower() if words else ""
            if 4 <= len(words) <= 8 and not (
                last.endswith("ed") or last in EN_STOP or last in _EN_NUMBER_WORDS
            ):
                claim = _en_subject(" ".join(words))
                ranks = _en_ranks()
                # a claim someone would search for names something ('the stable distribution is currently
                # bullseye'), not 'the attributes have the same names', 'R has a home page', nor a rare inflected
                # word ('fixes get rectified in many occasions'); its subject is not a quantity ('Many OSes have
                # conventions')
                if words[0].lower() not in _EN_QUANTIFIERS and any(
                    w[:1].isupper()
                    or _en_technical(w)
                    or (len(w) >= 4 and w.lower() not in ranks and not w.lower().endswith(_EN_WORD_SUFFIXES))
                    for w in re.findall(r"[\w'./+-]+", claim)[1:]
                ):
                    out.append(GenQuery(claim, "statement", s, "claim"))
                    break
    else:
        for x in [] if law else vps[:1]:
            if x[:2] in _ZH_HOWTO and x[2:] not in _ZH_GENERIC_OBJ:
                out.append(GenQuery(f"{x}的方法", "title", _support(text, sentences, [x]), "zh-title"))
        for s in sentences:
            z = re.sub(r"\s+", "", _ARTICLE.sub("", s)).strip("。；！*#·•-")
            head = re.split(r"[，,：:（(]", z)[0]
            if (
                6 <= len(head) <= 16
                and not _ZH_PRONOUN.match(head)
                and not _ZH_FRAGMENT.match(head)
                and not re.match(
                    r"(?:如果|若|假如|当|在|对于|为了|由于|因为|但|而|您|你|有|没有|这|那|其|此|该)", head
                )
                and not re.search(r"(?:的|规定|依照本法)$", head)
            ):
                if re.search(
                    r"(?:可以|应当|不得|支持|需要|使用|包含|提供|是)", head[2:]
                ) and _zh_subject_first(head):
                    out.append(GenQuery(head, "statement", s, "zh-claim"))
                    break
    return out


class MixBalancer:
    """Keeps the query types near a target mix over a whole generation run: a chunk's questions always go in
    (up to the cap), another type only while its share is below target; a chunk keeps at least one query."""

    def __init__(self, mix: dict[str, float]) -> None:
        self.mix = mix
        self.counts: Counter[str] = Counter()

    @staticmethod
    def qtype(g: GenQuery) -> str:
        if g.kind in ("statement", "title", "keyword"):
            return g.kind
        from bgetune.tools.style import classify_query

        return classify_query(g.query)

    def pick(self, cands: list[GenQuery], max_queries: int) -> list[GenQuery]:
        """The chunk's questions (up to the cap, leaving room for one other query when its type is behind its
        share of the run), in the candidates' order."""
        types = [self.qtype(g) for g in cands]
        n_q = sum(1 for t in types if t == "question")
        expect = sum(self.counts.values()) + min(max_queries, n_q + 1)
        behind = sorted(
            ((self.mix.get(t, 0.0) * expect - self.counts[t], t) for t in set(types) if t != "question"),
            reverse=True,
        )
        chosen: set[int] = set()
        if behind and behind[0][0] > 0:
            chosen.add(types.index(behind[0][1]))
        for i, t in enumerate(types):
            if t == "question" and len(chosen) < max_queries:
                chosen.add(i)
        if not chosen and cands:
            chosen.add(0)
        out = [g for i, g in enumerate(cands) if i in chosen]
        self.counts.update(types[i] for i in chosen)
        return out


def _keep(cands: list[GenQuery], text: str, specific: list[str]) -> list[GenQuery]:
    """Candidates that pass the checks (no copy of the chunk, a salient term in the query), without duplicates."""
    out: list[GenQuery] = []
    seen: set[str] = set()
    for g in cands:
        q = normalize_ws(g.query)
        key = re.sub(r"[\s?？。.!]", "", q.lower())
        framed = g.rule.startswith("frame:")  # a frame's slot is the chunk's own phrase: longer runs allowed
        if not key or key in seen or copies_text(q, text, max_run=8 if framed else 6):
            continue
        if not _has_salient(q, specific) and g.rule not in ("heading-question",) and not framed:
            continue
        seen.add(key)
        out.append(GenQuery(q, g.kind, g.passage, g.rule))
    return out


def unwrap(text: str) -> str:
    """Undo hard line wraps inside Chinese text (a wrap between two CJK characters is not a space)."""
    return re.sub(
        r"(?<=[\u3000-\u9fff\uff00-\uffef])[ \t]*\n[ \t]*(?=[\u3000-\u9fff\uff00-\uffef])", "", text
    )


def build_stats(chunks: list[dict[str, Any]]) -> CorpusStats:
    def terms_of(c: dict[str, Any]) -> list[str]:
        lang = c.get("language") or detect_language(c["text"])
        if lang in ("zh", "mixed"):
            return chunk_terms(unwrap(c["text"]), "zh")
        return chunk_terms(c["text"], "en")

    return CorpusStats(terms_of(c) for c in chunks)


def generate_offline(
    chunks: list[dict[str, Any]],
    *,
    corpus: list[dict[str, Any]] | None = None,
    max_queries: int = 5,
    progress: Progress | None = None,
    real_questions: list[str] | None = None,
    mix: dict[str, float] | None = None,
) -> dict[str, list[GenQuery]]:
    """{chunk id: queries} for the given chunks; salience is measured against ``corpus`` (default: the chunks).
    ``real_questions``: the user's questions set the style (frames) and, with ``mix``, the query-type mix."""
    stats = build_stats(corpus if corpus is not None else chunks)
    styler = Styler(real_questions or [], mix)
    out: dict[str, list[GenQuery]] = {}
    for i, c in enumerate(chunks):
        out[c["id"]] = styler.generate(c, stats, max_queries=max_queries, index=i)
        if progress:
            progress(i + 1, len(chunks), c.get("heading") or c["id"][:8])
    return out


class Styler:
    """Generation in the user's style over a run: frames mined once, rotated per chunk, types balanced."""

    def __init__(self, real_questions: list[str], mix: dict[str, float] | None = None) -> None:
        from bgetune.tools.style import mine_frames, target_mix

        self.frames = mine_frames(real_questions)
        self.mix, self.mix_from = (mix, "given") if mix else target_mix(real_questions)
        self.balancer = MixBalancer(self.mix)

    def generate(
        self, chunk: dict[str, Any], stats: CorpusStats, *, max_queries: int, index: int
    ) -> list[GenQuery]:
        cands = generate_for_chunk(
            chunk, stats, max_queries=max_queries, frames=self.frames, frame_start=index, extra_types=True
        )
        return self.balancer.pick(cands, max_queries)
