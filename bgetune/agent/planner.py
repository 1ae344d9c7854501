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
    r"|先别|先不|不要|别|暂时不|暂不|不用|等一下|等等|取消|稍后",
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
    r"\b(start|begin|run|go ahead and|launch|kick off)\s+(the\s+)?(training|train)\b|"
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
    ("export", re.compile(r"\bexport\b|\bsave the model\b|导出|保存模型", _I)),
    ("mine", re.compile(r"\bmine\b|\bhard negatives?\b|负例|难负", _I)),
    ("split", re.compile(r"\bsplit\b|划分|切分数据", _I)),
    ("generate", re.compile(r"\bgenerate\b|\bmake (?:training )?(?:pairs|questions)\b|生成", _I)),
    ("ingest", re.compile(r"\b(ingest|import|add|load|upload)\b|导入|添加|加载|上传", _I)),
    ("status", re.compile(r"\b(status|progress|where are we|state)\b|进度|状态|到哪一步|现在怎么样", _I)),
]

SETTINGS: list[tuple[str, re.Pattern[str]]] = [
    (
        "epochs",
        re.compile(
            r"(?:训练\s*)?(\d+)\s*(?:epochs?\b|轮|个\s*epoch)|\bepochs?\s*(?:=|:|to|of)?\s*(\d+)|轮数\s*(?:设为|改为|=|:|：)?\s*(\d+)",
            _I,
        ),
    ),
    (
        "batch_size",
        re.compile(r"\bbatch[_ ]?size\s*(?:=|:|to|of)?\s*(\d+)|批大小\s*(?:设为|改为|=|:|：)?\s*(\d+)", _I),
    ),
    (
        "lr",
        re.compile(
            r"\b(?:lr|learning rate)\s*(?:=|:|to|of)?\s*(\d[\d.]*(?:e-?\d+)?)|学习率\s*(?:设为|改为|=|:|：)?\s*(\d[\d.]*(?:e-?\d+)?)",
            _I,
        ),
    ),
    ("max_steps", re.compile(r"\bmax[_ ]?steps?\s*(?:=|:|to|of)?\s*(\d+)|最多\s*(\d+)\s*步", _I)),
    (
        "base_model",
        re.compile(
            r"(?:\b(?:use|switch to|base model|model)\b|用|换成|改用|使用|基座模型)\s*(?:=|:|：|is|to)?\s*"
            r"((?:[\w.-]+/)?(?:bge[\w.-]*|bundled|all-minilm[\w.-]*|e5[\w.-]*|gte[\w.-]*|/[\w./-]+))",
            _I,
        ),
    ),
]


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


def extract_settings(text: str) -> tuple[dict[str, str], str]:
    """Setting changes named in the text, and the text with them removed."""
    found: dict[str, str] = {}
    rest = text
    for name, rx in SETTINGS:
        m = rx.search(rest)
        if m:
            value = next(g for g in m.groups() if g)
            if name == "base_model":
                value = MODEL_ALIASES.get(value.lower().rstrip("."), value.rstrip("."))
            found[name] = value
            rest = rest[: m.start()] + " " + rest[m.end() :]
    return found, rest


def plan_request(
    text: str,
    *,
    files: list[str] | None = None,
    new_files: bool = False,
    stages: dict[str, Any] | None = None,
    llm_configured: bool = False,
) -> Plan:
    """Route one user message to a plan. ``new_files``: the message came with attachments."""
    stages = stages or {}
    text = _QUOTED.sub(" ", text or "").strip()
    lang = language(text)
    files = files or []
    if not text and not new_files:
        return Plan("help", lang, reply=HELP[lang])

    for intent in ("diagnose", "edit"):  # free text inside: route before looking for action words
        m = dict(RULES)[intent].search(text)
        if m and intent == "diagnose":
            query = next(g for g in m.groups() if g).strip(" '\"“”‘’「」『』")
            return Plan(intent, lang, steps=[_step("diagnose", query=query)])
        if m and intent == "edit":
            return Plan(
                intent, lang, steps=[_step("edit_pair", id=int(m.group(1)), query=m.group(2).strip())]
            )

    mentions_train = bool(TRAIN.search(text))
    if NEGATION.search(text) and (
        mentions_train or re.search(r"\b(export|generate|evaluate)\b|导出|生成|评估", text, _I)
    ):
        return Plan(
            "hold",
            lang,
            reply=_say(
                lang,
                'OK, I won\'t start anything. Review the pairs ("show pairs") or change settings; say "train" when you are ready.',
                "好的，我先不做任何操作。你可以先审核数据（“看看数据”）或修改设置；准备好了就说“开始训练”。",
            ),
        )

    settings, rest = extract_settings(text)
    steps = [_step("set_setting", name=k, value=v) for k, v in settings.items()]

    if (
        mentions_train
        and QUESTION.search(rest)
        and not START_TRAIN.search(rest)
        and not FINETUNE.search(rest)
    ):
        return Plan("estimate", lang, steps=steps + [_step("estimate_training")])

    gen_mode = "auto" if llm_configured else "offline"
    if FINETUNE.search(rest) or (new_files and mentions_train):
        if not files and not stages.get("documents"):
            return Plan(
                "need_files",
                lang,
                reply=_say(
                    lang,
                    'Which documents should I learn from? Attach PDF, DOCX, Markdown, TXT, HTML or JSONL files (or give their paths), then say "fine-tune".',
                    "要用哪些文档？请上传 PDF、DOCX、Markdown、TXT、HTML 或 JSONL 文件（或给出路径），然后说“微调”。",
                ),
            )
        pre = [_step("ingest")] if files else []
        return Plan(
            "finetune",
            lang,
            steps=steps
            + pre
            + [
                _step("generate_pairs", mode=gen_mode),
                _step("filter_pairs"),
                _step("show_dataset"),
            ],
        )

    if START_TRAIN.search(rest) or re.search(r"\btrain\b", rest, _I):
        pre = []
        resplit = bool(stages.get("unsplit")) or not stages.get("splits")
        if resplit:
            pre.append(_step("split_dataset"))
        if resplit or not stages.get("negatives"):
            pre.append(_step("mine_negatives"))
        return Plan(
            "train", lang, steps=steps + pre + [_step("train"), _step("evaluate"), _step("calibrate")]
        )

    for intent, rx in RULES:
        m = rx.search(rest)
        if not m:
            continue
        if intent == "help":
            return Plan("help", lang, steps=steps, reply=HELP[lang])
        if intent == "approve_all":
            return Plan(intent, lang, steps=steps + [_step("approve_all_pairs")])
        if intent == "edit":
            return Plan(
                intent, lang, steps=steps + [_step("edit_pair", id=int(m.group(1)), query=m.group(2).strip())]
            )
        if intent == "approve":
            return Plan(intent, lang, steps=steps + [_step("approve_pairs", ids=_ids(m.group(1)))])
        if intent == "reject":
            why = (m.group(2) or "").strip() or None
            return Plan(intent, lang, steps=steps + [_step("reject_pairs", ids=_ids(m.group(1)), why=why)])
        if intent == "diagnose":
            query = next(g for g in m.groups() if g).strip(" '\"“”‘’「」『』")
            return Plan(intent, lang, steps=steps + [_step("diagnose", query=query)])
        if intent == "show_rejected":
            return Plan("show", lang, steps=steps + [_step("show_pairs", status="rejected", limit=10)])
        if intent == "show":
            return Plan(intent, lang, steps=steps + [_step("show_dataset"), _step("show_pairs", limit=10)])
        if intent == "evaluate":
            return Plan(intent, lang, steps=steps + [_step("evaluate")])
        if intent == "calibrate":
            return Plan(intent, lang, steps=steps + [_step("calibrate")])
        if intent == "export":
            return Plan(intent, lang, steps=steps + [_step("export_model")])
        if intent == "mine":
            return Plan(intent, lang, steps=steps + [_step("mine_negatives")])
        if intent == "split":
            return Plan(intent, lang, steps=steps + [_step("split_dataset")])
        if intent == "generate":
            mode = "offline" if re.search(r"offline|离线", rest, _I) else gen_mode
            return Plan(
                intent,
                lang,
                steps=steps
                + [_step("generate_pairs", mode=mode), _step("filter_pairs"), _step("show_dataset")],
            )
        if intent == "ingest" and files:
            return Plan(intent, lang, steps=steps + [_step("ingest")])
        if intent == "status":
            return Plan(intent, lang, steps=steps + [_step("status")])
    if steps:
        return Plan("settings", lang, steps=steps)
    if new_files:
        return Plan("ingest", lang, steps=[_step("ingest")])
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


# ---------------------------------------------------------------------------------------------- replies
def _fmt_metrics(m: dict[str, Any]) -> str:
    keys = ("ndcg@10", "mrr@10", "recall@10", "hit@1")
    return ", ".join(f"{k} {m[k]:.3f}" for k in keys if isinstance(m.get(k), int | float))


def _pairs_lines(pairs: list[dict[str, Any]], lang: str) -> list[str]:
    out = []
    for p in pairs[:10]:
        passage = (p.get("passage") or "").replace("\n", " ")
        reasons = f" [{', '.join(p['reasons'])}]" if p.get("reasons") else ""
        line = f"  #{p.get('id')} ({p.get('status')}){reasons} Q: {p.get('query')}"
        out.append(line + (f"\n      P: {passage[:120]}" if passage else ""))
    return out


def compose_reply(
    plan_intent: str, lang: str, results: list[tuple[str, Any, bool]], stages: dict[str, Any]
) -> str:
    """The final answer of an offline turn from (tool, result, ok) of each step run in it."""
    lines: list[str] = []
    pairs = stages.get("pairs") or {}
    for tool, res, ok in results:
        if not ok:
            lines.append(_say(lang, f"{tool} failed: {res}", f"{tool} 失败：{res}"))
            continue
        r = res if isinstance(res, dict) else {}
        if tool == "set_setting":
            lines.append(
                _say(
                    lang,
                    f"Set {r.get('name')} = {r.get('value')}.",
                    f"已设置 {r.get('name')} = {r.get('value')}。",
                )
                + (f" ({r['note']})" if r.get("note") else "")
            )
        elif tool == "ingest":
            lines.append(
                _say(
                    lang,
                    f"Ingested {r.get('files', 0)} file(s): {r.get('added', 0)} added, {r.get('unchanged', 0)} unchanged, "
                    f"{r.get('failed', 0)} failed; {r.get('chunks_written', 0)} new chunks.",
                    f"导入 {r.get('files', 0)} 个文件：新增 {r.get('added', 0)}，未变 {r.get('unchanged', 0)}，失败 {r.get('failed', 0)}；"
                    f"新分块 {r.get('chunks_written', 0)} 个。",
                )
            )
            for f in r.get("failures") or []:
                lines.append(f"  ! {f.get('path')}: {f.get('error')}")
        elif tool == "generate_pairs":
            lines.append(
                _say(
                    lang,
                    f"Generated {r.get('pairs_added', 0)} pairs ({r.get('mode')}) from {r.get('chunks_done', 0)} chunks.",
                    f"生成了 {r.get('pairs_added', 0)} 个问答对（{r.get('mode')}），来自 {r.get('chunks_done', 0)} 个分块。",
                )
            )
        elif tool == "filter_pairs":
            reasons = ", ".join(f"{k} {v}" for k, v in (r.get("by_reason") or {}).items())
            lines.append(
                _say(
                    lang,
                    f"Filter kept {r.get('kept', 0)}, rejected {r.get('rejected', 0)}"
                    + (f" ({reasons})." if reasons else "."),
                    f"过滤保留 {r.get('kept', 0)}，剔除 {r.get('rejected', 0)}"
                    + (f"（{reasons}）。" if reasons else "。"),
                )
            )
        elif tool == "show_dataset":
            examples = r.get("examples") or []
            groups = examples if isinstance(examples, dict) else {"kept": examples}
            for group, rows in groups.items():
                if rows:
                    lines.append(
                        _say(
                            lang, f"Examples ({group}):", f"示例（{'保留' if group == 'kept' else '剔除'}）："
                        )
                    )
                    lines.extend(_pairs_lines(rows, lang))
        elif tool == "show_pairs":
            lines.append(
                _say(lang, f"Showing {r.get('shown', 0)} pair(s):", f"显示 {r.get('shown', 0)} 个问答对：")
            )
            lines.extend(_pairs_lines(r.get("pairs") or [], lang))
        elif tool in ("approve_pairs", "approve_all_pairs"):
            lines.append(
                _say(
                    lang,
                    f"Approved {r.get('approved', 0)} pair(s).",
                    f"已通过 {r.get('approved', 0)} 个问答对。",
                )
            )
        elif tool == "reject_pairs":
            lines.append(
                _say(
                    lang,
                    f"Rejected {r.get('rejected', 0)} pair(s).",
                    f"已拒绝 {r.get('rejected', 0)} 个问答对。",
                )
            )
        elif tool == "edit_pair":
            lines.append(
                _say(
                    lang,
                    f"Edited pair #{r.get('id', '')}: {r.get('query', '')}",
                    f"已修改问答对 #{r.get('id', '')}：{r.get('query', '')}",
                )
            )
        elif tool == "split_dataset":
            counts = ", ".join(f"{k} {v}" for k, v in (r.get("pairs") or {}).items())
            lines.append(
                _say(
                    lang,
                    f"Split by {r.get('unit', 'document')}: {counts}.",
                    f"按{r.get('unit', 'document')}划分：{counts}。",
                )
            )
            if r.get("warning"):
                lines.append(f"  ! {r['warning']}")
        elif tool == "mine_negatives":
            lines.append(
                _say(
                    lang,
                    f"Mined {r.get('negatives', 0)} hard negatives ({r.get('method')}).",
                    f"挖掘了 {r.get('negatives', 0)} 个难负例（{r.get('method')}）。",
                )
            )
        elif tool == "estimate_training":
            s = r.get("settings") or {}
            lines.append(
                _say(
                    lang,
                    f"Training estimate: {r.get('steps')} steps over {r.get('pairs')} pairs, about {r.get('minutes')} min on "
                    f'{r.get("device")} (settings {s}). Nothing started; say "train" to get the approval prompt.',
                    f"训练预估：{r.get('pairs')} 个问答对共 {r.get('steps')} 步，在 {r.get('device')} 上约 {r.get('minutes')} 分钟"
                    f"（设置 {s}）。尚未开始；说“开始训练”会先请你批准。",
                )
            )
        elif tool == "train":
            lines.append(
                _say(
                    lang,
                    f"Training done: {r.get('steps')} steps, model at {r.get('model_dir')}.",
                    f"训练完成：{r.get('steps')} 步，模型在 {r.get('model_dir')}。",
                )
            )
            if r.get("warning"):
                lines.append(f"  ! {r['warning']}")
        elif tool == "evaluate":
            m = r.get("metrics") or {}
            lines.append(_say(lang, "Evaluation on the held-out test split:", "在预留测试集上的评估："))
            for name in ("base", "tuned"):
                if m.get(name):
                    lines.append(f"  {name}: {_fmt_metrics(m[name])}")
        elif tool == "calibrate":
            lines.append(
                _say(
                    lang,
                    f"Calibrated: threshold (F1) {r.get('threshold_f1')}, saved to {r.get('path')}.",
                    f"校准完成：F1 阈值 {r.get('threshold_f1')}，保存在 {r.get('path')}。",
                )
            )
        elif tool == "diagnose":
            lines.append(
                f"{r.get('verdict', '')}\n"
                + _say(lang, f"Next step: {r.get('next_step', '')}", f"下一步：{r.get('next_step', '')}")
            )
        elif tool == "export_model":
            lines.append(
                _say(
                    lang,
                    f"Exported to {r.get('model_dir')} (model card: {r.get('model_card')}).",
                    f"已导出到 {r.get('model_dir')}（模型说明：{r.get('model_card')}）。",
                )
            )
        elif tool == "status":
            lines.append(status_text(r, lang))
    ok = all(ok for _, _, ok in results)
    nxt = _next_hint(plan_intent, lang, pairs, ok)
    if nxt:
        lines.append(nxt)
    return "\n".join(lines) or _say(lang, "Done.", "完成。")


def status_text(s: dict[str, Any], lang: str) -> str:
    p = s.get("pairs") or {}
    return _say(
        lang,
        f"Documents {s.get('documents', 0)}, chunks {s.get('chunks', 0)}; pairs proposed {p.get('proposed', 0)}, approved "
        f"{p.get('approved', 0) + p.get('edited', 0)}, rejected {p.get('rejected', 0)}; splits {s.get('splits') or '-'}; "
        f"negatives {s.get('negatives', 0)}; last runs {s.get('last_runs') or '-'}; settings {s.get('settings') or 'default'}.",
        f"文档 {s.get('documents', 0)}，分块 {s.get('chunks', 0)}；问答对 待审 {p.get('proposed', 0)}、已通过 "
        f"{p.get('approved', 0) + p.get('edited', 0)}、已拒绝 {p.get('rejected', 0)}；划分 {s.get('splits') or '-'}；"
        f"负例 {s.get('negatives', 0)}；最近运行 {s.get('last_runs') or '-'}；设置 {s.get('settings') or '默认'}。",
    )


def _next_hint(intent: str, lang: str, pairs: dict[str, int], ok: bool) -> str:
    if not ok:
        return _say(
            lang,
            'Fix the problem above and try again, or say "status" to see where things stand.',
            "请先解决上面的问题再试，或说“进度”查看当前状态。",
        )
    if intent in ("finetune", "generate", "show"):
        return _say(
            lang,
            f'{pairs.get("proposed", 0)} pairs wait for your review. Say "show pairs", "approve all", "approve 3 5", '
            '"reject 4" or "edit 7: better query"; then "train".',
            f"有 {pairs.get('proposed', 0)} 个问答对等你审核。可以说“看看数据”、“全部通过”、“通过 3 5”、“拒绝 4”或"
            "“修改 7：更好的问题”；然后说“开始训练”。",
        )
    if intent in ("approve_all", "approve", "reject", "edit"):
        return _say(
            lang,
            'When the data looks right, say "train" (I\'ll show the estimate and wait for your approval).',
            "数据没问题后说“开始训练”（我会给出预估并等你批准）。",
        )
    if intent == "settings":
        return _say(lang, 'Say "train" when ready.', "准备好了就说“开始训练”。")
    if intent == "train":
        return _say(
            lang,
            'Next: "why does \'a query\' miss" to inspect failures, "calibrate", or "export".',
            "下一步：“为什么'某个问题'检索不到”查看失败原因，“校准”，或“导出”。",
        )
    if intent == "evaluate":
        return _say(
            lang,
            'Say "export" to save the model, or "why does \'a query\' miss" to inspect failures.',
            "说“导出”保存模型，或“为什么'某个问题'检索不到”查看失败原因。",
        )
    return ""
