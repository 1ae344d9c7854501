"""The offline planner's routes, declared as data: phrases per language, the capability (or steps) they lead to,
the conditions, and whether they cost.

A :class:`Route` matches a message when its condition holds and its English or Chinese phrases are found; it
then yields its steps (or a builder turns the match into steps / a direct reply, or declines). The planner
(:func:`bgetune.agent.planner.plan_request`) tries, in order: the follow-ups of the previous turn's intent
(:data:`FOLLOWUPS`), the routes read on the whole message (:data:`EARLY`), then, once setting phrases are taken
out, :data:`ROUTES`. First match wins, so the order of each list is part of the declaration.
``examples`` are the phrases offered when a message matches nothing ("did you mean ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bgetune.core.i18n import has_cjk, say
from bgetune.core.text import parse_ids

MODEL_ALIASES = {
    "bge-m3": "BAAI/bge-m3",
    "bge-small-zh": "BAAI/bge-small-zh-v1.5",
    "bge-small-zh-v1.5": "BAAI/bge-small-zh-v1.5",
    "bge-small-en": "BAAI/bge-small-en-v1.5",
    "bge-small-en-v1.5": "BAAI/bge-small-en-v1.5",
    "bge-base-zh": "BAAI/bge-base-zh-v1.5",
    "bge-base-zh-v1.5": "BAAI/bge-base-zh-v1.5",
    "bge-base-en": "BAAI/bge-base-en-v1.5",
    "bge-base-en-v1.5": "BAAI/bge-base-en-v1.5",
    "bge-large-zh-v1.5": "BAAI/bge-large-zh-v1.5",
    "bge-large-en-v1.5": "BAAI/bge-large-en-v1.5",
}


_I = re.I
_Q = "['\"“”‘’「」『』]"
QUOTES = re.compile(r"['\"“”‘’「」『』]([^'\"“”‘’「」『』]{2,300})['\"“”‘’「」『』]")
HISTORY_EXT = (".csv", ".tsv", ".xlsx", ".xls")
ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5} | ZH_NUM


def step(tool: str, **args: Any) -> dict[str, Any]:
    return {"tool": tool, "args": args}


@dataclass
class Plan:
    """What one message asks for: an intent, the tool steps to run, or a direct reply."""

    intent: str
    lang: str = "en"
    steps: list[dict[str, Any]] = field(default_factory=list)
    reply: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Msg:
    """One message as the routes see it (built by the planner)."""

    text: str  # the message, pasted document text removed
    lang: str
    files: list[str]
    new_files: bool
    stages: dict[str, Any]
    context: dict[str, Any]
    llm: bool = False
    rest: str = ""  # the text once setting phrases are taken out (before that: the text)
    steps: list[dict[str, Any]] = field(default_factory=list)  # the setting changes named in the message
    data: dict[str, Any] = field(default_factory=dict)
    quoted: list[str] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)  # path-like words
    history_files: list[str] = field(default_factory=list)
    doc_files: list[str] = field(default_factory=list)
    typed_docs: list[str] = field(default_factory=list)

    def plan(self, intent: str, more: list[dict[str, Any]], **extra: Any) -> Plan:
        return Plan(intent, self.lang, steps=self.steps + more, data=self.data | extra)

    def reply(self, intent: str, en: str, zh: str) -> Plan:
        return Plan(intent, self.lang, reply=say(self.lang, en, zh))

    @property
    def last(self) -> str | None:
        return self.context.get("intent")


Build = Callable[[Msg, "re.Match[str] | None"], "Plan | list[dict[str, Any]] | None"]


@dataclass(frozen=True)
class Route:
    """Phrases (en / zh regular expressions) -> steps. ``when``: a condition on the message; ``unless``: phrases
    that veto it; ``on``: read the whole ``text`` or the ``rest`` (setting phrases taken out); ``build``: turns
    the match into steps or a reply, or returns None to let the next route try."""

    intent: str
    en: str = ""
    zh: str = ""
    steps: tuple[str, ...] = ()
    build: Build | None = None
    when: Callable[[Msg], bool] | None = None
    unless: str = ""
    on: str = "rest"
    examples: tuple[str, ...] = ()

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        alts = "|".join(p for p in (self.en, self.zh) if p)
        return re.compile(alts, _I | re.S) if alts else None

    @property
    def costs(self) -> bool:
        """True when a step of this route needs the user's approval (gpu or paid LLM)."""
        from bgetune.capabilities import GATED_COSTS, table

        caps = table()
        return any(
            not callable(caps[t].cost) and caps[t].cost in GATED_COSTS for t in self.steps if t in caps
        )

    def match(self, msg: Msg) -> Plan | None:
        if self.when is not None and not self.when(msg):
            return None
        m = None
        if self.pattern is not None:
            m = self.pattern.search(msg.rest if self.on == "rest" else msg.text)
            if m is None:
                return None
        if self.unless and re.search(self.unless, msg.text, _I):
            return None
        out = self.build(msg, m) if self.build else [step(t) for t in self.steps]
        if out is None or isinstance(out, Plan):
            return out
        return msg.plan(self.intent, out)


def _query_log_file(msg: Msg) -> str | None:
    """An attached (or typed) list of past queries: a txt, CSV or TSV file."""
    return next((f for f in msg.files if f.lower().endswith((".txt", ".csv", ".tsv"))), None)


def _teacher_kind(text: str) -> dict[str, str]:
    """The teacher a message names (fusion, base, llm, cross-encoder:<id>), else none (the workspace's)."""
    m = re.search(r"\b(cross-encoder:\S+|fusion|llm|base)\b", text, re.I)
    return {"teacher": m.group(1).lower() if ":" not in m.group(1) else m.group(1)} if m else {}


def R(intent: str, en: str = "", zh: str = "", *steps: str, **kw: Any) -> Route:  # noqa: N802 - a table row
    return Route(intent, en, zh, tuple(steps), **kw)


# ---------------------------------------------------------------------------------------------- phrases
NEGATION = re.compile(
    r"\b(don'?t|do not|dont|not yet|no need|never|wait|hold on|hold off|cancel|stop|later)\b"
    r"|先别|先不|不要|别(?:急着?|着急)?(?:训练|微调|导出|生成|评估|跑|开始|动)|暂时不|暂不|不用|等一下|等等|取消|稍后",
    _I,
)
TRAIN = re.compile(
    r"\b(train|training|traning|trainning|fine[- ]?tune|finetune|fine[- ]?tuning)\b|训练|微调", _I
)
FINETUNE = re.compile(
    r"\b(fine[- ]?tune|finetune|fine[- ]?tuning)\b.*\b(on|with|using|these|this|my|our)\b|微调|"
    r"\btrain\b.*\b(on|with|using)\b.*\b(these|this|my|our|the)\b.*\b(pdfs?|docs?|documents?|files?)\b|"
    r"用(这些|这个|我的)?.*(文档|文件|pdf|PDF).*(训练|微调)",
    _I,
)
START_TRAIN = (
    r"^\s*(please\s+)?(start\s+)?(train|training)(\s+(now|it|the model|again|please))*\s*[.!]?\s*$|"
    r"\b(start|begin|run|go ahead and|launch|kick off)\s+(the\s+)?(training|train|fine[- ]?tuning)\b|"
    r"\btrain\b|\bfine[- ]?tune (?:it|the model)\b"
)
DIAGNOSE = re.compile(
    r"\bwhy\b.*?" + _Q + r"(.+?)" + _Q + r"|为什么.*?" + _Q + r"(.+?)" + _Q + r"|"
    r"\bwhy (?:does|do|is|did|can'?t|doesn'?t)\s+(?:the query\s+)?(.+?)\s+(?:miss|fail|not\b|get missed|retrieve)|"
    r"为什么\s*(.+?)\s*(?:检索不到|搜不到|找不到|查不到|没找到|检索失败)",
    _I,
)
MISS_WORDS = re.compile(
    r"\b(miss\w*|fail\w*|not (?:found|returned|come up|coming up|show(?:ing)? up)|doesn'?t (?:return|find|show|come up|retrieve)|"
    r"can'?t find|isn'?t found|never (?:comes|shows) up|never (?:finds|gets|returns)|no results?|(?:keeps? )?returning the wrong \w+|wrong (?:document|result|page|answer)s?)\b|"
    r"返回(?:的)?(?:是)?错|不对的(?:文档|结果)|检索不到|搜不到|找不到|查不到|没找到|检索失败|搜索不到|没命中|未命中|不出来",
    _I,
)
GOLDEN = re.compile(
    r"\bgolden\b|\b(test|evaluation|eval)\s+questions\b|"
    r"\bquestions (?:(?:that )?(?:our|my|the) )?(?:users|people|customers|employees|staff|colleagues) (?:really )?(?:ask|asked)\b|"
    r"黄金(问题|集)|测试问题|评测问题|用户(?:常|经常|真实|实际)?(?:问过|问|提过|提|搜过)的问题",
    _I,
)
HISTORY = re.compile(
    r"\b(our|my|user|users'?|customer|real|support)\s+(questions?|queries|history|logs?|click\s*logs?|search\s*logs?)\b|"
    r"\bquestion\s*(history|logs?)\b|\bclick\s*logs?\b|\bimport\s+(?:the\s+)?(?:questions|history|csv|xlsx)\b|"
    r"(用户|客服|真实|历史)的?\s*(问题|提问|问答|日志|记录|点击)|问答记录|搜索日志|点击日志",
    _I,
)
CONFIRM = re.compile(
    r"^\s*(yes|y|ok|okay|confirm|confirmed|go ahead|do it|import it|looks good|correct|sure|好的?|确认|可以|对|是的?|导入吧?)\s*[.!。！]?\s*$",
    _I,
)
EXPECTED = re.compile(
    r"(?:\bit should (?:find|return|retrieve|get)\b|\bexpected(?: answer)?\s*(?:is|:)|--expected\s|应该(?:找到|返回|检索到|是)|期望(?:的答案)?(?:是|：|:))\s*[:：]?\s*(.+)$",
    _I | re.S,
)
PICK = re.compile(
    r"\b(?:the\s+)?(first|second|third|fourth|fifth|\d+(?:st|nd|rd|th)?)\s+(?:one|result)\b|"
    r"第\s*([一二三四五12345])\s*(?:个|条)",
    _I,
)
NONE = (
    r"^\s*(none( of (these|them))?( is (right|correct))?|neither|都不是|都不对|没有(对的)?)\s*[.。!！]?\s*$"
)
_PATHLIKE = re.compile(
    r"(?:~|\.{1,2})?/[A-Za-z0-9_./-]*[A-Za-z0-9_]|[A-Za-z0-9_.-]+\.(?:pdf|docx|md|txt|html?|jsonl|csv|tsv|xlsx)\b",
    _I,
)
MODEL_NAMES = (
    r"(?:[\w.-]+/)?(?:bge[\w.-]*|bundled|tuned|all-minilm[\w.-]*|m3e[\w.-]*|e5[\w.-]*|gte[\w.-]*|openai:\S+)"
)


HELP_WORDS = (
    r"^\s*(help|\?|h|帮助|怎么用|你能做什么|有哪些指令)\s*[?？!！.]?\s*$|\bwhat can you do\b|\bhow do i use (?:you|this tool|bgetune)\b|"
    r"\bwhat (?:are you|else are you) able to\b|\bwhat (?:can|do) you (?:help|offer)|\bwhat do you do\b|\bwalk me through what\b|"
    r"\bwhat commands\b|\bwhat (?:kinds? of )?things can you\b|\bwhat can (?:you|this assistant|it) (?:do|help)|"
    r"你(?:都)?能(?:帮我)?(?:做|干)(?:些)?什么|能帮我干(?:些什么|啥)|都能(?:帮我)?(?:干|做)(?:啥|什么)|有什么功能|怎么使用|你会什么|这个工具怎么用|"
    r"\bhow does (?:this|it|bgetune)(?: thing| tool)? work\b"
)
HELP = {
    "en": (
        "Here is what I understand:\n"
        '- attach documents (or type @path) and say "fine-tune bge on these PDFs" (ingest, generate pairs, filter, '
        "then you review)\n"
        '- review: "show pairs", "show 30 pairs", "show pair 28", "show rejected", "approve all", "approve 3 5", '
        '"approve 1-20", "approve the first 10" (of the page shown), "reject 4 because it\'s too vague", '
        '"edit 7: new query", "undo that", "why were so many rejected?"\n'
        '- golden questions: "golden questions:" then one question per line (or @questions.txt); I show candidates '
        'and you label them ("1 3" or "none"); they decide which model ships\n'
        '- settings: "epochs 3", "batch size 16", "lr 2e-5", "max steps 50", "use bge-m3"\n'
        '- "train" (I show an estimate and wait for your approval), "what does training cost?"\n'
        '- misses: "why does \'your question\' miss?", "which of my questions still miss?", then "add it as a '
        'training pair", "add them as training pairs" or "fix the biggest cause"\n'
        '- results: "evaluate", "which model will you ship?", "ship anyway" (export a model the evidence did not '
        'pick), "calibrate", "export", "status"\n'
        '- serving: "serve it" (an OpenAI-compatible endpoint for what shipped), "stop the server", "how do I use '
        'the model in my app?"\n'
        '- questions: "what should I do next?", "how many epochs should I use?", "what does nDCG mean?", "is my '
        'data sent anywhere?", "do I need a GPU?"'
    ),
    "zh": (
        "我能理解这些指令：\n"
        "- 上传文档（或输入 @路径）并说“用这些PDF微调bge模型”（导入、生成问答对、过滤，然后由你审核）\n"
        "- 审核：“看看数据”、“看30个”、“看第28条问答对”、“看看被拒的”、“全部通过”、“通过 3 5”、“通过 1-20”、"
        "“通过前10个”（刚显示的那一页）、“拒绝 4 因为太模糊”、“修改 7：新的问题”、“撤销”、“为什么剔除了这么多？”\n"
        "- 黄金问题：“黄金问题：”后每行一个问题（或 @questions.txt）；我列出候选段落，由你标注（“1 3”或“都不是”）；"
        "它们决定发布哪个模型\n"
        "- 设置：“训练3轮”、“batch size 16”、“学习率 2e-5”、“最多 50 步”、“用 bge-m3”\n"
        "- “开始训练”（先给出预估，等你批准）、“训练要多久？”\n"
        "- 漏检：“为什么'你的问题'检索不到”、“哪些问题还检索不到？”，然后“加入训练”、“都加入训练”或“修复最大的原因”\n"
        "- 结果：“评估”、“发布哪个模型”、“仍然发布”（导出证据没有选中的模型）、“校准”、“导出”、“进度”\n"
        "- 部署：“部署”（为发布的模型启动兼容 OpenAI 的接口）、“停止服务”、“怎么在我的程序里用这个模型？”\n"
        "- 提问：“下一步做什么？”、“用多少轮合适？”、“nDCG是什么意思？”、“数据会上传吗？”、“需要GPU吗？”"
    ),
}


def help_plan(lang: str) -> Plan:
    return Plan("help", lang, reply=HELP[lang])


# ---------------------------------------------------------------------------------------------- helpers
def pick(text: str) -> int | None:
    m = PICK.search(text)
    if not m:
        return None
    g = (m.group(1) or m.group(2) or "").lower()
    if g in ORD:
        return ORD[g]
    digits = re.match(r"\d+", g)
    return int(digits.group()) if digits else None


def expected_args(text: str) -> dict[str, Any]:
    """The expected answer named in a diagnosis request: text, a chunk id, or 'the second one'."""
    m = EXPECTED.search(text)
    if m:
        val = m.group(1).strip().strip(" '\"“”‘’「」『』").rstrip("?？.。")
        n = pick(val)
        if n and len(val) < 24:
            return {"pick": n}
        if re.fullmatch(r"[0-9a-f]{12,64}", val):
            return {"expected_id": val}
        return {"expected": val}
    n = pick(text)
    return {"pick": n} if n else {}


def questions(text: str) -> list[str]:
    """Questions pasted one per line (numbered or bulleted) after a leading sentence, or `q1; q2` after a colon."""
    lines = [re.sub(r"^\s*(?:\d+[.)、]|[-*•])\s*", "", ln).strip() for ln in (text or "").splitlines()]
    if len(lines) > 1:  # the first line introduces them; what follows its colon is a question too
        head = re.split(r"[:：]", lines[0], maxsplit=1)
        lines = [ln for ln in ([head[1].strip()] if len(head) > 1 else []) + lines[1:] if ln]
    else:
        lines = []
    if not lines:
        m = re.search(r"[:：]\s*(.+)$", text or "")
        if m:
            lines = [q.strip() for q in re.split(r"[;；|]", m.group(1)) if q.strip()]
    return [q for q in lines if len(q) >= 3]


def ids_in(text: str) -> list[int]:
    """Pair ids named in a request: digits, also after 第 / # and before 条 / 个; a range ('1-20', '3 to 9',
    '5到8') is every id in it. Quoted text is not read."""
    return parse_ids(QUOTES.sub(" ", text))


# "the first three" / "前三个": a count in words, as people type it
_COUNT_WORDS = {
    **{w: i for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split(), 1)},
    "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
    **{w: i for i, w in enumerate("一二三四五六七八九十", 1)}, "两": 2, "二十": 20, "三十": 30, "五十": 50,
}  # fmt: skip
_COUNT = r"\d{1,4}|" + "|".join(sorted(map(re.escape, _COUNT_WORDS), key=len, reverse=True))
_FIRST_N = re.compile(rf"\b(?:the )?first ({_COUNT})\b|前\s*({_COUNT})\s*(?:个|条|对)?", _I)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _COUNT_WORDS[word.lower()]


_THESE = re.compile(
    r"\b(?:these|them|those|the ones (?:you )?(?:just )?showed?n?|all (?:of )?(?:these|them|those) shown)\b|这些|这几个|这几条|它们|上面的|刚才(?:看|显示)的",
    _I,
)


def shown_ids(msg: Msg, text: str) -> tuple[list[int] | None, str | None]:
    """(ids, None) for 'the first 20' / 'these' read against the last page of pairs shown; (None, why) when there
    is no such page; (None, None) when the message names neither."""
    shown = list((msg.stages.get("last_pairs_view") or {}).get("ids") or [])
    first = _FIRST_N.search(text)
    if first:
        n = _count(first.group(1) or first.group(2))
        return (shown[:n], None) if shown and n <= len(shown) else (None, "first")
    if _THESE.search(text) and not ids_in(text):  # ids named outright win over 'these'
        return (shown, None) if shown else (None, "these")
    return None, None


def _which_pairs(msg: Msg, intent: str) -> Plan:
    return msg.reply(
        intent,
        'Which pairs? Give their ids or a range ("approve 3 5 8", "approve 1-20"), or say "show 30 pairs" first; '
        '"approve the first 20" then means the first 20 of that page.',
        "是哪些问答对？请给出编号或范围（“通过 3 5 8”、“通过 1-20”），或先说“看30个”；之后“通过前20个”就是那一页的前 20 个。",
    )


# "train for at most 20 minutes", "train, 1 hour max", "训练最多20分钟", "20分钟以内训练完": the training time budget
_DURATION = r"(\d+(?:\.\d+)?\s*(?:h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?|小时|分钟|秒)(?![a-z]))"
_BUDGET = re.compile(
    rf"\b(?:at most|max(?:imum)?|no more than|not more than|under|within|up to|in less than)\s+(?:of\s+)?{_DURATION}|"
    rf"{_DURATION}\s*(?:max(?:imum)?|at most|tops|or less|budget)\b|\bbudget (?:of\s+)?{_DURATION}|"
    rf"(?:最多|不超过|控制在|限时)\s*(?:训练)?\s*{_DURATION}|{_DURATION}\s*(?:以内|之内|内)",
    _I,
)


def budget_in(text: str) -> str | None:
    """The training time budget a message names ("20 min"), read by tools/budget.py's parse_duration."""
    m = _BUDGET.search(text)
    return next((g.strip() for g in m.groups() if g), None) if m else None


def train_steps(
    stages: dict[str, Any], *, resume: bool = False, budget: str | None = None
) -> list[dict[str, Any]]:
    """The stages the pipeline runs around training, in the table's order, skipping what is already done;
    ``budget``: the training time budget the user named (its epochs and steps are fitted to it)."""
    from bgetune.capabilities.pipeline import AFTER_TRAIN

    pre = []
    resplit = bool(stages.get("unsplit")) or not stages.get("splits")
    if resplit and not resume:
        pre.append(step("split_dataset"))
    if (resplit or not stages.get("negatives")) and not resume:
        pre.append(step("mine_negatives"))
    args = {"resume": True} if resume else {}
    train = step("train", **args, **({"time_budget": budget} if budget else {}))
    return pre + [train] + [step(name) for name in AFTER_TRAIN]


def _has(rx: str, text: str) -> bool:
    return bool(re.search(rx, text, _I))


def _miss(msg: Msg) -> str | None:
    return msg.context.get("miss_id")


# ---------------------------------------------------------------------------------------------- builders
def _diagnose(msg: Msg, m: re.Match[str] | None) -> Plan | None:
    """'why does "q" miss?' (quoted or not), or a quoted query with miss words; the question goes to the engine
    as typed, so a golden label for it is used as the expected answer."""
    text = msg.text
    if m is None:
        if not (
            msg.quoted and (MISS_WORDS.search(QUOTES.sub(" ", text)) or _has(r"\bdiagnos\w*|诊断", text))
        ):
            return None
        if GOLDEN.search(text):
            return None
        mq = QUOTES.search(text)
        query, after = msg.quoted[0], text[mq.end() :] if mq else ""
    else:
        query, after = next(g for g in m.groups() if g).strip(" '\"“”‘’「」『』"), text[m.end() :]
    return Plan(
        "diagnose",
        msg.lang,
        steps=[step("diagnose", query=query, **expected_args(after))],
        data={"query": query},
    )


_EDIT = re.compile(
    r"\b(?:edit|change|fix|rewrite|reword)\s+(?:the\s+)?(?:query\s+of\s+)?(?:pair\s*)?#?(\d+)(?:'s query)?\s*(?:[:：]|to\b)\s*(.+)|"
    r"(?:把|修改)?(?:第\s*)?(?:训练对|问答对)?\s*#?(\d+)\s*(?:号|条|个)?\s*(?:训练对|问答对)?\s*的?(?:问题|查询)?\s*(?:改成|改为|修改为|换成|为)\s*[:：]?\s*(.+)|"
    r"(?:修改|编辑)\s*#?(\d+)\s*[:：]\s*(.+)",
    _I | re.S,
)


def _edit(msg: Msg, m: re.Match[str] | None) -> list[dict[str, Any]] | None:
    m = _EDIT.search(msg.text)
    if not m or GOLDEN.search(msg.text):
        return None
    pid = next(g for g in (m.group(1), m.group(3), m.group(5)) if g)
    new_q = next(g for g in (m.group(2), m.group(4), m.group(6)) if g)
    return [step("edit_pair", id=int(pid), query=new_q.strip().strip(" '\"“”‘’「」『』"))]


def _score(msg: Msg, m: re.Match[str] | None) -> list[dict[str, Any]] | None:
    return [step("score", query=msg.quoted[0], passage=msg.quoted[1])] if len(msg.quoted) >= 2 else None


def _hold(msg: Msg, m: re.Match[str] | None) -> Plan:
    return msg.reply(
        "hold",
        'OK, I won\'t start anything. Review the pairs ("show pairs") or change settings; say "train" when you are ready.',
        "好的，我先不做任何操作。你可以先审核数据（“看看数据”）或修改设置；准备好了就说“开始训练”。",
    )


def _golden_edit(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    qid, new_q = m.group(1) or m.group(3), (m.group(2) or m.group(4))
    return [step("golden_edit", query_id=int(qid), query=new_q.strip().strip(" '\"“”‘’「」『』"))]


def _golden_remove(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    return [step("golden_edit", query_id=int(next(g for g in m.groups() if g)), remove=True)]


def _no_miss(msg: Msg) -> Plan:
    return msg.reply(
        "fix",
        'No diagnosed miss is open to fix. Ask "why does \'your question\' miss?" or "which of my questions still '
        'miss?" first; then "add it as a training pair", "add them as training pairs" or "fix the biggest cause".',
        "还没有可修复的漏检。先问“为什么'你的问题'检索不到？”或“哪些问题还检索不到？”，然后说“加入训练”、"
        "“都加入训练”或“修复最大的原因”。",
    )


def _open_misses(msg: Msg) -> list[int]:
    """The misses the last turn left open: the one just diagnosed, else those of the last golden diagnosis."""
    return [_miss(msg)] if _miss(msg) else [int(i) for i in msg.context.get("miss_ids") or []]


def _fix(action: str) -> Build:
    """One fix on the miss the last turn left open ('add it as a training pair')."""

    def build(msg: Msg, m: re.Match[str] | None) -> Plan | list[dict[str, Any]]:
        ids = _open_misses(msg)
        return [step("apply_fix", miss_id=ids[0], action=action)] if ids else _no_miss(msg)

    return build


def _fix_numbered(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    """'fix 1 add as training pair': miss number 1 (as `bgetune misses` numbers them), with the named fix."""
    action = "add_golden" if _has(r"golden|黄金", m.group(0)) else "add_training_pair"
    return [step("apply_fix", miss_id=int(m.group(1) or m.group(2)), action=action)]


def _fix_all(msg: Msg, m: re.Match[str]) -> Plan | list[dict[str, Any]]:
    """'add them as training pairs': each open miss gets its training pair."""
    ids = _open_misses(msg)
    return [step("apply_fix", miss_id=i, action="add_training_pair") for i in ids] if ids else _no_miss(msg)


def _fix_biggest(msg: Msg, m: re.Match[str]) -> Plan | list[dict[str, Any]]:
    """'fix the biggest cause': the usual fix of the biggest cause group, on each of its misses."""
    big = msg.context.get("biggest") or {}
    if big.get("action") and big.get("miss_ids"):
        return [step("apply_fix", miss_id=int(i), action=big["action"]) for i in big["miss_ids"]]
    if _miss(msg) and msg.context.get("action"):
        return [step("apply_fix", miss_id=_miss(msg), action=msg.context["action"])]
    return _no_miss(msg)


def _fix_expected(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    """'none of these, the answer is the part about hold': re-diagnose with the expected answer named."""
    query = msg.context.get("query") or ""
    return [step("diagnose", query=query, expected=m.group(m.lastindex or 1).strip(" .。'\"“”"))]


def _compare(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:

    names = re.findall(MODEL_NAMES, msg.text, _I)
    models = [MODEL_ALIASES.get(n.lower(), n) for n in names] or ["bundled", "tuned"]
    return [step("compare_models", models=list(dict.fromkeys(models)))]


def _onnx(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    q = "none" if _has(r"\b(fp32|no quantiz\w*|without quantiz\w*)\b|不量化", msg.rest) else "int8"
    return [step("export_onnx", quantize=q)]


def _history_preview(msg: Msg, m: re.Match[str] | None) -> Plan:
    return msg.plan(
        "history_preview", [step("preview_history", path=msg.history_files[0])], path=msg.history_files[0]
    )


def _need_history(msg: Msg, m: re.Match[str]) -> Plan:
    return msg.reply(
        "need_history",
        "Attach your question history (CSV, TSV, XLSX or JSONL export: questions, and the answer, answer "
        "title, id or url they led to; click/useful columns are used too). I'll show the columns I detect "
        "before anything is written.",
        "请上传问答历史（CSV、TSV、XLSX 或 JSONL 导出：问题，以及对应的答案、答案标题、id 或链接；"
        "点击/有用等列也会用上）。写入之前我会先给你看识别出的列。",
    )


def _golden(msg: Msg, m: re.Match[str] | None) -> Plan | list[dict[str, Any]]:
    """The golden set: add pasted or attached questions, list, label, evaluate; else say how to give them."""
    rest, text = msg.rest, msg.text
    attached = msg.history_files or [f for f in msg.files if f.lower().endswith((".txt", ".jsonl", ".md"))]
    if attached:  # "golden questions: @questions.txt", "@questions.txt these are golden questions"
        return [step("golden_add", path=attached[0]), step("golden_candidates")]
    qs = questions(text)
    if qs:
        return [step("golden_add", questions=qs), step("golden_candidates")]
    if msg.quoted and _has(r"\badd\b|加", text):
        return [step("golden_add", questions=msg.quoted), step("golden_candidates")]
    offer = _has(r"\bi (?:have|got|can give you)\b|\bwe have\b|我有|我们有", rest)
    if (
        not offer
        and _has(r"\b(list|show|how many)\b|看看|列出|多少|哪些", rest)
        and not _has(r"\b(next|to label)\b|下一个", rest)
    ):
        return msg.plan("golden_list", [step("golden_list")])
    if _has(r"\b(label|next)\b|标注", rest):
        return msg.plan("golden_label", [step("golden_candidates")])
    if _has(
        r"\b(eval\w*|score|measure|compare|versus|vs|against)\b|\bhow does\b.*\bdo\b|评估|评测|对比|比较|表现|效果",
        rest,
    ):
        return msg.plan("evaluate_golden", [step("evaluate_golden")])
    return msg.reply(
        "need_golden",
        "Paste a few dozen questions your users really ask, one per line (or attach a txt/CSV/XLSX). For each "
        "I'll show the base model's top passages and a keyword (BM25) list; you pick the right ones "
        '("1 3", or "none"). These questions then decide which model ships.',
        "请粘贴几十个用户真实会问的问题，每行一个（或上传 txt/CSV/XLSX）。每个问题我会列出基座模型和关键词（BM25）"
        "找到的段落，由你选出正确的（“1 3”，或“都不是”）。之后用这些问题决定发布哪个模型。",
    )


def _generate(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    mode = "offline" if _has(r"offline|离线", msg.rest) else ("auto" if msg.llm else "offline")
    return [step("generate_pairs", mode=mode), step("show_dataset")]


def _ready(msg: Msg) -> bool:
    pairs = msg.stages.get("pairs") or {}
    return bool(pairs.get("approved") or pairs.get("edited"))


def _trained(msg: Msg) -> bool:
    return (msg.stages.get("last_runs") or {}).get("train") == "done"


def _finetune(msg: Msg, m: re.Match[str] | None) -> Plan | list[dict[str, Any]] | None:
    """'fine-tune bge on these PDFs': ingest what came with it, generate pairs for review (or train when the
    data is reviewed and the user says go)."""
    words = FINETUNE.search(msg.rest)
    if (
        words
        and _ready(msg)
        and not msg.doc_files
        and not msg.typed_docs
        and _has(r"\b(go ahead|now|start|begin|let'?s)\b|开始|现在|吧", msg.rest)
    ):
        return msg.plan("train", train_steps(msg.stages, budget=budget_in(msg.text)))
    if not (
        (words and not _has(r"微调(好|后|过)的", msg.rest)) or (msg.new_files and TRAIN.search(msg.text))
    ):
        return None
    if not msg.doc_files and not msg.stages.get("documents") and not msg.typed_docs:
        return msg.reply(
            "need_files",
            "Which documents should I learn from? Attach PDF, DOCX, Markdown, TXT, HTML or JSONL files, or type "
            'their path in the message (e.g. "fine-tune bge on ./docs"), then say "fine-tune".',
            "要用哪些文档？请上传 PDF、DOCX、Markdown、TXT、HTML 或 JSONL 文件，或在消息里写上路径"
            "（如“用 ./docs 微调bge”），然后说“微调”。",
        )
    pre = (
        [step("ingest")]
        if msg.doc_files
        else ([step("ingest", paths=msg.typed_docs)] if msg.typed_docs else [])
    )
    mode = "auto" if msg.llm else "offline"
    return pre + [step("base_model_info"), step("generate_pairs", mode=mode), step("show_dataset")]


_APPROVE_ALL_EN = r"\b(approve|accept)\b.*\b(all|everything|every pair)\b"
_APPROVE_ALL_ZH = r"全部通过|都通过|全部批准|全部同意|全部接受|都批准"
APPROVE_ALL = re.compile(f"{_APPROVE_ALL_EN}|{_APPROVE_ALL_ZH}", _I)


def _approve_first(msg: Msg) -> Plan | list[dict[str, Any]]:
    """'approve all and train', 'approve 3 5 then train', 'approve the first 10 and train': the review decision runs
    before training, read as a review request alone is ('the first N' / 'these': the page just shown)."""
    said = re.search(
        r"\b(?:approve|accept)\b(.*?)(?:\b(?:and|then)\b|,|;|$)|通过(.*?)(?:然后|再|并|，|,|$)", msg.rest, _I
    )
    if not said:
        return []
    shown, missing = shown_ids(msg, msg.rest)
    if missing:
        return _which_pairs(msg, "approve")
    if shown:
        return [step("approve_pairs", ids=shown)]
    if APPROVE_ALL.search(msg.rest):
        return [step("approve_all_pairs")]
    ids = ids_in(next(g for g in said.groups() if g is not None))
    return [step("approve_pairs", ids=ids)] if ids else []


def _train(**kw: Any) -> Build:
    def build(msg: Msg, m: re.Match[str] | None) -> Plan | list[dict[str, Any]]:
        first = _approve_first(msg)
        if isinstance(first, Plan):  # 'approve the first 10 and train' with no page shown: ask, train nothing
            return first
        return first + train_steps(
            msg.stages | kw.get("stages", {}), resume=kw.get("resume", False), budget=budget_in(msg.text)
        )

    return build


def _more(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    view = msg.stages.get("last_pairs_view") or {}
    f = {k: v for k, v in (view.get("filters") or {}).items() if v}
    limit = int(view.get("limit") or 10)
    return [step("show_pairs", **f, limit=limit, offset=int(view.get("offset") or 0) + limit)]


_WHY = re.compile(
    r"[:：]\s*(?P<a>[^\d].*)$|\b(?:because|since|as|reason:?|why:?)\s+(?P<b>.+)$|(?:因为|原因[是：:]?|理由[是：:]?)\s*(?P<c>.+)$",
    _I | re.S,
)


def _reject(msg: Msg, m: re.Match[str]) -> Plan | list[dict[str, Any]] | None:
    """'reject 4 5: too vague', 'reject 5 because it's too vague': the ids, and the reason kept with them."""
    w = _WHY.search(msg.rest)
    why = next((g for g in (w.group("a"), w.group("b"), w.group("c")) if g), None) if w else None
    head = msg.rest[: w.start()] if w else msg.rest
    ids, missing = shown_ids(msg, head)
    if missing:
        return _which_pairs(msg, "reject")
    ids = ids or ids_in(head)
    if not ids:
        return None
    return [step("reject_pairs", ids=ids, why=why.strip().rstrip(".。") if why else None)]


def _approve(msg: Msg, m: re.Match[str]) -> Plan | list[dict[str, Any]] | None:
    ids, missing = shown_ids(msg, msg.rest)
    if missing:
        return _which_pairs(msg, "approve")
    ids = ids or ids_in(msg.rest)
    return [step("approve_pairs", ids=ids)] if ids else None


def _show_pair(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]]:
    """'show pair 28': that pair (and the ones after it), whatever its status."""
    return [step("show_pairs", ids=[int(m.group("pid") or m.group("zid"))])]


def _show(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]] | None:
    """show_pairs with what the user asked for: how many, which status, reason, document, source. With no
    status named, the pairs still in play (proposed and kept), never rejected ones mixed in."""
    text = msg.rest
    if not _has(
        r"\b(pairs?|data|dataset|examples?|questions?|rejected)\b|数据|样本|问答对|训练对|问题|被拒|拒绝",
        text,
    ):
        return None
    n = re.search(
        r"\b(?:show|list|see)\s+(?:me\s+)?(?:the\s+)?(?:first\s+|next\s+)?(\d+)|看\s*(\d+)\s*(?:个|条)",
        text,
        _I,
    )
    args: dict[str, Any] = {"limit": min(500, int(n.group(1) or n.group(2))) if n else 10, "status": "kept"}
    for rx, status in (
        (r"\brejected\b|被拒|拒绝的", "rejected"),
        (r"\bapproved\b|已通过", "approved"),
        (r"\bproposed\b|\bpending\b|待审", "proposed"),
    ):
        if _has(rx, text):
            args["status"] = status
            break
    r = re.search(r"\b(?:because|for|reason)\s+(?:of\s+)?([a-z_]{4,})\b|原因\s*[:：]?\s*([a-z_]+)", text, _I)
    if r:
        args["reason"] = (r.group(1) or r.group(2)).lower()
        args["status"] = None if args["status"] == "kept" else args["status"]
    d = re.search(
        r"\b(?:from|in|of)\s+(?:the\s+)?(?:document\s+|doc\s+|file\s+)?([\w.-]+\.(?:pdf|docx|md|txt|html?|jsonl))\b"
        r"|来自\s*([\w.-]+)",
        text,
        _I,
    )
    if d:
        args["document"] = d.group(1) or d.group(2)
    src = re.search(r"\b(?:from|source)\s+(history|import|offline|llm|diagnosis)\b|来自(历史|导入)", text, _I)
    if src:
        args["source"] = {"历史": "history", "导入": "import"}.get(src.group(2) or "", src.group(1) or "")
    return [step("show_pairs", **{k: v for k, v in args.items() if v is not None})]


def _ingest(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]] | None:
    if msg.doc_files:
        return [step("ingest")]
    if msg.typed_docs:
        return [step("ingest", paths=msg.typed_docs)]
    return (
        [step("ingest")] if _has(r"\bingest\b|加载文档|导入文档", msg.rest) else None
    )  # the tool says what to attach


def _undo(msg: Msg, m: re.Match[str]) -> Plan | list[dict[str, Any]]:
    """'undo that': put back the setting the last change replaced, or revert the last review decision."""
    last = msg.context.get("undo") or {}
    if last.get("kind") == "setting":
        old = last.get("old")
        if old is None:
            from bgetune.capabilities import default_of, setting_field

            f = setting_field(last["name"])
            old = default_of(f) if f is not None else None
        if old is not None:
            return Plan(
                "undo",
                msg.lang,
                steps=[step("set_setting", name=last["name"], value=str(old))],
                data={"undo": last | {"old": old}},
            )
    if last.get("kind") == "review":
        return Plan("undo", msg.lang, steps=[step("undo_review")], data={"undo": last})
    return msg.reply(
        "undo",
        "There is nothing to undo: no review decision or setting changed in this chat yet.",
        "没有可撤销的操作：这次对话里还没有审核决定或设置改动。",
    )


def _label_picks(msg: Msg, m: re.Match[str] | None) -> list[dict[str, Any]] | None:
    nums = [int(x) for x in re.findall(r"\d+", msg.text)] + [
        ZH_NUM[c] for c in re.findall(r"第\s*([一二三四五六七八九十])", msg.text)
    ]
    return (
        [step("golden_label", picks=nums), step("golden_candidates")] if nums and len(msg.text) < 40 else None
    )


def _confirm_import(msg: Msg) -> bool:
    text = msg.text
    return bool(msg.context.get("path")) and bool(
        CONFIRM.match(text)
        or (
            len(text) < 60
            and not NEGATION.search(text)
            and _has(
                r"\b(looks (?:right|good|fine)|go ahead|correct|confirm\w*|yes|ok)\b|没问题|就这样|确认|好的|可以|导入吧",
                text,
            )
        )
        or re.match(
            r"^\s*(yes|ok|okay|sure|好的?|可以|确认|没问题)\b[,，、 ]*(please |go ahead and )?(import|导入|do it)",
            text,
            _I,
        )
    )


def _repick(msg: Msg, m: re.Match[str]) -> list[dict[str, Any]] | None:
    if len(msg.text) >= 40:
        return None
    return [step("diagnose", query=msg.context.get("query", ""), **expected_args(msg.text))]


# ---------------------------------------------------------------------------------------------- newcomers
def review_hint(proposed: int, lang: str) -> str:
    """What to say while pairs wait for review."""
    return say(
        lang,
        f'{proposed} pairs wait for your review. Say "show 30 pairs", "show rejected", "approve all", '
        '"approve 3 5", "reject 4" or "edit 7: better query"; then "train".',
        f"有 {proposed} 个问答对等你审核。可以说“看30个”、“看看被拒的”、“全部通过”、“通过 3 5”、“拒绝 4”或"
        "“修改 7：更好的问题”；然后说“开始训练”。",
    )


def golden_tip(stages: dict[str, Any], lang: str) -> str:
    """The tip to give real questions, until 20 are labelled."""
    if (stages.get("golden") or {}).get("labeled", 0) >= 20:
        return ""
    return say(
        lang,
        ' Tip: paste 20+ questions your users really ask ("golden questions: ..."): the ship decision then uses '
        "them instead of generated ones.",
        "提示：粘贴 20 个以上用户真实问过的问题（“黄金问题：……”），发布决策就会以它们为准，而不是生成的问题。",
    )


def whats_next(stages: dict[str, Any], lang: str) -> str:
    """Where the workspace stands and the one thing to say next, from the stage snapshot alone."""
    pairs = stages.get("pairs") or {}
    runs = stages.get("last_runs") or {}
    proposed, rejected = pairs.get("proposed", 0), pairs.get("rejected", 0)
    approved = pairs.get("approved", 0) + pairs.get("edited", 0)
    docs = stages.get("documents") or 0
    golden = golden_tip(stages, lang)
    if not docs:
        return say(
            lang,
            "Nothing is loaded yet. Attach your documents (PDF, DOCX, Markdown, TXT, HTML or a JSONL export) and "
            'say "fine-tune bge on these".',
            "还没有导入文档。上传文档（PDF、DOCX、Markdown、TXT、HTML 或 JSONL 导出）并说“用这些文档微调bge”。",
        )
    if not (proposed or approved or rejected):
        return say(
            lang,
            f'{docs} document(s) loaded. Next: "generate pairs" (training questions proposed for your review).'
            + golden,
            f"已导入 {docs} 个文档。下一步：说“生成问答对”（生成训练问题，由你审核）。" + golden,
        )
    if proposed:
        return review_hint(proposed, lang)
    if not approved:
        return say(
            lang,
            f'All {rejected} proposed pairs were rejected. Say "why were so many rejected?" to see the reasons; '
            "more documents, real questions or an LLM generator give more pairs.",
            f"提出的 {rejected} 个问答对都被剔除了。说“为什么剔除这么多？”查看原因；更多文档、真实问题或 LLM 生成器会带来更多问答对。",
        )
    if runs.get("train") != "done":
        return say(
            lang,
            f'{approved} pairs are approved. Next: "train" (I show the estimate first and wait for your approval).'
            + golden,
            f"已通过 {approved} 个问答对。下一步：说“开始训练”（我会先给出预估并等你批准）。" + golden,
        )
    if not runs.get("eval"):
        return say(
            lang,
            'The model is trained. Next: "evaluate" (base vs tuned).',
            "模型已训练。下一步：说“评估”（基座对比微调）。",
        )
    if not stages.get("export_dir"):
        return say(
            lang,
            'Evaluated. Next: "export" to save the model (or "calibrate" for a threshold first).',
            "已评估。下一步：说“导出”保存模型（或先说“校准”得到阈值）。",
        )
    return say(
        lang,
        'The model is exported. Next: "serve it" for an endpoint, "why does \'a query\' miss?" to inspect a '
        'failure, or "which of my questions still miss?".',
        "模型已导出。下一步：“部署”启动接口，“为什么'某个问题'检索不到”查看失败原因，或“哪些问题还检索不到？”。",
    )


def _next(msg: Msg, m: re.Match[str] | None) -> Plan:
    return Plan("next", msg.lang, reply=whats_next(msg.stages, msg.lang))


def _use_model(msg: Msg, m: re.Match[str] | None) -> Plan:
    """'How do I use the model in my app?', 'where is the model?': the folder and the code, or what comes first."""
    runs = msg.stages.get("last_runs") or {}
    where = msg.stages.get("export_dir")
    if where:
        code = (  # fenced: the UI renders markdown, where single newlines would join the lines
            "```python\n"
            "from sentence_transformers import SentenceTransformer\n"
            f"model = SentenceTransformer({str(where)!r})\n"
            "q = model.encode(['your question'], prompt_name='query', normalize_embeddings=True)\n"
            "p = model.encode(['a passage'], normalize_embeddings=True)\n"
            "scores = q @ p.T\n"
            "```"
        )
        return msg.reply(
            "use_model",
            f"The exported model is in {where} (a sentence-transformers folder with its model card and "
            f"bgetune.json: threshold, base, evaluation). In Python:\n{code}\n"
            'Say "serve it" for an OpenAI-compatible /v1/embeddings endpoint, or "export onnx" for a faster CPU file.',
            f"导出的模型在 {where}（sentence-transformers 文件夹，含模型说明和 bgetune.json：阈值、基座、评估结果）。"
            f"Python 用法：\n{code}\n说“部署”启动兼容 OpenAI 的 /v1/embeddings 接口，或说“导出 onnx”得到 CPU 上更快的文件。",
        )
    if runs.get("train") == "done":
        return msg.reply(
            "use_model",
            'The model is trained but no tuned model is exported: either nothing was exported yet (say "export") '
            'or the ship decision kept the base ("decision" says why; "ship anyway" exports the best tuned candidate '
            "regardless). Then I'll tell you the folder and how to load it.",
            "模型已训练，但还没有导出微调模型：要么还没导出（说“导出”），要么发布决策保留了基座模型（说“发布决策”查看原因；"
            "说“仍然发布”可导出最好的微调候选）。导出后我会告诉你文件夹位置和加载方法。",
        )
    return msg.reply(
        "use_model",
        "There is no tuned model yet. " + whats_next(msg.stages, "en"),
        "还没有微调好的模型。" + whats_next(msg.stages, "zh"),
    )


def _results_or_next(msg: Msg, m: re.Match[str] | None) -> Plan | list[dict[str, Any]]:
    if (msg.stages.get("last_runs") or {}).get("eval"):
        return [step("show_results")]
    return msg.reply(
        "results",
        "No tuned model has been evaluated yet. " + whats_next(msg.stages, "en"),
        "还没有评估过微调模型。" + whats_next(msg.stages, "zh"),
    )


def _cost(msg: Msg, m: re.Match[str] | None) -> Plan:
    """Money first: what is free, what may be paid and when it is asked; then where the training time comes from."""
    train = (
        say(
            msg.lang,
            ' Your pairs are approved: "what does training cost?" measures it now.',
            "问答对已通过：说“训练要多久？”现在就实测。",
        )
        if _ready(msg)
        else ""
    )
    return msg.reply(
        "cost",
        "Nothing costly runs without your yes. Offline generation, filtering and review are free; with an LLM "
        "configured I show the calls, tokens and money (from BGETUNE_LLM_PRICE_IN/OUT) before generating; training "
        "costs only time on your CPU or GPU, estimated by timing a few real steps before you approve."
        + train,
        "没有你的同意，不会运行任何花钱或占用 GPU 的步骤。离线生成、过滤和审核不花钱；配置了 LLM 时，生成前我会给出调用次数、"
        "token 数和费用（按 BGETUNE_LLM_PRICE_IN/OUT）；训练只花你的 CPU 或 GPU 时间，开始前实测几步给出预估，等你批准。"
        + train,
    )


def _setting_question(msg: Msg, m: re.Match[str] | None) -> Plan | None:
    """'How many epochs should I use?', '默认学习率是多少？': the setting's declared help, its limits and its value in
    this workspace, from the declaration itself (None when no setting is named)."""
    from bgetune.capabilities import remembered_settings, setting_field

    text, best = msg.text.lower(), None
    for name in sorted(remembered_settings()):
        f = setting_field(name)
        for w in {name, name.replace("_", " "), *(f.metadata.get("say") or ())} if f else ():
            w = w.lower()
            hit = (
                (w in text) if has_cjk(w) else bool(re.search(rf"(?<![a-z]){re.escape(w)}s?(?![a-z])", text))
            )
            if hit and (best is None or len(w) > len(best[1])):
                best = (name, w, f)
    if best is None:  # the threshold is measured by calibration, not a setting
        return (
            msg.reply("setting_question", *REPLIES["threshold_question"])
            if _has(r"\bthreshold\b|阈值", text)
            else None
        )
    name, _, f = best
    md = f.metadata
    now = (msg.stages.get("settings") or {}).get(name)
    limits = " ".join(
        x
        for x in (
            f"min {md['min']:g}" if md.get("min") is not None else "",
            f"max {md['max']:g}" if md.get("max") is not None else "",
        )
        if x
    )
    choices = ", ".join(map(str, md.get("choices") or ()))
    extra = f" ({limits})" if limits else (f" (one of: {choices})" if choices else "")
    return msg.reply(
        "setting_question",
        f"{name}: {md['help']}{extra} In this workspace: "
        + (f"{now}." if now is not None else "not set, so the default applies.")
        + f' Change it by saying "{name.replace("_", " ")} <value>"; the training card shows every value before it runs.',
        f"{name}：{md['help']}{extra} 本工作区："
        + (f"{now}。" if now is not None else "未设置，使用默认值。")
        + f"说“{name} <值>”可以修改；训练前的确认卡片会列出所有取值。",
    )


def _privacy(msg: Msg, m: re.Match[str] | None) -> Plan:
    llm_en = (
        "An LLM server is configured: when you approve generation, each chunk's text is sent to that server "
        "(BGETUNE_LLM_BASE_URL) to write questions, and to nothing else. The API key is never written to disk."
        if msg.llm
        else "No LLM server is configured, so nothing leaves this machine: the offline generator writes the questions."
    )
    llm_zh = (
        "已配置 LLM 服务：你批准生成后，每个分块的文本会发送到该服务（BGETUNE_LLM_BASE_URL）来编写问题，不会发往别处。API 密钥从不写入磁盘。"
        if msg.llm
        else "没有配置 LLM 服务，因此没有任何数据离开本机：问题由离线生成器编写。"
    )
    return msg.reply(
        "privacy",
        "Your documents, pairs and models stay in the workspace folder on this machine; models load from the local "
        f"cache, no internet needed. {llm_en}",
        f"你的文档、问答对和模型都保存在本机的工作区文件夹里；模型从本地缓存加载，不需要联网。{llm_zh}",
    )


# fixed answers (intent | en | zh): what stays true whatever the workspace holds
_REPLIES_TABLE = """
resume_question | Yes. Training writes a checkpoint (weights, optimizer, step, random state) at the end of every epoch; if it stops (Ctrl-C, a closed laptop, a crash) say "resume" (or `bgetune train --resume`) and it continues from the last complete epoch. Everything you approved or edited is in the workspace and is never lost. | 可以。训练在每一轮结束时保存检查点（权重、优化器、步数、随机状态）；中途停止（Ctrl-C、合上电脑、崩溃）后说“继续训练”（或 `bgetune train --resume`），会从最后一个完整的轮次继续。你通过或修改过的数据都保存在工作区里，不会丢失。
device | Training uses a GPU when PyTorch sees one (CUDA or Apple MPS), else the CPU; the training estimate times a few real steps on that device before anything runs ("what does training cost?"). On a CPU a small base (bge-small, the bundled MiniLM) trains a few hundred pairs in minutes; bge-m3 wants a GPU. "device cpu" or "device cuda:1" picks one. | PyTorch 能看到 GPU（CUDA 或 Apple MPS）时训练用 GPU，否则用 CPU；开始前训练预估会在该设备上实测几步（说“训练要多久？”）。在 CPU 上，小模型（bge-small、内置 MiniLM）训练几百个问答对只需几分钟；bge-m3 最好用 GPU。说“device cpu”或“device cuda:1”可以指定设备。
better_questions | Three things make the questions better: paste 10 questions your users really asked (the generator then asks the way they do), configure an LLM generator (BGETUNE_LLM_BASE_URL: any OpenAI-compatible server), and fix the ones you see ("edit 7: a better query", "reject 4"). Then "generate pairs" again: what you approved or edited is kept. | 三个办法让问题更好：粘贴 10 个用户真实问过的问题（生成器会模仿它们的问法）；配置 LLM 生成器（BGETUNE_LLM_BASE_URL，任何兼容 OpenAI 的服务）；直接修改看到的问题（“修改 7：更好的问题”、“拒绝 4”）。然后再说“生成问答对”：你通过或修改过的会保留。
threshold_question | The threshold is not a fixed default: calibration measures it on held-out questions of your documents. The threshold used is the score that best separates right from wrong matches (highest F1); the one where 90% of matches above it are right is reported beside it. For fewer wrong matches say "calibrate with precision 0.95": that threshold rises, and more right answers fall below it. It is stored with the model (calibration.json). | 阈值不是固定的默认值：校准会在你文档的预留问题上实测。采用的阈值是最能区分对错匹配的分数（F1 最高），同时给出高于它的匹配有 90% 正确的那个阈值。想减少错误匹配，说“校准 精度 0.95”：阈值会升高，但也会有更多正确答案落到阈值以下。阈值随模型保存（calibration.json）。
reject | There is no reject-all: a pair you do not approve is never trained on. To reject a block, give a range ("reject 1-50") or say "show 30 pairs" and then "reject these". | 没有“全部拒绝”：你没有通过的问答对本来就不会用于训练。要拒绝一批，请给出范围（“拒绝 1-50”），或先说“看30个”再说“拒绝这些”。
"""
REPLIES: dict[str, tuple[str, str]] = {
    intent: (en, zh)
    for intent, en, zh in (map(str.strip, row.split(" | ")) for row in _REPLIES_TABLE.strip().splitlines())
}


def _canned(intent: str) -> Build:
    return lambda msg, m: msg.reply(intent, *REPLIES[intent])


# (en, zh pattern of a term, en, zh definition, meaning_only) for the terms a newcomer asks about; meaning_only: only
# "what does X mean", since "what is the threshold?" after calibrating asks for the value (the calibrate route has it)
GLOSSARY: list[tuple[str, str, str, str, bool]] = [
    (
        r"ndcg(?:@10)?",
        r"ndcg(?:@10)?",
        "nDCG@10 scores a ranking from 0 to 1: 1 when the right passage is first, less the lower it sits in the top "
        "10, 0 when it is not there. bgetune reports it per question, averaged, with a 95% confidence interval for "
        "the gain of the tuned model over the base.",
        "nDCG@10 给一次检索排序打分（0 到 1）：正确段落排第一得 1，排得越靠后分越低，不在前 10 得 0。bgetune 按问题计算后取平均，"
        "并给出微调模型相对基座提升的 95% 置信区间。",
        False,
    ),
    (
        r"hard[- ]negatives?",
        r"难负例|困难负例|硬负例",
        "A hard negative is a passage that looks relevant to a question but does not answer it. Training on them "
        "teaches the model the fine distinctions; bgetune mines them from the base model's ranks and keeps any that "
        "may be true answers out (a margin from the positive, and the teacher's scores).",
        "难负例是看起来与问题相关、实际不能回答它的段落。用它们训练能让模型学会细微差别；bgetune 从基座模型的排序中挖掘，"
        "并排除可能是正确答案的段落（与正例保持分数间隔，并参考教师打分）。",
        False,
    ),
    (
        r"round[- ]?trip",
        r"往返|回译检查|round[- ]?trip",
        "The round trip asks the base model to find a generated question's passage among all chunks; a question "
        "that does not bring back its own passage in the top results is too vague or belongs elsewhere, and is "
        "rejected (round_trip_failed).",
        "往返检查让基座模型用生成的问题在全部分块中检索它的来源段落；排不进前几名的问题太含糊或更像别处的问题，会被剔除（round_trip_failed）。",
        False,
    ),
    (
        r"wise[- ]?ft|x0\.\d+|weight mix\w*|merg\w+ (?:with )?(?:the )?base",
        r"wise[- ]?ft|x0\.\d+|权重混合|与基座合并",
        "'epoch 1 x0.5' is a WiSE-FT mix: the tuned weights averaged with the base's, half and half. It keeps most "
        "of the gain on your documents and more of the base's general ability; the ship decision scores such mixes "
        "next to each epoch.",
        "“epoch 1 x0.5” 是 WiSE-FT 混合：微调权重与基座权重各取一半平均。它保留大部分在你文档上的提升，同时保留更多基座的通用能力；"
        "发布决策会把这些混合与每一轮一起打分。",
        False,
    ),
    (
        r"teacher",
        r"教师(?:模型)?",
        "The teacher scores each training question's candidate passages (a cross-encoder reranker, an LLM judge, or "
        "offline the base model fused with BM25); the student learns its ranking, and candidates it rates as good "
        "as the answer are never used as negatives. Its own quality is checked against the base first.",
        "教师给每个训练问题的候选段落打分（交叉编码重排模型、LLM 评审，或离线时基座模型与 BM25 的融合）；学生模型学习它的排序，"
        "教师认为和答案一样好的候选不会被当作负例。使用前会先检查教师本身是否比基座好。",
        False,
    ),
    (
        r"threshold|calibrat\w*",
        r"阈值|校准",
        "The threshold is the similarity above which a passage counts as relevant, calibrated on held-out pairs "
        "for a target precision; it is written to bgetune.json and used by the server's relevance checks.",
        "阈值是判定段落相关的相似度下限，在预留数据上按目标精度校准；写入 bgetune.json，并用于服务的相关性判断。",
        True,
    ),
    (
        r"epochs?",
        r"epochs?|轮次|训练轮数|(?<!\d)轮(?:是|指)",
        "An epoch is one pass over all your training pairs. More epochs learn your documents more closely but can "
        "overfit them; bgetune keeps every epoch as a candidate and the ship decision picks the one that does best on "
        "questions it never trained on (or keeps the base).",
        "一个 epoch（轮）就是把所有训练问答对完整过一遍。轮数越多越贴合你的文档，但也可能过拟合；bgetune 把每一轮都当作候选，"
        "由发布决策在没训练过的问题上挑出最好的一轮（或保留基座模型）。",
        True,
    ),
    (
        r"golden (?:questions?|set)",
        r"黄金(?:问题|集)",
        "Golden questions are real questions your users asked, each with the passage that answers it. They are never "
        "trained on: they are the evidence that decides whether the tuned model ships. 20 or more make the decision; "
        'paste a list and say "golden questions" to add them.',
        "黄金问题是你的用户真实问过的问题，每个都标好答案所在的段落。它们从不参与训练，是决定微调模型能否发布的证据；"
        "有 20 个以上就由它们决定。粘贴一批问题并说“黄金问题”即可添加。",
        True,
    ),
    (
        r"chunks?",
        r"chunk|分块|文本块|切块",
        "A chunk is a passage of your documents (about 256 tokens, cut at headings and paragraphs). Search returns "
        "chunks, so every training pair is a question and the chunk that answers it.",
        "chunk（分块）是文档切出的一段文字（约 256 个 token，按标题和段落切分）。检索返回的就是这些块，所以每个训练对都是一个"
        "问题加上回答它的那一块。",
        True,
    ),
    (
        r"learning rate|\blr\b",
        r"学习率",
        "The learning rate is how big a step training takes on each batch. Too high and the model forgets what it "
        "knew; too low and it barely changes. The default suits the base model's family; you rarely need to touch it.",
        "学习率是每一批训练时模型参数调整的步子大小。太大模型会忘掉原有能力，太小几乎学不到东西。默认值按基座模型系列设定，"
        "一般不用改。",
        True,
    ),
    (
        r"base model",
        r"基础模型|基座(?:模型)?",
        "The base model is the embedding model you start from (a BGE model, or the bundled MiniLM offline). Training "
        "adapts it to your documents; the base is also the yardstick: the tuned model ships only if it beats it.",
        "基座模型（基础模型）是微调的起点（BGE 系列，离线时用内置的 MiniLM）。训练让它适应你的文档；它也是标尺："
        "微调后的模型只有超过它才会发布。",
        True,
    ),
    (
        r"batch(?: size)?",
        r"batch(?: size)?|批大小|批次大小",
        "The batch size is how many pairs train together in one step. In a batch every other pair's passage is a "
        "negative, so larger batches teach more per step but need more memory.",
        "batch size（批大小）是一步里一起训练的问答对数。同一批里其他问答对的段落都充当负例，所以批越大每步学得越多，"
        "但占用内存也越多。",
        True,
    ),
    (
        r"pseudo(?:[- ]label\w*| pairs?)?",
        r"伪标注|伪标签|pseudo",
        "A pseudo pair comes from your query log: a past query without an answer that the teacher matched to a "
        "passage with confidence. It is flagged 'pseudo' with its score, reviewed like any pair, and never counted "
        "as evidence in the ship decision.",
        "伪标注问答对来自查询日志：没有答案的历史查询，由教师高置信度地匹配到某个段落。它带有 pseudo 标记和分数，像其他问答对一样审核，"
        "但从不作为发布决策的证据。",
        False,
    ),
]
_DEFINE_EN = r"\bwhat(?:'s|s| is| are| does| do)\b|\bmeaning of\b|\bexplain\b|\bdefin\w+\b"
_DEFINE_ZH = r"是什么|什么是|啥意思|什么意思|是啥|指什么|指的是|解释|啥是|什么叫|是个啥"
# asking what a word means, not what its value is ("what is an epoch?", not "what is the threshold?")
_MEANING_EN = r"\bmean\w*|\bexplain\b|\bdefin\w+"
_MEANING_ZH_BEFORE = r"什么是|什么叫|啥是"
_MEANING_ZH_AFTER = r"是什么|是啥|是个啥|指的是|指什么|什么意思|啥意思"


def _asks_meaning(term: str, text: str) -> bool:
    """The message asks what ``term`` (a pattern) means, not its value: "what is an epoch?", "epoch是啥",
    "什么叫难负例", "what does nDCG mean"; not "what is the threshold?" or "…，理由是什么"."""
    return _has(
        rf"{_MEANING_EN}|\bwhat(?:'s|s| is| are)\s+(?:an?\s+)?(?:{term})(?![a-z])|"
        rf"(?:{_MEANING_ZH_BEFORE})\s*(?:{term})|(?:{term})\s*(?:这个词|这个)?\s*(?:{_MEANING_ZH_AFTER})",
        text,
    )


def _glossary(msg: Msg, m: re.Match[str] | None) -> Plan | None:
    if not _has(f"{_DEFINE_EN}|{_DEFINE_ZH}", msg.text):  # either language: "teacher model 是啥"
        return None
    for en_rx, zh_rx, en, zh_text, meaning_only in GLOSSARY:
        if not _has(rf"(?<![a-z])(?:{en_rx})(?![a-z])|(?:{zh_rx})", msg.text):  # "什么叫hard negative": no \b
            continue
        # "what is an epoch?" / "what are golden questions?" ask the meaning; "what is the threshold?" the value
        if meaning_only and not _asks_meaning(f"{en_rx}|{zh_rx}", msg.text):
            continue
        return msg.reply("explain", en, zh_text)
    return None


# ---------------------------------------------------------------------------------------------- the tables
_ADD_TRAIN = r"\badd (?:it|this|that|them)?\s*(?:as|to)\s*(?:a\s+)?(training pairs?|training set|train)|加(?:成|入|到)?训练|作为训练"
_ADD_GOLDEN = r"\badd (?:it|this|that)?\s*to (?:the )?golden|加(?:入|到)?黄金"

FOLLOWUPS: dict[str, list[Route]] = {
    "golden_label": [
        R("golden_label", r"^\s*skip", r"^\s*跳过", "golden_candidates", on="text"),
        R(
            "golden_label",
            NONE,
            "",
            build=lambda msg, m: [step("golden_label", none=True), step("golden_candidates")],
            on="text",
        ),
        R("golden_label", build=_label_picks, on="text"),
    ],
    "history_preview": [
        R(
            "history_import",
            when=_confirm_import,
            build=lambda msg, m: [step("import_history", path=msg.context["path"])],
        ),
    ],
    "diagnose": [
        R("fix", NONE, "", when=_miss, build=_fix("no_answer"), on="text"),
        R(
            "diagnose",
            r"^\s*(?:none(?: of (?:these|them))?|neither|no)\b.*?\b(?:the answer|it) (?:is|should be)\s+(.+)$",
            r"(?:都不是|都不对)[,，。\s]*(?:答案|正确的)(?:是|应该是)\s*(.+)$",
            build=_fix_expected,
            on="text",
        ),
        R(
            "fix",
            r"\bgolden\b.*\badd\b|\badd\b.*\bgolden\b",
            r"黄金.*(?:加|放)|(?:加|放).*黄金",
            when=_miss,
            build=_fix("add_golden"),
            on="text",
        ),
        R(
            "fix",
            r"\btrain(?:ing)?\b.*\badd\b|\badd\b.*\btrain(?:ing)?\b",
            r"训练.*(?:加|放|作为)|(?:加|放|作为).*训练",
            when=_miss,
            build=_fix("add_training_pair"),
            on="text",
        ),
        R(
            "fix",
            r"\bapply (?:that|the|this) fix\b|\bdo (?:that|it)\b|\bfix it\b",
            r"按这个修复|就这么修|修复吧|应用(?:这个)?修复",
            when=_miss,
            build=lambda msg, m: [
                step("apply_fix", miss_id=_miss(msg), action=msg.context.get("action") or "suggested")
            ],
            on="text",
        ),
        R("diagnose", PICK.pattern, "", build=_repick, on="text"),
    ],
}

EARLY: list[Route] = [  # read on the whole message, before negation and settings
    R(
        "diagnose",
        DIAGNOSE.pattern,
        "",
        build=_diagnose,
        on="text",
        examples=("why does 'a question' miss?",),
    ),
    R("diagnose", build=_diagnose, on="text"),
    R("edit", build=_edit, on="text", examples=("edit 7: a better query", "修改 7：新的问题")),
    R(
        "score",
        r"\bscore\b|\brelevan\w*|\bhow (?:close|similar|well)\b|\bmatch\w*|\bsimilarity\b",
        r"相关|打分|打个分|相似度|得分|匹配",
        build=_score,
        on="text",
    ),
    R(
        "misses",
        r"\bqueries you'?ve diagnosed\b|\bdiagnosed so far\b",
        r"诊断了哪些|诊断过(?:的)?(?:哪些)?",
        "list_misses",
        on="text",
    ),
    R("explain", build=_glossary, on="text", examples=("what does nDCG mean?", "什么是难负例？")),
    R(
        "next",
        r"\bwhat (?:should|do|can|shall) (?:i|we) do (?:next|now|first)\b|\bwhat(?:'s| is) (?:next|the (?:next|first) (?:step|thing))\b|"
        r"\bnext steps?\b|\bwhat now\b|\bnow what\b|\bwhere do (?:i|we) (?:start|begin|go from here)\b|\bhow do i (?:start|begin|get started)\b|"
        r"\b(?:what|wat|which step)\b.{0,20}\bcomes? (?:next|after)\b|"
        r"\bwhere (?:am i|are we) (?:in|at)\b.{0,20}\b(?:process|pipeline|workflow|steps?)\b",
        r"下一步(?:做什么|干什么|该|怎么|呢|是什么)|接下来(?:要|该)?(?:做什么|干什么|干嘛|怎么|呢)|然后(?:呢|要干嘛|该干嘛|要做什么|该做什么|怎么办)|"
        r"现在(?:该|要)(?:做|干)什么|该做什么|(?:先|首先)(?:要)?(?:做|干)什么|从哪(?:里|儿)?开始|怎么开始|"
        r"(?:进行|走|做)到(?:哪|哪一步|哪个阶段)|(?:之后|以后|然后|完了)(?:呢|怎么弄|怎么搞|干嘛|做啥|干啥)|后面还有(?:啥|什么|哪些)(?:步骤|步)",
        build=_next,
        on="text",
        examples=("what should I do next?", "下一步做什么？"),
    ),
    R(
        "use_model",
        r"\bhow (?:do|can|should|would) (?:i|we) (?:use|load|call|deploy|integrate|plug) (?:it|the model|this model|my model|the "
        r"(?:tuned |fine[- ]?tuned |trained |new )?(?:embedding )?mod(?:el|le))\b|\b(?:use|load|call|plug|integrate|swap)\b.{0,40}\b(?:model|modle|it)\b.{0,40}"
        r"\b(?:code|app|application|python|project|rag|langchain|llamaindex|pipeline|system|production|service)\b|"
        r"\bwhere (?:is|are|does|do|will|did you (?:put|save))\b.{0,30}\bmodel\b|\bload it with sentence[- ]transformers\b|"
        r"\bhow (?:to|do i|can i|would i|should i) (?:use|load|call|hook|plug|wire|connect|integrate)\b.{0,20}\b(?:the|my|our|this|that|"
        r"fine[- ]?tuned|tuned|trained|new)\s+(?:fine[- ]?tuned\s+|tuned\s+|trained\s+|new\s+)?(?:embedding\s+)?model\b|"
        r"\b(?:hook|plug|wire|connect)\b.{0,30}\b(?:model|it)\b.{0,10}\b(?:up|in|into|to)\b|"
        r"\b(?:how|can i|could i|would i|do i|can we)\b.{0,60}\b(?:elasticsearch|opensearch|milvus|qdrant|weaviate|pgvector|chroma|"
        r"vector (?:db|database|store))\b|"
        r"\b(?:sample|example) code\b|\bcode (?:sample|example|snippet)s?\b",
        r"(?:怎么|如何)(?:用|使用|调用|加载|集成)(?:这个|微调后的|训练好的|新的|我的)?模型|模型(?:在|保存在|存在|放在)哪|"
        r"在(?:我的|我们的)?(?:程序|代码|项目|应用|系统)(?:里|中)(?:用|使用|调用)|(?:训练好|微调好|微调后|调好|新)的模型.{0,6}(?:怎么|如何)(?:用|使用|调用|加载)|"
        r"(?:怎么|如何).{0,12}(?:加载|调用|使用)(?:微调后|训练好|微调好|新)的模型|(?:微调|训练)完.{0,10}(?:怎么|如何)(?:替换|接入|用|集成)|"
        r"模型.{0,6}(?:怎么|如何)在.{0,12}(?:代码|程序|项目|应用|app|系统|服务)(?:里|中)(?:用|使用|调用)|"
        r"(?:接到|接入|对接|集成到|接进).{0,12}(?:rag|系统|服务|应用|app|项目|搜索)|示例代码|代码示例|样例代码|"
        r"(?:训完|训练完|微调完|训好).{0,16}(?:怎么|如何)(?:调用|用|接)|(?:app|应用|项目|代码)(?:里|中)用.{0,12}模型",
        build=_use_model,
        on="text",
        unless=r"\b(?:can|could|would) you (?:host|serve|deploy|run)\b|\bhost (?:it|the model)\b|帮我部署|你(?:来)?部署",
        examples=("how do I use the model in my app?", "模型在哪里？"),
    ),
    R(
        "show",
        r"\bwhy (?:is|was) (?:pair )?#?(?P<wid>\d+) (?:rejected|dropped|flagged)\b",
        r"为什么.{0,4}#?(?P<wzid>\d+)\s*(?:号|条|个)?.{0,4}(?:被拒|被剔除|被拒绝|被过滤)",
        build=lambda msg, m: [step("show_pairs", ids=[int(m.group("wid") or m.group("wzid"))])],
        on="text",
    ),
    R(
        "show",
        r"\bwhy (?:so|only|are there so|are there only|do i have so|do i have only) (?:few|little)\b|"
        r"\bwhy (?:were|are|did|was|have|is) .{0,40}\b(?:rejected|dropped|filtered(?: out)?|thrown away|removed)\b|"
        r"\bwhy so many\b.{0,30}\b(?:rejected|dropped|filtered|removed|pairs)\b|\bwhy (?:are|is) there only\b.{0,20}\bpairs\b|"
        r"\b\d+ (?:filtered|rejected|dropped)(?: out)?\b.{0,20}\bwhy\b|\b(?:very|so|too) few (?:training )?pairs\b",
        r"为什么.{0,16}(?:这么少|太少|只有|拒绝|被拒|剔除|过滤掉|删掉|去掉)|怎么(?:这么少|只有这么|剔除了这么多|拒绝了这么多)|"
        r"(?:被)?过滤掉(?:了)?(?:那么|这么)多|(?:才|只)(?:生成|有|出)(?:了)?(?:这么|那么)?(?:点|少|几个)|数据(?:太少|这么少|那么少)|"
        r"(?:训练集|训练数据|数据集).{0,6}(?:长啥样|长什么样|什么样|看一下|看看|整体)",
        "show_dataset",
        on="text",
        examples=("why were so many pairs rejected?", "为什么剔除了这么多？"),
    ),
    R(
        "cost",
        r"\bhow much (?:will|would|does|did|is) (?:this|it|that|the whole thing|all this)(?: going to)? cost\b|\bwhat(?:'s| is| will be) "
        r"the (?:total )?(?:cost|price)\b|\bcost me\b|\bis (?:this|it) free\b|\b(?:total|overall) price\b|\bdo i (?:need to |have to )?pay\b|"
        r"\bget charged\b|\bcharge (?:me|my|us|our)\b|\bpay for (?:something|anything)\b|\bcredit card\b|\bmoney[- ]?wise\b|"
        r"\bcosts? involved\b|\bany (?:costs?|fees?|charges?)\b|\bcost (?:any )?money\b",
        r"要花多少钱|花多少钱|要多少钱|费用(?:是)?多少|多少费用|成本(?:是)?多少|收费|要钱吗|花钱吗|免费|付费",
        build=_cost,
        on="text",
        when=lambda msg: (
            (not _has(r"\bhow long\b|\bminutes?\b|\bhours?\b|多久|多长时间|几个小时|几分钟", msg.text))
            and (  # "what does training cost?" is the training estimate; the whole thing's price is this answer
                not TRAIN.search(msg.text)
                or _has(
                    r"\b(?:whole|total|overall|api|free|charged?|pay)\b|整个|全部|流程|免费|收费|付费|api",
                    msg.text,
                )
            )
        ),
        examples=("how much will this cost?", "要花多少钱？"),
    ),
    R(
        "results",
        r"\b(?:is|was|will) (?:the |my |this |our )?(?:new |tuned |fine[- ]?tuned |trained )?(?:model|it|this)\b.{0,20}\b(?:better|worse|"
        r"improv\w*|beat\w*)\b|\bdid (?:the )?(?:training|fine[- ]?tuning) (?:help|work)\b|\bhow do (?:i|we) know\b.{0,40}\b(?:better|beats?|"
        r"improv\w*|works?)\b|\bwill (?:this|it|fine[- ]?tuning) (?:really |actually )?(?:make|improve|help)\b|"
        r"\bdid (?:the )?(?:training|fine[- ]?tuning|it) (?:actually |really |even )?(?:help|work|improve)\b|"
        r"\b(?:scores?|metrics|numbers)\b.{0,20}\b(?:after|from) (?:the )?(?:fine[- ]?tun\w*|training)\b",
        r"新模型.{0,8}(?:好|强|差)吗|比原来.{0,4}(?:好|强)吗|(?:微调|训练|调完).{0,6}(?:到底|真的|究竟)?(?:有没有用|有用吗|有效果吗|起作用吗)|"
        r"(?:效果|检索).{0,8}(?:真的|会)?(?:变好|更好|提升)(?:吗|了吗)|怎么知道.{0,16}(?:更好|变好|提升|好)|"
        r"(?:比|跟).{0,12}(?:好了没|好没好|强了没|有没有(?:变)?好|好了吗)|(?:微调|训练)(?:后|之后|完)的?.{0,4}(?:分数|得分|指标)",
        build=_results_or_next,
        on="text",
        unless=r"\bis it better to\b|(?:多|少|大|小|高|低)一点|\b(?:more|fewer|less) (?:epochs|steps|data)\b",
        examples=("is the new model better?", "新模型比原来的好吗？"),
    ),
    R(
        "results",
        r"\bhow good\b|\bhow well\b|\bis it (?:any )?better\b|\blast (?:evaluation|eval|results?)\b|\bwhat did the (?:last )?eval\w*|"
        r"\binterpret\b|\bresults? so far\b|\bwhat the (?:evaluation |eval )?results mean\b|\bno need to re-?run\b|\bwithout re-?running\b|"
        r"\b(?:explain|summari[sz]e) the results\b|\bresults of the last\b|\bhow did the (?:evaluation|eval|training) go\b|"
        r"\b(?:show|see|view|give)\b.{0,12}\b(?:eval\w*|evaluation) results\b",
        r"效果(?:如何|怎么样)|现在.*(好|效果)|上次.*(评估|结果)|解读|比(?:原来|之前)(?:的)?(?:好|强)|(?:看看|查看|显示|给我看)(?:一下)?.{0,4}评估结果",
        build=_results_or_next,
        when=lambda msg: bool((msg.stages.get("last_runs") or {}).get("eval")) or not _trained(msg),
        unless=r"\bbase model\b|基座|基础模型|原始模型",
        on="text",
        examples=("how good is the tuned model?",),
    ),
    R(
        "estimate",
        r"\b(cost|costs|how long|how much time|how many steps|estimate|what would it take|should i train)\b|"
        r"\bhow many (?:minutes|mins|hours)\b|\bwill it be (?:done|finished|ready)\b|\bhow much compute\b|\btime[- ]?wise\b|"
        r"\btakes? (?:all night|overnight|all day|long|forever|hours|days)\b",
        r"多久|多长时间|费用|成本|耗时|预估|估计|估算|多少步|要多少钱|需要多少|多少钱|几个小时|几分钟|多少分钟|多少小时|算力|要多少时间|跑多长",
        "estimate_training",
        on="text",
        when=lambda msg: bool(TRAIN.search(msg.text) or _has(r"\b(steps|device)\b|步|设备", msg.text)),
        examples=("what does training cost?", "训练要多久？"),
    ),
    R(
        "setting_question",
        r"\bhow (?:many|much|big|large|high|low)\b.*\b(?:should|do|would|to|is)\b|\bwhat(?:'s| is| are) the (?:default|current|"
        r"recommended|best|right)\b|\bwhat\b.*\bshould i (?:use|set|pick|choose)\b|\bwhat does (?:the )?[\w ]{2,20} (?:setting|option) do\b|"
        r"\brecommend\w*\b|\busually\b|\btoo (?:many|few|high|low|big|small)\b|"
        r"\bshould (?:i|we)\b.{0,20}\b(?:lower|raise|increase|decrease|reduce|change|bump|tweak|adjust)\b|"
        r"\bis the (?:default|current)\b.{0,30}\b(?:ok|okay|fine|good|enough|right)\b|\bshould it be (?:higher|lower|bigger|smaller)\b|"
        r"\bwould (?:more|fewer|less|a (?:higher|lower|bigger|smaller))\b.{0,30}\b(?:help|hurt|overfit|matter|better|worse)\b|\boverfit\w*",
        r"(?:用|设|设置|选)(?:多少|几)|多少(?:合适|比较好|为好)|默认(?:的)?.{0,8}(?:是多少|是什么|多少)|(?:是多少|多大合适|设多少)|"
        r"推荐|建议|合适|会不会太(?:多|少|大|小|高|低)|是不是太(?:多|少|大|小|高|低)|要不要(?:调|改|降|加|减)|"
        r"用默认的?.{0,4}(?:可以|行|够)吗|还是要调(?:高|低|大|小)|(?:多|少|大|小|高|低)一点.{0,8}(?:会|能)?(?:更好|好一些|效果更好)",
        build=_setting_question,
        on="text",
        examples=("how many epochs should I use?", "默认学习率是多少？"),
    ),
    R(
        "privacy",
        r"\b(?:is|are|does|do|will) (?:any of )?(?:my|our|the|this) (?:data|documents?|docs|files?|pdfs?|texts?)\b.*\b(?:sent|upload\w*|"
        r"leave|shared|stored|private|safe|go)\b|\bdoes (?:this|it|bgetune) (?:need|use|require) (?:the )?internet\b|\bprivacy\b|"
        r"\bsend (?:my|our) (?:data|documents?)\b|\bwork(?:s)? offline\b.*\?|\bthird[- ]party\b|\bconfidential\b|"
        r"\bcan (?:i|we|it|this) (?:run|work|be used) (?:fully |completely |entirely )?offline\b|\b(?:fully|completely|entirely) offline\b",
        r"数据.{0,8}(?:上传|发送|发出去|发到|外传|泄露|安全吗|隐私)|文档.{0,6}(?:上传|发送|外传|泄露)|(?:需要|要|必须)联网|隐私|能离线|"
        r"(?:发|传|上传)(?:到)?(?:外面|外部|第三方|云端?)|保密|离线(?:跑|运行|使用)|完全离线|断网|"
        r"(?:发|传|交)给(?:第三方|外部|别人|其他公司|云)|离开(?:我的|我们的|本地)?(?:电脑|机器|本机|服务器|内网)",
        build=_privacy,
        on="text",
        examples=("is my data sent anywhere?", "数据会上传吗？"),
    ),
    R(
        "status",
        r"\bis (?:the )?training (?:done|finished|over|complete|still running)\b|\bhas (?:the )?training (?:finished|ended|"
        r"stopped)\b|\bare we done\b|\b(?:show|list|what are) (?:me )?(?:my |the |current )?settings\b|\bcurrent settings\b|"
        r"\bhas it (?:finished|ended|completed|stopped)\b|\b(?:done|finished) yet\b|\bwhat(?:'s|s| is) (?:running|going on|happening)\b|"
        r"\bstill (?:training|running)\b|\bhow far along\b",
        r"训练(?:完了|好了|结束了|完成了|跑完了)(?:吗|没)|(?:训练|跑)(?:结束|完成|完)(?:了)?(?:没有|没)|训练到哪|(?:当前|现在|查看|看看|显示)(?:的)?(?:设置|参数|配置)|"
        r"设置(?:是什么|有哪些)|参数.{0,6}(?:怎么|如何)配置|(?:后台|现在|正在)(?:在)?跑(?:什么|啥)|在跑(?:什么|啥)|还在(?:训练|跑)",
        "status",
        on="text",
        examples=("is training done?", "训练完了吗？", "show settings"),
    ),
    R(
        "device",
        r"\b(?:can|do|does|will|should|must) (?:i|it|you|bgetune|this|training) (?:use|need|have|require|run on) (?:a |the )?"
        r"(?:gpu|cuda|cpu)\b|\bonly (?:have )?a cpu\b|\bno gpu\b|\bwithout (?:a )?gpu\b|\bis (?:a )?cpu (?:ok|enough|fine)\b|"
        r"\b(?:no|without|don'?t have)\b.{0,20}\b(?:nvidia|gpu|graphics card|cuda)\b|\b(?:gpu|nvidia)\b.{0,20}\b(?:mandatory|required|"
        r"necessary|needed|a must)\b|\b(?:run|work|train)\w* (?:ok|fine|well) on (?:a |my )?cpu\b|"
        r"\b(?:laptop|notebook|macbook|my (?:pc|computer|machine|workstation))\b.{0,40}\b(?:enough|ok|okay|fine|work|handle|cut it|powerful|run)\b",
        r"(?:需要|要|必须|有没有|能用|可以用)\s*(?:gpu|显卡)|只有\s*cpu|没有\s*(?:gpu|显卡)|cpu\s*(?:可以吗|够吗|行吗)|"
        r"(?:没有|没)(?:独立)?(?:显卡|gpu|英伟达)|(?:必须|需要|一定)要?有?(?:英伟达|独立)?(?:显卡|gpu)|英伟达|"
        r"(?:笔记本|电脑|本本|mac|macbook|配置).{0,10}(?:能跑|跑得动|跑不动|够用|够吗|行吗|可以吗|带得动)",
        build=_canned("device"),
        on="text",
        examples=("do I need a GPU?", "需要GPU吗？"),
    ),
    R(
        "better_questions",
        r"\b(?:better|more natural|more varied|different|nicer|more realistic) (?:questions|queries)\b|\b(?:questions|queries) "
        r"(?:are|look|seem) (?:bad|poor|weird|wrong|strange|unnatural|robotic|off|terrible)\b|\b(?:questions|queries)\b.{0,30}"
        r"\b(?:robot|machine|unnatural|kinda bad|awful|terrible|nobody would ask|no one would ask|stiff)\b|"
        r"\bmake (?:the )?(?:questions|queries) (?:better|more natural)\b|"
        r"\b(?:questions|queries|qs)\b.{0,20}\b(?:robotic|unnatural|bad|awful|weird|stiff|fake|generic|terrible|sound off)\b|"
        r"\b(?:questions|queries)\b.{0,20}\b(?:more like|closer to)\b.{0,20}\b(?:users?|people|customers|humans?)\b",
        r"问题(?:质量)?(?:太差|不好|很差|奇怪|不自然|太生硬|不像人话)|(?:更好|更自然|更像用户)的问题|(?:问题|问句).{0,10}(?:机器写的|不自然|很怪|太假|生硬|不像)|"
        r"问题.{0,4}更像|更像(?:用户|真人|真实)|口语化",
        build=_canned("better_questions"),
        on="text",
        examples=("the questions look robotic", "问题质量太差了"),
    ),
    R(
        "resume_question",
        r"\b(?:can|could|may) (?:i|we)\b.*\b(?:stop|pause|interrupt|quit)\b.*\b(?:resume|continue|later|tomorrow|pick up)\b|"
        r"\bwhat (?:happens|if)\b.{0,40}\b(?:stop\w*|interrupt\w*|crash\w*|close\w*|sleep\w*|power|shut\w*)\b|"
        r"\b(?:lose|lost)\b.{0,20}\b(?:everything|progress|my work)\b|"
        r"\b(?:is it possible|possible|can i|can we|could i)\b.{0,20}\b(?:pause|stop|interrupt)\w*\b.{0,40}\b(?:resume|continue|later|tomorrow|pick\w* (?:it )?(?:back )?up)\b|"
        r"\b(?:save|keep|write)s? checkpoints?\b|\bin case\b.{0,20}\bcrash\w*",
        r"(?:可以|能|能不能|能否).{0,8}(?:停|暂停|中断).{0,12}(?:继续|恢复)|中断了怎么办|停了.{0,6}(?:怎么办|会怎样)|"
        r"(?:断电|死机|崩溃|关机|中断|被打断).{0,10}(?:怎么办|会怎样|还在吗|会丢|丢失)|进度还在吗|"
        r"(?:暂停|停下|停掉).{0,10}(?:接着|继续|明天|再跑)|断点|(?:退出|关掉|中断)了?.{0,10}(?:恢复|接着|继续)",
        build=_canned("resume_question"),
        on="text",
    ),
    R(
        "reject",
        r"^\s*(?:please\s+)?reject (?:them )?all\b|\breject (?:all|everything)\b",
        r"全部拒绝|都拒绝|全部拒掉|都不要",
        build=_canned("reject"),
        on="text",
    ),
    R(
        "stop_serving",
        r"\bstop (?:the )?(?:server|serving|endpoint|api)\b|\bshut (?:down )?(?:the )?server\b|\bkill the server\b",
        r"停止(?:服务|部署)|关闭(?:服务|接口)|停掉服务|关掉服务|(?:服务|接口)(?:关掉|停掉|关了|停了)",
        "stop_serving",
        on="text",
        examples=("stop the server", "stop serving", "停止服务"),
    ),
    R(
        "hold",
        NEGATION.pattern,
        "",
        build=_hold,
        on="text",
        when=lambda msg: bool(
            TRAIN.search(msg.text)
            or _has(r"\b(export\w*|generat\w*|evaluat\w*|ship\w*)\b|导出|生成|评估|上线", msg.text)
        ),
    ),
]

ROUTES: list[Route] = [  # read once setting phrases are taken out; setting changes run first
    R(
        "help",
        HELP_WORDS,
        "",
        when=lambda msg: not msg.steps,
        build=lambda msg, m: help_plan(msg.lang),
        examples=("what can you do?", "help", "帮助", "你能做什么"),
    ),
    R(
        "undo",
        r"^\s*(?:please\s+)?(?:undo|revert|take (?:that|it) back)\b(?: that| it| the last (?:one|change|action))?",
        r"^\s*(?:撤销|撤回|取消上一步|恢复上一步)",
        build=_undo,
        examples=("undo that", "撤销"),
    ),
    R(
        "golden_edit",
        r"\b(?:rename|reword|edit|change)\s+golden\s+(?:question\s+)?#?(\d+)\s*(?:[:：]|to\b)\s*(.+)$",
        r"(?:修改|把)?黄金问题\s*#?(\d+)\s*(?:[:：]|改成|改为)\s*(.+)$",
        build=_golden_edit,
        on="text",
    ),
    R(
        "golden_edit",
        r"\b(?:remove|delete|drop)\s+golden\s+(?:question\s+)?#?(\d+)",
        r"(?:删除|删掉|去掉)\s*(?:第\s*)?#?(\d+)\s*(?:个|条)?\s*黄金问题|删除黄金问题\s*#?(\d+)",
        build=_golden_remove,
        on="text",
    ),
    R(
        "diagnose_golden",
        r"\b(which|what)\b.*\b(still )?miss",
        r"哪些.*(检索不到|找不到|没找到|没命中|未命中)|按原因分组|(?:答|找|检索)不对的黄金问题|还(?:是)?(?:没|答不)(?:命中|对)",
        "diagnose_golden",
        examples=("which of my questions still miss?", "哪些问题还检索不到？"),
    ),
    R(
        "misses",
        r"^\s*(misses|show misses|list (?:the )?misses)\b|\bqueries you'?ve diagnosed\b|\bdiagnosed (?:so far|queries)\b",
        r"失败的问题|漏检列表|诊断过的",
        "list_misses",
        examples=("show misses",),
    ),
    R(
        "fix",
        r"\bfix\s+#?(\d+)\b.*\b(?:training pair|train|golden)",
        r"修复\s*#?(\d+).*(?:训练|黄金)",
        build=_fix_numbered,
        examples=("fix 1 add as training pair",),
    ),
    R(
        "fix",
        r"\badd (?:them|all of them|all)\s+as\s+training pairs\b",
        r"(?:都|全部)(?:加|作为)(?:成|入|到)?训练",
        build=_fix_all,
        when=lambda msg: bool(_open_misses(msg)) or msg.lang == "en",
        examples=("add them as training pairs",),
    ),
    R(
        "fix",
        r"\bfix (?:the )?(?:biggest|main|largest|top) (?:cause|problem|issue)\b",
        r"修复(?:最大|主要)的?(?:原因|问题)",
        build=_fix_biggest,
        examples=("fix the biggest cause",),
    ),
    R(
        "fix",
        _ADD_TRAIN,
        "",
        build=_fix("add_training_pair"),
        examples=("add it as a training pair",),
        when=lambda msg: bool(_open_misses(msg)) or msg.lang == "en",
    ),
    R("fix", _ADD_GOLDEN, "", build=_fix("add_golden"), when=lambda msg: bool(_open_misses(msg))),
    R(
        "ship_decision",
        r"\bwhich model (?:will|did|would|should|are) (?:you|we) (?:going to )?ship\b|\bship(?:ping)? decision\b|\bgood enough to ship\b|"
        r"\bstick with the base\b|\bworth shipping\b",
        r"发布哪个模型|发布决策|上线哪个模型|值得上线|该上线|发布哪个",
        "ship_decision",
        examples=("which model will you ship?",),
    ),
    R(
        "compare",
        r"\bcompare\b.*\bmodels?\b|\bcandidate\b.*\bmodels?\b|\bwhich (?:of the )?(?:candidate )?(?:base )?models? (?:ranks|is best|works best|does best)"
        r"|\bcompare\b.*\b(bge|bundled|m3e|e5|gte)",
        r"比较.*(模型|bundled|bge)|候选.*模型|哪个.*模型.*(最适合|最好|更好)|对比.*(几个|候选).*模型",
        build=_compare,
        on="text",
        examples=("compare bge-m3 and bundled",),
    ),
    R(
        "base_model_info",
        r"\bwhich (?:base )?model\b.*\b(use|using|tune|tuning|train|training)\b|\bwhy did you (?:pick|choose)\b.*\bmodel\b|"
        r"\bwhat (?:base )?model are you\b",
        r"用的是哪个.*模型|用哪个基座|为什么选(?:这个|了)?.*模型|哪个基础模型|(?:底座|基座|基础)模型是哪个",
        "base_model_info",
    ),
    R(
        "export",
        r"\bship (?:it )?anyway\b|\bexport (?:it )?anyway\b",
        r"仍然发布|还是发布|坚持发布",
        build=lambda msg, m: [step("export_model", ship_anyway=True)],
        examples=("ship anyway",),
    ),
    R("export_onnx", r"\bonnx\b", "", build=_onnx, examples=("export onnx",)),
    R(
        "serve",
        r"\bserve\b|\bhow do i use it\b|\bdeploy\b|\bendpoint\b|\bopenai[- ]compatible\b|\bhttp api\b",
        r"部署|怎么用这个模型|启动服务|接口|上线服务|向量服务|怎么调用",
        "serve_model",
        examples=("serve it", "部署"),
    ),
    R(
        "guard",
        r"\bforget\w*|\bguard\b|\bgeneral (?:ability|domain|knowledge)\b|\bout[- ]of[- ]domain\b",
        r"遗忘|通用领域|通用能力|领域外",
        "forgetting_guard",
    ),
    R(
        "export_data",
        r"\b(export|write out|dump|save)\b.*\b(training data|pairs|jsonl|flagembedding)\b|\bflagembedding\b.*\b(format|jsonl)\b",
        r"导出.*(训练数据|训练对|问答对|jsonl)|按.*格式导出|flagembedding.*格式",
        "export_data",
    ),
    R(
        "import_queries",
        r"\b(?:search|query)\s*(?:logs?|history)\b|\bpast (?:search )?queries\b|\bsearch queries\b",
        r"搜索记录|查询日志|搜索日志|搜索历史|查询记录",
        on="text",
        when=lambda msg: bool(_query_log_file(msg)) and not GOLDEN.search(msg.rest),
        build=lambda msg, m: [step("import_queries", path=_query_log_file(msg))],
        examples=("here is our search log", "这是我们的搜索日志"),
    ),
    R(
        "style_report",
        r"\bstyle report\b|\b(?:question|query) style\b|\bstyle of (?:the )?(?:generated |proposed )?"
        r"(?:questions|queries|pairs)\b|\bhow (?:close|similar) are (?:the |they|these)",
        r"风格报告|问题风格|提问风格|问法.*(?:像|接近)",
        "style_report",
        on="text",
        examples=("show the style report", "问题风格报告"),
    ),
    R(
        "history_preview",
        when=lambda msg: bool(msg.history_files) and not GOLDEN.search(msg.rest),
        build=_history_preview,
    ),
    R(
        "need_history",
        HISTORY.pattern,
        "",
        when=lambda msg: not msg.files and not GOLDEN.search(msg.rest),
        build=_need_history,
        examples=("import our users' questions",),
    ),
    R(
        "golden_add",
        when=lambda msg: bool(GOLDEN.search(msg.rest) or (msg.history_files and GOLDEN.search(msg.text))),
        build=_golden,
        examples=("golden questions:", "黄金问题："),
    ),
    R(
        "golden_label",
        r"^\s*(?:continue|keep) labell?ing\b",
        r"继续标注|标注下一个|下一个黄金问题",
        "golden_candidates",
    ),
    R("split", r"\bsplit\b", r"划分|切分", "split_dataset", examples=("split the data",)),
    R(
        "teacher",
        r"\b(?:score|rate|judge)\b.*\bteacher\b|\bteacher\b.*\b(?:score|scores|rate|judge)\b|\brun the teacher\b",
        r"(?:教师|老师)模型?.*(?:打分|评分)|(?:打分|评分).*(?:教师|老师)",
        build=lambda msg, m: [step("score_teacher", **_teacher_kind(msg.text))],
        on="text",
        examples=("score the candidates with the teacher", "用教师模型打分"),
    ),
    R(
        "mine",
        r"\bmine\b|\bhard negatives?\b",
        r"负例|难负|负样本|容易混淆",
        "mine_negatives",
        examples=("mine hard negatives",),
    ),
    R(
        "filter",
        r"^\s*(?:re-?run the )?filters?\b|\bfilter (?:the )?(?:proposed )?pairs\b|\bclean (?:up )?(?:the )?(?:proposed )?pairs\b|"
        r"\b(?:drop|remove) (?:the )?(?:near[- ])?duplicates\b|\bfilter\b|\b(?:re-?)?run (?:the )?filters?\b",
        r"过滤|筛掉|筛选|去重",
        "filter_pairs",
        unless=r"\bwhat did the filters?\b|\bthrow\w* away\b",
    ),
    R(
        "show",
        r"\b(dataset )?summar\w*|\bdataset overview\b|\bhow many pairs\b|\bwhy were (?:some|they|pairs) rejected\b",
        r"数据概况|数据汇总|概况|一共有多少|被拒的原因|多少训练对|多少问答对|总结.*数据|数据集的情况",
        "show_dataset",
    ),
    R("show", r"\bwhat did the filters? (?:throw|drop|reject|remove)\w*", "", "show_dataset"),
    R(
        "generate",
        r"\b(generate|create|write|make)\b.*\b(questions|queries|pairs|training data)\b|\bsynthetic\b",
        r"生成|出(?:几|一些|些)?个?问题|造点|造一些|出题",
        build=_generate,
        unless=r"\bexport\b|导出|看看|查看|显示",
        examples=("generate pairs",),
    ),
    R(
        "finetune",
        build=_finetune,
        unless=r"微调前后|前后的效果",
        examples=("fine-tune bge on these PDFs", "用这些PDF微调bge模型"),
    ),
    R(
        "train",
        r"\bresume\b|\bcontinue (?:the )?training\b",
        r"继续训练|恢复训练|继续.{0,6}中断的训练",
        build=_train(resume=True),
    ),
    R("train", r"\bretrain with (?:my )?fixes\b", r"用.*修正.*重新训练", build=_train(stages={"unsplit": 1})),
    R(
        "train",
        START_TRAIN,
        r"开始训练|训练吧|进行训练|启动训练|去训练|训练模型|^\s*训练\s*[。!！]?\s*$|开始微调|微调吧|最多训练|"
        r"训练(?:最多|不超过|控制在|限时)|(?:以内|之内)训练完|"
        r"(?:用|在)\s*(?:gpu|cpu|显卡|cuda)\s*(?:上)?\s*(?:训练|微调|跑)",
        build=_train(),
        examples=("train", "train with 1 epoch", "开始训练"),
    ),
    R(
        "show",
        r"^\s*(show more|more|next|next page)\s*[.!。]?\s*$",
        r"^\s*(下一页|更多|继续看)\s*[.!。]?\s*$",
        build=_more,
    ),
    R(
        "approve_all",
        _APPROVE_ALL_EN,
        _APPROVE_ALL_ZH,
        "approve_all_pairs",
        unless=r"\bfirst \d+\b|前\s*\d+",  # "前10个都通过": those ten
        examples=("approve all", "全部通过"),
    ),
    R(
        "reject",
        r"\b(reject|drop|discard|remove|delete|toss)\b|\bthrow (?:out|away)\b|\bget rid of\b",
        r"拒绝|拒掉|删除|删掉|去掉|丢弃|不要|否决|驳回|不通过|(?<![a-z])(?:reject|drop)(?![a-z])",
        build=_reject,
        examples=("reject 4", "reject 5 because it's too vague", "拒绝 4"),
    ),
    R(
        "approve",
        r"\b(approve|accept|keep)\b",
        r"通过|批准|保留|留下|留着|(?<![a-z])(?:approve|accept|keep)(?![a-z])",
        build=_approve,
        examples=("approve 3 5", "通过 3 5"),
    ),
    R(
        "show",
        r"\b(show|see|view|display|open)\s+(?:me\s+)?pair\s*#?(?P<pid>\d+)\b",
        r"(?:看|查看|显示)(?:一下)?第?\s*#?(?P<zid>\d+)\s*(?:号|条|个)?(?:训练对|问答对)",
        build=_show_pair,
        examples=("show pair 28",),
    ),
    R(
        "show",
        r"\b(show|list|see|view|display|look at)\b.*\b(pairs?|data|dataset|examples?|questions?|rejected)\b",
        r"看看|查看|显示|列出|被拒|拒绝的|看\s*\d+\s*(?:个|条)",
        build=_show,
        examples=("show pairs", "show 30 pairs", "show rejected", "看看数据"),
    ),
    R(
        "evaluate",
        r"\b(evaluate|eval|evaluation|benchmark|how good is)\b",
        r"评估|测评|评测|效果如何|效果怎么样",
        "evaluate",
        examples=("evaluate", "评估"),
    ),
    R("calibrate", r"\bcalibrat\w*|\bthreshold\b", r"校准|阈值", "calibrate", examples=("calibrate",)),
    R(
        "export",
        r"\bexport\b|\bsave (?:the |my )?(?:tuned |fine-tuned |trained )?model\b",
        r"导出|保存模型|模型保存|把模型保存",
        "export_model",
        examples=("export", "导出"),
    ),
    R(
        "ingest",
        r"\b(ingest|import|add|load|upload)\b",
        r"导入|添加|加载|上传",
        build=_ingest,
        examples=("ingest ./docs",),
    ),
    R(
        "status",
        r"\b(status|progress|where are we|state)\b",
        r"进度|状态|到哪一步|现在怎么样",
        "status",
        examples=("status", "进度"),
    ),
]


def example_phrases() -> list[tuple[str, str]]:
    """(phrase, intent) of every declared example, for 'did you mean ...'."""
    out = [
        (p, r.intent) for routes in (*FOLLOWUPS.values(), EARLY, ROUTES) for r in routes for p in r.examples
    ]
    return out + [
        ("epochs 3", "settings"),
        ("batch size 16", "settings"),
        ("lr 2e-5", "settings"),
        ("use bge-m3", "settings"),
        ("help", "help"),
        ("what can you do?", "help"),
    ]


def nearest(text: str, cutoff: float = 60.0) -> str | None:
    """The declared phrase closest to a message that matched nothing (typos: 'trian with 1 epcoh')."""
    from rapidfuzz import fuzz, process

    phrases = [p for p, _ in example_phrases() if has_cjk(p) == has_cjk(text)]
    hit = process.extractOne(text.lower(), phrases, scorer=fuzz.WRatio, score_cutoff=cutoff)
    return hit[0] if hit else None
