"""The ``misses`` table: each diagnosis stored, listed newest first, and what the fixes added up to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bgetune.core.workspace import TRAINABLE
from bgetune.tools.diagnosis.causes import cause_name
from bgetune.tools.diagnosis.text import say, snippet

if TYPE_CHECKING:
    from bgetune.core.workspace import Workspace
    from bgetune.tools.diagnosis.report import Diagnosis


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
            return say(
                lang,
                'No queries diagnosed yet. Try: bgetune diagnose "your query" --expected "the right passage"',
                '还没有诊断过查询。试试：bgetune diagnose "你的查询" --expected "正确的段落"',
            )
        lines = [
            say(lang, f"{len(self.rows)} diagnosed queries:", f"已诊断 {len(self.rows)} 个查询："),
            "| # | " + say(lang, "query | cause | status", "查询 | 原因 | 状态") + " |",
            "|---|---|---|---|",
        ]
        for r in self.rows:
            q = snippet(r.query, 60).replace("|", "/")
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
            say(
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
                say(lang, f"Threshold set to {self.threshold:.3f}.", f"阈值已设为 {self.threshold:.3f}。")
            )
        if self.base_model:
            lines.append(say(lang, f"Base model: {self.base_model}.", f"基础模型：{self.base_model}。"))
        if self.needs_retrain:
            lines.append(
                say(
                    lang,
                    "Retrain to learn them (`bgetune train`); evaluate on the golden set afterwards.",
                    "重新训练即可学到它们（`bgetune train`），之后用黄金测试集评估。",
                )
            )
        else:
            lines.append(say(lang, "Nothing new to train on.", "没有新的训练数据。"))
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
