"""``apply_fix``: one fix to a diagnosed miss, through a table of handlers (one per action), and what it changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bgetune.core.workspace import TRAINABLE
from bgetune.tools.diagnosis.models import MULTILINGUAL, cached_offline
from bgetune.tools.diagnosis.offers import ACTIONS
from bgetune.tools.diagnosis.offers import golden as golden_fix
from bgetune.tools.diagnosis.records import HELD_OUT, DiagnosisError
from bgetune.tools.diagnosis.text import say, sentences

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace

ALIASES = {"rechunk_document": "rechunk", "relabel": "relabel_competitor", "threshold": "set_threshold"}
FIRST = ("suggested", "first", "recommended")  # "apply that fix": the diagnosis's first suggestion


@dataclass
class FixResult:
    """What one fix changed (or, when it would not work, why not and what to do instead)."""

    miss_id: int
    action: str
    status: str  # the miss's status afterwards
    changed: bool  # False when it was already so, or when it was not done
    facts: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        return TEXTS.get(self.action, _dismissed_text)(self, lang)


@dataclass
class FixCall:
    """One fix being applied: the miss row, its stored diagnosis, the arguments and what it found so far."""

    ws: Workspace
    miss_id: int
    row: Any
    detail: dict[str, Any]
    args: dict[str, Any]
    language: str | None
    now: str
    facts: dict[str, Any] = field(default_factory=dict)
    changed: bool = True

    @property
    def query(self) -> str:
        return self.row["query"]

    def chunk(self, what: str) -> dict[str, Any]:
        """The passage the fix is about (the argument, else the diagnosis's expected answer)."""
        cid = self.args.get("chunk_id") or self.row["expected_chunk_id"]
        if not cid:
            raise DiagnosisError(
                f"miss #{self.miss_id} has no expected answer to {what}; pass --chunk-id ID, or diagnose again "
                "with --expected TEXT (or pick a result by its number)"
            )
        ch = self.ws.chunk(str(cid))
        if ch is None:
            raise DiagnosisError(
                f"chunk {cid} is not in {self.ws.root} (re-ingested?); diagnose the query again"
            )
        self.facts["chunk_id"] = ch["id"]
        self.facts["where"] = ch["document_name"] + (f" p.{ch['page_start']}" if ch.get("page_start") else "")
        return ch


# ---------------------------------------------------------------------------------------------- handlers
def _instead(fx: FixCall) -> list[dict[str, Any]]:
    """The diagnosis's other fixes that work without training on the passage (a golden question first)."""
    offered = [
        a for a in fx.detail.get("actions") or [] if a["action"] not in ("add_training_pair", "dismiss")
    ]
    golden = fx.ws.conn.execute(
        "SELECT id FROM golden WHERE query=? AND status='labeled'", (fx.query,)
    ).fetchone()
    if golden is None and not any(a["action"] == "add_golden" for a in offered):
        offered.insert(0, asdict(golden_fix(fx.facts["where"], fx.facts["chunk_id"])))
    fx.facts["golden_id"] = int(golden["id"]) if golden else None
    return offered


def _add_training_pair(fx: FixCall) -> str:
    ch = fx.chunk("train on")
    if ch.get("split") in HELD_OUT:  # nothing trains on a held-out document: say so, and what works instead
        fx.changed = False
        fx.facts.update(split=ch["split"], document=ch["document_name"], held_out=True, instead=_instead(fx))
        return fx.row["status"]
    why = f"miss #{fx.miss_id}: {fx.row['cause']}"
    with fx.ws.tx() as c:
        old = c.execute(
            "SELECT id, status FROM pairs WHERE chunk_id=? AND query=? AND source='diagnosis'",
            (ch["id"], fx.query),
        ).fetchone()
        if old and old["status"] in ("approved", "edited"):
            pair_id, fx.changed = int(old["id"]), False
        elif old:
            pair_id = int(old["id"])
            c.execute(
                "UPDATE pairs SET status='approved', status_by='user', status_why=?, updated_at=? WHERE id=?",
                (why, fx.now, pair_id),
            )
        else:
            cur = c.execute(
                "INSERT INTO pairs(chunk_id, query, passage, source, kind, language, status, status_by, "
                "status_why, split, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                (ch["id"], fx.query, ch["text"], "diagnosis", "real", fx.language, "approved", "user", why,
                 ch.get("split"), fx.now, fx.now),
            )  # fmt: skip
            pair_id = int(cur.lastrowid)
        if fx.changed:
            new = {
                "miss_id": fx.miss_id,
                "cause": fx.row["cause"],
                "verdict": fx.row["verdict"],
                "status": "approved",
            }
            c.execute(
                "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                (pair_id, "diagnosis", "user", why, old["status"] if old else None,
                 json.dumps(new, ensure_ascii=False), fx.now),
            )  # fmt: skip
    fx.facts.update(pair_id=pair_id, split=ch.get("split"))
    return "fixed:train"


def golden_add(ws: Workspace, query: str, chunk_ids: list[str], language: str) -> tuple[int, bool]:
    """Add a labeled golden question, or merge the answers into the existing one. Returns (golden id, whether
    anything changed)."""
    from bgetune.core.workspace import now_iso
    from bgetune.tools.golden import add_questions

    row = ws.conn.execute("SELECT id, pos_ids, status FROM golden WHERE query=?", (query,)).fetchone()
    if row is None:
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


def _add_golden(fx: FixCall) -> str:
    ch = fx.chunk("label")
    fx.facts["golden_id"], fx.changed = golden_add(fx.ws, fx.query, [ch["id"]], fx.language or "")
    return "fixed:golden"


def _relabel_competitor(fx: FixCall) -> str:
    if not fx.args.get("chunk_id"):
        raise DiagnosisError("relabel_competitor needs --chunk-id: the passage that also answers the query")
    ch = fx.chunk("relabel")
    pair = fx.ws.conn.execute(
        f"SELECT id FROM pairs WHERE query=? AND {TRAINABLE} ORDER BY id LIMIT 1", (fx.query,)
    ).fetchone()
    if pair is None:
        pos = [x for x in (fx.row["expected_chunk_id"], ch["id"]) if x]
        fx.facts["golden_id"], fx.changed = golden_add(fx.ws, fx.query, pos, fx.language or "")
        return "fixed:relabel"
    with fx.ws.tx() as c:
        cur = c.execute(
            "INSERT OR IGNORE INTO pair_positives(pair_id, chunk_id, origin) VALUES(?,?,?)",
            (pair["id"], ch["id"], "diagnosis"),
        )
        fx.changed = cur.rowcount > 0
        if fx.changed:
            c.execute(
                "INSERT INTO pair_events(pair_id, action, actor, why, old, new, at) VALUES(?,?,?,?,?,?,?)",
                (pair["id"], "relabel", "user", f"miss #{fx.miss_id}", None,
                 json.dumps({"extra_positive": ch["id"], "miss_id": fx.miss_id}), fx.now),
            )  # fmt: skip
    fx.facts["pair_id"] = int(pair["id"])
    return "fixed:relabel"


def _set_threshold(fx: FixCall) -> str:
    if fx.args.get("value") is None:
        raise DiagnosisError("set_threshold needs --value, e.g. --value 0.42")
    value = float(fx.args["value"])
    if not -1.0 <= value <= 1.0:
        raise DiagnosisError(f"a cosine threshold lies between -1 and 1, got {value}")
    fx.changed = fx.ws.get_setting("threshold") != value
    fx.ws.set_setting("threshold", value)
    fx.facts["value"] = value
    return "fixed:threshold"


def _rechunk_document(fx: FixCall) -> dict[str, Any]:
    name = fx.args.get("document") or (fx.detail.get("expected") or {}).get("document")
    if not name:
        raise DiagnosisError("rechunk needs --document NAME (a document of this workspace)")
    doc = next((d for d in fx.ws.documents(status="ok") if name in (d["name"], d["path"])), None)
    if doc is None:
        raise DiagnosisError(f"no document {name!r} in {fx.ws.root}; `bgetune status` lists them")
    if not Path(doc["path"]).exists():
        raise DiagnosisError(f"{doc['path']} is gone; put the file back (or ingest it again) to re-chunk it")
    return doc


def _rechunk(fx: FixCall) -> str:
    from bgetune.core.config import Settings
    from bgetune.tools.ingest import ingest

    doc = _rechunk_document(fx)
    settings = Settings(workspace=fx.ws.root)
    ct = int(fx.args.get("chunk_tokens") or settings.chunk_tokens or 256)
    if fx.args.get("chunk_overlap") is not None:
        ov = int(fx.args["chunk_overlap"])
    else:  # the workspace's overlap, kept below half of a smaller chunk
        ov = min(int(settings.chunk_overlap or 32), max(0, ct // 2 - 1))
    if not 16 <= ct <= 8192 or not 0 <= ov < ct // 2:
        raise DiagnosisError(
            f"chunk_tokens must be 16-8192 and chunk_overlap below half of it (got {ct}, {ov})"
        )
    linked = fx.ws.scalar(
        "SELECT count(*) FROM pairs p JOIN chunks c ON c.id=p.chunk_id WHERE c.document_id=?", (doc["id"],)
    )
    with fx.ws.tx() as c:  # a changed fingerprint makes ingest replace the document's chunks
        c.execute("UPDATE documents SET sha256=NULL WHERE id=?", (doc["id"],))
    rep = ingest(
        fx.ws, [doc["path"]], settings=Settings(workspace=fx.ws.root, chunk_tokens=ct, chunk_overlap=ov)
    )
    res = rep.files[-1] if rep.files else None
    if res is None or res.status not in ("added", "replaced"):
        raise DiagnosisError(f"re-chunking {doc['path']} failed: {getattr(res, 'error', 'no result')}")
    fx.facts.update(
        document=doc["name"], chunks=res.chunks, chunk_tokens=ct, chunk_overlap=ov, unlinked_pairs=linked
    )
    return "fixed:rechunk"


def _switch_base_model(fx: FixCall) -> str:
    model = fx.args.get("model") or MULTILINGUAL.model
    fx.changed = fx.ws.get_setting("base_model") != model
    fx.ws.set_setting("base_model", model)
    fx.facts.update(
        model=model, cached=Path(str(model)).exists() or model == "bundled" or cached_offline(model)
    )
    return "fixed:base-model"


def _no_answer(fx: FixCall) -> str:
    with fx.ws.tx() as c:
        g = c.execute("SELECT id, status FROM golden WHERE query=?", (fx.query,)).fetchone()
        if g is None:
            cur = c.execute(
                "INSERT INTO golden(query, pos_ids, status, source, language, created_at, updated_at) "
                "VALUES(?,?,?,?,?,?,?)",
                (fx.query, "[]", "unanswerable", "diagnosis", fx.language, fx.now, fx.now),
            )
            fx.facts["golden_id"] = int(cur.lastrowid)
        else:
            fx.changed = g["status"] != "unanswerable"
            c.execute(
                "UPDATE golden SET status='unanswerable', pos_ids='[]', updated_at=? WHERE id=?",
                (fx.now, g["id"]),
            )
            fx.facts["golden_id"] = int(g["id"])
    return "no-answer"


def _dismiss(fx: FixCall) -> str:
    return "dismissed"


HANDLERS: dict[str, Callable[[FixCall], str]] = {
    "add_training_pair": _add_training_pair,
    "add_golden": _add_golden,
    "relabel_competitor": _relabel_competitor,
    "set_threshold": _set_threshold,
    "rechunk": _rechunk,
    "switch_base_model": _switch_base_model,
    "no_answer": _no_answer,
    "dismiss": _dismiss,
}
assert tuple(HANDLERS) == ACTIONS


def _action(miss_id: int, action: str, detail: dict[str, Any]) -> str:
    action = action.strip().lower().replace("-", "_")
    if action in FIRST:
        first = next(iter(detail.get("actions") or []), None)
        if first is None:
            raise DiagnosisError(f"miss #{miss_id} has no suggested fix; name one of {', '.join(ACTIONS)}")
        action = first["action"]
    action = ALIASES.get(action, action)
    if action not in HANDLERS:
        raise DiagnosisError(f"unknown fix {action!r}; choose one of {', '.join(ACTIONS)}")
    return action


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
    detail = json.loads(row["detail"] or "{}")
    action = _action(miss_id, action, detail)
    suggested = {a["action"]: a["args"] for a in detail.get("actions", [])}
    args = {**suggested.get(action, {}), **{k: v for k, v in args.items() if v is not None}}
    qlang = detect_language(row["query"])
    fx = FixCall(ws, int(miss_id), row, detail, args, qlang if qlang in ("zh", "en") else None, now_iso(),
                 {"query": row["query"]})  # fmt: skip
    status = HANDLERS[action](fx)
    detail.setdefault("fixes", []).append(
        {"action": action, "args": args, "at": fx.now, "changed": fx.changed}
    )
    with ws.tx() as c:
        c.execute(
            "UPDATE misses SET status=?, detail=?, updated_at=? WHERE id=?",
            (status, json.dumps(detail, ensure_ascii=False, default=str), fx.now, int(miss_id)),
        )
    return FixResult(int(miss_id), action, status, fx.changed, fx.facts)


# ---------------------------------------------------------------------------------------------- replies
def _held_out_text(r: FixResult, lang: str) -> str:
    x = r.facts
    lines = [
        say(
            lang,
            f"Not added: {x['where']} is in {x['document']}, which is held out ({x['split']} split) to test the "
            "model, so nothing would train on this pair.",
            f"没有加入：{x['where']} 属于 {x['document']}，该文档是留出的{x['split']}集，用来检验模型，"
            "这个样本不会参与训练。",
        )
    ]
    if x.get("instead"):
        lines.append(say(lang, "What will work instead:", "可以改用："))
        for i, a in enumerate(x["instead"], 1):
            label = a.get("label_zh" if lang == "zh" else "label_en") or a["action"]
            lines.append(f"{i}. {label} (`bgetune fix {r.miss_id} {a['action']}`)")
    if x.get("golden_id"):
        lines.append(
            say(
                lang,
                f"It is golden question #{x['golden_id']} already, so the ship decision measures it.",
                f"它已是黄金问题 #{x['golden_id']}，发布决策会衡量它。",
            )
        )
    lines.append(
        say(
            lang,
            "To train on this topic, add a question about it from a training document, or re-split "
            "(`bgetune split --seed 14`) so its document trains instead of testing.",
            "如要训练这个主题，请用训练集文档里的相关问题，或重新划分（`bgetune split --seed 14`）让该文档参与训练。",
        )
    )
    return "\n".join(lines)


def _training_pair_text(r: FixResult, lang: str) -> str:
    x = r.facts
    if x.get("held_out"):
        return _held_out_text(r, lang)
    msg = say(
        lang,
        f"Added an approved training pair #{x['pair_id']}: “{x['query']}” -> {x['where']}."
        if r.changed
        else f"Training pair #{x['pair_id']} was already there; it is approved.",
        f"已加入已批准的训练样本 #{x['pair_id']}：“{x['query']}” -> {x['where']}。"
        if r.changed
        else f"训练样本 #{x['pair_id']} 已存在，状态为已批准。",
    )
    return msg + say(lang, " Retrain to learn it.", " 重新训练即可学到。")


S = sentences("fixes")


def _golden_text(r: FixResult, lang: str) -> str:
    return S.golden(lang, **r.facts)


def _relabel_text(r: FixResult, lang: str) -> str:
    target = (S.target_pair if r.facts.get("pair_id") else S.target_golden)(lang, **r.facts)
    return S.relabeled(lang, where=r.facts["where"], target=target)


def _threshold_text(r: FixResult, lang: str) -> str:
    return S.threshold(lang, **r.facts)


def _rechunk_text(r: FixResult, lang: str) -> str:
    return S.rechunked(lang, **r.facts)


def _base_model_text(r: FixResult, lang: str) -> str:
    net = say(lang, ".", "。") if r.facts.get("cached") else S.network(lang)
    return S.base_model(lang, model=r.facts["model"], net=net)


def _no_answer_text(r: FixResult, lang: str) -> str:
    return S.no_answer(lang, **r.facts)


def _dismissed_text(r: FixResult, lang: str) -> str:
    return say(lang, f"Miss #{r.miss_id} dismissed.", f"漏检 #{r.miss_id} 已忽略。")


TEXTS: dict[str, Callable[[FixResult, str], str]] = {
    "add_training_pair": _training_pair_text,
    "add_golden": _golden_text,
    "relabel_competitor": _relabel_text,
    "set_threshold": _threshold_text,
    "rechunk": _rechunk_text,
    "switch_base_model": _base_model_text,
    "no_answer": _no_answer_text,
    "dismiss": _dismissed_text,
}
