"""How the user's users ask: real questions as the style of generated ones (issue 24).

Every real question the workspace holds is a style source: golden questions, imported history, and past search
queries imported without answers (``querylog``). From them:

- ``sample_examples``: a few real questions per LLM call (varied per chunk, same language first), Promptagator's
  few-shot style examples (never golden questions: those are the ship decision's evidence);
- ``sample_shapes``: the shapes of real questions for an LLM call ("How do I X?", "X怎么办？"), the style without the
  questions themselves, so a model cannot copy one (a 0.5B model copied 195 of 316 when shown them literally);
- ``mine_frames`` / ``fill_frames``: question frames ("How much is X?", "Can I X if Y?", "X怎么办？", "如何X？")
  that the offline generator fills from each passage's key phrases;
- ``classify_query``: question | keyword | statement | title, for the type mix and the style report;
- ``style_report``: how close proposed queries are to the real ones (length, first words, types, vocabulary, and
  how well a char n-gram logistic regression tells them apart), with ``text(lang)``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bgetune.core.i18n import say
from bgetune.core.text import cjk_count, detect_language, normalize_ws

QUERY_TYPES = ("question", "keyword", "statement", "title")
# The default mix when the workspace holds too few real questions to measure one (bench/RESULTS.md, style
# section): what users type into a help-center search box, not what an FAQ's authors write as headings.
DEFAULT_MIX = {"question": 0.70, "keyword": 0.15, "statement": 0.05, "title": 0.10}
MIN_FOR_MIX = 10  # real questions needed before their own mix replaces the default
MIN_TYPE_SHARE = 0.05  # every type keeps at least this share, so a style never collapses to one template

_ORIGIN_SQL = (
    ("golden", "SELECT query FROM golden"),
    (
        "history",
        "SELECT query FROM pairs WHERE (kind='real' OR source LIKE 'import:%' OR source LIKE 'history:%') "
        "AND status<>'rejected'",
    ),
)


# ---------------------------------------------------------------------------------------------- query types
_EN_QWORD = re.compile(
    r"^(?:what|how|why|where|when|who|whom|whose|which|is|are|can|could|do|does|did|should|would|will|may|"
    r"might|must|shall|was|were|has|have|am)\b",
    re.I,
)
_ZH_QWORD = re.compile(
    r"吗|呢|什么|如何|怎么|怎样|为什么|为何|哪|是否|能否|能不能|可不可以|多少|几个|几种|有没有|是不是"
)
_EN_VERBISH = re.compile(
    r"\b(?:is|are|was|were|can|cannot|can't|doesn't|don't|won't|isn't|aren't|does|do|did|fails?|failed|"
    r"stops?|stopped|works?|crash(?:es|ed)?|hangs?|shows?|says?|gives?|keeps?|need|needs|want|wants|have|has|"
    r"use|uses|get|gets|got|not)\b",
    re.I,
)
_EN_PRON = re.compile(r"\b(?:i|my|me|we|our)\b", re.I)
_ZH_TITLE_END = re.compile(r"(?:方法|步骤|指南|说明|简介|介绍|教程|流程|规定|要求|设置|配置|概述|区别|原因)$")
_ZH_STATEMENT = re.compile(
    r"^(?:我|我们|电脑|系统)|失败|报错|出错|错误|无法|不能|不了|打不开|没反应|丢失|忘记|想要|想"
)


def classify_query(q: str) -> str:
    """'question' | 'keyword' | 'statement' | 'title' for one query (rules, en and zh)."""
    q = normalize_ws(q)
    if not q:
        return "keyword"
    if q.endswith(("?", "？")):
        return "question"
    if cjk_count(q) >= 2:
        if _ZH_QWORD.search(q):
            return "question"
        if _ZH_STATEMENT.search(q):
            return "statement"
        if " " in q.strip():
            return "keyword"
        if _ZH_TITLE_END.search(q) or "的" in q:
            return "title"
        return "keyword" if len(q) <= 6 else "title"
    words = q.split()
    if _EN_QWORD.match(q) and len(words) >= 3:
        return "question"
    if len(words) >= 3 and (_EN_PRON.search(q) or _EN_VERBISH.search(q)):
        return "statement"
    first = words[0]
    if len(words) >= 3 and (
        (first[:1].isupper() and first.lower().endswith("ing"))
        or sum(1 for w in words if w[:1].isupper()) >= max(2, len(words) - 1)
        or re.search(r"\b(?:of|for|with|in|on|and|to)\b", q)
    ):
        return "title"
    return "keyword"


def type_mix(queries: Sequence[str]) -> dict[str, float]:
    """Share of each query type among ``queries`` (every type present)."""
    c = Counter(classify_query(q) for q in queries)
    n = max(1, sum(c.values()))
    return {t: round(c.get(t, 0) / n, 3) for t in QUERY_TYPES}


def target_mix(real: Sequence[str]) -> tuple[dict[str, float], str]:
    """(the query-type proportions generation aims at, where they come from). The real questions' own mix when
    there are at least ``MIN_FOR_MIX`` of them (each type floored at ``MIN_TYPE_SHARE``), else ``DEFAULT_MIX``."""
    if len(real) < MIN_FOR_MIX:
        return dict(DEFAULT_MIX), "default"
    mix = type_mix(real)
    floored = {t: max(MIN_TYPE_SHARE, v) for t, v in mix.items()}
    s = sum(floored.values())
    return {t: round(v / s, 3) for t, v in floored.items()}, "measured"


# ---------------------------------------------------------------------------------------------- style sources
def querylog_path(ws: Any) -> Any:
    return ws.artifact_path("querylog", "queries.json")


def logged_queries(ws: Any) -> list[dict[str, Any]]:
    """The past search queries imported without answers: [{"query", "file", "count"}]."""
    path = querylog_path(ws)
    if not path.exists():
        return []
    try:
        return list(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


def real_questions(ws: Any) -> list[tuple[str, str]]:
    """Every real question of the workspace as (query, origin): golden, history, querylog. No duplicates."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(q: str, origin: str) -> None:
        q = normalize_ws(q or "")
        key = q.lower()
        if len(q) >= 2 and key not in seen:
            seen.add(key)
            out.append((q, origin))

    for origin, sql in _ORIGIN_SQL:
        for r in ws.query(sql):
            add(r[0], origin)
    for row in logged_queries(ws):
        add(str(row.get("query", "")), "querylog")
    return out


@dataclass
class StyleSource:
    """What sets the style of generated queries: how many real questions of each origin, per language."""

    total: int = 0
    by_origin: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    mix: dict[str, float] = field(default_factory=dict)
    mix_from: str = "default"
    frames: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def enough(self) -> bool:
        return self.total >= MIN_FOR_MIX

    def text(self, lang: str = "en") -> str:
        mix = ", ".join(f"{t} {v:.0%}" for t, v in self.mix.items())
        zh_types = {"question": "问句", "keyword": "关键词", "statement": "陈述", "title": "标题式"}
        mix_zh = "，".join(f"{zh_types[t]} {v:.0%}" for t, v in self.mix.items())
        if not self.total:
            if lang == "zh":
                return (
                    "还没有真实用户问题，生成的问题只能按内置模板的风格来写。请粘贴 10 个左右用户真实问过的问题"
                    "（或导入过去的搜索记录，txt/CSV 一行一个），生成的问题会模仿它们的问法。"
                    f"目前使用的默认类型比例：{mix_zh}。"
                )
            return (
                "No real user questions yet, so generated queries follow built-in templates. Paste about 10 "
                "questions your users asked (or import past search queries, a txt/CSV with one per line) and "
                f"generation will ask the way they do. Default type mix used now: {mix}."
            )
        origins = ", ".join(f"{n} {o}" for o, n in self.by_origin.items() if n)
        zh_o = {"golden": "黄金问题", "history": "历史问答", "querylog": "搜索记录"}
        origins_zh = "，".join(f"{zh_o.get(o, o)} {n} 个" for o, n in self.by_origin.items() if n)
        ex = "; ".join(f"“{e}”" for e in self.examples[:3])
        s = say(
            lang,
            f"Generated queries take their style from {self.total} real questions ({origins}): they yield "
            f"{self.frames} question frames, which the offline generator fills and each LLM call is shown (with a "
            f"few history or query-log questions as they are; golden questions never, they are the evidence). "
            f"Type mix ({self.mix_from}): {mix}.",
            f"生成问题的风格来自 {self.total} 个真实问题（{origins_zh}）：从中提取了 {self.frames} 个问句框架，离线生成器"
            f"按框架填写，LLM 每次调用也会看到这些框架（另附几例历史或搜索记录里的原问题；黄金问题从不展示，它们是评估依据）。"
            f"类型比例（{'实测' if self.mix_from == 'measured' else '默认'}）：{mix_zh}。",
        )
        if not self.enough:
            s += say(
                lang,
                " Fewer than 10: paste a few more and the style gets closer.",
                "问题少于 10 个：再粘贴一些，风格会更接近。",
            )
        return s + (say(lang, f" E.g. {ex}", f" 例如：{ex}") if ex else "")


def style_source(ws: Any) -> StyleSource:
    """Summary of the style source generation uses (for the chat: with none, ask for about 10 real questions)."""
    qs = real_questions(ws)
    texts = [q for q, _ in qs]
    mix, frm = target_mix(texts)
    by_lang = Counter("zh" if cjk_count(q) >= 2 else "en" for q in texts)
    return StyleSource(
        total=len(qs),
        by_origin={o: n for o, n in Counter(o for _, o in qs).items()},
        by_language=dict(by_lang),
        mix=mix,
        mix_from=frm,
        frames=len(mine_frames(texts)),
        examples=texts[:3],
    )


def _lang_of(q: str) -> str:
    return "zh" if cjk_count(q) >= 2 else "en"


def sample_examples(
    questions: Sequence[str], key: str, *, k: int = 8, language: str | None = None
) -> list[str]:
    """``k`` real questions for one LLM call, drawn by ``key`` (the chunk hash: varied across chunks, stable for
    a chunk so the LLM cache still hits); questions in ``language`` first."""
    if not questions:
        return []
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)
    rng = random.Random(seed)
    same = [q for q in questions if language is None or _lang_of(q) == language]
    other = [q for q in questions if q not in set(same)]
    rng.shuffle(same)
    rng.shuffle(other)
    return (same + other)[:k]


def sample_shapes(frames: Sequence[Frame], key: str, *, k: int = 8, language: str | None = None) -> list[str]:
    """Up to ``k`` question shapes for one LLM call ("How do I X?", "Can I X if Y?", "X怎么办？") from ``frames``
    (``mine_frames`` of the real questions, mined once per run): the most frequent half always, the rest drawn by
    ``key`` (varied across chunks, stable for one). Shapes in ``language`` when it has any."""
    same = [f for f in frames if language is None or f.lang == language] or list(frames)
    shapes = [f.pattern + ("？" if f.lang == "zh" else "?") for f in same]
    head, tail = shapes[: k // 2], shapes[k // 2 :]
    rng = random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16))
    rng.shuffle(tail)
    return head + tail[: k - len(head)]


def typical_length(questions: Sequence[str], language: str | None = None) -> int:
    """The median length of the real questions in ``language`` (words; Chinese characters count one each), 0 with
    none."""
    lens = sorted(_length(q) for q in questions if language is None or _lang_of(q) == language)
    return int(lens[len(lens) // 2]) if lens else 0


# ---------------------------------------------------------------------------------------------- frames
@dataclass(frozen=True)
class Frame:
    """A question shape: literal prefix, a slot (NP: a thing; VP: an action), literal suffix, and an optional
    condition slot ('Can I X if Y?')."""

    prefix: str
    slot: str  # NP | VP
    suffix: str
    lang: str
    cond: bool = False

    @property
    def pattern(self) -> str:
        sep = "" if self.lang == "zh" else " "
        body = (self.prefix + sep if self.prefix else "") + "X" + (" if Y" if self.cond else "")
        return body + (sep + self.suffix if self.suffix and self.lang == "en" else self.suffix)

    def fill(self, x: str, y: str | None = None) -> str:
        if self.lang == "zh":
            return f"{self.prefix}{x}{self.suffix}？"
        core = f"{self.prefix} {x}".strip()
        if self.cond and y:
            core += f" if {y}"
        if self.suffix:
            core += f" {self.suffix}"
        return core[0].upper() + core[1:] + "?"


_EN_DET = {"the", "a", "an", "my", "your", "our", "any", "some", "this", "that"}
_EN_OPEN = {
    "what", "how", "why", "where", "when", "who", "which", "is", "are", "can", "could", "do", "does", "should",
    "would", "will", "may", "must", "was", "were", "has", "have", "much", "many", "long", "often", "i", "we",
    "to", "it", "there", "possible", "happens", "happen", "way", "best", "get", "find", "one", "you", "need",
    "the", "a", "an", "my", "your", "our", "any", "some", "of", "for", "about", "with", "in", "on", "at", "if",
    "am", "did", "be", "kind", "kinds", "type", "types", "difference", "between", "else",
}  # fmt: skip
_EN_SUFFIX = {"mean", "means", "work", "works", "stand for", "used for", "for", "cost", "costs", "do"}
_EN_WH = {"what", "how", "why", "where", "when", "who", "which", "whose", "whom", "if"}
_EN_CLAUSE_AUX = {
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "will",
    "would",
    "may",
    "must",
    "has",
    "have",
}
_EN_VP_END = {
    "i",
    "we",
    "you",
    "to",
    "one",
    "me",
}  # prefix ends: the slot is an action ('How do I' + install ...)
_ZH_PREFIX = re.compile(
    r"^(?:请问)?(?:我|我们|用户)?(?:应该|该|要|想)?(?:如何|怎么样|怎么|怎样|为什么|为何|是否|能否|能不能|可不可以|可以|"
    r"在哪里可以|在哪里|哪里可以|哪里能|去哪里|到哪里)"
)
_ZH_SUFFIX = re.compile(
    r"(?:怎么办|是什么意思|是什么|有什么用|有什么区别|有什么|有哪些|是哪个|是多少|多少钱|要多久|需要多久|在哪里|在哪|"
    r"怎么样|怎么用|如何设置|吗|呢)$"
)
_ZH_VP_PREFIX = (
    "如何",
    "怎么",
    "怎样",
    "是否",
    "能否",
    "能不能",
    "可不可以",
    "可以",
    "在哪里可以",
    "哪里可以",
    "哪里能",
)
_ZH_PROBLEM = re.compile(r"失败|报错|出错|错误|无法|不能|不了|打不开|丢失|忘记|冲突|损坏|坏了")
_QUANTITY = re.compile(r"\d|[$€¥£%]|元|美元|小时|分钟|天|年|月|days?|hours?|minutes?|years?|months?|MB|GB|KB")


def _en_frame(q: str) -> Frame | None:
    s = normalize_ws(q).rstrip("?？.! ")
    words = s.split()
    if len(words) < 3 or not _EN_QWORD.match(s) or "/" in words[0]:
        return None
    low = [w.lower() for w in words]
    i = 0
    while i < len(low) and low[i] in _EN_OPEN and low[i] != "if":
        i += 1
    # the frame's slot starts at the first content word; trailing determiners belong to the slot
    while i > 1 and low[i - 1] in _EN_DET:
        i -= 1
    if i == 0 or i >= len(words):
        return None
    prefix = " ".join(words[:i])
    prefix = prefix[0].upper() + prefix[1:]
    rest = low[i:]
    cond = "if" in rest[1:]
    if cond:
        rest = rest[: rest.index("if", 1)]
    suffix = ""
    for n in (2, 1):
        tail = " ".join(rest[-n:])
        if len(rest) > n and tail in _EN_SUFFIX:
            suffix = " ".join(words[i + len(rest) - n : i + len(rest)])
            break
    if any(w in _EN_WH for w in rest[1:]) or "and" in rest and any(w in _EN_WH for w in low[i:]):
        return None  # two questions in one ('How does one pronounce Debian and what does this word mean')
    last = low[i - 1]
    slot = "VP" if last in _EN_VP_END else "NP"
    if slot == "NP" and (
        (last in _EN_CLAUSE_AUX and not suffix)
        or last in _EN_WH
        or last in ("it", "between", "kind", "kinds", "type", "types", "many", "about", "of", "sort", "sorts")
        or (low[:2] == ["will", "there"])
        or (low[0] == "why" and not suffix)
    ):
        return None  # 'How does X fit in', 'What happens when X', 'Which X', 'Why is it X': a clause, not a thing
    return Frame(prefix, slot, suffix, "en", cond)


def _zh_frame(q: str) -> Frame | None:
    s = re.sub(r"\s+", "", normalize_ws(q)).rstrip("？?。！!")
    if cjk_count(s) < 3 or re.search(r"[？?]", s):
        return None  # two questions in one
    pm = _ZH_PREFIX.match(s)
    prefix = pm.group(0) if pm else ""
    sm = _ZH_SUFFIX.search(s[len(prefix) :])
    suffix = sm.group(0) if sm else ""
    core = s[len(prefix) : len(s) - len(suffix)]
    if not (prefix or suffix) or len(core) < 2:
        return None
    if suffix in ("吗", "呢") and not prefix:
        return None  # 'X吗': the claim is the whole question, nothing to fill
    slot = "VP" if prefix.endswith(_ZH_VP_PREFIX) else "NP"
    if prefix.endswith(("为什么", "为何")) or suffix in ("有什么", "怎么样"):
        return None  # 'why' needs a claim, a bare 'X有什么' an object: nothing a key phrase fills
    return Frame(prefix, slot, suffix, "zh")


def mine_frames(questions: Iterable[str], *, min_count: int = 1) -> list[Frame]:
    """The question frames of real questions, most frequent first (ties: first seen)."""
    c: Counter[Frame] = Counter()
    first: dict[Frame, int] = {}
    for n, q in enumerate(questions):
        f = _zh_frame(q) if cjk_count(q) >= 2 else _en_frame(q)
        if f is not None:
            c[f] += 1
            first.setdefault(f, n)
    return sorted((f for f, k in c.items() if k >= min_count), key=lambda f: (-c[f], first[f]))


def frame_matches(frame: Frame, query: str) -> bool:
    """True when ``query`` has the frame's shape (its prefix, then something, then its suffix)."""
    q = normalize_ws(query).rstrip("?？")
    if frame.lang == "zh":
        q = re.sub(r"\s+", "", q)
        return (
            q.startswith(frame.prefix)
            and q.endswith(frame.suffix)
            and len(q) > len(frame.prefix + frame.suffix)
        )
    agree = lambda x: re.sub(r"\b(?:is|are)\b", "be", re.sub(r"\b(?:does|do)\b", "do", x.lower()))  # noqa: E731
    ok = agree(q).startswith(agree(frame.prefix) + " ") and (
        not frame.suffix or q.lower().endswith(" " + frame.suffix.lower())
    )
    return ok and (not frame.cond or " if " in q)


def _plural(np_: str) -> bool:
    raw = np_.split()[-1]
    last = raw.lower()
    if raw.isupper() or "_" in raw or "/" in raw or "." in raw or (" " not in np_.strip() and raw.islower()):
        return False  # an acronym, a variable, a path or a lowercase name ('FHS', 'R_LIBS', 'xtabs') is one thing
    return last.endswith("s") and not last.endswith(("ss", "us", "is", "ics"))


def _agree(prefix: str, np_: str) -> str:
    """'What is' / 'What are' and 'Is there' / 'Are there' by the filler's number."""
    words = prefix.split()
    pl = _plural(np_)
    for i, w in enumerate(words):
        if w.lower() in ("is", "are"):
            v = "are" if pl else "is"
            words[i] = v.capitalize() if w[:1].isupper() else v
        if w.lower() in ("does", "do") and i == 0:
            words[i] = "Do" if pl else "Does"
    if not pl and len(words) >= 2 and words[-1].lower() == "there" and words[-2].lower() == "is":
        if np_.split()[0].lower() in _EN_DET:
            return " ".join(words)  # 'Is there the X' stays for the caller to avoid
        words.append("an" if np_[:1].lower() in "aeiou" else "a")
    return " ".join(words)


# what a passage must say about a thing before a frame may ask it: 'Where is X?' needs a place, 'Is there X?' / 'Can
# I get X?' something available (matched in a sentence that names the thing)
_CUES = (
    (
        re.compile(r"^will there\b", re.I),
        re.compile(r"\b(?:will|plan(?:ned|s)?|future|next|upcoming)\b", re.I),
    ),
    (re.compile(r"^where (?:is|are)\b", re.I), None),  # the text must say where the thing is (_says_where)
    (
        re.compile(r"\bthere\b|\b(?:get|download|obtain|find|buy)\b", re.I),
        re.compile(
            r"\b(?:available|there (?:is|are)|provides?|offers?|includes?|download|obtain|archive|mirror)",
            re.I,
        ),
    ),
    (re.compile(r"在哪|哪里"), None),  # the text must say where the thing is (_says_where)
)
_BAD_NP = re.compile(
    r"(?:^|\W)(?:foo|bar|baz|xyz|xxx|example)(?:\W|$)|https?:|www\.|\.org/|\.com/"
    r"|^non-|-(?:specific|like|based|by-step|english|related|compatible)$",
    re.I,
)


def _has_cue(prefix: str) -> bool:
    return any(rx.search(prefix) for rx, _ in _CUES) or bool(_QTY_FRAME.search(prefix))


_QTY_FRAME = re.compile(r"\bhow (?:much|many|long|often)\b|\bwhen\b|多少钱|是多少|要多久|需要多久", re.I)


def _says_where(thing: str, text: str) -> bool:
    t = re.escape(thing)
    if cjk_count(text) >= 10:
        flat = re.sub(r"\s+", "", text)
        return bool(re.search(t + r".{0,4}?(?:位于|存放在|保存在|放在|安装在)", flat))
    return bool(
        re.search(
            t
            + r"\s+(?:\w+\s+){0,2}(?:is|are)\s+(?:usually\s+|normally\s+|also\s+)?(?:located|found|stored|kept|"
            r"installed|placed|available)\s+(?:in|at|on|under|from)\b|" + t + r"\s+(?:lives|resides)\b",
            text,
            re.I,
        )
    )


def _cue_ok(prefix: str, thing: str, text: str) -> bool:
    if re.match(r"where (?:is|are)\b", prefix.strip(), re.I) or re.search(r"在哪|哪里", prefix):
        return _says_where(thing, text)
    if _QTY_FRAME.search(prefix):  # the amount must be said about this thing
        sents = re.split(r"(?<=[.!?。！？；])\s*", text)
        return any(thing.lower() in x.lower() and _QUANTITY.search(x) for x in sents)
    for frame_rx, cue_rx in _CUES:
        if cue_rx is not None and frame_rx.search(prefix):
            sents = re.split(r"(?<=[.!?。！？；])\s*", text)
            return any(thing.lower() in x.lower() and cue_rx.search(x) for x in sents)
    return True


def fill_frames(
    frames: Sequence[Frame],
    slots: dict[str, list[str]],
    *,
    text: str = "",
    conditions: Sequence[tuple[str, str]] = (),
    start: int = 0,
    limit: int = 2,
) -> list[tuple[str, Frame]]:
    """Questions from ``frames`` filled with the passage's key phrases (``slots``: {"NP": [...], "VP": [...]};
    ``conditions``: (action, condition) pairs for 'Can I X if Y?'). Frames are tried from ``start`` (rotating, so
    chunks get different frames), at most ``limit`` questions, each filler used once."""
    out: list[tuple[str, Frame]] = []
    used: set[str] = set()
    n = len(frames)
    has_qty = bool(_QUANTITY.search(text))
    for k in range(n):
        f = frames[(start + k) % n]
        low = f.prefix.lower()
        if f.lang == "en" and re.search(r"\bhow (?:much|many|long|often)\b|\bwhen\b", low) and not has_qty:
            continue  # 'How much is X?' only where the passage holds an amount
        if f.lang == "zh" and (f.suffix in ("多少钱", "是多少", "要多久", "需要多久")) and not has_qty:
            continue
        if f.cond:
            pair = next(((a, c) for a, c in conditions if a not in used), None)
            if f.slot != "VP" or pair is None:
                continue
            used.add(pair[0])
            out.append((f.fill(pair[0], pair[1]), f))
        else:
            pool = list(slots.get(f.slot, []))
            get_frame = re.search(r"\b(?:get|download|obtain|find|buy)\b", f.prefix, re.I)
            if f.slot == "NP" and _has_cue(f"{f.prefix} {f.suffix}") and not get_frame:
                pool += slots.get("NP+", [])  # an everyday thing, where the text says what the frame asks
            cands = [x for x in pool if x not in used and not _BAD_NP.search(x)]
            if f.slot == "NP":
                cands = [x for x in cands if _cue_ok(f"{f.prefix} {f.suffix}", x, text)]
            if f.lang == "zh" and f.suffix == "怎么办":
                cands = [x for x in cands if _ZH_PROBLEM.search(x)]
            if not cands:
                continue
            x = cands[0]
            used.add(x)
            if f.lang == "en" and get_frame and not (x[:1].isupper() and not x.startswith("/")):
                used.discard(x)
                continue  # 'Can I get X?' asks for software or a document by name, not 'CSV files' or a path
            if f.lang == "en" and re.search(r"\bthere\b", f.prefix, re.I) and x.lower().startswith("the "):
                x = x[4:]  # 'Is there a billing page?', not 'Is there the billing page?'
            if f.lang == "en" and f.slot == "NP":
                f = Frame(_agree(f.prefix, x), f.slot, f.suffix, f.lang, f.cond)
            out.append((f.fill(x), f))
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------------------------- style report
def _first_word(q: str) -> str:
    q = normalize_ws(q)
    if cjk_count(q) >= 2:
        latin = re.match(r"[A-Za-z][A-Za-z0-9_.+/-]*", q)
        if latin:
            return latin.group(0).lower()  # 'Debian 只做 GNU/Linux 吗？' starts with 'debian'
        m = _ZH_PREFIX.match(re.sub(r"\s+", "", q))
        return m.group(0) if m else re.sub(r"\s+", "", q)[:2]
    return (q.split() or [""])[0].lower().strip("?¿\"'")


def _length(q: str) -> float:
    return float(cjk_count(q) + len(re.findall(r"[A-Za-z0-9]+", q)))


def _vocab(q: str) -> set[str]:
    if cjk_count(q) >= 2:
        s = re.sub(r"\s+", "", q)
        return {s[i : i + 2] for i in range(len(s) - 1)}
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9'\-]+", q)}


def _char_ngrams(q: str, n_buckets: int) -> dict[int, float]:
    s = f" {normalize_ws(q).lower()} "
    grams = Counter(s[i : i + n] for n in (2, 3, 4) for i in range(len(s) - n + 1))
    out: dict[int, float] = {}
    for g, c in grams.items():
        h = int(hashlib.md5(g.encode()).hexdigest()[:8], 16) % n_buckets
        out[h] = out.get(h, 0.0) + c
    norm = sum(v * v for v in out.values()) ** 0.5 or 1.0
    return {k: v / norm for k, v in out.items()}


def _logreg_cv_accuracy(a: Sequence[str], b: Sequence[str], *, folds: int = 5, seed: int = 0) -> float | None:
    """Cross-validated accuracy of a logistic regression (char 2-4-grams, hashed, numpy gradient descent) telling
    ``a`` from ``b`` on balanced classes. 0.5: indistinguishable; 1.0: always told apart. None: too few."""
    n = min(len(a), len(b))
    if n < 10:
        return None
    rng = random.Random(seed)
    a2, b2 = rng.sample(list(a), n), rng.sample(list(b), n)
    texts = a2 + b2
    y = np.array([1.0] * n + [0.0] * n)
    dim = 1 << 14
    X = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        for k, v in _char_ngrams(t, dim).items():
            X[i, k] = v
    order = list(range(len(texts)))
    rng.shuffle(order)
    correct = 0
    for f in range(folds):
        test = order[f::folds]
        tset = set(test)
        train = [i for i in order if i not in tset]
        w = np.zeros(dim, dtype=np.float32)
        bias = 0.0
        Xt, yt = X[train], y[train]
        for _ in range(300):
            z = Xt @ w + bias
            p = 1.0 / (1.0 + np.exp(-z))
            g = p - yt
            w -= 4.0 * (Xt.T @ g / len(train) + 1e-3 * w)
            bias -= 4.0 * float(g.mean())
        pred = (X[test] @ w + bias) > 0
        correct += int((pred == (y[test] > 0.5)).sum())
    return round(correct / len(texts), 3)


@dataclass
class StyleReport:
    """How close proposed queries are to the user's real ones."""

    n_real: int = 0
    n_proposed: int = 0
    real_length: float = 0.0
    proposed_length: float = 0.0
    real_types: dict[str, float] = field(default_factory=dict)
    proposed_types: dict[str, float] = field(default_factory=dict)
    real_first_words: list[tuple[str, float]] = field(default_factory=list)
    proposed_first_words: list[tuple[str, float]] = field(default_factory=list)
    first_word_overlap: float = (
        0.0  # share of proposed queries whose first word real questions also start with
    )
    vocabulary_overlap: float = 0.0  # Jaccard of the two vocabularies
    classifier_accuracy: float | None = None  # 0.5 = indistinguishable
    verdicts: list[str] = field(default_factory=list)

    def text(self, lang: str = "en") -> str:
        if not self.n_real:
            return (
                "没有真实用户问题可比较：粘贴 10 个左右用户问过的问题，就能看出生成的问题像不像他们的问法。"
                if lang == "zh"
                else "No real user questions to compare with: paste about 10 questions your users asked to see "
                "whether the proposed queries sound like them."
            )
        zh = lang == "zh"
        say = {
            "longer": ("your users' questions are longer than these", "用户的真实问题比这些更长"),
            "shorter": ("your users' questions are shorter than these", "用户的真实问题比这些更短"),
            "conversational": ("more conversational (more full questions)", "更口语化（更多完整的问句）"),
            "terse": ("terser (more keywords)", "更简短（更多关键词式）"),
            "openers": (
                "they start differently (real: {r}; proposed: {p})",
                "开头用词不同（真实：{r}；生成：{p}）",
            ),
            "vocab": ("they use other words", "用词差别较大"),
            "close": ("these read close to your users' questions", "这些问题和用户的问法很接近"),
        }
        r_open = ", ".join(w for w, _ in self.real_first_words[:3])
        p_open = ", ".join(w for w, _ in self.proposed_first_words[:3])
        parts = [say[v][1 if zh else 0].format(r=r_open, p=p_open) for v in self.verdicts] or [
            say["close"][1 if zh else 0]
        ]
        acc = self.classifier_accuracy
        if zh:
            head = (
                f"风格对比（{self.n_proposed} 个生成问题 vs {self.n_real} 个真实问题）："
                + "；".join(parts)
                + "。"
            )
            detail = (
                f"平均长度 {self.proposed_length:.1f} vs {self.real_length:.1f}；问句占比 "
                f"{self.proposed_types.get('question', 0):.0%} vs {self.real_types.get('question', 0):.0%}；"
                f"词汇重合 {self.vocabulary_overlap:.0%}"
            )
            if acc is not None:
                detail += f"；一个简单分类器区分两者的准确率 {acc:.0%}（50% 表示分不出来）"
            return head + "\n" + detail + "。"
        head = (
            f"Style ({self.n_proposed} proposed vs {self.n_real} real questions): " + "; ".join(parts) + "."
        )
        head = head[0].upper() + head[1:]
        detail = (
            f"Mean length {self.proposed_length:.1f} vs {self.real_length:.1f} words; questions "
            f"{self.proposed_types.get('question', 0):.0%} vs {self.real_types.get('question', 0):.0%}; "
            f"vocabulary overlap {self.vocabulary_overlap:.0%}"
        )
        if acc is not None:
            detail += (
                f"; a simple classifier tells them apart {acc:.0%} of the time (50% = indistinguishable)"
            )
        return head + "\n" + detail + "."


def style_report(proposed: Sequence[str], real: Sequence[str]) -> StyleReport:
    """Compare proposed queries with real ones (length, first words, types, vocabulary, a classifier)."""
    rep = StyleReport(n_real=len(real), n_proposed=len(proposed))
    if not real or not proposed:
        return rep
    rep.real_length = round(float(np.mean([_length(q) for q in real])), 1)
    rep.proposed_length = round(float(np.mean([_length(q) for q in proposed])), 1)
    rep.real_types = type_mix(real)
    rep.proposed_types = type_mix(proposed)
    rf = Counter(_first_word(q) for q in real)
    pf = Counter(_first_word(q) for q in proposed)
    rep.real_first_words = [(w, round(c / len(real), 3)) for w, c in rf.most_common(5)]
    rep.proposed_first_words = [(w, round(c / len(proposed), 3)) for w, c in pf.most_common(5)]
    rep.first_word_overlap = round(sum(c for w, c in pf.items() if w in rf) / len(proposed), 3)
    rv = set().union(*(_vocab(q) for q in real))
    pv = set().union(*(_vocab(q) for q in proposed))
    rep.vocabulary_overlap = round(len(rv & pv) / max(1, len(rv | pv)), 3)
    rep.classifier_accuracy = _logreg_cv_accuracy(list(real), list(proposed))
    if rep.real_length > 1.25 * rep.proposed_length:
        rep.verdicts.append("longer")
    elif rep.proposed_length > 1.25 * rep.real_length:
        rep.verdicts.append("shorter")
    dq = rep.real_types.get("question", 0) - rep.proposed_types.get("question", 0)
    if dq > 0.15:
        rep.verdicts.append("conversational")
    elif dq < -0.15:
        rep.verdicts.append("terse")
    if rep.first_word_overlap < 0.5:
        rep.verdicts.append("openers")
    if rep.vocabulary_overlap < 0.05:
        rep.verdicts.append("vocab")
    return rep


def workspace_style_report(ws: Any, *, status: str = "proposed") -> StyleReport:
    """The style report of the workspace's generated pairs (``status``) against its real questions."""
    real = [q for q, _ in real_questions(ws)]
    rows = ws.query(
        "SELECT query FROM pairs WHERE status=? AND kind NOT IN ('real','pseudo') AND source NOT LIKE 'import:%' "
        "AND source NOT LIKE 'history:%' AND source NOT LIKE 'querylog:%'",
        (status,),
    )
    return style_report([r[0] for r in rows], real)


def query_language(q: str) -> str:
    """'zh' or 'en' for a query (short queries included)."""
    lang = detect_language(q)
    return "zh" if lang in ("zh", "mixed") and cjk_count(q) >= 1 else "en"
