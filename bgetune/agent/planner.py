"""Offline mode: a deterministic intent router for common requests in English and Chinese.

``plan_request`` turns one user message into an intent and a list of tool steps (the same registered tools,
through the same approval gate as the LLM); ``compose_reply`` writes the answer from the steps' results.
It never acts on a request it is unsure of: it asks instead. Negated or questioning mentions of costly
actions ("don't train yet", "先别训练", "what does training cost?") never become the action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

OFFLINE_NOTE = {
    "en": (
        "(Offline mode: no LLM is configured, so I follow a fixed set of commands and write training questions "
        "with the offline generator. Configure an LLM server (BGETUNE_LLM_BASE_URL) for free-form requests and "
        "more natural, varied questions.)"
    ),
    "zh": (
        "（离线模式：未配置 LLM，我只理解固定的指令，训练问题由离线生成器产生。配置 LLM 服务"
        "（BGETUNE_LLM_BASE_URL）后可以自由对话，生成的问题也更自然、更多样。）"
    ),
}

HELP = {
    "en": (
        "Here is what I understand:\n"
        '- attach documents and say "fine-tune bge on these PDFs" (ingest, generate pairs, filter, then you review)\n'
        '- "show pairs", "show rejected", "approve all", "approve 3 5", "reject 4", "edit 7: new query"\n'
        '- settings: "epochs 3", "batch size 16", "lr 2e-5", "max steps 50", "use bge-m3"\n'
        '- "train" (I show an estimate and wait for your approval), "what does training cost?"\n'
        '- "evaluate", "why does \'your query\' miss", "calibrate", "export", "status"'
    ),
    "zh": (
        "我能理解这些指令：\n"
        "- 上传文档并说“用这些PDF微调bge模型”（导入、生成问答对、过滤，然后由你审核）\n"
        "- “看看数据”、“看看被拒的”、“全部通过”、“通过 3 5”、“拒绝 4”、“修改 7：新的问题”\n"
        "- 设置：“训练3轮”、“batch size 16”、“学习率 2e-5”、“最多 50 步”、“用 bge-m3”\n"
        "- “开始训练”（先给出预估，等你批准）、“训练要多久？”\n"
        "- “评估”、“为什么'你的问题'检索不到”、“校准”、“导出”、“进度”"
    ),
}

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

_CJK = re.compile(r"[\u3400-\u9fff]")
_I = re.I
# text the user pasted inside a fenced or triple-quoted block, or as "> " quote lines: document text, never commands
_QUOTED = re.compile(r"(\"\"\"|\'\'\'|```).*?(?:\1|\Z)|^[ \t]*>[^\n]*$", re.S | re.M)
_IDS = r"((?:#?\d+(?:\s*(?:,|，|、|and|和|\s)\s*)?)+)"
_Q = "['\"“”‘’「」『』]"

NEGATION = re.compile(
    r"\b(don'?t|do not|dont|not yet|no need|never|wait|hold on|hold off|cancel|stop|later)\b"
    r"|先别|先不|不要|别(?:急着?|着急)?(?:训练|微调|导出|生成|评估|跑|开始|动)|暂时不|暂不|不用|等一下|等等|取消|稍后",
    _I,
)
QUESTION = re.compile(
    r"\b(cost|costs|how long|how much|how many|estimate|would|should|can you|could|will it|what does|what would)\b"
    r"|[?？]|吗|多久|多少|费用|成本|耗时|预估|估计|需要多长",
    _I,
)
TRAIN = re.compile(r"\b(train|training|fine[- ]?tune|finetune|fine[- ]?tuning)\b|训练|微调", _I)
FINETUNE = re.compile(
    r"\b(fine[- ]?tune|finetune|fine[- ]?tuning)\b.*\b(on|with|using|these|this|my|our)\b|微调|"
    r"\btrain\b.*\b(on|with|using)\b.*\b(these|this|my|our|the)\b.*\b(pdfs?|docs?|documents?|files?)\b|"
    r"用(这些|这个|我的)?.*(文档|文件|pdf|PDF).*(训练|微调)",
    _I,
)
START_TRAIN = re.compile(
    r"^\s*(please\s+)?(start\s+)?(train|training)(\s+(now|it|the model|again|please))*\s*[.!]?\s*$|"
    r"\b(start|begin|run|go ahead and|launch|kick off)\s+(the\s+)?(training|train|fine[- ]?tuning)\b|"
    r"开始训练|训练吧|进行训练|启动训练|去训练|训练模型|^\s*训练\s*[。!！]?\s*$",
    _I,
)

RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "help",
        re.compile(
            r"^\s*(help|\?|h|帮助|怎么用|你能做什么|有哪些指令)\s*[?？!！.]?\s*$|\bwhat can you do\b|\bhow do i use\b",
            _I,
        ),
    ),
    (
        "approve_all",
        re.compile(
            r"\b(approve|accept)\s+(them\s+)?(all|everything|every pair)\b|全部通过|都通过|全部批准|全部同意|全部接受|都批准",
            _I,
        ),
    ),
    (
        "edit",
        re.compile(
            r"(?:\b(?:edit|change|fix|rewrite)\b|修改|编辑|改)\s*(?:pair\s*)?#?(\d+)\s*(?:[:：]|to\b|为|成)\s*(.+)",
            _I | re.S,
        ),
    ),
    (
        "approve",
        re.compile(r"(?:\b(?:approve|accept|keep)\b|通过|批准|保留)\s*(?:pairs?\s*)?[:：]?\s*" + _IDS, _I),
    ),
    (
        "reject",
        re.compile(
            r"(?:\b(?:reject|drop|remove|delete|discard)\b|拒绝|删除|去掉|丢弃)\s*(?:pairs?\s*)?[:：]?\s*"
            + _IDS
            + r"(?:[:：]\s*(.+))?",
            _I,
        ),
    ),
    (
        "diagnose",
        re.compile(
            r"\bwhy\b.*?" + _Q + r"(.+?)" + _Q + r"|为什么.*?" + _Q + r"(.+?)" + _Q + r"|"
            r"\bwhy (?:does|do|is|did|can'?t|doesn'?t)\s+(?:the query\s+)?(.+?)\s+(?:miss|fail|not\b|get missed|retrieve)|"
            r"为什么\s*(.+?)\s*(?:检索不到|搜不到|找不到|查不到|没找到|检索失败)",
            _I,
        ),
    ),
    ("show_rejected", re.compile(r"\bshow\b.*\brejected\b|被拒|拒绝的", _I)),
    (
        "show",
        re.compile(
            r"\b(show|list|see|view|display)\b.*\b(pairs?|data|dataset|examples?|questions?)\b|看看数据|查看数据|看数据|显示数据|看看样本|数据集|看看问答对|查看问答对|看看问题",
            _I,
        ),
    ),
    (
        "evaluate",
        re.compile(
            r"\b(evaluate|eval|evaluation|benchmark|how good is)\b|评估|测评|评测|效果如何|效果怎么样", _I
        ),
    ),
    ("calibrate", re.compile(r"\bcalibrat\w*|\bthreshold\b|校准|阈值", _I)),
    (
        "export",
        re.compile(
            r"\bexport\b|\bsave (?:the |my )?(?:tuned |fine-tuned |trained )?model\b|导出|保存模型|模型保存|把模型保存",
            _I,
        ),
    ),
    ("mine", re.compile(r"\bmine\b|\bhard negatives?\b|负例|难负|负样本|容易混淆", _I)),
    ("split", re.compile(r"\bsplit\b|划分|切分数据", _I)),
    ("generate", re.compile(r"\bgenerate\b|\bmake (?:training )?(?:pairs|questions)\b|生成", _I)),
    ("ingest", re.compile(r"\b(ingest|import|add|load|upload)\b|导入|添加|加载|上传", _I)),
    ("status", re.compile(r"\b(status|progress|where are we|state)\b|进度|状态|到哪一步|现在怎么样", _I)),
]

# Setting phrases: derived from the capability table (each remembered setting's name and its declared ``say``
# words), plus the two natural forms that need their own shape ("3 epochs", "use bge-m3").
_VALUE = {
    int: r"(\d+)",
    float: r"(\d[\d.]*(?:e-?\d+)?)",
    bool: r"(on|off|true|false|yes|no|开|关)",
    str: r"([\w./:#-]+)",
}
_SPECIAL: list[tuple[str, re.Pattern[str]]] = [
    ("epochs", re.compile(r"(?:训练\s*)?(\d+)\s*(?:epochs?\b|轮|个\s*epoch)", _I)),
    ("max_steps", re.compile(r"最多\s*(\d+)\s*步", _I)),
    (
        "base_model",
        re.compile(
            r"(?:\b(?:use|switch to|base model|model)\b|用|换成|改用|使用|基座模型)\s*(?:=|:|：|is|to)?\s*"
            r"((?:[\w.-]+/)?(?:bge[\w.-]*|bundled|all-minilm[\w.-]*|e5[\w.-]*|gte[\w.-]*|m3e[\w.-]*|/[\w./-]+))",
            _I,
        ),
    ),
]


def _setting_fields() -> list[Any]:
    from bgetune.capabilities import settings_of, table

    seen, out = set(), []
    for cap in table().values():
        for f in settings_of(cap):
            if f.metadata.get("workspace") and f.name not in seen:
                seen.add(f.name)
                out.append(f)
    return out


def _words_rx(words: list[str]) -> str:
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        esc = re.escape(w).replace(r"\ ", r"[\s_-]*").replace(r"\-", r"[\s_-]*")
        parts.append(rf"\b{esc}\b" if re.match(r"\w", w) and not _CJK.search(w) else esc)
    return "|".join(parts)


def setting_rules() -> list[tuple[str, re.Pattern[str]]]:
    """(setting name, pattern with one value group) for every remembered setting in the table."""
    from bgetune.capabilities import _base_type

    rules = list(_SPECIAL)
    for f in _setting_fields():
        base = _base_type(f.type)
        value = _VALUE.get(base, _VALUE[str])
        words = [f.name, f.name.replace("_", " "), *f.metadata.get("say", ())]
        words = [w for w in words if w not in ("model", "batch", "steps", "步", "轮")] or [f.name]
        sep = r"(?:=|:|：|to\b|of\b|is\b|设为|改为|改成|设成|调成|调到|设置为|为)"
        sep = sep if base is str else sep + "?"  # a free-text value needs "name = value" / "name to value"
        rx = re.compile(rf"(?:{_words_rx(words)})\s*{sep}\s*{value}(?!\w|\.\d)", _I)
        rules.append((f.name, rx))
    return rules


# Words too common to mean "the user named this setting" on their own ("fine-tune the model", "merge it")
_GENERIC_WORDS = {
    "model",
    "merge",
    "window",
    "steps",
    "device",
    "margin",
    "batch",
    "epoch",
    "reranker",
    "base model",
}


def setting_words() -> dict[str, list[str]]:
    """Every word that names a remembered setting, by setting (for 'what did I not understand')."""
    out: dict[str, list[str]] = {}
    for f in _setting_fields():
        words = [f.name.replace("_", " "), *f.metadata.get("say", ())]
        out[f.name] = [w for w in words if len(w) > 2 and w.lower() not in _GENERIC_WORDS]
    return out


# Relative changes: "a smaller learning rate", "more epochs", "学习率小一点"
_RELATIVE = [
    (
        "lr",
        re.compile(
            r"\b(smaller|lower|less|reduce[d]?|decrease[d]?)\s+(?:the\s+)?(?:learning rate|lr)\b|学习率\s*(?:小|低|降)",
            _I,
        ),
        0.5,
    ),
    (
        "lr",
        re.compile(
            r"\b(bigger|larger|higher|more|increase[d]?)\s+(?:the\s+)?(?:learning rate|lr)\b|学习率\s*(?:大|高|升)",
            _I,
        ),
        2.0,
    ),
    ("epochs", re.compile(r"\b(more|additional|extra)\s+epochs?\b|多训练几轮|多几轮|多训几轮", _I), "+1"),
    ("epochs", re.compile(r"\b(fewer|less)\s+epochs?\b|少训练几轮|少几轮", _I), "-1"),
    ("batch_size", re.compile(r"\b(smaller|lower)\s+batch(?:\s*size)?\b|batch\s*size\s*小", _I), 0.5),
    ("batch_size", re.compile(r"\b(bigger|larger)\s+batch(?:\s*size)?\b|batch\s*size\s*大", _I), 2.0),
]
DEFAULTS_FOR_RELATIVE = {"lr": 2e-5, "epochs": 3, "batch_size": 32}


@dataclass
class Plan:
    """What one message asks for: an intent, the tool steps to run, or a direct reply."""

    intent: str
    lang: str = "en"
    steps: list[dict[str, Any]] = field(default_factory=list)
    reply: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def language(text: str) -> str:
    return "zh" if _CJK.search(text or "") else "en"


def _say(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


def _step(tool: str, **args: Any) -> dict[str, Any]:
    return {"tool": tool, "args": args}


def _ids(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


def extract_settings(
    text: str, current: dict[str, Any] | None = None
) -> tuple[dict[str, str], str, list[str]]:
    """Setting changes named in the text, the text with them removed, and notes on what was not understood
    (a setting named without a value we could read)."""
    found: dict[str, str] = {}
    rest = text
    for name, rx in setting_rules():
        if name in found:
            continue
        m = rx.search(rest)
        if m:
            value = next(g for g in m.groups() if g)
            if name == "base_model":
                value = MODEL_ALIASES.get(value.lower().rstrip("."), value.rstrip("."))
            found[name] = value
            rest = rest[: m.start()] + " " + rest[m.end() :]
    from bgetune.capabilities import _base_type

    for f in _setting_fields():  # switches: "use LoRA", "without wise-ft", "开启 LoRA"
        if f.name in found or _base_type(f.type) is not bool:
            continue
        words = _words_rx([f.name.replace("_", " "), *f.metadata.get("say", ())])
        off = re.search(
            rf"(?:\b(?:disable|turn off|without|no|don'?t use)\b|关闭|不用|禁用)\s*(?:the\s+)?(?:{words})",
            rest,
            _I,
        )
        on = re.search(
            rf"(?:\b(?:use|enable|turn on|with|switch on)\b|开启|启用|打开|使用|用)\s*(?:the\s+)?(?:{words})",
            rest,
            _I,
        )
        hit = off or on
        if hit:
            found[f.name] = "false" if off else "true"
            rest = rest[: hit.start()] + " " + rest[hit.end() :]
    current = current or {}
    for name, rx, change in _RELATIVE:
        m = rx.search(rest)
        if not m or name in found:
            continue
        now = current.get(name) or DEFAULTS_FOR_RELATIVE[name]
        try:
            now = float(now)
        except (TypeError, ValueError):
            now = float(DEFAULTS_FOR_RELATIVE[name])
        if isinstance(change, str):
            value = max(1, int(now) + int(change))
        else:
            value = now * change
        found[name] = f"{value:.2g}" if name == "lr" else str(max(1, int(value)))
        rest = rest[: m.start()] + " " + rest[m.end() :]
    notes: list[str] = []
    for name, words in setting_words().items():
        if name in found:
            continue
        for w in words:
            if re.search(_words_rx([w]), rest, _I):
                notes.append(name)
                break
    return found, rest, notes


_PATH = re.compile(
    r"""(?:"([^"\n]+)"|'([^'\n]+)'|“([^”\n]+)”|「([^」\n]+)」|((?:~|\.{1,2})?/[^\s,，;；"'“”]+|[\w.-]+\.(?:pdf|docx|md|markdown|txt|html?|jsonl|csv|tsv|xlsx)\b))""",
    _I,
)


def extract_paths(text: str) -> list[str]:
    """Paths a user typed that exist on disk: bare, quoted (spaces allowed), ~ expanded, relative to the cwd."""
    from pathlib import Path

    out: list[str] = []
    for m in _PATH.finditer(_QUOTED.sub(" ", text or "")):
        raw = next(g for g in m.groups() if g).strip().rstrip(".:：。")
        if not raw or len(raw) > 400:
            continue
        p = Path(raw).expanduser()
        try:
            if p.exists():
                out.append(str(p.resolve()))
        except OSError:
            continue
    return list(dict.fromkeys(out))


HISTORY_EXT = (".csv", ".tsv", ".xlsx", ".xls")
HISTORY = re.compile(
    r"\b(our|my|user|users'?|customer|real|support)\s+(questions?|queries|history|logs?|click\s*logs?|search\s*logs?)\b|"
    r"\bquestion\s*(history|logs?)\b|\bclick\s*logs?\b|\bimport\s+(?:the\s+)?(?:questions|history|csv|xlsx)\b|"
    r"(用户|客服|真实|历史)的?\s*(问题|提问|问答|日志|记录|点击)|问答记录|搜索日志|点击日志",
    _I,
)
GOLDEN = re.compile(
    r"\bgolden\b|\b(test|evaluation|eval)\s+questions\b|"
    r"\bquestions (?:(?:that )?(?:our|my|the) )?(?:users|people|customers|employees|staff|colleagues) (?:really )?(?:ask|asked)\b|"
    r"黄金(问题|集)|测试问题|评测问题|用户常问的问题",
    _I,
)
LABEL = re.compile(
    r"^\s*(?:(\d+(?:\s*[ ,，、]\s*\d+)*)|none|none of (?:these|them)|都不是|没有|skip|跳过)\s*[.。]?\s*$", _I
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
_ORD = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
}


def _pick(text: str) -> int | None:
    m = PICK.search(text)
    if not m:
        return None
    g = (m.group(1) or m.group(2) or "").lower()
    if g in _ORD:
        return _ORD[g]
    digits = re.match(r"\d+", g)
    return int(digits.group()) if digits else None


def _expected_args(text: str) -> dict[str, Any]:
    """The expected answer named in a diagnosis request: text, a chunk id, or 'the second one'."""
    m = EXPECTED.search(text)
    if m:
        val = m.group(1).strip().strip(" '\"“”‘’「」『』").rstrip("?？.。")
        n = _pick(val)
        if n and len(val) < 24:
            return {"pick": n}
        if re.fullmatch(r"[0-9a-f]{12,64}", val):
            return {"expected_id": val}
        return {"expected": val}
    n = _pick(text)
    return {"pick": n} if n else {}


def _questions(text: str) -> list[str]:
    """Questions pasted one per line (numbered or bulleted) after a leading sentence."""
    lines = [re.sub(r"^\s*(?:\d+[.)、]|[-*•])\s*", "", ln).strip() for ln in (text or "").splitlines()]
    lines = [ln for ln in lines[1:] if ln] if len(lines) > 1 else []
    if not lines:
        m = re.search(r"[:：]\s*(.+)$", text or "")
        if m:
            lines = [q.strip() for q in re.split(r"[;；|]", m.group(1)) if q.strip()]
    return [q for q in lines if len(q) >= 3]


def _train_steps(stages: dict[str, Any], *, resume: bool = False) -> list[dict[str, Any]]:
    """The stages the pipeline runs around training, in the table's order, skipping what is already done."""
    from bgetune.stages import AFTER_TRAIN

    pre = []
    resplit = bool(stages.get("unsplit")) or not stages.get("splits")
    if resplit and not resume:
        pre.append(_step("split_dataset"))
    if (resplit or not stages.get("negatives")) and not resume:
        pre.append(_step("mine_negatives"))
    train = _step("train", resume=True) if resume else _step("train")
    return pre + [train] + [_step(name) for name in AFTER_TRAIN]


_PATHLIKE = re.compile(
    r"(?:~|\.{1,2})?/[A-Za-z0-9_./-]*[A-Za-z0-9_]|[A-Za-z0-9_.-]+\.(?:pdf|docx|md|txt|html?|jsonl|csv|tsv|xlsx)\b",
    _I,
)
_QUOTES = re.compile(r"['\"“”‘’「」『』]([^'\"“”‘’「」『』]{2,300})['\"“”‘’「」『』]")
_ZH_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
COST_WORDS = re.compile(
    r"\b(cost|costs|how long|how much time|how many steps|estimate|what would it take|should i train)\b|"
    r"多久|多长时间|费用|成本|耗时|预估|估计|估算|多少步|要多少钱|需要多少",
    _I,
)
MISS_WORDS = re.compile(
    r"\b(miss\w*|fail\w*|not (?:found|returned|come up|coming up|show(?:ing)? up)|doesn'?t (?:return|find|show|come up|retrieve)|"
    r"can'?t find|isn'?t found|never (?:comes|shows) up|no results?|(?:keeps? )?returning the wrong \w+|wrong (?:document|result|page|answer)s?)\b|"
    r"返回(?:的)?(?:是)?错|不对的(?:文档|结果)|检索不到|搜不到|找不到|查不到|没找到|检索失败|搜索不到|没命中|未命中|不出来",
    _I,
)
HELP_WORDS = re.compile(
    r"^\s*(help|\?|h|帮助|怎么用|你能做什么|有哪些指令)\s*[?？!！.]?\s*$|\bwhat can you do\b|\bhow do i use (?:you|this tool|bgetune)\b|"
    r"\bwhat (?:are you|else are you) able to\b|\bwhat (?:can|do) you (?:help|offer)|\bwhat do you do\b|\bwalk me through what\b|"
    r"\bwhat commands\b|\bwhat (?:kinds? of )?things can you\b|\bwhat can (?:you|this assistant|it) (?:do|help)|"
    r"你(?:都)?能(?:帮我)?(?:做|干)(?:些)?什么|能帮我干(?:些什么|啥)|都能(?:帮我)?(?:干|做)(?:啥|什么)|有什么功能|怎么使用|你会什么",
    _I,
)


def _quoted(text: str) -> list[str]:
    return [m.group(1).strip() for m in _QUOTES.finditer(text)]


def _ids_in(text: str) -> list[int]:
    """Pair ids named in a request: digits, also after 第 / # and before 条 / 个."""
    body = _QUOTES.sub(" ", text)
    return [int(x) for x in re.findall(r"(?<![\w.])#?(\d{1,7})(?![\w.])", body)]


def _hold(lang: str) -> Plan:
    return Plan(
        "hold",
        lang,
        reply=_say(
            lang,
            'OK, I won\'t start anything. Review the pairs ("show pairs") or change settings; say "train" when you are ready.',
            "好的，我先不做任何操作。你可以先审核数据（“看看数据”）或修改设置；准备好了就说“开始训练”。",
        ),
    )


def plan_request(
    text: str,
    *,
    files: list[str] | None = None,
    new_files: bool = False,
    stages: dict[str, Any] | None = None,
    llm_configured: bool = False,
    context: dict[str, Any] | None = None,
) -> Plan:
    """Route one user message to a plan. ``new_files``: the message came with attachments; ``context``: what the
    previous turn left open (``intent``: e.g. golden labelling or an import preview waiting for a yes)."""
    stages = stages or {}
    context = context or {}
    text = _QUOTED.sub(" ", text or "").strip()
    lang = language(text)
    files = list(files or [])
    if not text and not new_files:
        return Plan("help", lang, reply=HELP[lang])
    typed = [p for p in _PATHLIKE.findall(_QUOTES.sub(" ", text)) if "/" in p or "." in p]
    history_files = [f for f in files if f.lower().endswith(HISTORY_EXT)]
    history_files += [p for p in typed if p.lower().endswith(HISTORY_EXT) and p not in history_files]
    if HISTORY.search(text) or re.search(r"\blogs?\b|日志", text, _I):
        history_files += [p for p in typed if p.lower().endswith(".jsonl") and p not in history_files]
    doc_files = [f for f in files if f not in history_files]
    typed_docs = [p for p in typed if not p.lower().endswith(HISTORY_EXT) and p.startswith(("/", "~", "."))]
    last = context.get("intent")

    # ---- answers to what the previous turn asked
    if last == "golden_label":
        if re.match(r"^\s*(skip|跳过)", text, _I):
            return Plan("golden_label", lang, steps=[_step("golden_candidates")])
        if re.match(
            r"^\s*(none( of (these|them))?( is (right|correct))?|neither|都不是|都不对|没有(对的)?)\s*[.。!！]?\s*$",
            text,
            _I,
        ):
            return Plan(
                "golden_label", lang, steps=[_step("golden_label", none=True), _step("golden_candidates")]
            )
        nums = [int(x) for x in re.findall(r"\d+", text)] + [
            _ZH_NUM[c] for c in re.findall(r"第\s*([一二三四五六七八九十])", text)
        ]
        if nums and len(text) < 40:
            return Plan(
                "golden_label", lang, steps=[_step("golden_label", picks=nums), _step("golden_candidates")]
            )
    if (
        last == "history_preview"
        and context.get("path")
        and (
            CONFIRM.match(text)
            or (
                len(text) < 60
                and re.search(
                    r"\b(looks (?:right|good|fine)|go ahead|correct|confirm\w*|yes|ok)\b|没问题|就这样|确认|好的|可以|导入吧",
                    text,
                    _I,
                )
                and not NEGATION.search(text)
            )
            or re.match(
                r"^\s*(yes|ok|okay|sure|好的?|可以|确认|没问题)\b[,，、 ]*(please |go ahead and )?(import|导入|do it)",
                text,
                _I,
            )
        )
    ):
        return Plan("history_import", lang, steps=[_step("import_history", path=context["path"])])
    if last == "diagnose" and context.get("miss_id"):
        mid = context["miss_id"]
        if re.match(r"^\s*(none( of (these|them))?|neither|都不是|都不对|没有)\s*[.。!！]?\s*$", text, _I):
            return Plan("fix", lang, steps=[_step("apply_fix", miss_id=mid, action="no_answer")])
        if re.search(r"\bgolden\b|黄金", text, _I) and re.search(r"\badd\b|加|放", text, _I):
            return Plan("fix", lang, steps=[_step("apply_fix", miss_id=mid, action="add_golden")])
        if re.search(r"\btrain(ing)?\b|训练", text, _I) and re.search(r"\badd\b|加|放|作为", text, _I):
            return Plan("fix", lang, steps=[_step("apply_fix", miss_id=mid, action="add_training_pair")])
        if re.search(
            r"\bapply (?:that|the|this) fix\b|\bdo (?:that|it)\b|\bfix it\b|按这个修复|就这么修|修复吧|应用(?:这个)?修复",
            text,
            _I,
        ):
            return Plan(
                "fix",
                lang,
                steps=[_step("apply_fix", miss_id=mid, action=context.get("action") or "suggested")],
            )
    if (
        last == "diagnose"
        and (PICK.search(text) or re.search(r"第\s*[一二三四五12345]\s*(个|条)", text))
        and len(text) < 40
    ):
        return Plan(
            "diagnose",
            lang,
            steps=[_step("diagnose", query=context.get("query", ""), **_expected_args(text))],
        )

    # ---- free text inside: diagnosis, edits
    m = dict(RULES)["diagnose"].search(text)
    quoted = _quoted(text)
    if (
        not m
        and quoted
        and (MISS_WORDS.search(_QUOTES.sub(" ", text)) or re.search(r"\bdiagnos\w*|诊断", text, _I))
        and not re.search(r"\bgolden\b|黄金", text, _I)
    ):
        m_q = _QUOTES.search(text)
        query = quoted[0]
        return Plan(
            "diagnose",
            lang,
            steps=[_step("diagnose", query=query, **_expected_args(text[m_q.end() :]))],
            data={"query": query},
        )
    if m:
        query = next(g for g in m.groups() if g).strip(" '\"“”‘’「」『』")
        exp = _expected_args(text[m.end() :])
        return Plan("diagnose", lang, steps=[_step("diagnose", query=query, **exp)], data={"query": query})
    m_edit = re.search(
        r"\b(?:edit|change|fix|rewrite|reword)\s+(?:the\s+)?(?:query\s+of\s+)?(?:pair\s*)?#?(\d+)(?:'s query)?\s*(?:[:：]|to\b)\s*(.+)|"
        r"(?:把|修改)?(?:第\s*)?(?:训练对|问答对)?\s*#?(\d+)\s*(?:号|条|个)?\s*(?:训练对|问答对)?\s*的?(?:问题|查询)?\s*(?:改成|改为|修改为|换成|为)\s*[:：]?\s*(.+)|"
        r"(?:修改|编辑)\s*#?(\d+)\s*[:：]\s*(.+)",
        text,
        _I | re.S,
    )
    if m_edit and not re.search(r"\bgolden\b|黄金", text, _I):
        pid = next(g for g in (m_edit.group(1), m_edit.group(3), m_edit.group(5)) if g)
        new_q = next(g for g in (m_edit.group(2), m_edit.group(4), m_edit.group(6)) if g)
        return Plan(
            "edit",
            lang,
            steps=[_step("edit_pair", id=int(pid), query=new_q.strip().strip(" '\"“”‘’「」『』"))],
        )

    # ---- interpretations and estimates never run anything costly: before the negation check
    if len(quoted) >= 2 and re.search(
        r"\bscore\b|\brelevan\w*|\bhow (?:close|similar|well)\b|\bmatch\w*|\bsimilarity\b|相关|打分|打个分|相似度|得分|匹配",
        text,
        _I,
    ):
        return Plan("score", lang, steps=[_step("score", query=quoted[0], passage=quoted[1])])
    if re.search(
        r"诊断了哪些|诊断过(?:的)?(?:哪些)?|\bqueries you'?ve diagnosed\b|\bdiagnosed so far\b", text, _I
    ):
        return Plan("misses", lang, steps=[_step("list_misses")])
    evaluated = bool((stages.get("last_runs") or {}).get("eval"))
    if evaluated and re.search(
        r"\bhow good\b|\bhow well\b|\bis it (?:any )?better\b|\blast (?:evaluation|eval|results?)\b|\bwhat did the (?:last )?eval\w*|"
        r"\binterpret\b|\bresults? so far\b|\bwhat the (?:evaluation |eval )?results mean\b|\bno need to re-?run\b|\bwithout re-?running\b|\b(?:explain|summari[sz]e) the results\b|\bresults of the last\b|效果(?:如何|怎么样)|现在.*(好|效果)|上次.*(评估|结果)|解读",
        text,
        _I,
    ):
        return Plan("results", lang, steps=[_step("show_results")])
    if COST_WORDS.search(text) and (TRAIN.search(text) or re.search(r"\b(steps|device)\b|步|设备", text, _I)):
        return Plan("estimate", lang, steps=[_step("estimate_training")])

    mentions_train = bool(TRAIN.search(text))
    if NEGATION.search(text) and (
        mentions_train
        or re.search(r"\b(export\w*|generat\w*|evaluat\w*|ship\w*)\b|导出|生成|评估|上线", text, _I)
    ):
        return _hold(lang)

    settings, rest, not_understood = extract_settings(text, stages.get("settings"))
    steps = [_step("set_setting", name=k, value=v) for k, v in settings.items()]
    data: dict[str, Any] = {"not_understood": not_understood} if not_understood else {}

    def plan(intent: str, more: list[dict[str, Any]], **extra: Any) -> Plan:
        return Plan(intent, lang, steps=steps + more, data=data | extra)

    if HELP_WORDS.search(rest) and not steps:
        return Plan("help", lang, reply=HELP[lang])

    # ---- the golden set: edits, misses, evaluation
    m_gedit = re.search(
        r"\b(?:rename|reword|edit|change)\s+golden\s+(?:question\s+)?#?(\d+)\s*(?:[:：]|to\b)\s*(.+)$|"
        r"(?:修改|把)?黄金问题\s*#?(\d+)\s*(?:[:：]|改成|改为)\s*(.+)$",
        text,
        _I,
    )
    if m_gedit:
        qid = m_gedit.group(1) or m_gedit.group(3)
        new_q = (m_gedit.group(2) or m_gedit.group(4)).strip().strip(" '\"“”‘’「」『』")
        return plan("golden_edit", [_step("golden_edit", query_id=int(qid), query=new_q)])
    m_rm = re.search(
        r"\b(?:remove|delete|drop)\s+golden\s+(?:question\s+)?#?(\d+)|(?:删除|删掉|去掉)\s*(?:第\s*)?#?(\d+)\s*(?:个|条)?\s*黄金问题|删除黄金问题\s*#?(\d+)",
        text,
        _I,
    )
    if m_rm:
        return plan(
            "golden_edit",
            [_step("golden_edit", query_id=int(next(g for g in m_rm.groups() if g)), remove=True)],
        )
    if re.search(
        r"\b(which|what)\b.*\b(still )?miss|哪些.*(检索不到|找不到|没找到|没命中|未命中)|按原因分组|(?:答|找|检索)不对的黄金问题|还(?:是)?(?:没|答不)(?:命中|对)",
        rest,
        _I,
    ):
        return plan("diagnose_golden", [_step("diagnose_golden")])
    if re.search(
        r"^\s*(misses|show misses|list (?:the )?misses)\b|\bqueries you'?ve diagnosed\b|\bdiagnosed (?:so far|queries)\b|"
        r"失败的问题|漏检列表|诊断过的",
        rest,
        _I,
    ):
        return plan("misses", [_step("list_misses")])
    if context.get("miss_id") and re.search(
        r"\badd (?:it|this|that)?\s*(?:as|to)\s*(?:a\s+)?(training pair|training set|train)|加(?:成|入|到)?训练",
        rest,
        _I,
    ):
        return plan("fix", [_step("apply_fix", miss_id=context["miss_id"], action="add_training_pair")])
    if context.get("miss_id") and re.search(
        r"\badd (?:it|this|that)?\s*to (?:the )?golden|加(?:入|到)?黄金", rest, _I
    ):
        return plan("fix", [_step("apply_fix", miss_id=context["miss_id"], action="add_golden")])

    # ---- decisions, models, serving
    if re.search(
        r"\bwhich model (?:will|did|would|should) (?:you|we) ship\b|\bship(?:ping)? decision\b|\bgood enough to ship\b|"
        r"\bstick with the base\b|\bworth shipping\b|发布哪个模型|发布决策|上线哪个模型|值得上线|该上线|发布哪个",
        rest,
        _I,
    ):
        return plan("ship_decision", [_step("ship_decision")])
    if re.search(
        r"\bcompare\b.*\bmodels?\b|\bcandidate\b.*\bmodels?\b|\bwhich (?:of the )?(?:candidate )?(?:base )?models? (?:ranks|is best|works best|does best)|"
        r"比较.*(模型|bundled|bge)|候选.*模型|哪个.*模型.*(最适合|最好|更好)|对比.*(几个|候选).*模型",
        text,
        _I,
    ) or re.search(r"\bcompare\b.*\b(bge|bundled|m3e|e5|gte)", text, _I):
        names = re.findall(
            r"(?:[\w.-]+/)?(?:bge[\w.-]*|bundled|tuned|all-minilm[\w.-]*|m3e[\w.-]*|e5[\w.-]*|gte[\w.-]*|openai:\S+)",
            text,
            _I,
        )
        models = [MODEL_ALIASES.get(n.lower(), n) for n in names] or ["bundled", "tuned"]
        return Plan("compare", lang, steps=[_step("compare_models", models=list(dict.fromkeys(models)))])
    if re.search(
        r"\bwhich (?:base )?model\b.*\b(use|using|tune|tuning|train|training)\b|\bwhy did you (?:pick|choose)\b.*\bmodel\b|"
        r"\bwhat (?:base )?model are you\b|用的是哪个.*模型|用哪个基座|为什么选(?:这个|了)?.*模型|哪个基础模型|(?:底座|基座|基础)模型是哪个",
        rest,
        _I,
    ):
        return plan("base_model_info", [_step("base_model_info")])
    if re.search(r"\bship (?:it )?anyway\b|\bexport (?:it )?anyway\b|仍然发布|还是发布|坚持发布", rest, _I):
        return plan("export", [_step("export_model", ship_anyway=True)])
    if re.search(r"\bonnx\b", rest, _I):
        q = "none" if re.search(r"\b(fp32|no quantiz\w*|without quantiz\w*)\b|不量化", rest, _I) else "int8"
        return plan("export_onnx", [_step("export_onnx", quantize=q)])
    if len(quoted) >= 2 and re.search(
        r"\bscore\b|\brelevan\w*|\bhow (?:close|similar)\b|\bsimilarity\b|相关|打分|打个分|相似度|得分",
        text,
        _I,
    ):
        return plan("score", [_step("score", query=quoted[0], passage=quoted[1])])
    if re.search(
        r"\bserve\b|\bhow do i use it\b|\bdeploy\b|\bendpoint\b|\bopenai[- ]compatible\b|\bhttp api\b|部署|怎么用这个模型|启动服务|接口|上线服务|向量服务|怎么调用",
        rest,
        _I,
    ):
        return plan("serve", [_step("serve_model")])
    if re.search(
        r"\bforget\w*|\bguard\b|\bgeneral (?:ability|domain|knowledge)\b|\bout[- ]of[- ]domain\b|遗忘|通用领域|通用能力|领域外",
        rest,
        _I,
    ):
        return plan("guard", [_step("forgetting_guard")])
    if re.search(
        r"\b(export|write out|dump|save)\b.*\b(training data|pairs|jsonl|flagembedding)\b|\bflagembedding\b.*\b(format|jsonl)\b|"
        r"导出.*(训练数据|训练对|问答对|jsonl)|按.*格式导出|flagembedding.*格式",
        rest,
        _I,
    ):
        return plan("export_data", [_step("export_data")])

    # ---- real question history
    if history_files and not GOLDEN.search(rest):
        return plan(
            "history_preview", [_step("preview_history", path=history_files[0])], path=history_files[0]
        )
    if HISTORY.search(rest) and not GOLDEN.search(rest) and not files:
        return Plan(
            "need_history",
            lang,
            reply=_say(
                lang,
                "Attach your question history (CSV, TSV, XLSX or JSONL export: questions, and the answer, answer "
                "title, id or url they led to; click/useful columns are used too). I'll show the columns I detect "
                "before anything is written.",
                "请上传问答历史（CSV、TSV、XLSX 或 JSONL 导出：问题，以及对应的答案、答案标题、id 或链接；"
                "点击/有用等列也会用上）。写入之前我会先给你看识别出的列。",
            ),
        )

    # ---- golden questions
    if GOLDEN.search(rest) or (history_files and GOLDEN.search(text)):
        qs = _questions(text)
        if history_files:
            return plan(
                "golden_add", [_step("golden_add", path=history_files[0]), _step("golden_candidates")]
            )
        if qs:
            return plan("golden_add", [_step("golden_add", questions=qs), _step("golden_candidates")])
        if quoted and re.search(r"\badd\b|加", text, _I):
            return plan("golden_add", [_step("golden_add", questions=quoted), _step("golden_candidates")])
        if re.search(r"\b(list|show|how many)\b|看看|列出|多少|哪些", rest, _I) and not re.search(
            r"\b(next|to label)\b|下一个", rest, _I
        ):
            return plan("golden_list", [_step("golden_list")])
        if re.search(r"\b(label|next)\b|标注", rest, _I):
            return plan("golden_label", [_step("golden_candidates")])
        if re.search(
            r"\b(eval\w*|score|measure|compare|versus|vs|against)\b|\bhow does\b.*\bdo\b|评估|评测|对比|比较",
            rest,
            _I,
        ):
            return plan("evaluate_golden", [_step("evaluate_golden")])
        if re.search(r"\b(list|show)\b|看看|列出", rest, _I):
            return plan("golden_list", [_step("golden_list")])
        return Plan(
            "need_golden",
            lang,
            reply=_say(
                lang,
                "Paste a few dozen questions your users really ask, one per line (or attach a txt/CSV/XLSX). For each "
                "I'll show the base model's top passages and a keyword (BM25) list; you pick the right ones "
                '("1 3", or "none"). These questions then decide which model ships.',
                "请粘贴几十个用户真实会问的问题，每行一个（或上传 txt/CSV/XLSX）。每个问题我会列出基座模型和关键词（BM25）"
                "找到的段落，由你选出正确的（“1 3”，或“都不是”）。之后用这些问题决定发布哪个模型。",
            ),
        )

    if re.search(r"^\s*(?:continue|keep) labell?ing\b|继续标注|标注下一个|下一个黄金问题", rest, _I):
        return plan("golden_label", [_step("golden_candidates")])

    # ---- data stages named before training words (they often mention "train")
    if re.search(r"\bsplit\b|划分|切分", rest, _I):
        return plan("split", [_step("split_dataset")])
    if re.search(r"\bmine\b|\bhard negatives?\b|负例|难负|负样本|容易混淆", rest, _I):
        return plan("mine", [_step("mine_negatives")])
    if re.search(
        r"^\s*(?:re-?run the )?filters?\b|\bfilter (?:the )?(?:proposed )?pairs\b|\bclean (?:up )?(?:the )?(?:proposed )?pairs\b|"
        r"\b(?:drop|remove) (?:the )?(?:near[- ])?duplicates\b|\bfilter\b|过滤|筛掉|筛选|去重",
        rest,
        _I,
    ):
        return plan("filter", [_step("filter_pairs")])
    if re.search(
        r"\b(dataset )?summar\w*|\bdataset overview\b|\bhow many pairs\b|\bwhy were (?:some|they|pairs) rejected\b|"
        r"数据概况|数据汇总|概况|一共有多少|被拒的原因|多少训练对|多少问答对|总结.*数据|数据集的情况",
        rest,
        _I,
    ):
        return plan("show", [_step("show_dataset")])
    if re.search(
        r"\b(generate|create|write|make)\b.*\b(questions|queries|pairs|training data)\b|\bsynthetic\b|生成|出(?:几|一些|些)?个?问题|造点|造一些|出题",
        rest,
        _I,
    ) and not re.search(r"\bexport\b|导出", rest, _I):
        mode = (
            "offline" if re.search(r"offline|离线", rest, _I) else ("auto" if llm_configured else "offline")
        )
        return plan("generate", [_step("generate_pairs", mode=mode), _step("show_dataset")])

    gen_mode = "auto" if llm_configured else "offline"
    ready = bool((stages.get("pairs") or {}).get("approved") or (stages.get("pairs") or {}).get("edited"))
    finetune_words = FINETUNE.search(rest)
    go = re.search(r"\b(go ahead|now|start|begin|let'?s)\b|开始|现在|吧", rest, _I)
    if finetune_words and ready and not doc_files and not typed_docs and go:
        return plan("train", _train_steps(stages))
    if (finetune_words and not re.search(r"微调(好|后|过)的", rest)) or (new_files and mentions_train):
        docs = doc_files
        if not docs and not stages.get("documents") and not typed_docs:
            return Plan(
                "need_files",
                lang,
                reply=_say(
                    lang,
                    "Which documents should I learn from? Attach PDF, DOCX, Markdown, TXT, HTML or JSONL files, or type "
                    'their path in the message (e.g. "fine-tune bge on ./docs"), then say "fine-tune".',
                    "要用哪些文档？请上传 PDF、DOCX、Markdown、TXT、HTML 或 JSONL 文件，或在消息里写上路径"
                    "（如“用 ./docs 微调bge”），然后说“微调”。",
                ),
            )
        pre = [_step("ingest")] if docs else ([_step("ingest", paths=typed_docs)] if typed_docs else [])
        return plan(
            "finetune",
            pre + [_step("base_model_info"), _step("generate_pairs", mode=gen_mode), _step("show_dataset")],
        )

    if re.search(r"\bresume\b|\bcontinue (?:the )?training\b|继续训练|恢复训练", rest, _I):
        return plan("train", _train_steps(stages, resume=True))
    if re.search(r"\bretrain with (?:my )?fixes\b|用.*修正.*重新训练", rest, _I):
        return plan("train", _train_steps(stages | {"unsplit": 1}))
    if START_TRAIN.search(rest) or re.search(
        r"\btrain\b|\bfine[- ]?tune (?:it|the model)\b|开始微调|微调吧", rest, _I
    ):
        return plan("train", _train_steps(stages))

    m_more = re.search(r"^\s*(show more|more|next|next page|下一页|更多|继续看)\s*[.!。]?\s*$", rest, _I)
    if m_more:
        view = stages.get("last_pairs_view") or {}
        f = {k: v for k, v in (view.get("filters") or {}).items() if v}
        limit = int(view.get("limit") or 10)
        return plan(
            "show", [_step("show_pairs", **f, limit=limit, offset=int(view.get("offset") or 0) + limit)]
        )

    # ---- review decisions: the verb and the ids, in either order
    if re.search(
        r"\b(approve|accept)\b.*\b(all|everything|every pair)\b|全部通过|都通过|全部批准|全部同意|全部接受|都批准",
        rest,
        _I,
    ):
        return plan("approve_all", [_step("approve_all_pairs")])
    ids = _ids_in(rest)
    if ids and re.search(
        r"\b(reject|drop|discard|remove|delete)\b|拒绝|拒掉|删除|删掉|去掉|丢弃|不要", rest, _I
    ):
        why = None
        mw = re.search(r"[:：]\s*(.+)$", rest)
        if mw and not re.search(r"\d", mw.group(1)):
            why = mw.group(1).strip()
        return plan("reject", [_step("reject_pairs", ids=ids, why=why)])
    if ids and re.search(r"\b(approve|accept|keep)\b|通过|批准|保留", rest, _I):
        return plan("approve", [_step("approve_pairs", ids=ids)])

    if re.search(
        r"\b(show|list|see|view|display)\b.*\b(pairs?|data|dataset|examples?|questions?|rejected)\b|看看|查看|显示|列出|被拒|拒绝的",
        rest,
        _I,
    ) and re.search(
        r"\b(pairs?|data|dataset|examples?|questions?|rejected)\b|数据|样本|问答对|训练对|问题|被拒|拒绝",
        rest,
        _I,
    ):
        rejected = bool(re.search(r"\brejected\b|被拒|拒绝的", rest, _I))
        return plan("show", [_show_step(rest, rejected)])

    for intent, rx in RULES:
        m = rx.search(rest)
        if not m:
            continue
        if intent == "evaluate":
            return plan(intent, [_step("evaluate")])
        if intent == "calibrate":
            return plan(intent, [_step("calibrate")])
        if intent == "export":
            return plan(intent, [_step("export_model")])
        if intent == "ingest" and (doc_files or typed_docs):
            return plan(intent, [_step("ingest")] if doc_files else [_step("ingest", paths=typed_docs)])
        if intent == "ingest" and re.search(r"\bingest\b|加载文档|导入文档", rest, _I):
            return plan(intent, [_step("ingest")])  # the tool says what to attach
        if intent == "status":
            return plan(intent, [_step("status")])
    if steps:
        return Plan("settings", lang, steps=steps, data=data)
    if new_files:
        return Plan("ingest", lang, steps=[_step("ingest")])
    if not_understood:
        return Plan("settings", lang, steps=[], data=data, reply=_not_understood(not_understood, lang))
    return Plan(
        "clarify",
        lang,
        reply=_say(
            lang,
            'I\'m not sure what you mean. What would you like me to do? Try "fine-tune bge on these PDFs", "show pairs", "approve all", '
            '"epochs 3", "train", "evaluate" or "status" — or say "help".',
            "我没太明白你的意思，你想让我做什么？可以试试“用这些PDF微调bge模型”、“看看数据”、“全部通过”、“训练3轮”、“开始训练”、"
            "“评估”或“进度”，也可以说“帮助”。",
        ),
    )


_REASONS = re.compile(
    r"\b(too_short|too_long|duplicate|near_duplicate|round_trip_failed|copies_passage|refusal|context_missing|"
    r"leak\w*|keyword\w*|judge\w*|[a-z]+_[a-z_]+)\b",
    _I,
)


def _show_step(text: str, rejected: bool) -> dict[str, Any]:
    """show_pairs with what the user asked for: how many, which status, reason, document, source."""
    args: dict[str, Any] = {}
    n = re.search(
        r"\b(?:show|list|see)\s+(?:me\s+)?(?:the\s+)?(?:first\s+|next\s+)?(\d+)|看\s*(\d+)\s*(?:个|条)",
        text,
        _I,
    )
    args["limit"] = min(500, int(n.group(1) or n.group(2))) if n else 10
    if rejected:
        args["status"] = "rejected"
    elif re.search(r"\bapproved\b|已通过", text, _I):
        args["status"] = "approved"
    elif re.search(r"\bproposed\b|\bpending\b|待审", text, _I):
        args["status"] = "proposed"
    r = re.search(r"\b(?:because|for|reason)\s+(?:of\s+)?([a-z_]{4,})\b|原因\s*[:：]?\s*([a-z_]+)", text, _I)
    if r:
        args["reason"] = (r.group(1) or r.group(2)).lower()
    d = re.search(
        r"\b(?:from|in|of)\s+(?:the\s+)?(?:document\s+|doc\s+|file\s+)?([\w.-]+\.(?:pdf|docx|md|txt|html?|jsonl))\b|来自\s*([\w.-]+)",
        text,
        _I,
    )
    if d:
        args["document"] = d.group(1) or d.group(2)
    src = re.search(r"\b(?:from|source)\s+(history|import|offline|llm|diagnosis)\b|来自(历史|导入)", text, _I)
    if src:
        args["source"] = {"历史": "history", "导入": "import"}.get(src.group(2) or "", src.group(1) or "")
    return _step("show_pairs", **args)


def _not_understood(names: list[str], lang: str) -> str:
    listed = ", ".join(names)
    return _say(
        lang,
        f'I did not understand what value you want for: {listed}. Give it as a number, e.g. "{names[0].replace("_", " ")} 3" '
        f'(say "help" for the settings I know).',
        f"我没听懂你想把 {listed} 设成多少。请直接给数值，例如“{names[0]} 3”（说“帮助”查看可设置项）。",
    )


# ---------------------------------------------------------------------------------------------- replies
def result_text(tool: str, res: Any, lang: str) -> str:
    """What a tool's result says, from its declared result type (the same text the CLI prints)."""
    from bgetune.capabilities import table

    cap = table().get(tool)
    if cap is None or cap.result is None or not isinstance(res, dict):
        return "" if res in (None, {}) else str(res)[:500]
    try:
        obj = cap.result.of(res) if hasattr(cap.result, "of") else cap.result(**res)
        return str(obj.text(lang))
    except Exception:  # noqa: BLE001 - a result we cannot rebuild is shown as data
        return str(res)[:500]


def compose_reply(
    plan_intent: str,
    lang: str,
    results: list[tuple],
    stages: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> str:
    """The final answer of an offline turn from (tool, result, ok[, text]) of each step run in it."""
    lines: list[str] = []
    ok_all = True
    for item in results:
        tool, res, ok = item[0], item[1], item[2]
        text = item[3] if len(item) > 3 else None
        if not ok:
            ok_all = False
            lines.append(_say(lang, f"{tool} failed: {res}", f"{tool} 失败：{res}"))
            continue
        lines.append(text or result_text(tool, res, lang))
    if data and data.get("not_understood"):
        lines.append(_not_understood(data["not_understood"], lang))
    nxt = next_hint(plan_intent, lang, stages, ok_all, [r[0] for r in results])
    if nxt:
        lines.append(nxt)
    return "\n".join(x for x in lines if x) or _say(lang, "Done.", "完成。")


def status_text(s: dict[str, Any], lang: str) -> str:
    from bgetune.stages import StatusResult

    return StatusResult.of(s).text(lang)


def next_hint(intent: str, lang: str, stages: dict[str, Any], ok: bool, ran: list[str] | None = None) -> str:
    """What to do next, from what the workspace holds now (never the step that just ran)."""
    ran = ran or []
    if not ok:
        return _say(
            lang,
            'Fix the problem above and try again, or say "status" to see where things stand.',
            "请先解决上面的问题再试，或说“进度”查看当前状态。",
        )
    pairs = stages.get("pairs") or {}
    runs = stages.get("last_runs") or {}
    golden = (stages.get("golden") or {}).get("labeled", 0)
    proposed = pairs.get("proposed", 0)
    approved = pairs.get("approved", 0) + pairs.get("edited", 0)
    if intent in ("finetune", "generate", "show", "history_import") and proposed:
        return _say(
            lang,
            f'{proposed} pairs wait for your review. Say "show 30 pairs", "show rejected", "approve all", '
            '"approve 3 5", "reject 4" or "edit 7: better query"; then "train".',
            f"有 {proposed} 个问答对等你审核。可以说“看30个”、“看看被拒的”、“全部通过”、“通过 3 5”、“拒绝 4”或"
            "“修改 7：更好的问题”；然后说“开始训练”。",
        )
    if intent in ("approve_all", "approve", "reject", "edit", "settings") and approved:
        extra = (
            ""
            if golden >= 20
            else _say(
                lang,
                ' Tip: paste 20+ real questions your users ask ("golden questions: ...") so the ship decision uses them.',
                "提示：粘贴 20 个以上用户真实问题（“黄金问题：……”），发布决策就会以它们为准。",
            )
        )
        return _say(
            lang,
            'When the data looks right, say "train" (I\'ll show the estimate and wait for your approval).'
            + extra,
            "数据没问题后说“开始训练”（我会给出预估并等你批准）。" + extra,
        )
    if intent == "train" and "export_model" in ran:
        return _say(
            lang,
            'Next: "why does \'a query\' miss?" to inspect a failure, "serve it" for an OpenAI-compatible endpoint, '
            'or "which of my questions still miss?".',
            "下一步：“为什么'某个问题'检索不到”查看失败原因，“部署”启动兼容 OpenAI 的接口，或“哪些问题还检索不到？”。",
        )
    if intent == "evaluate" and not runs.get("export"):
        return _say(
            lang,
            'Say "export" to save the model, or "calibrate" for a threshold.',
            "说“导出”保存模型，或“校准”得到阈值。",
        )
    if intent == "calibrate" and not runs.get("export"):
        return _say(lang, 'Say "export" to save the model with its threshold.', "说“导出”保存模型及其阈值。")
    if intent == "export":
        return _say(
            lang, 'Say "serve it" to get an endpoint and code snippets.', "说“部署”获取接口地址和代码示例。"
        )
    if intent == "golden_add" or intent == "golden_label":
        return ""
    return ""
