"""Offline mode: a deterministic intent router for common requests in English and Chinese.

``plan_request`` turns one user message into an intent and a list of tool steps (the same registered tools,
through the same approval gate as the LLM); ``compose_reply`` writes the answer from the steps' results.
It never acts on a request it is unsure of: it asks instead. Negated or questioning mentions of costly
actions ("don't train yet", "先别训练", "what does training cost?") never become the action.
"""

from __future__ import annotations

import re
from typing import Any

from bgetune.agent.routes import (
    _PATHLIKE,
    EARLY,
    FOLLOWUPS,
    HELP,
    HISTORY,
    HISTORY_EXT,
    MODEL_ALIASES,
    QUOTES,
    ROUTES,
    Msg,
    Plan,
    Route,
    golden_tip,
    help_plan,
    nearest,
    review_hint,
    step,
)
from bgetune.core.i18n import has_cjk, reply_lang, say

__all__ = [
    "HELP",
    "OFFLINE_NOTE",
    "Plan",
    "compose_reply",
    "extract_paths",
    "extract_settings",
    "plan_request",
]

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


_I = re.I
# text the user pasted inside a fenced or triple-quoted block, or as "> " quote lines: document text, never commands
_QUOTED = re.compile(r"(\"\"\"|\'\'\'|```).*?(?:\1|\Z)|^[ \t]*>[^\n]*$", re.S | re.M)
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
    ("max_steps", re.compile(r"最多\s*(?:跑|训练)?\s*(\d+)\s*步", _I)),
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
        parts.append(rf"\b{esc}\b" if re.match(r"\w", w) and not has_cjk(w) else esc)
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
    "style",  # "show the style report" names the report, not the generate setting `style`
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


def _message(
    text: str, files: list[str], new_files: bool, stages: dict[str, Any], context: dict[str, Any], llm: bool
) -> Msg:
    """The message as the routes read it: its language, quoted strings, and which files are documents and
    which are question histories (attached or typed)."""
    typed = [p for p in _PATHLIKE.findall(QUOTES.sub(" ", text)) if "/" in p or "." in p]
    history = [f for f in files if f.lower().endswith(HISTORY_EXT)]
    history += [p for p in typed if p.lower().endswith(HISTORY_EXT) and p not in history]
    if HISTORY.search(text) or re.search(r"\blogs?\b|日志", text, _I):
        history += [p for p in typed if p.lower().endswith(".jsonl") and p not in history]
    return Msg(
        text=text,
        lang=reply_lang(text),
        files=files,
        new_files=new_files,
        stages=stages,
        context=context,
        llm=llm,
        rest=text,
        quoted=[m.group(1).strip() for m in QUOTES.finditer(text)],
        typed=typed,
        history_files=history,
        doc_files=[f for f in files if f not in history],
        typed_docs=[
            p for p in typed if not p.lower().endswith(HISTORY_EXT) and p.startswith(("/", "~", "."))
        ],
    )


def _first(routes: list[Route], msg: Msg) -> Plan | None:
    for route in routes:
        plan = route.match(msg)
        if plan is not None:
            return plan
    return None


def plan_request(
    text: str,
    *,
    files: list[str] | None = None,
    new_files: bool = False,
    stages: dict[str, Any] | None = None,
    llm_configured: bool = False,
    context: dict[str, Any] | None = None,
) -> Plan:
    """Route one user message to a plan through the route tables (:mod:`bgetune.agent.routes`).
    ``new_files``: the message came with attachments; ``context``: what the previous turn left open (its
    ``intent``: a golden labelling session, an import preview waiting for a yes, a diagnosis)."""
    text = _QUOTED.sub(" ", text or "").strip()
    msg = _message(text, list(files or []), new_files, stages or {}, context or {}, llm_configured)
    if not text and not new_files:
        return help_plan(msg.lang)
    plan = _first(FOLLOWUPS.get(msg.last or "", []), msg) or _first(EARLY, msg)
    if plan is not None:
        return plan
    settings, msg.rest, not_understood = extract_settings(text, msg.stages.get("settings"))
    msg.steps = [step("set_setting", name=k, value=v) for k, v in settings.items()]
    msg.data = {"not_understood": not_understood} if not_understood else {}
    plan = _first(ROUTES, msg)
    if plan is not None:
        return plan
    if msg.steps:
        return Plan("settings", msg.lang, steps=msg.steps, data=msg.data)
    if new_files:
        return Plan("ingest", msg.lang, steps=[step("ingest")])
    if not_understood:
        return Plan("settings", msg.lang, data=msg.data, reply=_not_understood(not_understood, msg.lang))
    return Plan("clarify", msg.lang, reply=_clarify(text, msg.lang))


def _clarify(text: str, lang: str) -> str:
    """Not understood: offer the nearest declared request (typos), else the usual ones."""
    near = nearest(text)
    if near:
        return say(
            lang,
            f'I\'m not sure what you mean. Did you mean "{near}"? (Say "help" for the rest.)',
            f"我没太明白你的意思。你是想说“{near}”吗？（说“帮助”查看全部指令。）",
        )
    return say(
        lang,
        'I\'m not sure what you mean. What would you like me to do? Try "fine-tune bge on these PDFs", "show pairs", '
        '"approve all", "epochs 3", "train", "evaluate" or "status" — or say "help".',
        "我没太明白你的意思，你想让我做什么？可以试试“用这些PDF微调bge模型”、“看看数据”、“全部通过”、“训练3轮”、“开始训练”、"
        "“评估”或“进度”，也可以说“帮助”。",
    )


def _not_understood(names: list[str], lang: str) -> str:
    listed = ", ".join(names)
    return say(
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
            lines.append(say(lang, f"{tool} failed: {res}", f"{tool} 失败：{res}"))
            continue
        lines.append(text or result_text(tool, res, lang))
    undo = (data or {}).get("undo") or {}
    if plan_intent == "undo" and undo.get("kind") == "setting" and ok_all:
        lines.append(
            say(
                lang,
                f"Undone: {undo['name']} is back to {undo['old']} (its value before your last change).",
                f"已撤销：{undo['name']} 恢复为 {undo['old']}（上次修改前的值）。",
            )
        )
    if data and data.get("not_understood"):
        lines.append(_not_understood(data["not_understood"], lang))
    nxt = next_hint(plan_intent, lang, stages, ok_all, [r[0] for r in results])
    if nxt:
        lines.append(nxt)
    return _said_once("\n".join(x for x in lines if x)) or say(lang, "Done.", "完成。")


def _said_once(text: str) -> str:
    """A reply without a long line it already said (the ship decision comes back in the training, warning and
    export texts); a repeat as a '! ' warning or a bullet counts too."""
    seen: set[str] = set()
    out = []
    for line in text.split("\n"):
        key = " ".join(line.split()).lstrip("!-*• ")
        if len(key) >= 40 and not line.lstrip().startswith("|"):
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return "\n".join(out)


def status_text(s: dict[str, Any], lang: str) -> str:
    from bgetune.capabilities.data import StatusResult

    return StatusResult.of(s).text(lang)


def next_hint(intent: str, lang: str, stages: dict[str, Any], ok: bool, ran: list[str] | None = None) -> str:
    """What to do next, from what the workspace holds now (never the step that just ran)."""
    ran = ran or []
    if not ok:
        return say(
            lang,
            'Fix the problem above and try again, or say "status" to see where things stand.',
            "请先解决上面的问题再试，或说“进度”查看当前状态。",
        )
    pairs = stages.get("pairs") or {}
    proposed = pairs.get("proposed", 0)
    approved = pairs.get("approved", 0) + pairs.get("edited", 0)
    if intent in ("finetune", "generate", "show", "history_import") and proposed:
        return review_hint(proposed, lang)
    if intent in ("approve_all", "approve", "reject", "edit", "settings") and approved:
        extra = golden_tip(stages, lang)
        return say(
            lang,
            'When the data looks right, say "train" (I\'ll show the estimate and wait for your approval).'
            + extra,
            "数据没问题后说“开始训练”（我会给出预估并等你批准）。" + extra,
        )
    if intent == "train" and "export_model" in ran:
        return say(
            lang,
            'Next: "why does \'a query\' miss?" to inspect a failure, "serve it" for an OpenAI-compatible endpoint, '
            'or "which of my questions still miss?".',
            "下一步：“为什么'某个问题'检索不到”查看失败原因，“部署”启动兼容 OpenAI 的接口，或“哪些问题还检索不到？”。",
        )
    if intent == "evaluate" and not stages.get("export_dir"):
        return say(
            lang,
            'Say "export" to save the model, or "calibrate" for a threshold.',
            "说“导出”保存模型，或“校准”得到阈值。",
        )
    if intent == "calibrate" and not stages.get("export_dir"):
        return say(lang, 'Say "export" to save the model with its threshold.', "说“导出”保存模型及其阈值。")
    if intent == "export":
        return say(
            lang, 'Say "serve it" to get an endpoint and code snippets.', "说“部署”获取接口地址和代码示例。"
        )
    if intent == "golden_add" or intent == "golden_label":
        return ""
    return ""
